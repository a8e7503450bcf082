"""Boots guests on the lab's QEMU (our device compiled in) with the Debian
kernel, runs a shell script inside and returns what it printed.

The guest sees the host's root filesystem read-only (virtme-ng), so the
module, the test programs and the cryptochat package are used in place.
Boots are the expensive part (about 20 s under TCG): batch checks per boot.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "VNG_ENV", "Guest", "GuestRun", "GuestTimeout", "Lab", "boot", "boot_many", "cryptodev_device",
    "migrate", "qmp", "start", "vng_command",
]

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_DIRS = ("/usr/share/qemu", "/usr/share/seabios", "/usr/lib/ipxe/qemu")
BEGIN_MARK = "vmlab-script-begin"
EXIT_MARK = "vmlab-exit-status="
# virtme-ng from the project's venv (its [lab] extra), beside the interpreter running us;
# vng runs its helpers (virtme-run, ...) from PATH, so the venv's bin goes first there.
VNG = Path(sys.executable).parent / "vng"
VNG_ENV = {**os.environ, "PATH": f"{VNG.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


class GuestTimeout(AssertionError):
    """A guest ran past its deadline and was killed."""


@dataclasses.dataclass(frozen=True)
class Lab:
    qemu: Path
    kernel: Path
    module: Path
    guest_bin: Path
    hostile_module: Path
    openssl_engine: Path  # OpenSSL's devcrypto engine, built from Debian's source

    @classmethod
    def load(cls, env_file: Path | None = None) -> Lab:
        """The lab `make lab` built: CRYPTOCHAT_LAB_ENV names a profile's
        (build/lab-PROFILE.env), else the profile built last (build/lab.env)."""
        if env_file is None:
            env_file = Path(os.environ.get("CRYPTOCHAT_LAB_ENV", REPO / "build" / "lab.env"))
        if not env_file.exists():
            raise FileNotFoundError(f"{env_file} is missing: run `make lab` first")
        values = dict(
            line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
        )
        return cls(
            qemu=Path(values["QEMU"]),
            kernel=Path(values["KERNEL"]),
            module=Path(values["MODULE"]),
            guest_bin=Path(values["GUEST_BIN"]),
            hostile_module=Path(values["HOSTILE_MODULE"]),
            openssl_engine=Path(values["OPENSSL_ENGINE"]),
        )


@dataclasses.dataclass(frozen=True)
class GuestRun:
    status: int
    output: str
    console: str

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.console.splitlines()[-lines:])

    def check(self) -> GuestRun:
        if self.status != 0:
            raise AssertionError(f"guest script exited {self.status}; console tail:\n{self.tail()}")
        return self


def cryptodev_device(index: int = 0, **props: str | int) -> list[str]:
    """QEMU options for one virtio-cryptodev PCI function."""
    opts = "".join(f",{key.replace('_', '-')}={value}" for key, value in props.items())
    return ["-device", f"virtio-cryptodev-pci,id=cryptodev{index}{opts}"]


def _prologue(lab: Lab) -> str:
    return f"""
