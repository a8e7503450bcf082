"""The QEMU device driven over qtest, no guest OS: our own virtio driver
(virtio/lab/cryptodev_qtest.py) builds every descriptor by hand, so it can send
what no Linux guest module can: descriptors in the wrong order, zero-length
and out-of-RAM buffers, loops, heads and indices beyond the ring, bad indirect
tables. For each, QEMU must stay up and either answer with an error status or
mark the device NEEDS_RESET; after a reset the device works again.

Each test starts its own QEMU (about 50 ms): no state leaks between cases."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import cryptodev_qtest as cq
import pytest
from cryptodev_qtest import REQ, RESP, CryptodevQtest, Status
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from qtest import RAM_SIZE, QtestError
from vectors import CBC_AES256, HMAC_SHA256_CASE2
from virtqueue import AVAIL_RING, DESC_INDIRECT, DESC_NEXT, DESC_WRITE, Desc, Used, link
from vmlab import Lab

KEY = bytes(range(32))
IV = bytes(range(16, 32))


def sw_aes_cbc(key: bytes, iv: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def sw_hmac_sha256(key: bytes, data: bytes) -> bytes:
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


@pytest.fixture
def device(lab: Lab) -> Iterator[CryptodevQtest]:
    with cq.running(lab.qemu, "backend=builtin") as dev:
        yield dev
        # Every test ends with QEMU still answering and exiting cleanly.
        assert dev.qt.alive(), dev.qt.stderr
    assert dev.qt.process.returncode in (0, -15), dev.qt.stderr


def works_again(dev: CryptodevQtest) -> None:
    """QEMU answers, and after a reset and re-init the device computes correctly."""
    assert dev.qt.alive(), dev.qt.stderr
    assert dev.config().max_key_len == 512
    dev.init()
    assert not dev.broken
    vector = CBC_AES256
    assert dev.aes_cbc(vector["key"], vector["iv"], vector["plaintext"]) == vector["ciphertext"]


# Well-formed requests against `cryptography`.


def test_builtin_backend_is_announced(device: CryptodevQtest) -> None:
    assert "virtio-cryptodev: builtin backend" in device.qt.stderr


def test_aes_256_cbc_matches_nist_sp800_38a_f25(device: CryptodevQtest) -> None:
    v = CBC_AES256
    assert device.aes_cbc(v["key"], v["iv"], v["plaintext"]) == v["ciphertext"]
    assert device.aes_cbc(v["key"], v["iv"], v["ciphertext"], decrypt=True) == v["plaintext"]
    assert sw_aes_cbc(v["key"], v["iv"], v["plaintext"]) == v["ciphertext"]


def test_hmac_sha256_matches_rfc4231_case_2(device: CryptodevQtest) -> None:
    v = HMAC_SHA256_CASE2
    assert device.hmac_sha256(v["key"], v["data"]) == v["mac"]
    assert sw_hmac_sha256(v["key"], v["data"]) == v["mac"]


def test_random_data_matches_cryptography_at_every_key_and_size(device: CryptodevQtest) -> None:
    rng = random.Random(4)
    limit = device.config().max_data_len
    for key_len in (16, 24, 32):
        key = rng.randbytes(key_len)
        session = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=key)
        for size in (16, 32, 4096, 65536, limit):
            iv, data = rng.randbytes(16), rng.randbytes(size)
            sealed = device.crypt(session, data, iv=iv)
            assert sealed == sw_aes_cbc(key, iv, data), (key_len, size)
            assert device.crypt(session, sealed, op=cq.DECRYPT, iv=iv) == data
        device.destroy_session(session)
    mac_key = rng.randbytes(64)
    session = device.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=mac_key)
    for size in (0, 1, 63, 64, 65, 65536):
        data = rng.randbytes(size)
        assert device.crypt(session, data, out_len=32) == sw_hmac_sha256(mac_key, data), size


def test_cipher_and_mac_session_macs_the_plaintext(device: CryptodevQtest) -> None:
    session = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY, mac=cq.CRYPTO_SHA2_256_HMAC,
                                    mac_key=KEY)
    data = bytes(range(256)) * 4
    sealed = device.crypt(session, data, iv=IV, out_len=len(data) + 32)
    assert sealed == sw_aes_cbc(KEY, IV, data) + sw_hmac_sha256(KEY, data)
    opened = device.crypt(session, sealed[:-32], op=cq.DECRYPT, iv=IV, out_len=len(data) + 32)
    assert opened == data + sw_hmac_sha256(KEY, data)


def test_config_space_mirrors_the_limit_properties(lab: Lab) -> None:
    with cq.running(lab.qemu, "backend=builtin,max-data-len=8192,max-sessions=3,num-queues=3") as dev:
        assert dev.config() == cq.Config(max_data_len=8192, max_sessions=3, max_key_len=512,
                                         num_queues=3)
        sessions = [dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY) for _ in range(3)]
        with pytest.raises(cq.DeviceError) as full:
            dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY)
        assert full.value.status == Status.NOSPACE
        data = bytes(8192)
        assert dev.crypt(sessions[0], data, iv=IV) == sw_aes_cbc(KEY, IV, data)
        with pytest.raises(cq.DeviceError) as big:
            dev.crypt(sessions[0], bytes(8208), iv=IV)
        assert big.value.status == Status.BADREQ


def test_every_request_queue_answers_alike_and_a_reset_clears_them_all(lab: Lab) -> None:
    # A guest may drive any queue, with or without F_MQ: each answers the same, in order.
    with cq.running(lab.qemu, "backend=builtin,num-queues=3") as dev:
        vector = CBC_AES256
        for queue in (2, 1, 0):
            dev.init(queue=queue)
            assert dev.aes_cbc(vector["key"], vector["iv"], vector["plaintext"]) == vector["ciphertext"]
            session = dev.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=KEY)
            assert dev.crypt(session, b"abc", out_len=32) == sw_hmac_sha256(KEY, b"abc")
        # A broken chain on queue 1 breaks the device; a reset brings back every queue.
        dev.init(queue=1)
        assert dev.submit([Desc(0, 0, 0, 0)], wait=2.0) is None and dev.broken
        works_again(dev)
        assert dev.qt.alive(), dev.qt.stderr


def test_reset_destroys_every_session(device: CryptodevQtest) -> None:
    session = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY)
    device.init()
    with pytest.raises(cq.DeviceError) as gone:
        device.crypt(session, bytes(16), iv=IV)
    assert gone.value.status == Status.NOSESSION


def test_nothing_is_processed_before_driver_ok(device: CryptodevQtest) -> None:
    device.init()
    device.set_status(cq.S_ACKNOWLEDGE | cq.S_DRIVER | cq.S_FEATURES_OK)
    header = REQ.pack(cq.Opcode.CREATE_SESSION, 0, cq.CRYPTO_AES_CBC, 0, 32, 0, 0, 0, 0, 0)
    chain = link([(device.buffer(header + KEY), 72, 0), (device.buffer(16), 16, DESC_WRITE)])
    assert device.submit(chain, wait=0.3) is None
    works_again(device)


def test_a_two_entry_queue_carries_long_chains_indirectly(device: CryptodevQtest) -> None:
    device.init(queue_size=2)
    assert device.queue_size == 2
    for _ in range(5):  # wraps the two-slot rings several times
        data = bytes(64)
        assert device.aes_cbc(KEY, IV, data) == sw_aes_cbc(KEY, IV, data)


def test_output_lands_only_in_the_writable_buffers(device: CryptodevQtest) -> None:
    session = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY)
    canary = b"\xa5" * 64
    for room in (64, 32):  # exactly the output, then too little of it
        header = REQ.pack(cq.Opcode.CRYPT, session, 0, 0, 0, 0, cq.ENCRYPT, 16, 64, 0)
        area = device.buffer(canary + bytes(room) + canary)
        resp = device.buffer(canary + bytes(16) + canary)
        chain = link([(device.buffer(header), 40, 0), (device.buffer(IV + bytes(64)), 80, 0),
                      (area + 64, room, DESC_WRITE), (resp + 64, 16, DESC_WRITE)])
        used = device.submit(chain)
        assert used is not None
        status = RESP.unpack(device.qt.read(resp + 64, 16))[0]
        assert status == (Status.OK if room == 64 else Status.BADREQ)
        # The used length covers the response, which sits behind the output room.
        assert used.length == room + 16
        for addr in (area, area + 64 + room, resp, resp + 80):
            assert device.qt.read(addr, 64) == canary, (room, hex(addr))


# Malformed chains. Each builder returns the chain and `submit` options.

Built = tuple[list[Desc], dict[str, Any]]


def _crypt_parts(dev: CryptodevQtest, session: int, size: int = 16) -> list[tuple[int, int, int]]:
    header = REQ.pack(cq.Opcode.CRYPT, session, 0, 0, 0, 0, cq.ENCRYPT, 16, size, 0)
    return [(dev.buffer(header), 40, 0), (dev.buffer(IV + bytes(size)), 16 + size, 0),
            (dev.buffer(size), size, DESC_WRITE), (dev.buffer(16), 16, DESC_WRITE)]


def _table(dev: CryptodevQtest, chain: list[Desc]) -> int:
    return dev.buffer(b"".join(desc.pack() for desc in chain))


def writable_before_readable(dev: CryptodevQtest, s: int) -> Built:
    h, p, o, r = _crypt_parts(dev, s)
    return link([o, h, p, r]), {}


def zero_length_readable(dev: CryptodevQtest, s: int) -> Built:
    h, p, o, r = _crypt_parts(dev, s)
    return link([(h[0], 0, 0), p, o, r]), {}


def zero_length_writable(dev: CryptodevQtest, s: int) -> Built:
    h, p, o, r = _crypt_parts(dev, s)
    return link([h, p, o, (r[0], 0, DESC_WRITE)]), {}


def header_outside_ram(dev: CryptodevQtest, s: int) -> Built:
    _, p, o, r = _crypt_parts(dev, s)
    return link([(RAM_SIZE * 2, 40, 0), p, o, r]), {}


def response_outside_ram(dev: CryptodevQtest, s: int) -> Built:
    h, p, o, _ = _crypt_parts(dev, s)
    return link([h, p, o, (RAM_SIZE * 2, 16, DESC_WRITE)]), {}


def payload_across_the_end_of_ram(dev: CryptodevQtest, s: int) -> Built:
    h, _, o, r = _crypt_parts(dev, s)
    return link([h, (RAM_SIZE - 16, 64, 0), o, r]), {}


def output_across_the_end_of_ram(dev: CryptodevQtest, s: int) -> Built:
    h, p, _, r = _crypt_parts(dev, s)
    return link([h, p, (RAM_SIZE - 8, 16, DESC_WRITE), r]), {}


def address_at_the_top_of_the_address_space(dev: CryptodevQtest, s: int) -> Built:
    _, p, o, r = _crypt_parts(dev, s)
    return link([(0xFFFF_FFFF_FFFF_F000, 40, 0), p, o, r]), {}


def length_of_4_gib(dev: CryptodevQtest, s: int) -> Built:
    h, _, o, r = _crypt_parts(dev, s)
    return link([h, (cq.BUFFERS, 0xFFFF_FFFF, 0), o, r]), {}


def response_in_the_devices_notify_register(dev: CryptodevQtest, s: int) -> Built:
    # DMA into our own MMIO: QEMU must not re-enter the device.
    h, p, o, _ = _crypt_parts(dev, s)
    return link([h, p, o, (dev.notify_addr, 16, DESC_WRITE)]), {}


def buffers_in_the_devices_own_registers(dev: CryptodevQtest, s: int) -> Built:
    # Two MMIO buffers at once: QEMU 7.2 has one bounce buffer, later ones more.
    h, p, _, _ = _crypt_parts(dev, s)
    return link([h, p, (dev.caps.common, 16, DESC_WRITE), (dev.notify_addr, 16, DESC_WRITE)]), {}


def descriptor_pointing_at_itself(dev: CryptodevQtest, s: int) -> Built:
    h = _crypt_parts(dev, s)[0]
    return [Desc(h[0], 40, DESC_NEXT, 0)], {}


def chain_longer_than_the_queue(dev: CryptodevQtest, s: int) -> Built:
    out = dev.buffer(16)
    return [Desc(out, 16, DESC_WRITE | DESC_NEXT, (i + 1) % dev.queue_size)
            for i in range(dev.queue_size)], {}


def next_beyond_the_queue(dev: CryptodevQtest, s: int) -> Built:
    chain = link(_crypt_parts(dev, s))
    return [*chain[:3], Desc(chain[3].addr, 16, DESC_WRITE | DESC_NEXT, 500)], {}


def head_beyond_the_queue(dev: CryptodevQtest, s: int) -> Built:
    return link(_crypt_parts(dev, s)), {"head": 300}


def avail_index_far_ahead_over_garbage(dev: CryptodevQtest, s: int) -> Built:
    dev.qt.memset(AVAIL_RING + 4, 2 * dev.queue_size, 0xFF)  # every slot names head 0xffff
    return link(_crypt_parts(dev, s)), {"avail_step": 1000, "head": 0xFFFF}


def avail_index_far_ahead_over_one_valid_head(dev: CryptodevQtest, s: int) -> Built:
    # Every slot names the same valid chain: the device answers it again and again,
    # a bounded amount of work for one kick, then stops.
    return link(_crypt_parts(dev, s)), {"avail_step": 1000}


def indirect_table_of_zero_length(dev: CryptodevQtest, s: int) -> Built:
    return [Desc(_table(dev, link(_crypt_parts(dev, s))), 0, DESC_INDIRECT)], {}


def indirect_table_length_not_a_multiple_of_16(dev: CryptodevQtest, s: int) -> Built:
    return [Desc(_table(dev, link(_crypt_parts(dev, s))), 17, DESC_INDIRECT)], {}


def indirect_table_far_longer_than_written(dev: CryptodevQtest, s: int) -> Built:
    return [Desc(_table(dev, link(_crypt_parts(dev, s))), 0x100000, DESC_INDIRECT)], {}


def indirect_table_outside_ram(dev: CryptodevQtest, s: int) -> Built:
    return [Desc(RAM_SIZE * 2, 64, DESC_INDIRECT)], {}


def indirect_table_with_a_loop(dev: CryptodevQtest, s: int) -> Built:
    chain = link(_crypt_parts(dev, s))
    chain[3] = Desc(chain[3].addr, 16, DESC_WRITE | DESC_NEXT, 3)
    return [Desc(_table(dev, chain), 64, DESC_INDIRECT)], {}


def nested_indirect_table(dev: CryptodevQtest, s: int) -> Built:
    inner = _table(dev, link(_crypt_parts(dev, s)))
    return [Desc(_table(dev, [Desc(inner, 64, DESC_INDIRECT)]), 16, DESC_INDIRECT)], {}


def no_writable_buffer(dev: CryptodevQtest, s: int) -> Built:
    return link(_crypt_parts(dev, s)[:2]), {}


def writable_room_shorter_than_the_response(dev: CryptodevQtest, s: int) -> Built:
    h, p, _, r = _crypt_parts(dev, s)
    return link([h, p, (r[0], 8, DESC_WRITE)]), {}


def header_of_8_bytes(dev: CryptodevQtest, s: int) -> Built:
    h, _, _, r = _crypt_parts(dev, s)
    return link([(h[0], 8, 0), r]), {}


def ring_full_of_garbage(dev: CryptodevQtest, s: int) -> Built:
    rng = random.Random(5)
    n = dev.queue_size
    dev.qt.write(AVAIL_RING + 4, b"".join(rng.randrange(n).to_bytes(2, "little") for _ in range(n)))
    chain = [Desc(rng.randrange(RAM_SIZE), rng.randrange(1, 4096), rng.randrange(8), rng.randrange(n))
             for _ in range(n)]
    return chain, {"avail_step": n, "head": rng.randrange(n)}


BROKEN, ANSWERED, EITHER = "breaks the device", "answers", "answers or breaks"

CASES: list[tuple[Callable[[CryptodevQtest, int], Built], str]] = [
    (writable_before_readable, BROKEN),
    (zero_length_readable, BROKEN),
    (zero_length_writable, BROKEN),
    (header_outside_ram, ANSWERED),
    (response_outside_ram, ANSWERED),
    (payload_across_the_end_of_ram, ANSWERED),
    (output_across_the_end_of_ram, ANSWERED),
    (address_at_the_top_of_the_address_space, ANSWERED),
    (length_of_4_gib, BROKEN),
    (response_in_the_devices_notify_register, ANSWERED),
    (buffers_in_the_devices_own_registers, EITHER),
    (descriptor_pointing_at_itself, BROKEN),
    (chain_longer_than_the_queue, BROKEN),
    (next_beyond_the_queue, BROKEN),
    (head_beyond_the_queue, BROKEN),
    (avail_index_far_ahead_over_garbage, BROKEN),
    (avail_index_far_ahead_over_one_valid_head, ANSWERED),
    (indirect_table_of_zero_length, BROKEN),
    (indirect_table_length_not_a_multiple_of_16, BROKEN),
    (indirect_table_far_longer_than_written, ANSWERED),
    (indirect_table_outside_ram, BROKEN),
    (indirect_table_with_a_loop, BROKEN),
    (nested_indirect_table, BROKEN),
    (no_writable_buffer, BROKEN),
    (writable_room_shorter_than_the_response, BROKEN),
    (header_of_8_bytes, ANSWERED),
    (ring_full_of_garbage, EITHER),
]


@pytest.mark.parametrize(("build", "outcome"), CASES, ids=[build.__name__ for build, _ in CASES])
def test_malformed_chain_is_survived_and_the_device_recovers_after_reset(
        device: CryptodevQtest, build: Callable[[CryptodevQtest, int], Built], outcome: str) -> None:
    session = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY)
    chain, options = build(device, session)
    writable = sum(d.length for d in chain if d.flags & DESC_WRITE and not d.flags & DESC_INDIRECT)
    used = device.submit(chain, wait=2.0, **options)

    assert device.qt.alive(), device.qt.stderr
    if used is None:
        assert outcome in (BROKEN, EITHER), device.qt.stderr
        assert device.broken, f"no answer, yet status {device.status():#x}"
    else:
        assert outcome in (ANSWERED, EITHER), used
        # Garbage after the answered chain may still break it, a batch later.
        assert outcome == EITHER or not device.broken
        if not chain[0].flags & DESC_INDIRECT and outcome == ANSWERED:
            # The device never claims more than the guest gave it to write.
            assert used.id == options.get("head", 0) and used.length <= writable, used
    works_again(device)


def test_short_header_gets_a_bad_request_status(device: CryptodevQtest) -> None:
    resp = device.buffer(16)
    used = device.submit(link([(device.buffer(8), 8, 0), (resp, 16, DESC_WRITE)]))
    assert used == Used(0, 16)
    assert RESP.unpack(device.qt.read(resp, 16))[0] == Status.BADREQ
    assert not device.broken


def test_rings_outside_ram_do_not_take_qemu_down(device: CryptodevQtest) -> None:
    common = device.caps.common
    for reg, addr in ((0x20, 0x8000000), (0x28, 0x8010000), (0x30, 0x8020000)):
        device.qt.writel(common + reg, addr)
        device.qt.writel(common + reg + 4, 0)
    device.kick()
    works_again(device)


def test_devcrypto_backend_without_its_node_refuses_to_start(lab: Lab) -> None:
    with pytest.raises(QtestError) as refused:
        cq.CryptodevQtest.start(lab.qemu, "backend=devcrypto,devcrypto-path=/nonexistent/crypto")
    assert "Could not open '/nonexistent/crypto'" in str(refused.value)


@pytest.mark.parametrize("queues", [0, 65])
def test_a_queue_count_outside_one_to_sixty_four_refuses_to_start(lab: Lab, queues: int) -> None:
    with pytest.raises(QtestError) as refused:
        cq.CryptodevQtest.start(lab.qemu, f"backend=builtin,num-queues={queues}")
    assert "'num-queues' must be in [1, 64]" in str(refused.value)


def test_auto_backend_falls_back_to_builtin_without_a_node(lab: Lab) -> None:
    with cq.running(lab.qemu, "backend=auto,devcrypto-path=/nonexistent/crypto") as dev:
        assert "virtio-cryptodev: builtin backend" in dev.qt.stderr
        v = HMAC_SHA256_CASE2
        assert dev.hmac_sha256(v["key"], v["data"]) == v["mac"]
