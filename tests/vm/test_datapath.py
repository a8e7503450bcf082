"""The data path in a real guest: unmodified cryptodev-linux programs against
/dev/cryptodevN, served by our QEMU device's builtin backend."""

from __future__ import annotations

import re

import pytest
from sections import passed, section, split_sections
from vmlab import GuestRun, Lab, boot, cryptodev_device

HOSTILE_ROUNDS = 5

SCRIPT = "".join([
    section("load", "insmod $MODULE"),
    section("abi", "$BIN/cryptodev_abi"),
    section("vectors", "$BIN/cryptodev_vectors /dev/cryptodev0"),
    section("algorithms", "$BIN/cryptodev_algs /dev/cryptodev0"),
    section("aead", "$BIN/cryptodev_aead /dev/cryptodev0"),
    section("iothread", "$BIN/cryptodev_vectors /dev/cryptodev1 && $BIN/cryptodev_aead /dev/cryptodev1 "
                        "&& $BIN/cryptodev_async /dev/cryptodev1 5"),
    section("async", "$BIN/cryptodev_async /dev/cryptodev0 20"),
    section("32-bit", "$BIN/cryptodev_vectors32 /dev/cryptodev0 && $BIN/cryptodev_async32 /dev/cryptodev0 5 "
                      "&& $BIN/cryptodev_compat32 /dev/cryptodev0 && $BIN/cryptodev_aead32 /dev/cryptodev0"),
    section("hostile", f"$BIN/cryptodev_hostile /dev/cryptodev0 {HOSTILE_ROUNDS}"),
    section("stress", "$BIN/cryptodev_stress /dev/cryptodev0 4 4 250"),
    section("two devices at once",
            "$BIN/cryptodev_stress /dev/cryptodev0 2 2 200 > /tmp/s0 2>&1 & "
            "$BIN/cryptodev_stress /dev/cryptodev1 2 2 200 > /tmp/s1 2>&1; s1=$?; "
            "wait $!; s0=$?; tail -n 3 /tmp/s0 /tmp/s1; test $s0 = 0 && test $s1 = 0"),
    section("counters", "cat /sys/class/virtio_cryptodev/cryptodev1/requests "
                        "/sys/class/virtio_cryptodev/cryptodev1/bytes"),
    section("unload", "rmmod virtio_cryptodev"),
    section("dmesg", '! dmesg | grep -E "WARNING|BUG|Oops|Call Trace|general protection"'),
])


@pytest.fixture(scope="module")
def sections(lab: Lab) -> dict[str, tuple[str, int]]:
    # The second device works on an iothread: every section that uses it covers that path.
    devices = [*cryptodev_device(0), "-object", "iothread,id=io0", *cryptodev_device(1, iothread="io0")]
    run: GuestRun = boot(lab, SCRIPT, qemu_opts=devices, timeout=900)
    run.check()
    return split_sections(run.output)


def test_abi_header_matches_cryptodev_linux_layouts(sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "abi")


def test_nist_and_rfc_vectors_pass_through_the_device(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "vectors")
    assert "size 1048576: decrypt(encrypt(x)) == x" in output


def test_ctr_ecb_xts_null_and_more_hashes_give_known_answers(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "algorithms")
    assert "CTR with COP_FLAG_WRITE_IV chains across calls" in output
    assert "IEEE 1619 vector 4 XTS-AES128" in output
    assert "CIOCCPHASH: the copy continues to the same digest" in output


def test_gcm_tls_srtp_and_etm_give_known_answers_and_refuse_forgeries(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "aead")
    assert "GCM test case 4 (AAD, 60 bytes): ciphertext and tag" in output
    assert "GCM test case 16 (AES-256): a changed tag is EBADMSG, the buffer untouched" in output
    assert "TLS: bad padding is EBADMSG" in output
    assert "SRTP: a changed header is EBADMSG, nothing decrypted" in output
    assert "ETM: sealed in one call, HMAC over prefix and ciphertext" in output


def test_a_device_on_an_iothread_gives_the_same_answers(sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "iothread")
    assert "size 1048576: decrypt(encrypt(x)) == x" in output
    assert "GCM test case 16 (AES-256): ciphertext and tag" in output
    assert "poll + CIOCASYNCFETCH: 16 of 16 answered, 16 equal to CIOCCRYPT" in output


def test_async_requests_are_answered_through_poll_and_fetch_and_close_loses_nothing(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "async")
    assert "poll + CIOCASYNCFETCH: 16 of 16 answered, 16 equal to CIOCCRYPT" in output
    assert "no page stays pinned after close" in output


def test_32_bit_programs_get_the_same_answers_through_compat_ioctl(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "32-bit")
    assert "size 1048576: decrypt(encrypt(x)) == x" in output
    assert "poll + CIOCASYNCFETCH: 16 of 16 answered, 16 equal to CIOCCRYPT" in output
    assert "CRIOGET gives a new descriptor" in output
    assert "TLS: decrypted and verified in place" in output


def test_hostile_user_space_gets_errnos_and_memory_does_not_grow(
        sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "hostile")
    change = re.search(r"change ([-+]?\d+) kB over (\d+) round", output)
    assert change and int(change.group(2)) == HOSTILE_ROUNDS
    # MemAvailable moves with caches; a leak of even a session per call
    # over these rounds would show as megabytes.
    assert int(change.group(1)) > -8192, output[-500:]


def test_many_processes_and_threads_get_correct_results(
        sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "stress")


def test_two_devices_serve_at_once(sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "two devices at once")


def test_driver_counts_requests_and_bytes_per_device(
        sections: dict[str, tuple[str, int]]) -> None:
    requests, nbytes = (int(v) for v in passed(sections, "counters").split())
    assert requests >= 800 and nbytes > 0


def test_module_unloads_and_kernel_log_stays_clean(
        sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "unload")
    passed(sections, "dmesg")