MODULE={lab.module}
BIN={lab.guest_bin}
REPO={REPO}
PYTHON={sys.executable}
export MODULE BIN REPO PYTHON
echo {BEGIN_MARK}
"""


def vng_command(lab: Lab, script: Path, qemu_opts: Sequence[str], cpus: int, memory: str,
             network: str | None) -> list[str]:
    firmware = " ".join(f"-L {path}" for path in FIRMWARE_DIRS)
    qemu = " ".join([firmware, *qemu_opts])
    command = [
        str(VNG), "--run", str(lab.kernel), "--disable-kvm", "--qemu", str(lab.qemu),
        "--cpus", str(cpus), "--memory", memory, f"--qemu-opts={qemu}",
        "--exec", f"sh {script}",
    ]
    if network:
        command[1:1] = ["--network", network]
    return command


class Guest:
    """One running guest: its process and the console it prints."""

    def __init__(self, command: list[str], script: Path) -> None:
        self.script = script
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO, env=VNG_ENV,
        )
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            self.chunks.append(chunk)

    def console(self) -> str:
        return b"".join(self.chunks).decode(errors="replace").replace("\r\n", "\n")

    def wait_for(self, text: str, timeout: float) -> None:
        """Waits until the console shows `text` (a line the script echoes)."""
        deadline = time.monotonic() + timeout
        while text not in self.console():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise GuestTimeout(f"never saw {text!r}; console tail:\n{self.console()[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def finish(self, timeout: float) -> GuestRun:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
            self.reader.join(5)
            tail = "\n".join(self.console().splitlines()[-60:])
            raise GuestTimeout(f"guest killed after {timeout:.0f} s; console tail:\n{tail}") from None
        self.reader.join(5)
        self.script.unlink(missing_ok=True)
        console = self.console()
        output, status = _split(console)
        if self.process.returncode != 0 and status == 0:
            status = self.process.returncode
        return GuestRun(status=status, output=output, console=console)


def _split(console: str) -> tuple[str, int]:
    """The script's own output and exit status, out of the whole console."""
    _, _, after = console.partition(BEGIN_MARK + "\n")
    body, mark, status = after.rpartition(EXIT_MARK)
    if not mark:
        return after, 255
    digits = status.strip().split()[0] if status.strip() else ""
    return body, int(digits) if digits.isdigit() else 255


def start(lab: Lab, script: str, qemu_opts: Sequence[str] = (), cpus: int = 2,
          memory: str = "1G", network: str | None = None) -> Guest:
    """Starts a guest running `script`; `finish()` collects it."""
    scripts = REPO / "build" / "vm"
    scripts.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=scripts, suffix=".sh", delete=False) as f:
        # The script runs in a subshell so its `exit` still reaches the mark.
        f.write(_prologue(lab) + "(\n" + script + "\n)\n" + f'echo "{EXIT_MARK}$?"\n')
    return Guest(vng_command(lab, Path(f.name), qemu_opts, cpus, memory, network), Path(f.name))


def boot(lab: Lab, script: str, *, qemu_opts: Sequence[str] = (), cpus: int = 2,
         memory: str = "1G", network: str | None = None, timeout: float = 600) -> GuestRun:
    """Boots one guest, runs `script` (sh) inside, returns its output and status."""
    return start(lab, script, qemu_opts, cpus, memory, network).finish(timeout)


def boot_many(lab: Lab, guests: Sequence[tuple[str, Sequence[str]]], *, cpus: int = 1,
              memory: str = "1G", timeout: float = 600) -> list[GuestRun]:
    """Boots several guests at once (script, qemu options each); all are killed
    if any runs past the deadline."""
    running = [start(lab, script, opts, cpus, memory) for script, opts in guests]
    try:
        return [guest.finish(timeout) for guest in running]
    finally:
        for guest in running:
            guest.kill()


def qmp(path: Path, command: str, /, **arguments: object) -> dict[str, object]:
    """Runs one QMP command on a QEMU started with `-qmp unix:PATH,server=on,wait=off`."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        stream = sock.makefile("rw")

        def call(name: str, args: dict[str, object]) -> dict[str, object]:
            stream.write(json.dumps({"execute": name, "arguments": args}) + "\n")
            stream.flush()
            while True:
                reply: dict[str, object] = json.loads(stream.readline())
                if "return" in reply or "error" in reply:
                    return reply

        json.loads(stream.readline())  # the greeting
        call("qmp_capabilities", {})
        return call(command, dict(arguments))


def migrate(path: Path, uri: str, timeout: float) -> dict[str, object]:
    """Migrates the guest of the QEMU whose QMP socket is `path` to `uri`, and waits: QMP's last
    `query-migrate` answer, once it says completed or failed (or when `timeout` has passed)."""
    reply = qmp(path, "migrate", uri=uri)
    assert "return" in reply, reply
    deadline = time.monotonic() + timeout
    while True:
        status = qmp(path, "query-migrate")["return"]
        assert isinstance(status, dict)
        if status.get("status") in ("completed", "failed") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)
