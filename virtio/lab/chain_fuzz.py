"""A seeded, time-bounded fuzzer for the device's trust boundary: the descriptor
chains and request headers a guest puts on the ring, driven over qtest
(cryptodev_qtest.py) so that anything a hostile guest could write is reachable.

Each case starts from a well-formed request for one of several sessions (AES-CBC,
HMAC-SHA256, AES-CBC + HMAC-SHA256 as CRYPT or as an encrypt-then-MAC AUTH_CRYPT,
SHA-256, AES-GCM; random sizes, AAD and directions) and, most
of the time, mutates it: a header field set to a random or boundary value,
descriptors split, dropped, duplicated, reordered, shortened or lengthened,
flags flipped, addresses moved outside RAM or onto the device's own registers,
the whole chain put in an indirect table. Whatever happens, QEMU must stay up;
a request left unmutated must be answered with the right bytes; a device that
broke itself is reset and set up again. The same seed gives the same cases.
"""

from __future__ import annotations

import dataclasses
import random
import time

from cryptodev_qtest import (
    AUTH,
    CRYPTO_AES_CBC,
    CRYPTO_AES_GCM,
    CRYPTO_SHA2_256,
    CRYPTO_SHA2_256_HMAC,
    DECRYPT,
    ENCRYPT,
    REQ,
    RESP,
    S_DRIVER_OK,
    AuthMode,
    CryptodevQtest,
    DeviceError,
    Opcode,
    Status,
)
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from qtest import RAM_SIZE, QtestError
from virtqueue import DESC_INDIRECT, DESC_NEXT, DESC_WRITE, Desc, link

__all__ = ["FuzzStats", "fuzz"]

KEY = bytes(range(32))
MAC_KEY = bytes(range(64, 96))
BOUNDARY = (0, 1, 15, 16, 17, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF)


@dataclasses.dataclass
class FuzzStats:
    """What a run tried and saw; `wrong` counts well-formed requests answered wrongly."""

    cases: int = 0
    mutated: int = 0
    answered: int = 0
    broke: int = 0
    checked: int = 0
    wrong: int = 0
    first_wrong: str = ""

    def line(self) -> str:
        return (f"{self.cases} chains ({self.mutated} mutated): {self.answered} answered, "
                f"{self.broke} broke the device (reset), {self.checked} well-formed checked, "
                f"{self.wrong} wrong{' (' + self.first_wrong + ')' if self.first_wrong else ''}")


@dataclasses.dataclass(frozen=True)
class _Session:
    id: int
    cipher: bool
    mac: bytes | None  # the HMAC key; b"" for a plain hash, None for none
    gcm: bool = False

    def expected(self, op: int, iv: bytes, data: bytes) -> bytes:
        out = b""
        plaintext = data
        if self.cipher:
            c = Cipher(algorithms.AES(KEY), modes.CBC(iv))
            ctx = c.decryptor() if op == DECRYPT else c.encryptor()
            out = ctx.update(data) + ctx.finalize()
            plaintext = out if op == DECRYPT else data
        if self.mac is not None:
            if self.mac:
                h = hmac.HMAC(self.mac, hashes.SHA256())
                h.update(plaintext)
                out += h.finalize()
            else:
                d = hashes.Hash(hashes.SHA256())
                d.update(plaintext)
                out += d.finalize()
        return out


def _sessions(dev: CryptodevQtest) -> list[_Session]:
    try:
        return _create_sessions(dev)
    except DeviceError:
        # Mutated CREATE requests filled the table: a reset empties it.
        dev.init(queue=dev.queue)
        return _create_sessions(dev)


def _create_sessions(dev: CryptodevQtest) -> list[_Session]:
    return [
        _Session(dev.create_session(cipher=CRYPTO_AES_CBC, key=KEY), True, None),
        _Session(dev.create_session(mac=CRYPTO_SHA2_256_HMAC, mac_key=MAC_KEY), False, MAC_KEY),
        _Session(dev.create_session(cipher=CRYPTO_AES_CBC, key=KEY, mac=CRYPTO_SHA2_256_HMAC,
                                    mac_key=MAC_KEY), True, MAC_KEY),
        _Session(dev.create_session(mac=CRYPTO_SHA2_256), False, b""),
        _Session(dev.create_session(cipher=CRYPTO_AES_GCM, key=KEY), True, None, gcm=True),
    ]


