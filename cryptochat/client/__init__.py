"""The client: the asyncio client with reconnection, typed commands, and its consoles (pipe, terminal,
transcript).
"""
