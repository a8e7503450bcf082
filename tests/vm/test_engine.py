"""The cryptodev engine in a guest: the same bytes as the software engine,
and channels that interoperate whichever side uses the device."""

from __future__ import annotations

from sections import section, split_sections
from vmlab import Lab, boot, cryptodev_device

SCRIPT = "".join([
    section("load", "insmod $MODULE"),
    section("engine", "cd $REPO && $PYTHON tests/vm/guest/engine_check.py"),
])


def test_cryptodev_engine_matches_software_and_channels_interoperate(lab: Lab) -> None:
    run = boot(lab, SCRIPT, qemu_opts=cryptodev_device(0), timeout=600)
    sections = split_sections(run.output)
    output, status = sections["engine"]
    failures = [line for line in output.splitlines() if line.startswith("FAIL")]
    assert status == 0 and not failures, output[-4000:]
