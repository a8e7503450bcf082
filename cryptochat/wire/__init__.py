"""The wire protocol, sans-IO: frames, sealed records, the secure channel, the chat messages and names.

Bytes in, bytes and events out; nothing here touches a socket, a clock or a thread.
"""