def _auth_request(rng: random.Random, session: _Session) -> tuple[bytes, bytes, int, bytes]:
    """A well-formed AUTH_CRYPT encryption: GCM, or encrypt-then-MAC on the CBC + HMAC
    session. Returns the header, the payload, the output room and the right output."""
    aad = rng.randbytes(rng.choice([0, 13, 26, 4096]))
    if session.gcm:
        iv, data = rng.randbytes(12), rng.randbytes(rng.choice([0, 1, 60, 4096]))
        mode, off, expected = AuthMode.AEAD, len(aad), AESGCM(KEY).encrypt(iv, data, aad or None)
        tag_len = 16
    else:
        assert session.mac
        iv, data = rng.randbytes(16), rng.randbytes(rng.choice([16, 64, 4096]))
        off = rng.randrange(min(len(aad), 256) + 1)  # SRTP's and ETM's limit on where the data starts
        encryptor = Cipher(algorithms.AES(KEY), modes.CBC(iv)).encryptor()
        cipher_text = encryptor.update(data) + encryptor.finalize()
        h = hmac.HMAC(session.mac, hashes.SHA256())
        for part in (aad[:off], cipher_text, aad[off:]):
            h.update(part)
        mode, tag_len, expected = AuthMode.ETM, 32, cipher_text + h.finalize()
    header = REQ.pack(Opcode.AUTH_CRYPT, session.id, 0, 0, 0, 0, ENCRYPT, len(iv), len(data), 0)
    return header, AUTH.pack(mode, len(aad), off, tag_len) + iv + aad + data, len(expected), expected


def _mutate_header(rng: random.Random, header: bytes, session_ids: list[int]) -> bytes:
    fields = list(REQ.unpack(header))
    index = rng.randrange(len(fields))
    fields[index] = rng.choice([
        rng.getrandbits(32), rng.choice(BOUNDARY), rng.choice(BOUNDARY),
        rng.choice(session_ids), rng.randrange(8),
    ])
    if index == 0 and rng.random() < 0.5:
        fields[0] = rng.choice(list(Opcode))
    return REQ.pack(*fields)


def _wild_address(rng: random.Random, dev: CryptodevQtest, addr: int) -> int:
    return rng.choice([
        RAM_SIZE - rng.randrange(1, 64), RAM_SIZE * 2, 0xFFFF_FFFF_FFFF_F000,
        dev.notify_addr, dev.caps.common, addr + rng.randrange(-64, 64) & ~0x3F or addr,
    ])


