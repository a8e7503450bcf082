"""The operator's side of a participant: commands in, chat lines and notices out.

Two implementations behind one interface. :class:`PipeConsole` (stdin is not a terminal) is for scripts:
every non-empty input line is one message, received lines go to stdout as ``NAME: TEXT``, notices and
errors go to stderr. :class:`~cryptochat.client.terminal.TerminalConsole` is the full-screen terminal UI.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..wire.messages import (
    Absence,
    Emoted,
    History,
    HistoryAction,
    Join,
    Leave,
    Members,
    Message,
    Notice,
    Private,
    Renamed,
    Text,
)
from .commands import Command, Quit, SendText

__all__ = [
    "ERROR_PREFIX",
    "Console",
    "PipeConsole",
    "Status",
    "room_event",
    "show_room_message",
]

ERROR_PREFIX = "cryptochat: "
"""What every error line on stderr starts with, from the console or from the command line."""


@dataclass(frozen=True, slots=True)
class Status:
    """What the terminal's toolbar shows."""

    name: str
    members: int | None
    """How many are in the room, or None while that is not known (not connected)."""
    state: str
    """What the connection is doing: connected, reconnecting in 2.0 s, listening on port 5555…"""
    names: tuple[str, ...] = ()
    """Who is in the room, for completion."""


class Console(ABC):
    @abstractmethod
    def message(self, sender: str, text: str, own: bool = False) -> None:
        """Show a chat line; ``own`` for the operator's own line once it is sent."""

    @abstractmethod
    def action(self, sender: str, text: str, own: bool = False) -> None:
        """Show a ``/me`` action."""

    @abstractmethod
    def private(self, sender: str, text: str, to: str | None = None) -> None:
        """Show a private line received from ``sender``, or (``to`` given) the operator's own one."""

    @abstractmethod
    def notice(self, text: str) -> None:
        """Show a status line: joins, leaves, reconnects."""

    @abstractmethod
    def error(self, text: str) -> None:
        """Show an error line."""

    def refused(self, text: str) -> None:
        """Show why the room refused the operator's last request (a name taken, nobody by that name)."""
        self.error(text)

    def pending(self, text: str, waiting: int) -> None:
        """A line typed while disconnected waits, with ``waiting`` others, to be sent on reconnection."""
        self.notice(f"not connected: {waiting} waiting, sent on reconnection")

    def history(self, sender: str, text: str, when: float, action: bool = False) -> None:
        """Show a line (or an action) said at ``when`` (seconds since the epoch) before the operator joined
        or while it was away, replayed by the server."""
        stamp = time.strftime("[%H:%M]", time.localtime(when))
        self.notice(f"{stamp} earlier: * {sender} {text}" if action else f"{stamp} earlier: {sender}: {text}")

    def log(self, text: str) -> None:
        """Record a server log line (a refused connection, a slow client): stderr, one line."""
        print(text, file=sys.stderr, flush=True)  # noqa: T201 - stderr is the log

    def status(self, status: Status) -> None:  # noqa: B027 - only the terminal has a toolbar to update
        """The state shown in the toolbar changed."""

    @abstractmethod
    def commands(self) -> AsyncIterator[Command]:
        """The operator's commands; ends with :class:`Quit` (end of input counts as ``/quit``)."""


def room_event(message: Message) -> str | None:
    """The line for a join, a leave or a rename: what the operator's log records; None for the rest."""
    match message:
        case Join(name=name):
            return f"{name} joined"
        case Leave(name=name, reason=reason):
            return f"{name} left ({reason})"
        case Renamed(old=old, new=new):
            return f"{old} is now known as {new}"
        case _:
            return None


def show_room_message(console: Console, message: Message) -> bool:
    """Show what every participant sees alike: a line, a join, a leave, a rename, who is present or away.

    Returns False for any other message, which is the caller's business.
    """
    event = room_event(message)
    if event is not None:
        console.notice(event)
        return True
    match message:
        case Text(sender=sender, text=text):
            console.message(sender, text)
        case Emoted(sender=sender, text=text):
            console.action(sender, text)
        case Private(sender=sender, text=text):
            console.private(sender, text)
        case History(sender=sender, text=text, time=when):
            console.history(sender, text, when / 1000)
        case HistoryAction(sender=sender, text=text, time=when):
            console.history(sender, text, when / 1000, action=True)
        case Members(names=names):
            console.notice(f"present ({len(names)}): {', '.join(names)}")
        case Notice(text=text):
            console.notice(text)
        case Absence(name=name, reason=reason):
            console.notice(f"{name} is away ({reason})" if reason else f"{name} is back")
        case _:
            return False
    return True


class PipeConsole(Console):
    """Line-oriented, for scripts; stdin is read by a thread so regular files work as well as pipes."""

    def __init__(self, backlog: int = 64) -> None:
        self._backlog = backlog

    # A script sees what others sent, in one format per kind; its own lines it knows already.
    def message(self, sender: str, text: str, own: bool = False) -> None:
        if not own:
            print(f"{sender}: {text}", flush=True)  # noqa: T201 - stdout is this console's output

    def action(self, sender: str, text: str, own: bool = False) -> None:
        if not own:
            print(f"* {sender} {text}", flush=True)  # noqa: T201

    def private(self, sender: str, text: str, to: str | None = None) -> None:
        if to is None:
            print(f"{sender} (private): {text}", flush=True)  # noqa: T201

    def notice(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)  # noqa: T201

    def error(self, text: str) -> None:
        print(f"{ERROR_PREFIX}{text}", file=sys.stderr, flush=True)  # noqa: T201

    async def commands(self) -> AsyncIterator[Command]:
        loop = asyncio.get_running_loop()
        fd = sys.stdin.fileno()
        # Bounded, so a huge piped file is read only as fast as the chat can send it.
        queue: asyncio.Queue[str | None] = asyncio.Queue(self._backlog)

        def hand_over(item: str | None) -> bool:
            try:
                asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            except (RuntimeError, concurrent.futures.CancelledError):
                # The loop is closed, or cancelled this hand-over while shutting down (the future of
                # run_coroutine_threadsafe raises concurrent's CancelledError, not asyncio's): nobody
                # wants more input.
                return False
            return True

        def pump() -> None:
            # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader makes the
            # interpreter abort at exit, and this thread is still blocked when the chat ends first.
            pending = b""
            number = 0
            while chunk := os.read(fd, 65536):
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    number += 1
                    if not hand_over(_decode(raw, number)):
                        return
            if pending:
                hand_over(_decode(pending, number + 1))
            hand_over(None)

        threading.Thread(target=pump, name="stdin", daemon=True).start()
        while (line := await queue.get()) is not None:
            # An empty line is nothing to say, as in the terminal: not relayed as an empty message.
            if line.strip():
                yield SendText(line)
        yield Quit()


def _decode(raw: bytes, number: int) -> str:
    """Input line ``number`` as text; bytes that are not UTF-8 become U+FFFD, with a warning on stderr."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        print(  # noqa: T201 - stderr takes this console's errors
            f"{ERROR_PREFIX}line {number} of the input is not valid UTF-8: sent with U+FFFD in place of the "
            "bad bytes",
            file=sys.stderr,
            flush=True,
        )
    return text.rstrip("\r")
