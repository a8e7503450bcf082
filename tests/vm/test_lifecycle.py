"""The device's lifecycle with requests in flight, in every mode: a real guest
unbinds and rebinds the driver (each unbind resets the device) while four
threads keep both vCPUs' queues busy, round after round, as the host asks QMP
`query-status` all along. Before batches had one hand-back path, an iothread
with two queues hung QEMU for good at such a reset, a pool worker could hand
back a batch popped after the reset, and a reset with more batches out than
the pool had threads deadlocked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from vmlab import Lab, qmp, start

ROUNDS = 4

SCRIPT = f"""
insmod $MODULE || exit 1
drv=/sys/bus/virtio/drivers/virtio_cryptodev
dev=$(basename $(ls -d $drv/virtio* | head -1))
echo cycling
for round in $(seq {ROUNDS}); do
  $BIN/cryptodev_loop /dev/cryptodev0 4 > /tmp/loop.out 2>&1 &
  loop=$!
  sleep 1
  echo $dev > $drv/unbind || exit 1
  wait $loop || {{ cat /tmp/loop.out; exit 1; }}
  echo $dev > $drv/bind || exit 1
  i=0
  while [ ! -e /dev/cryptodev0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  echo "round $round: reset with requests in flight"
done
$BIN/cryptodev_vectors /dev/cryptodev0 || exit 1
rmmod virtio_cryptodev || exit 1
dmesg | grep -E "WARNING|BUG|Oops|Call Trace" && exit 1
exit 0
"""

# mode: (QEMU options, device properties). The qtest lifecycle fuzzer
# (test_device_lifecycle.py) runs every mode; a real guest, the two that hung.
MODES = {
    "iothread, 2 queues": (["-object", "iothread,id=io0"], ",iothread=io0,num-queues=2"),
    "parallel, a pool of 1 thread": (["-object", "main-loop,id=ml0,thread-pool-max=1"], ",parallel=on"),
}


@pytest.mark.parametrize("mode", MODES)
def test_resets_with_requests_in_flight_leave_qemu_and_the_device_working(
        lab: Lab, tmp_path: Path, figure: Callable[[str], None], mode: str) -> None:
    extra, props = MODES[mode]
    socket_path = tmp_path / "qmp.sock"
    guest = start(lab, SCRIPT, qemu_opts=[
        *extra, "-device", f"virtio-cryptodev-pci,id=cryptodev0{props}",
        "-qmp", f"unix:{socket_path},server=on,wait=off",
    ])
    latencies: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and guest.process.poll() is None:
            started = time.monotonic()
            try:
                qmp(socket_path, "query-status")
            except (OSError, ValueError):
                return  # QEMU has exited (the guest is done): nothing left to ask
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        guest.wait_for("cycling", timeout=240)
        watcher.start()
    finally:
        run = guest.finish(timeout=300)
        stop.set()
        watcher.join(40)
    assert run.status == 0, run.tail()
    assert run.output.count("reset with requests in flight") == ROUNDS
    worst = max(latencies)
    figure(f"{mode}: {ROUNDS} resets under 4 threads; QMP asked {len(latencies)} times, "
           f"worst {worst * 1000:.0f} ms")
    # A hang is forever; a busy TCG host is slow. Anything under seconds is alive.
    assert worst < 5.0, f"QMP waited {worst:.1f} s"
