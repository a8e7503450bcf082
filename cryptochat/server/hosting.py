"""Where a server's room lives: one small interface, and the room held in this process.

The server hands what its members do to a :class:`RoomHost` and carries out the actions the host gives back,
in order, through ``perform``. :class:`LocalRoom` answers at once from a :class:`~.room.Room` in memory;
:class:`~.redis_room.RedisRoom` answers once the event has come back through the room's Redis stream, so that
several servers carry one room in one order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from ..wire.messages import Message
from .room import Action, Room

__all__ = ["LocalRoom", "Perform", "RoomHost"]

Perform = Callable[[list[Action]], None]
"""The server's side: queue these actions, in this order (member ids are the server's own)."""


class RoomHost(Protocol):
    def name_of(self, member: int) -> str | None:
        """The name of one of this server's members (``CONSOLE``: the operator), if it has joined."""

    @property
    def members(self) -> tuple[str, ...]:
        """Everyone in the room, on every server."""

    async def start(self, perform: Perform, fail: Callable[[str], None], flowing: asyncio.Event) -> None:
        """Begin. ``fail`` ends the server when the room can no longer be trusted (with why). While
        ``flowing`` is clear the server reads no member (one is not keeping up); a host that brings in
        events of its own waits for it too."""

    def submit(self, member: int, message: Message) -> None:
        """``member`` sent ``message``; :class:`.RemoteProtocolError` if it may not (as the room says)."""

    def leave(self, member: int, reason: str) -> None:
        """``member`` is gone (lost, too slow); a no-op for a member that has not joined or has left."""

    async def ready(self) -> None:
        """Return once the room can take more input (a host with a backlog holds the readers back)."""

    async def close(self, members: Sequence[int], reason: str) -> None:
        """The server is shutting down: ``members`` leave with ``reason`` (the server says goodbye itself)."""


class LocalRoom:
    """The room in this process: every input is answered before the next is read."""

    def __init__(self, console_name: str, max_members: int, history: int) -> None:
        # Lines are numbered from the start time (milliseconds, times 1000), so that a server started later
        # numbers them above any an earlier one gave: a client back after a restart asks for what came
        # after its last line and gets everything the new server has.
        self._room = Room(console_name, max_members, history, first_line=int(time.time() * 1000) * 1000)
        self._perform: Perform | None = None

    def name_of(self, member: int) -> str | None:
        return self._room.name_of(member)

    @property
    def members(self) -> tuple[str, ...]:
        return self._room.members

    async def start(self, perform: Perform, fail: Callable[[str], None], flowing: asyncio.Event) -> None:
        self._perform = perform

    def submit(self, member: int, message: Message) -> None:
        assert self._perform is not None, "start() first"
        self._perform(self._room.handle(member, message))

    def leave(self, member: int, reason: str) -> None:
        assert self._perform is not None, "start() first"
        self._perform(self._room.leave(member, reason))

    async def ready(self) -> None:
        return

    async def close(self, members: Sequence[int], reason: str) -> None:
        # Everyone is leaving: the Leave announcements the room returns would go to no one.
        for member in members:
            self._room.leave(member, reason)
