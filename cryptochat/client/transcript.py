"""``--log FILE``: a console that also appends everything it shows, with date and time, to a file.

The file holds the conversation in clear, like the screen: it is created with mode 0600 and only ever
appended to, so one file can hold many sessions.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from typing import TextIO

from ..errors import ConfigError
from .commands import Command
from .console import Console, Status

__all__ = ["TranscriptConsole", "open_transcript"]


def open_transcript(path: str) -> TextIO:
    """Open ``path`` for appending (created 0600); :class:`ConfigError` if that is not possible."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot open the log file {path}: {exc.strerror}") from None
    return os.fdopen(fd, "a", encoding="utf-8", errors="replace")


class TranscriptConsole(Console):
    """Shows everything on ``inner`` and writes it to ``file``, one timestamped line each."""

    def __init__(self, inner: Console, file: TextIO) -> None:
        self._inner = inner
        self._file = file

    def _write(self, line: str, when: float | None = None) -> None:
        """Append ``line``, stamped now or, for a line from the room's history, when it was said."""
        self._file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(when))} {line}\n")
        self._file.flush()

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

    def log(self, text: str) -> None:
        self._write(f"-- {text}")
        self._inner.log(text)

    def status(self, status: Status) -> None:
        self._inner.status(status)

    def commands(self) -> AsyncIterator[Command]:
        return self._inner.commands()
