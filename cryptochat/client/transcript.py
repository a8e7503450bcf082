"""``--log FILE``: a console that also appends everything it shows, with date and time, to a file.

The file holds the conversation in clear, like the screen: it is created with mode 0600 and only ever
appended to, so one file can hold many sessions; each starts with a ``-- log started: …`` line and ends
with ``-- log ended``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import TextIO

from ..errors import ConfigError
from .commands import Command, Quit
from .console import Console, Status

__all__ = ["TranscriptConsole", "open_transcript"]


def _write(file: TextIO, line: str, when: float | None = None) -> None:
    file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(when))} {line}\n")
    file.flush()


@contextlib.contextmanager
def open_transcript(path: str, session: str) -> Iterator[TextIO]:
    """Open ``path`` for appending (created 0600), marking where ``session`` starts and ends in it.

    :class:`ConfigError` if it cannot be opened.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot open the log file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "a", encoding="utf-8", errors="replace") as file:
        _write(file, f"-- log started: {session}")
        try:
            yield file
        finally:
            _write(file, "-- log ended")


class TranscriptConsole(Console):
    """Shows everything on ``inner`` and writes it to ``file``, one timestamped line each."""

    def __init__(self, inner: Console, file: TextIO) -> None:
        self._inner = inner
        self._file = file

    def _write(self, line: str, when: float | None = None) -> None:
        """Append ``line``, stamped now or, for a line from the room's history, when it was said."""
        _write(self._file, line, when)

    def message(self, sender: str, text: str, own: bool = False) -> None:
        self._write(f"{sender}: {text}")
        self._inner.message(sender, text, own)

    def action(self, sender: str, text: str, own: bool = False) -> None:
        self._write(f"* {sender} {text}")
        self._inner.action(sender, text, own)

    def private(self, sender: str, text: str, to: str | None = None) -> None:
        self._write(f"{sender} (private): {text}" if to is None else f"{sender} → {to} (private): {text}")
        self._inner.private(sender, text, to)

    def history(self, sender: str, text: str, when: float, action: bool = False) -> None:
        self._write(f"earlier: * {sender} {text}" if action else f"earlier: {sender}: {text}", when)
        self._inner.history(sender, text, when, action)

    def notice(self, text: str) -> None:
        self._write(f"-- {text}")
        self._inner.notice(text)

    def error(self, text: str) -> None:
        self._write(f"! {text}")
        self._inner.error(text)

    def refused(self, text: str) -> None:
        self._write(f"! {text}")
        self._inner.refused(text)

    def pending(self, text: str, waiting: int) -> None:
        self._write(f"-- not connected: {waiting} waiting, sent on reconnection: {text}")
        self._inner.pending(text, waiting)

    def log(self, text: str) -> None:
        self._write(f"-- {text}")
        self._inner.log(text)

    def status(self, status: Status) -> None:
        self._inner.status(status)

    async def commands(self) -> AsyncIterator[Command]:
        async for command in self._inner.commands():
            if isinstance(command, Quit):
                self._write(f"-- you left ({command.reason or 'bye'})")
            yield command