def _mutate_parts(rng: random.Random, dev: CryptodevQtest,
                  parts: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    parts = list(parts)
    i = rng.randrange(len(parts))
    addr, length, flags = parts[i]
    kind = rng.randrange(8)
    if kind == 0:  # a length off by a little, or wildly
        parts[i] = (addr, rng.choice([0, 1, length - 1, length + 1, length * 2, 0xFFFFFFFF]) & 0xFFFFFFFF,
                    flags)
    elif kind == 1:  # the writable flag flipped
        parts[i] = (addr, length, flags ^ DESC_WRITE)
    elif kind == 2:  # a buffer moved somewhere it must not be
        parts[i] = (_wild_address(rng, dev, addr), length, flags)
    elif kind == 3 and length > 1:  # split in two
        cut = rng.randrange(1, length)
        parts[i:i + 1] = [(addr, cut, flags), (addr + cut, length - cut, flags)]
    elif kind == 4 and len(parts) > 1:  # dropped
        del parts[i]
    elif kind == 5:  # duplicated
        parts.insert(i, parts[i])
    elif kind == 6 and len(parts) > 1:  # two swapped
        j = rng.randrange(len(parts))
        parts[i], parts[j] = parts[j], parts[i]
    else:  # stray flags
        parts[i] = (addr, length, flags | rng.choice([DESC_NEXT, DESC_INDIRECT, 0x8, 0xFFF0]))
    return parts


def _one_case(dev: CryptodevQtest, rng: random.Random, sessions: list[_Session],
              stats: FuzzStats) -> None:
    session = rng.choice(sessions)
    op = ENCRYPT if not session.cipher or rng.random() < 0.5 else DECRYPT
    size = rng.choice([0, 16, 64, 1024, 4096, rng.randrange(0, 8192) & ~15])
    if session.cipher and not size:
        size = 16
    iv = rng.randbytes(16) if session.cipher else b""
    data = rng.randbytes(size)
    out_len = (size if session.cipher else 0) + (32 if session.mac is not None else 0)
    header = REQ.pack(Opcode.CRYPT, session.id, 0, 0, 0, 0, op, len(iv), size, 0)
    if session.gcm or (session.cipher and session.mac and rng.random() < 0.5):
        header, payload, out_len, expected = _auth_request(rng, session)
    else:
        payload, expected = iv + data, session.expected(op, iv, data)

    mutated = rng.random() < 0.8
    if mutated and REQ.unpack(header)[0] == Opcode.AUTH_CRYPT and rng.random() < 0.5:
        fields = list(AUTH.unpack_from(payload))
        fields[rng.randrange(len(fields))] = rng.choice([rng.getrandbits(32), *BOUNDARY, 4096, 4097])
        payload = AUTH.pack(*fields) + payload[AUTH.size:]
    if mutated and rng.random() < 0.5:
        header = _mutate_header(rng, header, [s.id for s in sessions])
        if REQ.unpack(header)[0] == Opcode.DESTROY_SESSION:
            # It may destroy one of ours: the next cases get fresh ones.
            sessions[:] = []
    parts = [(dev.buffer(header), len(header), 0)]
    if payload:
        parts.append((dev.buffer(payload), len(payload), 0))
    out_addr = dev.buffer(out_len) if out_len else 0
    if out_len:
        parts.append((out_addr, out_len, DESC_WRITE))
    resp_addr = dev.buffer(RESP.size)
    parts.append((resp_addr, RESP.size, DESC_WRITE))
    if mutated:
        for _ in range(rng.randrange(1, 3)):
            parts = _mutate_parts(rng, dev, parts)
    chain = link(parts)
    if len(chain) > dev.queue_size or rng.random() < 0.3:
        table = b"".join(desc.pack() for desc in chain)
        chain = [Desc(dev.buffer(table), len(table), DESC_INDIRECT)]

    stats.cases += 1
    stats.mutated += mutated
    used = dev.submit(chain, wait=2.0)
    if not dev.qt.alive():
        raise QtestError(f"QEMU died on case {stats.cases}:\n{dev.qt.stderr[-2000:]}")
    if used is None:
        # Broken (NEEDS_RESET), or reset outright by a response written over its own
        # status register: either way the guest gets it back with a reset.
        if not dev.broken and dev.status() & S_DRIVER_OK:
            raise QtestError(f"case {stats.cases}: no answer, yet the device is working "
                             f"(status {dev.status():#x}); chain {chain}")
        stats.broke += 1
        # Back on any of the device's queues: each must survive what the others did.
        dev.init(queue=rng.randrange(dev.config().num_queues))
        sessions[:] = _sessions(dev)
        return
    stats.answered += 1
    if not sessions:
        sessions[:] = _sessions(dev)
    if not mutated:
        stats.checked += 1
        status, _, written, _ = RESP.unpack(dev.qt.read(resp_addr, RESP.size))
        output = dev.qt.read(out_addr, written) if written else b""
        if status != Status.OK or output != expected:
            stats.wrong += 1
            stats.first_wrong = stats.first_wrong or (
                f"case {stats.cases}: status {status}, {written} bytes for a {size}-byte "
                f"{'cipher ' if session.cipher else ''}{'mac ' if session.mac is not None else ''}session")


def fuzz(dev: CryptodevQtest, seed: int, seconds: float, max_cases: int | None = None) -> FuzzStats:
    """Runs cases from `seed` until `seconds` pass (or `max_cases`); QEMU stays up throughout."""
    rng = random.Random(seed)
    stats = FuzzStats()
    sessions = _sessions(dev)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (max_cases is None or stats.cases < max_cases):
        _one_case(dev, rng, sessions, stats)
    return stats
