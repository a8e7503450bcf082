"""The hostile guest: a test-only guest module (virtio/tests/hostile) sends the
QEMU device malformed descriptor chains and checks every answer. The device
must answer each with the right status, break itself (NEEDS_RESET) only for a
chain with no room for an answer, keep QEMU and the guest running, and work
again after a reset (the script unbinds and rebinds the module for that)."""

from __future__ import annotations

import re

import pytest
from sections import section, split_sections
from vmlab import GuestRun, Lab, boot, cryptodev_device

DRIVER = "/sys/bus/virtio/drivers/virtio_cryptodev_hostile"
KERNEL_TROUBLE = re.compile(r"WARNING|BUG|Oops|Call Trace|general protection|hostile: FAIL")
CASE = re.compile(r"hostile: (ok|FAIL) (.*)$")
SUMMARY = re.compile(r"hostile: (\d+) passed, (\d+) failed")


def _script(lab: Lab) -> str:
    return "".join([
        # Probe runs the battery and ends with the device broken.
        section("battery", f"insmod {lab.hostile_module} && ls -d {DRIVER}/virtio*"),
        # Unbinding resets the device; the second probe checks it works again.
        section("rebind", f"dev=$(basename {DRIVER}/virtio*) && "
                          f"echo $dev > {DRIVER}/unbind && echo $dev > {DRIVER}/bind"),
        section("unload", "rmmod virtio_cryptodev_hostile"),
        section("dmesg", "dmesg"),
        section("alive", "echo guest-alive"),
    ])


@pytest.fixture(scope="module")
def run(lab: Lab) -> GuestRun:
    return boot(lab, _script(lab), qemu_opts=cryptodev_device(0), timeout=900)


@pytest.fixture(scope="module")
def sections(run: GuestRun) -> dict[str, tuple[str, int]]:
    return split_sections(run.output)


@pytest.fixture(scope="module")
def dmesg(sections: dict[str, tuple[str, int]], run: GuestRun) -> str:
    assert "dmesg" in sections, run.tail()
    return sections["dmesg"][0]


def _cases(dmesg: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in map(CASE.search, dmesg.splitlines()) if m]


def test_guest_script_ran_to_the_end(run: GuestRun, sections: dict[str, tuple[str, int]]) -> None:
    run.check()
    for name in ("battery", "rebind", "unload", "alive"):
        assert sections.get(name, ("", 255))[1] == 0, f"{name}: {sections.get(name)}\n{run.tail()}"
    assert "guest-alive" in sections["alive"][0]


def test_every_case_passes(dmesg: str) -> None:
    cases = _cases(dmesg)
    failed = [f"{verdict} {name}" for verdict, name in cases if verdict != "ok"]
    assert not failed, "\n".join(failed)
    # The battery is long; a short list means the module stopped early.
    assert len(cases) >= 60, cases


def test_both_rounds_report_no_failures(dmesg: str) -> None:
    summaries = [tuple(map(int, m.groups())) for m in SUMMARY.finditer(dmesg)]
    assert len(summaries) == 2, dmesg
    assert all(failed == 0 and passed > 0 for passed, failed in summaries), summaries


@pytest.mark.parametrize("case", [
    "header of 1 bytes",
    "no readable buffer",
    "crypt data_len 0xffffffff",
    "ring full of garbage headers",
    "valid request after the garbage",
    "no writable buffer breaks the device",
    "valid request after reset",
    "writable part shorter than the response breaks the device",
])
def test_key_cases_ran(dmesg: str, case: str) -> None:
    assert ("ok", case) in _cases(dmesg)


def test_qemu_survived_the_broken_ring(run: GuestRun) -> None:
    # QEMU reports the broken driver and keeps running: the guest script went
    # on after both breaks, unbound, rebound and exited normally.
    assert run.status == 0, run.tail()
    assert run.console.count("request without room for a response") >= 1, run.tail()


def test_kernel_log_is_clean(dmesg: str) -> None:
    trouble = [line for line in dmesg.splitlines() if KERNEL_TROUBLE.search(line)]
    assert not trouble, "\n".join(trouble)
