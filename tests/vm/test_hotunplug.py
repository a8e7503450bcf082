"""Hot-unplug: the device is removed over QMP while threads loop on it.
Waiters wake with ENODEV, the node disappears, the guest survives."""

from __future__ import annotations

from pathlib import Path

import pytest
from vmlab import Lab, qmp, start

SCRIPT = """
insmod $MODULE || exit 1
$BIN/cryptodev_loop /dev/cryptodev0 4 > /tmp/loop.out 2>&1 &
loop=$!
sleep 3
echo unplug-now
i=0
while [ -e /dev/cryptodev0 ] && [ $i -lt 240 ]; do sleep 0.5; i=$((i + 1)); done
echo "node gone after $i checks"
wait $loop; status=$?
cat /tmp/loop.out
rmmod virtio_cryptodev || exit 1
dmesg | grep -E "WARNING|BUG|Oops|Call Trace" && exit 1
exit $status
"""


# Where the device works: (QEMU options, device properties).
RUNNERS = {
    "main-loop": ([], ""),
    "iothread": (["-object", "iothread,id=io0"], ",iothread=io0"),
    "parallel": ([], ",parallel=on"),
}


@pytest.mark.parametrize("runner", RUNNERS)
def test_unplug_under_load_wakes_waiters_with_enodev(lab: Lab, tmp_path: Path, runner: str) -> None:
    extra, props = RUNNERS[runner]
    socket_path = tmp_path / "qmp.sock"
    guest = start(lab, SCRIPT, qemu_opts=[
        "-device", "pcie-root-port,id=rp1,chassis=1,slot=1", *extra,
        "-device", f"virtio-cryptodev-pci,id=cryptodev0,bus=rp1{props}",
        "-qmp", f"unix:{socket_path},server=on,wait=off",
    ])
    try:
        guest.wait_for("unplug-now", timeout=240)
        reply = qmp(socket_path, "device_del", id="cryptodev0")
        assert "return" in reply, reply
    finally:
        run = guest.finish(timeout=300)
    assert run.status == 0, run.tail()
    assert "node gone" in run.output
    assert "then ENODEV" in run.output
