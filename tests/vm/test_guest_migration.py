"""A real guest live-migrated twice, A -> B -> C over unix sockets, while its
four threads check known answers through sessions they opened before the
first migration (virtio/tests/c/cryptodev_migrate.c), in each mode of the
device. QEMU refuses to migrate a guest with a mounted 9p export, which is how
virtme-ng shares the root, so this guest boots from an initramfs of its own:
busybox, the virtio and cryptodev modules, the static checker."""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from vmlab import FIRMWARE_DIRS, Lab, migrate, qmp

SECONDS = 40
VIRTIO_MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci")

INIT = f"""#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in {" ".join(VIRTIO_MODULES)} virtio_cryptodev; do
  [ -e /lib/$m.ko ] && {{ insmod /lib/$m.ko || echo "insmod $m failed"; }}
done
i=0
while [ ! -e /dev/cryptodev0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
/cryptodev_migrate /dev/cryptodev0 4 {SECONDS}
echo "migration check status $?"
dmesg | grep -E "WARNING|BUG|Oops|Call Trace" && echo "kernel trouble"
poweroff -f
"""

# mode: (device properties, QEMU options). `make test` boots the guests of one mode (each mode
# migrates with requests in flight over qtest in test_device_migration.py); `make test-matrix` all.
EVERY_MODE = {
    "main-loop": ("", []),
    "iothread": (",iothread=io0", ["-object", "iothread,id=io0"]),
    "parallel": (",parallel=on", []),
}
MODES = EVERY_MODE if os.environ.get("CRYPTOCHAT_EVERY_MODE") else {"iothread": EVERY_MODE["iothread"]}


def initramfs(lab: Lab, directory: Path) -> Path:
    """A gzipped newc cpio: /init, busybox and its applets, the modules, the checker."""
    root = directory / "root"
    for sub in ("bin", "lib", "proc", "sys", "dev"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "mount", "insmod", "sleep", "echo", "poweroff", "dmesg", "grep"):
        (root / "bin" / applet).symlink_to("busybox")
    release = lab.kernel.name.removeprefix("vmlinuz-")
    for module in VIRTIO_MODULES:
        # Built in on some kernels (6.12), a module (xz-compressed on 6.12) on others.
        found = subprocess.run(["modinfo", "-k", release, "-F", "filename", module],
                               capture_output=True, text=True, check=True).stdout.strip()
        target = root / "lib" / f"{module}.ko"
        if found.endswith(".ko.xz"):
            target.write_bytes(lzma.decompress(Path(found).read_bytes()))
        elif found.endswith(".ko"):
            shutil.copy(found, target)
    shutil.copy(lab.module, root / "lib" / "virtio_cryptodev.ko")
    shutil.copy(lab.guest_bin / "cryptodev_migrate", root / "cryptodev_migrate")
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files,
                             capture_output=True, check=True).stdout
    image = directory / "initrd.gz"
    image.write_bytes(gzip.compress(archive, 1))
    return image


class Host:
    """One QEMU of the migration: its console file and its QMP socket."""

    def __init__(self, lab: Lab, directory: Path, name: str, initrd: Path, props: str,
                 extra: Sequence[str], incoming: bool) -> None:
        self.console = directory / f"{name}.console"
        self.qmp_path = directory / f"{name}.qmp"
        self.migration = directory / f"{name}.migration"
        firmware = [arg for path in FIRMWARE_DIRS if Path(path).is_dir() for arg in ("-L", path)]
        command = [
            str(lab.qemu), "-machine", "q35", "-accel", "tcg", "-m", "256M", "-smp", "2", *firmware,
            "-nodefaults", "-display", "none", "-no-reboot", "-kernel", str(lab.kernel),
            "-initrd", str(initrd), "-append", "console=ttyS0 rdinit=/init quiet panic=-1",
            "-serial", f"file:{self.console}", "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            *extra, "-device", f"virtio-cryptodev-pci,id=cryptodev0{props}",
            *(["-incoming", f"unix:{self.migration}"] if incoming else []),
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 30
        while not self.qmp_path.exists() or (incoming and not self.migration.exists()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"QEMU did not start: {self.stderr()}")
            time.sleep(0.05)

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")

    def output(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r}; console:\n{self.output()[-2000:]}{self.stderr()}")
            time.sleep(0.2)

    def migrate_to(self, other: Host) -> float:
        """Migrates to `other`; returns how long the guest was stopped (QMP's downtime), in ms."""
        # QEMU's default cap (32 MiB/s) is for networks; over a unix socket, none.
        assert "return" in qmp(self.qmp_path, "migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        reply = migrate(self.qmp_path, f"unix:{other.migration}", timeout=120)
        assert reply.get("status") == "completed", f"{reply}\n{self.stderr()}"
        return float(str(reply.get("downtime", 0)))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
        self.process.wait()


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    started: list[Host] = []
    yield started
    for host in started:
        host.stop()


@pytest.mark.parametrize("mode", MODES)
def test_a_guest_checking_known_answers_is_migrated_twice_without_a_mismatch(
        lab: Lab, tmp_path: Path, hosts: list[Host], figure: Callable[[str], None], mode: str) -> None:
    props, extra = MODES[mode]
    initrd = initramfs(lab, tmp_path)

    def host(name: str, *, incoming: bool = False) -> Host:
        hosts.append(Host(lab, tmp_path, name, initrd, props, extra, incoming))
        return hosts[-1]

    a = host("a")
    a.wait_for("checking", timeout=120)
    sessions = a.output().split("sessions ")[1].split("\n")[0]
    b = host("b", incoming=True)
    first = a.migrate_to(b)
    time.sleep(3)  # the guest works on B a while, with requests in flight
    c = host("c", incoming=True)
    second = b.migrate_to(c)
    c.wait_for("migration check status", timeout=SECONDS + 180)
    output = c.output()
    assert "migration check status 0" in output, output[-3000:]
    assert "kernel trouble" not in output and "can't insert" not in output, output[-3000:]
    counts = output.split("operations")[0].rsplit("\n", 1)[-1].strip()
    figure(f"guest migration ({mode}): sessions {sessions} kept; {counts} operations, 0 mismatches; "
           f"downtime {first:.0f} ms and {second:.0f} ms")
