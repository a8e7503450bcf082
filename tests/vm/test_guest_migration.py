"""A real guest live-migrated twice, A -> B -> C over unix sockets, while its
four threads check known answers through sessions they opened before the
first migration (virtio/tests/c/cryptodev_migrate.c), in each mode of the
device. QEMU refuses to migrate a guest with a mounted 9p export, which is how
virtme-ng shares the root, so this guest boots from an initramfs of its own
(initramfs_guest.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from initramfs_guest import VIRTIO_MODULES, Initramfs, InitramfsGuest
from migration_qtest import MODES as EVERY_MODE
from vmlab import Lab

SECONDS = 40

INIT = f"""
i=0
while [ ! -e /dev/cryptodev0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
/cryptodev_migrate /dev/cryptodev0 4 {SECONDS}
echo "migration check status $?"
dmesg | grep -E "WARNING|BUG|Oops|Call Trace" && echo "kernel trouble"
poweroff -f
"""

# `make test` migrates real guests in one mode (each mode migrates with requests in flight over qtest
# in test_device_migration.py); `make test-matrix` in all.
MODES = EVERY_MODE if os.environ.get("CRYPTOCHAT_EVERY_MODE") else {"iothread": EVERY_MODE["iothread"]}


def initramfs(lab: Lab, directory: Path) -> Path:
    """busybox, the virtio and cryptodev modules, the checker."""
    image = Initramfs(directory)
    image.add_modules(lab.kernel.name.removeprefix("vmlinuz-"), VIRTIO_MODULES)
    image.add_module("virtio_cryptodev", lab.module.read_bytes())
    image.add(lab.guest_bin / "cryptodev_migrate", Path("/cryptodev_migrate"))
    return image.write(INIT)


@pytest.fixture
def hosts() -> Iterator[list[InitramfsGuest]]:
    started: list[InitramfsGuest] = []
    yield started
    for host in started:
        host.stop()


@pytest.mark.parametrize("mode", MODES)
def test_a_guest_checking_known_answers_is_migrated_twice_without_a_mismatch(
        lab: Lab, tmp_path: Path, hosts: list[InitramfsGuest], figure: Callable[[str], None],
        mode: str) -> None:
    props, extra = MODES[mode]
    initrd = initramfs(lab, tmp_path)

    def host(name: str, *, incoming: bool = False) -> InitramfsGuest:
        options = [*extra, "-device", f"virtio-cryptodev-pci,id=cryptodev0,{props}"]
        hosts.append(InitramfsGuest(lab, tmp_path, name, initrd, options, incoming=incoming))
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
    assert "kernel trouble" not in output and "insmod" not in output, output[-3000:]
    counts = output.split("operations")[0].rsplit("\n", 1)[-1].strip()
    figure(f"guest migration ({mode}): sessions {sessions} kept; {counts} operations, 0 mismatches; "
           f"downtime {first.downtime_ms:.0f} ms and {second.downtime_ms:.0f} ms")
