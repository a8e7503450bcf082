"""QEMU stays responsive while a real guest saturates the device: four guest threads
loop on 1 MiB encryptions while the host asks QMP `query-status` every 50 ms.
Without an iothread the device works under the BQL in bounded batches (QMP
within a second, as the hardening issue asks); with one, the BQL is taken only
to hand batches back (QMP within 100 ms, as the concurrency issue asks).

`CRYPTOCHAT_SOAK_SECONDS` (default 10) sets how long the host watches."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from vmlab import Lab, qmp, start

SECONDS = float(os.environ.get("CRYPTOCHAT_SOAK_SECONDS", "10"))

SCRIPT = f"""
insmod $MODULE || exit 1
$BIN/cryptodev_loop /dev/cryptodev0 4 1048576 > /tmp/loop.out 2>&1 &
loop=$!
sleep 2
echo saturating
sleep {SECONDS + 5:.0f}
kill $loop
wait $loop
echo "requests $(cat /sys/class/virtio_cryptodev/cryptodev0/requests)"
dmesg | grep -E "WARNING|BUG|Oops|Call Trace" && exit 1
exit 0
"""

# runner: (QEMU options, device properties, the worst QMP latency allowed)
RUNNERS = {
    "main-loop": ([], "", 1.0),
    "iothread": (["-object", "iothread,id=io0"], ",iothread=io0", 0.1),
    "parallel": ([], ",parallel=on", 0.1),
}


@pytest.mark.parametrize("runner", RUNNERS)
def test_qmp_answers_while_four_guest_threads_saturate_the_device(
        lab: Lab, tmp_path: Path, figure: Callable[[str], None], runner: str) -> None:
    extra, props, allowed = RUNNERS[runner]
    socket_path = tmp_path / "qmp.sock"
    device = "virtio-cryptodev-pci,id=cryptodev0" + props
    guest = start(lab, SCRIPT, qemu_opts=[*extra, "-device", device,
                                          "-qmp", f"unix:{socket_path},server=on,wait=off"])
    latencies: list[float] = []
    try:
        guest.wait_for("saturating", timeout=240)
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            started = time.monotonic()
            reply = qmp(socket_path, "query-status")
            latencies.append(time.monotonic() - started)
            assert "return" in reply, reply
            time.sleep(0.05)
    finally:
        run = guest.finish(timeout=300)
    assert run.status == 0, run.tail()
    requests = int(run.output.split("requests ")[-1].split()[0])
    worst = max(latencies)
    figure(f"{runner}: 4 guest threads x 1 MiB for {SECONDS:.0f} s ({requests} requests in the run); "
           f"QMP query-status {len(latencies)} times, worst {worst * 1000:.0f} ms, "
           f"median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms")
    assert requests > 100
    assert worst < allowed, f"QMP waited {worst:.3f} s"
