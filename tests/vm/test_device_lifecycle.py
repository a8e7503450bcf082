"""The device's lifecycle over qtest, in every mode, with freed memory
poisoned: the seeded fuzzer of virtio/lab/lifecycle_fuzz.py puts requests in
flight, resets and re-initialises the device under them, kicks at once,
unplugs it and plugs a new one in, asks QMP, and checks every answer it
collects (short here; `make fuzz` runs it long). Before batches had one
hand-back path, a reset while a pool worker was back but not yet handed back
let it hand back the next batch through freed memory (wrong answers, then a
crash), an iothread with two queues hung QEMU for good at a reset, and so did
a pool with fewer threads than batches out (all three fail on 5f8df50's
device)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from lifecycle_fuzz import fuzz
from vmlab import Lab

SEED = int(os.environ.get("CRYPTOCHAT_FUZZ_SEED", "20261207"))
SECONDS = float(os.environ.get("CRYPTOCHAT_LIFECYCLE_SECONDS", "8"))

# mode: (device properties, QEMU options)
MODES = {
    "main-loop": ("backend=builtin,num-queues=2", []),
    "iothread, 2 queues": ("backend=builtin,iothread=io0,num-queues=2", ["-object", "iothread,id=io0"]),
    "iothread, 4 queues": ("backend=builtin,iothread=io0,num-queues=4", ["-object", "iothread,id=io0"]),
    "parallel": ("backend=builtin,parallel=on,num-queues=2", []),
    "parallel, a pool of 1 thread": ("backend=builtin,parallel=on,num-queues=2",
                                     ["-object", "main-loop,id=ml0,thread-pool-max=1"]),
}


@pytest.mark.parametrize("mode", MODES)
def test_resets_and_reinits_under_requests_in_flight_never_break_qemu_or_an_answer(
        lab: Lab, tmp_path: Path, figure: Callable[[str], None], mode: str) -> None:
    device, extra = MODES[mode]
    result = fuzz(lab.qemu, device, extra, SEED, SECONDS, tmp_path)
    figure(f"lifecycle fuzzer ({mode}), seed {SEED}: {result.summary()}")
    assert result.wrong == []
    assert result.resets + result.reinits > 0 and result.answered > 0
