"""Driving ``cryptochat`` in a real pseudo-terminal: pexpect runs it, pyte renders what it draws."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable

import pexpect
import pyte

TIMEOUT = 15.0
COLUMNS, ROWS = 100, 24

# Bracketed paste, as a terminal sends it when text is pasted into it.
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
CTRL_C, CTRL_D = "\x03", "\x04"


class _Screen(pyte.Screen):  # type: ignore[misc]
    """A pyte screen that counts the terminal bells it is sent."""

    bells = 0

    def bell(self, *args: object) -> None:
        self.bells += 1


class Terminal:
    """One ``cryptochat`` process on a pty of COLUMNS x ROWS, and the screen it has drawn so far."""

    def __init__(
        self,
        args: list[str],
        shell: bool = False,
        rows: int = ROWS,
        columns: int = COLUMNS,
        env: dict[str, str] | None = None,
    ) -> None:
        self.screen = _Screen(columns, rows)
        self._stream = pyte.ByteStream(self.screen)
        env = {
            **os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8", "COLUMNS": str(columns), **(env or {})
        }
        command = [sys.executable, "-m", "cryptochat", *args]
        if shell:  # args is a shell pipeline around the command: {cryptochat} stands for it
            line = " ".join(args).replace("{cryptochat}", " ".join(command[:3]))
            command = ["/bin/sh", "-c", line]
        self.child = pexpect.spawn(command[0], command[1:], dimensions=(rows, columns), env=env)

    def _pump(self, wait: float) -> None:
        with contextlib.suppress(pexpect.TIMEOUT, pexpect.EOF):
            self._stream.feed(self.child.read_nonblocking(65536, timeout=wait))

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_until(self, predicate: Callable[[str], bool], what: str, timeout: float = TIMEOUT) -> str:
        """Read output until the screen satisfies ``predicate``; fail with the screen if it never does."""
        deadline = time.monotonic() + timeout
        while not predicate(self.text):
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {what}; the screen:\n{self.text}")
            if not self.child.isalive():
                self._drain()
                if predicate(self.text):
                    break
                raise AssertionError(f"exited before showing {what}; the screen:\n{self.text}")
            self._pump(0.05)
        return self.text

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> str:
        """Wait until a line of the screen matches the regular expression ``pattern``."""
        regex = re.compile(pattern, re.MULTILINE)
        return self.wait_until(lambda text: regex.search(text) is not None, repr(pattern), timeout)

    def _drain(self) -> None:
        while True:
            try:
                self._stream.feed(self.child.read_nonblocking(65536, timeout=0.1))
            except (pexpect.TIMEOUT, pexpect.EOF):
                return

    def type(self, keys: str) -> None:
        self.child.send(keys.encode("utf-8"))

    def resize(self, rows: int, columns: int) -> None:
        """Resize the terminal, as a window manager would: the pty's size (SIGWINCH) and the screen's."""
        self._pump(0.05)  # what was drawn at the old size is read at the old size
        self.screen.resize(rows, columns)
        self.child.setwinsize(rows, columns)

    def paste(self, text: str) -> None:
        self.type(PASTE_START + text + PASTE_END)

    def input_line(self) -> str:
        """The line being edited: the last line of the screen that starts with the prompt."""
        return next(
            (line[2:] for line in reversed(self.text.splitlines()) if line.startswith("> ")), ""
        )

    def exit_status(self, timeout: float = TIMEOUT) -> int | None:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self._pump(0.05)
        self._drain()
        self.child.close()
        return self.child.exitstatus

    def kill(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
