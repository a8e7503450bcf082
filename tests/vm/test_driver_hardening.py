"""The driver against hostile and careless user space, in one real guest:
requests larger than one descriptor chain may carry (zero-copy and bounced),
an unprivileged user over its RLIMIT_MEMLOCK, a request held in its ioctl
(userfaultfd) while its session is freed, sessions freed under load by
processes that are then SIGKILLed (also while another process keeps the ring
full), a seeded ioctl fuzzer run as `nobody`, the calls cryptodev-linux
programs make first, and a device that QEMU puts into NEEDS_RESET (over QMP,
the host's test hook) and that recovers.

`CRYPTOCHAT_SESSION_ROUNDS` (default 100) and `CRYPTOCHAT_IOCTL_FUZZ_SECONDS`
(default 20) set the two long parts; `make fuzz` runs them for minutes."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest
from sections import passed, section, split_sections
from vmlab import Lab, cryptodev_device, qmp, start

SESSION_ROUNDS = int(os.environ.get("CRYPTOCHAT_SESSION_ROUNDS", "100"))
FUZZ_SECONDS = int(os.environ.get("CRYPTOCHAT_IOCTL_FUZZ_SECONDS", "20"))
FUZZ_SEED = int(os.environ.get("CRYPTOCHAT_FUZZ_SEED", "20261130"))
DEV = "/dev/cryptodev0"
SYSFS = "/sys/class/virtio_cryptodev/cryptodev0"
FULL_DEV = "/dev/cryptodev1"
FULL_SYSFS = "/sys/class/virtio_cryptodev/cryptodev1"
NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups"
KERNEL_TROUBLE = r"WARNING|BUG|Oops|Call Trace|general protection|INFO: task|circular locking"

SCRIPT = "".join([
    section("load", f"insmod $MODULE && chmod 0666 {DEV} {FULL_DEV} && cat {SYSFS}/max_data_len"),
    section("compat", f"{NOBODY} $BIN/cryptodev_compat {DEV}"),
    section("large", f"$BIN/cryptodev_large {DEV}"),
    # A 64 KiB RLIMIT_MEMLOCK: 1 MiB fits one chain, but its pin is refused.
    section("large over memlock",
            f"b=$(cat {SYSFS}/bounced); "
            f"(ulimit -l 64 && {NOBODY} $BIN/cryptodev_large {DEV} 1048576 1048576) && "
            f"echo bounced $(( $(cat {SYSFS}/bounced) - b ))"),
    # A request held in its ioctl by a userfaultfd page: its pins charged, its session freed under it.
    section("held request", f"sysctl -q vm.unprivileged_userfaultfd=1 && {NOBODY} $BIN/cryptodev_uffd {DEV}; "
                            "s=$?; sysctl -q vm.unprivileged_userfaultfd=0; exit $s"),
    section("sessions", f"{NOBODY} $BIN/cryptodev_sessions {DEV} {SESSION_ROUNDS} 8"),
    # The same with the ring kept full by another process (FULL_DEV has no indirect descriptors, so a
    # pair of ~1 MiB requests takes all of it): the destroys wait for slots when the SIGKILL comes.
    section("sessions, ring full",
            f"w=$(cat {FULL_SYSFS}/ring_waits); "
            f"{NOBODY} $BIN/cryptodev_sessions {FULL_DEV} {SESSION_ROUNDS} 8 254 && "
            f"echo ring waits $(( $(cat {FULL_SYSFS}/ring_waits) - w ))"),
    section("ioctl fuzz", f"{NOBODY} $BIN/cryptodev_fuzz {DEV} {FUZZ_SECONDS} 4 {FUZZ_SEED}"),
    section("vectors after", f"$BIN/cryptodev_vectors {DEV}"),
    section("reset", f"echo waiting-for-reset; i=0; "
                     f"while [ $(cat {SYSFS}/resets) = 0 ] && [ $i -lt 600 ]; "
                     f"do sleep 0.2; i=$((i+1)); done; "
                     f"echo resets $(cat {SYSFS}/resets); $BIN/cryptodev_vectors {DEV}"),
    section("unload", "rmmod virtio_cryptodev"),
    section("dmesg", "dmesg"),
])


@pytest.fixture(scope="module")
def sections(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, int]]:
    socket_path = tmp_path_factory.mktemp("qmp") / "qmp.sock"
    guest = start(lab, SCRIPT, qemu_opts=[
        *cryptodev_device(0, max_data_len=16 * 1024 * 1024, max_sessions=64),
        # On an iothread, so the guest runs on while a batch is worked and finds the ring full (worked
        # in the notifying vCPU, a request is answered before the guest can look). virtio's own
        # property names: indirect_desc, not indirect-desc.
        "-object", "iothread,id=io1",
        "-device", "virtio-cryptodev-pci,id=cryptodev1,max-sessions=64,indirect_desc=off,iothread=io1",
        "-qmp", f"unix:{socket_path},server=on,wait=off",
    ], memory="2G")
    try:
        guest.wait_for("waiting-for-reset", timeout=600 + SESSION_ROUNDS + FUZZ_SECONDS)
        reply = qmp(socket_path, "qom-set", path="/machine/peripheral/cryptodev0/virtio-backend",
                    property="x-inject-error", value=True)
        assert "return" in reply, reply
    finally:
        run = guest.finish(timeout=300)
    found = split_sections(run.output)
    assert "dmesg" in found, run.tail()
    return found


def test_programs_get_crioget_asymfeat_and_a_refused_hash_decrypt(
        sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "compat")


def test_16_mib_in_place_and_2_mib_between_buffers_in_one_request_each(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "large")
    assert "16777216 bytes in place: ciphertext matches the chained reference" in output
    assert "2097152 bytes src != dst: ciphertext matches the chained reference" in output


def test_a_user_over_its_memlock_limit_is_bounced_not_refused(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "large over memlock")
    bounced = re.search(r"bounced (\d+)", output)
    assert bounced and int(bounced.group(1)) >= 2, output[-2000:]


def test_a_held_requests_pins_are_charged_to_its_caller(sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "held request")
    assert "a held 1 MiB request's pinned pages are charged to its caller" in output
    assert "the charge is returned" in output


def test_a_request_runs_under_its_own_session_even_when_that_is_freed_meanwhile(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "held request")
    assert "the held request ran under its own session's key" in output
    assert "the freed session is gone afterwards (EINVAL)" in output


def test_sessions_freed_under_load_by_killed_processes_do_not_leak(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "sessions")
    assert f"{SESSION_ROUNDS} rounds" in output
    assert "a fresh file creates all 64 sessions" in output


def test_sessions_freed_by_killed_processes_while_the_ring_is_full_do_not_leak(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "sessions, ring full")
    assert "a fresh file creates all 64 sessions" in output
    waits = re.search(r"ring waits (\d+)", output)
    assert waits and int(waits.group(1)) > 0, output[-2000:]


def test_unprivileged_ioctl_fuzzing_leaves_the_device_working(
        sections: dict[str, tuple[str, int]], figure: Callable[[str], None]) -> None:
    output = passed(sections, "ioctl fuzz")
    summary = re.search(r"cryptodev_fuzz: .*", output)
    assert summary, output[-2000:]
    figure(summary.group(0))
    passed(sections, "vectors after")


def test_a_device_needing_reset_recovers_and_the_next_request_works(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "reset")
    assert "resets 1" in output, output[-2000:]


def test_guest_kernel_log_stays_clean_and_the_module_unloads(
        sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "unload")
    trouble = [line for line in sections["dmesg"][0].splitlines() if re.search(KERNEL_TROUBLE, line)]
    assert not trouble, "\n".join(trouble)
    assert "device reset, working again" in sections["dmesg"][0]

