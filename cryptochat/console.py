"""The operator's side of a participant: commands in, chat lines and notices out.

Two implementations behind one interface. :class:`PipeConsole` (stdin is not a terminal) is for scripts:
every input line is one message, received lines go to stdout as ``NAME: TEXT``, notices and errors go to
stderr. :class:`TerminalConsole` is a prompt_toolkit line editor: the input line stays at the bottom,
messages scroll above it with the time, and ``/quit``, ``/who``, ``/nick NAME`` are commands.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

from prompt_toolkit import PromptSession
from prompt_toolkit.patch_stdout import patch_stdout

from .messages import Join, Leave, Members, Message, Renamed, Text

__all__ = [
    "AskWho",
    "ChangeNick",
    "Command",
    "Console",
    "PipeConsole",
    "Quit",
    "SendText",
    "TerminalConsole",
    "open_console",
    "parse_terminal_line",
    "show_room_message",
]


@dataclass(frozen=True, slots=True)
class SendText:
    text: str


@dataclass(frozen=True, slots=True)
class AskWho:
    pass


@dataclass(frozen=True, slots=True)
class ChangeNick:
    name: str


@dataclass(frozen=True, slots=True)
class Quit:
    pass


Command = SendText | AskWho | ChangeNick | Quit

_HELP = "commands: /who, /nick NAME, /quit; start a line with // to send one that begins with /"


def parse_terminal_line(line: str) -> Command | str:
    """Turn a typed line into a command, or return a usage message for a bad one."""
    if line.startswith("//"):
        return SendText(line[1:])
    if not line.startswith("/"):
        return SendText(line)
    word, _, rest = line.partition(" ")
    if word == "/quit":
        return Quit()
    if word == "/who":
        return AskWho()
    if word == "/nick" and rest.strip():
        return ChangeNick(rest.strip())
    return _HELP


class Console(ABC):
    @abstractmethod
    def message(self, sender: str, text: str) -> None:
        """Show a chat line someone else wrote."""

    @abstractmethod
    def notice(self, text: str) -> None:
        """Show a status line: joins, leaves, reconnects."""

    @abstractmethod
    def error(self, text: str) -> None:
        """Show an error line."""

    @abstractmethod
    def commands(self) -> AsyncIterator[Command]:
        """The operator's commands; ends with :class:`Quit` (end of input counts as ``/quit``)."""


def show_room_message(console: Console, message: Message) -> bool:
    """Show what every participant sees alike: a line, a join, a leave, a rename, who is present.

    Returns False for any other message, which is the caller's business.
    """
    match message:
        case Text(sender=sender, text=text):
            console.message(sender, text)
        case Join(name=name):
            console.notice(f"{name} joined")
        case Leave(name=name, reason=reason):
            console.notice(f"{name} left ({reason})")
        case Renamed(old=old, new=new):
            console.notice(f"{old} is now known as {new}")
        case Members(names=names):
            console.notice(f"present: {', '.join(names)}")
        case _:
            return False
    return True


class PipeConsole(Console):
    """Line-oriented, for scripts; stdin is read by a thread so regular files work as well as pipes."""

    def __init__(self, backlog: int = 64) -> None:
        self._backlog = backlog

    def message(self, sender: str, text: str) -> None:
        print(f"{sender}: {text}", flush=True)  # noqa: T201 - stdout is this console's output

    def notice(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)  # noqa: T201

    def error(self, text: str) -> None:
        print(f"error: {text}", file=sys.stderr, flush=True)  # noqa: T201

    async def commands(self) -> AsyncIterator[Command]:
        loop = asyncio.get_running_loop()
        fd = sys.stdin.fileno()
        # Bounded, so a huge piped file is read only as fast as the chat can send it.
        queue: asyncio.Queue[str | None] = asyncio.Queue(self._backlog)

        def hand_over(item: str | None) -> bool:
            try:
                asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            except (RuntimeError, asyncio.CancelledError):
                return False  # the loop is gone: nobody wants more input
            return True

        def pump() -> None:
            # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader makes the
            # interpreter abort at exit, and this thread is still blocked when the chat ends first.
            pending = b""
            while chunk := os.read(fd, 65536):
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    if not hand_over(raw.decode("utf-8", "replace").rstrip("\r")):
                        return
            if pending:
                hand_over(pending.decode("utf-8", "replace").rstrip("\r"))
            hand_over(None)

        threading.Thread(target=pump, name="stdin", daemon=True).start()
        while (line := await queue.get()) is not None:
            yield SendText(line)
        yield Quit()


class TerminalConsole(Console):
    def __init__(self, prompt: str = "> ") -> None:
        self._session: PromptSession[str] = PromptSession()
        self._prompt = prompt

    def _show(self, line: str) -> None:
        print(f"[{time.strftime('%H:%M')}] {line}", flush=True)  # noqa: T201 - the terminal is the UI

    def message(self, sender: str, text: str) -> None:
        self._show(f"{sender}: {text}")

    def notice(self, text: str) -> None:
        self._show(f"* {text}")

    def error(self, text: str) -> None:
        self._show(f"! {text}")

    async def commands(self) -> AsyncIterator[Command]:
        # patch_stdout makes prints from the chat appear above the line being edited.
        with patch_stdout(raw=True):
            while True:
                try:
                    line = await self._session.prompt_async(self._prompt)
                except (EOFError, KeyboardInterrupt):
                    break
                if not line.strip():
                    continue
                command = parse_terminal_line(line)
                if isinstance(command, str):
                    self.notice(command)
                    continue
                yield command
                if isinstance(command, Quit):
                    return
        yield Quit()


def open_console() -> Console:
    """A terminal console when stdin and stdout are terminals, the pipe console otherwise."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return TerminalConsole()
    return PipeConsole()
