"""The lab's walking skeleton: our QEMU shows the device on the guest's PCI
bus, our module binds it and creates one /dev/cryptodevN per device, and
everything loads and unloads cleanly."""

from __future__ import annotations

import pytest
from sections import section, split_sections
from vmlab import GuestRun, Lab, boot_many, cryptodev_device

CLEAN_DMESG = '! dmesg | grep -E "WARNING|BUG|Oops|Call Trace|general protection"'

TWO_DEVICES = "".join([
    section("pci ids", "grep -l 0x107f /sys/bus/pci/devices/*/device | wc -l; "
                       "grep -l 0x003f /sys/bus/virtio/devices/*/device | wc -l"),
    section("load", "insmod $MODULE"),
    section("nodes", "test -c /dev/cryptodev0 && test -c /dev/cryptodev1 && ls /dev/cryptodev*"),
    section("limits", "cat /sys/class/virtio_cryptodev/cryptodev0/max_data_len "
                      "/sys/class/virtio_cryptodev/cryptodev0/max_sessions"),
    section("unload with devices", "rmmod virtio_cryptodev && ! test -e /dev/cryptodev0"),
    section("reload", "insmod $MODULE && test -c /dev/cryptodev1 && rmmod virtio_cryptodev"),
    section("dmesg", CLEAN_DMESG),
])

NO_DEVICE = "".join([
    section("load", "insmod $MODULE"),
    section("no nodes", "! ls /dev/cryptodev* 2>/dev/null"),
    section("unload", "rmmod virtio_cryptodev"),
    section("dmesg", CLEAN_DMESG),
])


@pytest.fixture(scope="module")
def runs(lab: Lab) -> tuple[GuestRun, GuestRun]:
    two, none = boot_many(lab, [
        (TWO_DEVICES, cryptodev_device(0) + cryptodev_device(1)),
        (NO_DEVICE, []),
    ], timeout=300)
    return two, none


def sections_of(run: GuestRun) -> dict[str, tuple[str, int]]:
    return split_sections(run.output)


def test_device_has_our_virtio_id_on_the_guest_bus(runs: tuple[GuestRun, GuestRun]) -> None:
    output, status = sections_of(runs[0])["pci ids"]
    assert status == 0
    # Two PCI functions 1af4:107f (0x1040 + 63), two virtio devices of id 63.
    assert output.split() == ["2", "2"]


def test_module_loads_and_creates_one_node_per_device(runs: tuple[GuestRun, GuestRun]) -> None:
    sections = sections_of(runs[0])
    assert sections["load"][1] == 0, sections["load"][0]
    output, status = sections["nodes"]
    assert status == 0, output
    assert output.split() == ["/dev/cryptodev0", "/dev/cryptodev1"]


def test_device_limits_reach_sysfs(runs: tuple[GuestRun, GuestRun]) -> None:
    output, status = sections_of(runs[0])["limits"]
    assert status == 0
    assert output.split() == ["1048576", "1024"]


def test_unload_with_devices_removes_the_nodes_and_reload_works(
        runs: tuple[GuestRun, GuestRun]) -> None:
    sections = sections_of(runs[0])
    assert sections["unload with devices"][1] == 0, sections["unload with devices"][0]
    assert sections["reload"][1] == 0, sections["reload"][0]


def test_module_loads_and_unloads_without_a_device(runs: tuple[GuestRun, GuestRun]) -> None:
    sections = sections_of(runs[1])
    for name in ("load", "no nodes", "unload"):
        assert sections[name][1] == 0, (name, sections[name][0])


def test_kernel_log_stays_clean(runs: tuple[GuestRun, GuestRun]) -> None:
    for run in runs:
        output, status = sections_of(run)["dmesg"]
        assert status == 0, output


def test_guests_and_qemu_exit_cleanly(runs: tuple[GuestRun, GuestRun]) -> None:
    for run in runs:
        run.check()
        errors = [line for line in run.console.splitlines()
                  if line.startswith("qemu-system-x86_64:") and "info:" not in line]
        assert not errors, errors
