"""The server: the room's rules, admission and rate limits (sans-IO), the asyncio server, and the room's
hosts (in this process, or on Redis with several servers).
"""
