"""The chat room's rules, sans-IO: who is present, what each message causes, and in which order.

The server adapter feeds the room what members did and carries out the returned actions in order. Because
the room runs to completion on each input and the adapter queues every delivery before reading more, all
participants see one total order: the order in which the room produced the deliveries.

Member ``CONSOLE`` (0) is the server operator's console; it takes part like any client. A room replicated
across servers (:mod:`.cluster`) has no console of its own: each server's operator joins it as a member.

Names are kept NFKC-normalised, must be identifiers by UTS #39, and no two members have names that look
alike (see :mod:`.names`). A name refused is always said: Bye on Hello, Error on Nick or Whisper.

Each member speaks a revision of the protocol (its Hello says which); what the room sends it is given in
that revision's form, or not at all (see :mod:`.revisions`).

A member may be away, with a reason: the room keeps it while the member stays (a rename keeps it too),
tells everyone when it changes, and tells whoever asks Who after the member list.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import RemoteProtocolError
from ..wire.messages import (
    Absence,
    Away,
    Bye,
    Emote,
    Emoted,
    Error,
    Hello,
    History,
    HistoryAction,
    Join,
    Leave,
    Members,
    Message,
    Nick,
    Private,
    Renamed,
    Say,
    Text,
    Welcome,
    Whisper,
    Whispered,
    Who,
)
from ..wire.names import MAX_NAME_BYTES, check_name, name_keys, normalise_name
from ..wire.revisions import REVISION, for_revision, negotiate

__all__ = ["CONSOLE", "Action", "Deliver", "Disconnect", "Note", "Room", "check_input", "refuse_full"]

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


@dataclass(frozen=True, slots=True)
class Note:
    """A line for the operator's log (never message contents): something happened that no member sees."""

    text: str
    member: int = CONSOLE
    """Whom it is about (the server throttles such lines per source address), or the console."""


Action = Deliver | Disconnect | Note

_CLIENT_MESSAGES = (Say, Emote, Whisper, Who, Nick, Away, Bye)


def check_input(joined: bool, message: Message) -> None:
    """Raise :class:`RemoteProtocolError` unless a member may send ``message``: Hello first, then no Hello."""
    if not joined:
        if not isinstance(message, Hello):
            raise RemoteProtocolError(f"expected Hello first, got {type(message).__name__}")
    elif not isinstance(message, _CLIENT_MESSAGES):
        raise RemoteProtocolError(f"a client may not send {type(message).__name__}")


def refuse_full(member: int, wanted: str, limit: int) -> list[Action]:
    """What refusing ``member``, who asked for the name ``wanted``, from a room of ``limit`` clients does."""
    noun = "client" if limit == 1 else "clients"
    # The log shows the name only if it is one: a name asked for may hold anything, controls included.
    who = wanted if check_name(normalise_name(wanted)) is None else "a client"
    return [
        Note(f"refused {who}: the room is full ({limit} {noun})", member),
        Deliver((member,), Bye(f"the room is full ({limit} {noun})")),
        Disconnect(member),
    ]


