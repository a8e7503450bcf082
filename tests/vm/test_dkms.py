"""The driver installed as a real out-of-tree module: DKMS builds it for the
lab's guest kernel from the tree virtio/guest/packaging/dkms-source.sh lays, installs
it under /lib/modules, and a guest (whose root is the host's) loads it by name,
`modprobe virtio_cryptodev`; udev's own test of the node applies the project's
rule. The module and the rule are removed again afterwards."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from vmlab import REPO, Lab, boot, cryptodev_device

RULE = Path("/etc/udev/rules.d/60-virtio-cryptodev.rules")

SCRIPT = """
modprobe virtio_cryptodev || exit 1
echo "loaded from $(modinfo -F filename virtio_cryptodev)"
i=0
while [ ! -e /dev/cryptodev0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
udevadm test --action=add /sys/class/virtio_cryptodev/cryptodev0 2>&1 | grep -E "MODE|60-virtio-cryptodev"
$BIN/cryptodev_vectors /dev/cryptodev0 || exit 1
modprobe -r virtio_cryptodev || exit 1
dmesg | grep -E "WARNING|BUG|Oops|Call Trace" && exit 1
exit 0
"""


def _dkms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["dkms", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def installed(lab: Lab) -> Iterator[str]:
    """The driver's DKMS module for the lab's kernel, and the udev rule; both gone afterwards."""
    release = lab.kernel.name.removeprefix("vmlinuz-")
    script = REPO / "virtio/guest/packaging/dkms-source.sh"
    laid = subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout.strip()
    module = "virtio-cryptodev/" + laid.rsplit("-", 1)[1]
    _dkms("remove", module, "--all")
    try:
        for step in (["add", module], ["build", module, "-k", release], ["install", module, "-k", release]):
            result = _dkms(*step)
            assert result.returncode == 0, f"dkms {' '.join(step)}:\n{result.stdout}{result.stderr}"
        shutil.copy(REPO / "virtio/guest/packaging/60-virtio-cryptodev.rules", RULE)
        yield release
    finally:
        RULE.unlink(missing_ok=True)
        _dkms("remove", module, "--all")
        shutil.rmtree(laid, ignore_errors=True)


def test_dkms_installs_the_module_and_a_guest_loads_it_by_name(lab: Lab, installed: str) -> None:
    run = boot(lab, SCRIPT, qemu_opts=cryptodev_device(0), timeout=600)
    assert run.status == 0, run.tail()
    assert f"loaded from /lib/modules/{installed}/updates/dkms/virtio_cryptodev.ko" in run.output
    assert "60-virtio-cryptodev.rules:6 MODE 0666" in run.output, run.output[:2000]
