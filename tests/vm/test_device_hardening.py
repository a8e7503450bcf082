"""The device against a hostile guest, over qtest (no guest OS): requests that
would reach a backend in a shape the real cryptodev-linux mishandles, a ring
kept full so that QEMU's main loop would starve, and the seeded chain fuzzer.

`CRYPTOCHAT_SOAK_SECONDS` (default 10) and `CRYPTOCHAT_FUZZ_SECONDS` (default
20) set how long the last two run; `make fuzz` runs them for minutes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cryptodev_qtest as cq
import pytest
from chain_fuzz import fuzz
from cryptodev_qtest import REQ, CryptodevQtest, DeviceError, Status
from vectors import CBC_AES256
from virtqueue import DESC_INDIRECT, DESC_WRITE, Desc, link
from vmlab import Lab, qmp

SOAK_SECONDS = float(os.environ.get("CRYPTOCHAT_SOAK_SECONDS", "10"))
FUZZ_SECONDS = float(os.environ.get("CRYPTOCHAT_FUZZ_SECONDS", "20"))
FUZZ_SEED = int(os.environ.get("CRYPTOCHAT_FUZZ_SEED", "20261130"))
KEY = bytes(range(32))


# Where the device does its work: in the main loop (and the notifying vCPU), on an iothread, or on
# QEMU's thread pool, a queue's batches beside another's.
RUNNERS = {"main-loop": ("", []), "iothread": (",iothread=io0", ["-object", "iothread,id=io0"]),
           "parallel": (",parallel=on", [])}


@pytest.fixture(params=RUNNERS)
def device(lab: Lab, request: pytest.FixtureRequest) -> Iterator[CryptodevQtest]:
    props, extra = RUNNERS[request.param]
    with cq.running(lab.qemu, f"backend=builtin,num-queues=2{props}", extra) as dev:
        yield dev
        assert dev.qt.alive(), dev.qt.stderr


@pytest.mark.parametrize("mac", [cq.CRYPTO_SHA2_256_HMAC, cq.CRYPTO_SHA2_256], ids=["hmac", "hash"])
@pytest.mark.parametrize("op", [cq.DECRYPT, 2, 0xFFFFFFFF])
def test_a_hash_session_refuses_every_direction_but_encrypt(device: CryptodevQtest, mac: int,
                                                              op: int) -> None:
    # cryptodev-linux reads COP_DECRYPT on a hash as "hash dst": a NULL dst oopses the host.
    key = KEY if mac == cq.CRYPTO_SHA2_256_HMAC else b""
    session = device.create_session(mac=mac, mac_key=key)
    with pytest.raises(DeviceError) as refused:
        device.crypt(session, bytes(64), op=op, out_len=32)
    assert refused.value.status == Status.BADREQ
    assert len(device.crypt(session, bytes(64), out_len=32)) == 32


def test_a_cipher_session_refuses_an_unknown_direction(device: CryptodevQtest) -> None:
    session = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY)
    with pytest.raises(DeviceError) as refused:
        device.crypt(session, bytes(64), op=2, iv=bytes(16))
    assert refused.value.status == Status.BADREQ


def _watch_qmp(socket_path: Path, stop: threading.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        started = time.monotonic()
        reply = qmp(socket_path, "query-status")
        latencies.append(time.monotonic() - started)
        assert "return" in reply, reply
        stop.wait(0.1)


@pytest.mark.parametrize("runner", RUNNERS)
def test_qmp_answers_within_a_second_while_the_guest_keeps_the_ring_full(
        lab: Lab, tmp_path: Path, figure: Callable[[str], None], runner: str) -> None:
    socket_path = tmp_path / "qmp.sock"
    size = 4 * 1024 * 1024
    props, extra = RUNNERS[runner]
    with cq.running(lab.qemu, f"backend=builtin,max-data-len={size}{props}",
                    ["-qmp", f"unix:{socket_path},server=on,wait=off", *extra]) as dev:
        session = dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY)
        # Every slot of the ring names one shared indirect table: a 4 MiB in-place encryption.
        header = REQ.pack(cq.Opcode.CRYPT, session, 0, 0, 0, 0, cq.ENCRYPT, 16, size, 0)
        data = dev.buffer(size)
        table = b"".join(d.pack() for d in link([
            (dev.buffer(header), len(header), 0), (dev.buffer(bytes(16)), 16, 0), (data, size, 0),
            (data, size, DESC_WRITE), (dev.buffer(16), 16, DESC_WRITE),
        ]))
        entry = Desc(dev.buffer(table), len(table), DESC_INDIRECT)
        latencies: list[float] = []
        stop = threading.Event()
        watcher = threading.Thread(target=_watch_qmp, args=(socket_path, stop, latencies))
        watcher.start()
        try:
            answered = dev.keep_ring_full(entry, SOAK_SECONDS)
        finally:
            stop.set()
            watcher.join()
        worst = max(latencies)
        figure(f"{runner}: ring of {dev.queue_size} x 4 MiB kept full for {SOAK_SECONDS:.0f} s: "
              f"{answered} requests answered; QMP query-status {len(latencies)} times, "
              f"worst {worst * 1000:.0f} ms, median {sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms")
        assert answered > 0
        assert worst < 1.0, f"QMP waited {worst:.2f} s"
        v = CBC_AES256
        assert dev.aes_cbc(v["key"], v["iv"], v["plaintext"]) == v["ciphertext"]


def test_fuzzed_chains_leave_qemu_up_and_well_formed_requests_right(
        device: CryptodevQtest, figure: Callable[[str], None], request: pytest.FixtureRequest) -> None:
    stats = fuzz(device, FUZZ_SEED, FUZZ_SECONDS)
    runner = request.node.callspec.params["device"]
    figure(f"chain fuzzer ({runner}), seed {FUZZ_SEED}: {stats.line()}")
    assert stats.cases > 100, stats.line()
    assert stats.checked > 0 and stats.wrong == 0, stats.line()
    assert device.qt.alive(), device.qt.stderr
    device.init()
    v = CBC_AES256
    assert device.aes_cbc(v["key"], v["iv"], v["plaintext"]) == v["ciphertext"]
