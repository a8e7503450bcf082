"""QEMU's qtest protocol: a QEMU started with ``-accel qtest -qtest stdio`` and
the line protocol on its stdin and stdout, with no guest OS.

:class:`Qtest` sends one command a line (``outl``/``inl`` for I/O ports,
``readl``/``writel``/``b64write``/``b64read``/``memset`` for guest memory) and
gives every reply a deadline: a dead or silent QEMU raises :class:`QtestError`
rather than hanging the caller. :func:`qemu_command` is the machine such a
QEMU runs: q35, no default devices, :data:`RAM_SIZE` of RAM.
"""

from __future__ import annotations

import base64
import contextlib
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "FIRMWARE_DIRS",
    "RAM_SIZE",
    "Qtest",
    "QtestError",
    "QtestTimeout",
    "qemu_command",
]

# Debian's firmware (SeaBIOS, option ROMs): a QEMU run from a build tree does not
# know these directories (docs/vm-lab.md).
FIRMWARE_DIRS = ("/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu")
RAM_SIZE = 64 * 1024 * 1024


class QtestError(RuntimeError):
    """QEMU refused a command, died, or its answer made no sense."""


class QtestTimeout(QtestError):
    """QEMU did not answer in time; it has been killed."""


def qemu_command(qemu: Path, args: Sequence[str] = (), machine: str = "q35") -> list[str]:
    """The command line of a qtest QEMU: a `machine` with nothing on it but `args`."""
    firmware = [arg for path in FIRMWARE_DIRS if Path(path).is_dir() for arg in ("-L", path)]
    return [
        str(qemu), "-machine", machine, "-accel", "qtest", "-qtest", "stdio", "-qtest-log", "/dev/null",
        "-display", "none",
        "-nodefaults", "-m", f"{RAM_SIZE // (1024 * 1024)}M", *firmware, *args,
    ]


class Qtest:
    """QEMU's qtest line protocol over the process's stdin and stdout."""

    def __init__(self, command: Sequence[str], timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._stdout = self.process.stdout.fileno()
        os.set_blocking(self._stdout, False)
        self._buffer = b""
        self._stderr: list[bytes] = []
        self._stderr_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_reader.start()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stdout, selectors.EVENT_READ)

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):  # type: ignore[union-attr,attr-defined]
            self._stderr.append(chunk)

    @property
    def stderr(self) -> str:
        """What QEMU printed on stderr so far."""
        return b"".join(self._stderr).decode(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def _readline(self, deadline: float) -> str:
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise QtestTimeout(f"QEMU did not answer within {self.timeout} s")
            if not self._selector.select(left):
                continue
            chunk = os.read(self._stdout, 1 << 20)
            if not chunk:
                self.process.wait(5)
                self._stderr_reader.join(5)
                raise QtestError(f"QEMU exited ({self.process.returncode}): {self.stderr.strip()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def command(self, line: str) -> str:
        """Sends one command; returns what follows ``OK`` in the reply."""
        assert self.process.stdin is not None
        if not self.alive():
            raise QtestError(f"QEMU exited ({self.process.returncode}): {self.stderr.strip()}")
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise QtestError(f"QEMU went away: {self.stderr.strip()}") from None
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._readline(deadline)
            if reply.startswith("IRQ "):
                continue  # only with irq_intercept, which this driver does not use
            if reply == "OK" or reply.startswith("OK "):
                return reply[3:]
            raise QtestError(f"{line.split(maxsplit=1)[0]}: {reply}")

    def pipeline(self, lines: Sequence[str]) -> None:
        """Sends commands that answer ``OK`` in one write, then reads every answer:
        QEMU runs them back to back, with no turn of its main loop between two."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("".join(f"{line}\n" for line in lines).encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            raise QtestError(f"QEMU went away: {self.stderr.strip()}") from None
        deadline = time.monotonic() + self.timeout
        for line in lines:
            reply = self._readline(deadline)
            if reply != "OK" and not reply.startswith("OK "):
                raise QtestError(f"{line.split(maxsplit=1)[0]}: {reply}")

    def _value(self, line: str) -> int:
        return int(self.command(line), 16)

    def outl(self, port: int, value: int) -> None:
        self.command(f"outl {port:#x} {value:#x}")

    def inb(self, port: int) -> int:
        return self._value(f"inb {port:#x}")

    def inw(self, port: int) -> int:
        return self._value(f"inw {port:#x}")

    def inl(self, port: int) -> int:
        return self._value(f"inl {port:#x}")

    def outb(self, port: int, value: int) -> None:
        self.command(f"outb {port:#x} {value:#x}")

    def outw(self, port: int, value: int) -> None:
        self.command(f"outw {port:#x} {value:#x}")

    def readb(self, addr: int) -> int:
        return self._value(f"readb {addr:#x}")

    def readw(self, addr: int) -> int:
        return self._value(f"readw {addr:#x}")

    def readl(self, addr: int) -> int:
        return self._value(f"readl {addr:#x}")

    def writeb(self, addr: int, value: int) -> None:
        self.command(f"writeb {addr:#x} {value:#x}")

    def writew(self, addr: int, value: int) -> None:
        self.command(f"writew {addr:#x} {value:#x}")

    def writel(self, addr: int, value: int) -> None:
        self.command(f"writel {addr:#x} {value:#x}")

    def write(self, addr: int, data: bytes) -> None:
        if data:
            self.command(f"b64write {addr:#x} {len(data):#x} {base64.b64encode(data).decode()}")

    def read(self, addr: int, length: int) -> bytes:
        if not length:
            return b""
        data = base64.b64decode(self.command(f"b64read {addr:#x} {length:#x}"))
        if len(data) != length:
            raise QtestError(f"b64read returned {len(data)} bytes, not {length}")
        return data

    def memset(self, addr: int, length: int, value: int = 0) -> None:
        self.command(f"memset {addr:#x} {length:#x} {value:#x}")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait()

    def close(self, timeout: float = 10.0) -> int:
        """Stops QEMU (SIGTERM, as libqtest does) and returns its exit status."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._stderr_reader.join(5)
        self._selector.close()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return self.process.returncode
