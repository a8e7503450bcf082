"""The chat room's rules, sans-IO: who is present, what each message causes, and in which order.

The server adapter feeds the room what members did and carries out the returned actions in order. Because
the room runs to completion on each input and the adapter queues every delivery before reading more, all
participants see one total order: the order in which the room produced the deliveries.

Member ``CONSOLE`` (0) is the server operator's console; it takes part like any client.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RemoteProtocolError
from .messages import (
    MAX_NAME_BYTES,
    Bye,
    Error,
    Hello,
    Join,
    Leave,
    Members,
    Message,
    Nick,
    Renamed,
    Say,
    Text,
    Welcome,
    Who,
)

__all__ = ["CONSOLE", "Action", "Deliver", "Disconnect", "Room"]

CONSOLE = 0


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send ``message`` to each member in ``to``."""

    to: tuple[int, ...]
    message: Message


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close ``member``'s connection once what was delivered to it before this action is sent."""

    member: int


Action = Deliver | Disconnect


class Room:
    def __init__(self, console_name: str, max_members: int) -> None:
        self._names: dict[int, str] = {CONSOLE: console_name}
        self._max_members = max_members

    def name_of(self, member: int) -> str | None:
        return self._names.get(member)

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(self._names.values())

    def _others(self, member: int) -> tuple[int, ...]:
        return tuple(m for m in self._names if m != member)

    def _unique(self, wanted: str) -> str:
        taken = set(self._names.values())
        if wanted not in taken:
            return wanted
        n = 2
        while True:
            suffix = f"-{n}"
            base = wanted.encode()[: MAX_NAME_BYTES - len(suffix)].decode("utf-8", "ignore")
            candidate = base + suffix
            if candidate not in taken:
                return candidate
            n += 1

    def handle(self, member: int, message: Message) -> list[Action]:
        """``member`` sent ``message``; a member that has not joined may only send Hello."""
        if member not in self._names:
            if not isinstance(message, Hello):
                raise RemoteProtocolError(f"expected Hello first, got {type(message).__name__}")
            return self._join(member, message.name)
        match message:
            case Say(text=text):
                return [Deliver(self._others(member), Text(self._names[member], text))]
            case Who():
                return [Deliver((member,), Members(self.members))]
            case Nick(name=new):
                return self._rename(member, new)
            case Bye():
                return self.leave(member, "bye")
            case _:
                raise RemoteProtocolError(f"a client may not send {type(message).__name__}")

    def post(self, text: str) -> list[Action]:
        """The operator's console said ``text``."""
        return [Deliver(self._others(CONSOLE), Text(self._names[CONSOLE], text))]

    def _join(self, member: int, wanted: str) -> list[Action]:
        if len(self._names) - 1 >= self._max_members:
            return [
                Deliver((member,), Bye(f"the room is full ({self._max_members} clients)")),
                Disconnect(member),
            ]
        name = self._unique(wanted)
        others = self._others(member)
        self._names[member] = name
        return [Deliver((member,), Welcome(name, self.members)), Deliver(others, Join(name))]

    def _rename(self, member: int, new: str) -> list[Action]:
        if new in self._names.values():
            return [Deliver((member,), Error(f"the name {new} is taken"))]
        old = self._names[member]
        self._names[member] = new
        return [Deliver(tuple(self._names), Renamed(old, new))]

    def leave(self, member: int, reason: str) -> list[Action]:
        """``member`` is gone (left, lost, too slow); tell the others. A no-op for a non-member."""
        if member == CONSOLE:
            return []
        name = self._names.pop(member, None)
        if name is None:
            return []
        return [Deliver(self._others(member), Leave(name, reason)), Disconnect(member)]