class Room:
    def __init__(
        self,
        console_name: str | None,
        max_members: int,
        history: int = 0,
        first_line: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``first_line`` numbers the room's first line; each line is stamped with ``clock()`` (seconds)."""
        self._names: dict[int, str] = {} if console_name is None else {CONSOLE: console_name}
        self._revisions: dict[int, int] = {} if console_name is None else {CONSOLE: REVISION}
        self._away: dict[int, str] = {}  # the members who are away, and why
        self._console = 0 if console_name is None else 1
        self._max_members = max_members
        # The last lines and actions, replayed to each newcomer; private lines are never kept.
        self._history: deque[History | HistoryAction] = deque(maxlen=history)
        self._next_line = first_line
        self._clock = clock

    def name_of(self, member: int) -> str | None:
        return self._names.get(member)

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(self._names.values())

    def _others(self, member: int) -> tuple[int, ...]:
        return tuple(m for m in self._names if m != member)

    def _deliver(self, to: tuple[int, ...], message: Message) -> list[Action]:
        """Deliver ``message`` to ``to``, each in the form of the revision it speaks (or not at all)."""
        forms: dict[int, Message | None] = {}
        groups: dict[Message, list[int]] = {}
        for member in to:
            revision = self._revisions[member]
            if revision not in forms:
                forms[revision] = for_revision(message, revision)
            form = forms[revision]
            if form is not None:
                groups.setdefault(form, []).append(member)
        return [Deliver(tuple(members), form) for form, members in groups.items()]

    def _line(self) -> tuple[int, int]:
        """The number and time (milliseconds since the epoch) of a new room line."""
        seq = self._next_line
        self._next_line += 1
        return seq, int(self._clock() * 1000)

    def _holder(self, name: str, besides: int | None = None) -> int | None:
        """The member (other than ``besides``) whose name looks like ``name``, if any."""
        keys = name_keys(name)
        return next(
            (m for m, n in self._names.items() if m != besides and not keys.isdisjoint(name_keys(n))),
            None,
        )

    def _unique(self, wanted: str) -> str:
        if self._holder(wanted) is None:
            return wanted
        n = 2
        while True:
            suffix = f"-{n}"
            base = wanted.encode()[: MAX_NAME_BYTES - len(suffix)].decode("utf-8", "ignore")
            candidate = base + suffix
            # Shortening can split a letter from its combining mark: such a candidate is passed over.
            if check_name(candidate) is None and self._holder(candidate) is None:
                return candidate
            n += 1

    def handle(self, member: int, message: Message) -> list[Action]:
        """``member`` sent ``message``; a member that has not joined may only send Hello.

        The operator's console sends its lines, actions and commands here too, as member ``CONSOLE``.
        """
        check_input(member in self._names, message)
        if isinstance(message, Hello):
            return self._join(member, message.name, negotiate(message.revision), message.seen)
        match message:
            case Say(text=text):
                seq, when = self._line()
                self._history.append(History(self._names[member], text, seq, when))
                return self._deliver(self._others(member), Text(self._names[member], text, seq, when))
            case Emote(text=text):
                seq, when = self._line()
                self._history.append(HistoryAction(self._names[member], text, seq, when))
                return self._deliver(self._others(member), Emoted(self._names[member], text, seq, when))
            case Whisper(to=to, text=text):
                return self._whisper(member, to, text)
            case Who():
                # The reasons come one message each: in Members, a large room's would not fit a frame.
                return [
                    Deliver((member,), Members(self.members)),
                    *(
                        action
                        for other, name in self._names.items()
                        if other in self._away
                        for action in self._deliver((member,), Absence(name, self._away[other]))
                    ),
                ]
            case Away(reason=reason):
                return self._set_away(member, reason)
            case Nick(name=new):
                return self._rename(member, new)
            case Bye(reason=reason):
                return self.leave(member, reason or "bye")
        raise AssertionError(f"check_input let {type(message).__name__} through")

    def _join(self, member: int, wanted: str, revision: int, seen: int | None) -> list[Action]:
        if len(self._names) - self._console >= self._max_members:
            return refuse_full(member, wanted, self._max_members)
        normal = normalise_name(wanted)
        problem = check_name(normal)
        if problem is not None:
            return [
                Note(f"refused a join: {problem}", member),
                Deliver((member,), Bye(problem)),
                Disconnect(member),
            ]
        name = self._unique(normal)
        others = self._others(member)
        self._names[member] = name
        self._revisions[member] = revision
        return [
            Deliver((member,), Welcome(name, self.members, revision)),
            *(
                action
                for past in self._history
                if seen is None or past.seq > seen  # a reconnection: only what it missed
                for action in self._deliver((member,), past)
            ),
            *self._deliver(others, Join(name)),
        ]

    def _rename(self, member: int, wanted: str) -> list[Action]:
        new = normalise_name(wanted)
        problem = check_name(new)
        if problem is not None:
            return [Deliver((member,), Error(problem))]
        holder = self._holder(new, besides=member)
        if holder is not None:
            taken = self._names[holder]
            detail = "" if taken == new else f" (too much like {taken})"
            return [Deliver((member,), Error(f"the name {new} is taken{detail}"))]
        old = self._names[member]
        if old == new:
            return []
        self._names[member] = new
        return self._deliver(tuple(self._names), Renamed(old, new))

    def _set_away(self, member: int, reason: str) -> list[Action]:
        if self._away.get(member, "") == reason:
            return []
        if reason:
            self._away[member] = reason
        else:
            del self._away[member]
        return self._deliver(tuple(self._names), Absence(self._names[member], reason))

    def _whisper(self, member: int, to: str, text: str) -> list[Action]:
        wanted = normalise_name(to)
        problem = check_name(wanted)
        if problem is not None:
            return [Deliver((member,), Error(f"nobody can be called that: {problem}"))]
        recipient = self._holder(wanted)
        if recipient is None:
            return [Deliver((member,), Error(f"nobody called {wanted} is here"))]
        name = self._names[recipient]
        if for_revision(Private(self._names[member], text), self._revisions[recipient]) is None:
            return [Deliver((member,), Error(f"{name} cannot receive private lines (an older client)"))]
        # The sender's own copy comes from here, with the name the line really went to (a client that
        # sends Whisper speaks revision 2; one that did not announce it gets no copy it could not read).
        return [
            Deliver((recipient,), Private(self._names[member], text)),
            *self._deliver((member,), Whispered(name, text)),
        ]

    def leave(self, member: int, reason: str) -> list[Action]:
        """``member`` is gone (left, lost, too slow); tell the others. A no-op for a non-member."""
        if member == CONSOLE:
            return []
        name = self._names.pop(member, None)
        if name is None:
            return []
        del self._revisions[member]
        self._away.pop(member, None)
        return [*self._deliver(self._others(member), Leave(name, reason)), Disconnect(member)]
