"""Our virtio-cryptodev device driven over qtest, with no guest OS: the
device's requests and a virtio-pci modern driver that sends them.

The request and response structs (:data:`REQ`, :data:`AUTH`, :data:`RESP`),
:class:`Opcode`, :class:`AuthMode` and :class:`Status` are the wire format of
virtio/include/virtio_cryptodev.h; the algorithm ids are cryptodev-linux's.
:class:`CryptodevQtest` finds the PCI function (configuration mechanism #1 on
0xcf8/0xcfc), assigns its BARs, walks the virtio capabilities and drives one
split virtqueue (virtqueue.py) in guest RAM through a :class:`qtest.Qtest`
QEMU. It builds well-formed requests (``create_session``, ``destroy_session``,
``crypt``, ``auth_crypt``, ``copy_hash``) and has a raw
:meth:`CryptodevQtest.submit` that puts any descriptors the caller builds on
the ring, for hostile tests. qtest has no interrupts here: processing a notify
is synchronous, and the driver polls the used ring (or the device status, for
a broken device).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import struct
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from qtest import RAM_SIZE, Qtest, QtestError, QtestTimeout, qemu_command
from virtqueue import (
    AVAIL_RING,
    DESC_INDIRECT,
    DESC_TABLE,
    DESC_WRITE,
    F_INDIRECT_DESC,
    F_VERSION_1,
    USED_RING,
    Desc,
    Ring,
    Used,
    link,
)

__all__ = [
    "AUTH",
    "BUFFERS",
    "CRYPTO_AES_CBC",
    "CRYPTO_AES_CTR",
    "CRYPTO_AES_ECB",
    "CRYPTO_AES_GCM",
    "CRYPTO_AES_XTS",
    "CRYPTO_MD5",
    "CRYPTO_MD5_HMAC",
    "CRYPTO_NULL",
    "CRYPTO_SHA1",
    "CRYPTO_SHA1_HMAC",
    "CRYPTO_SHA2_224",
    "CRYPTO_SHA2_224_HMAC",
    "CRYPTO_SHA2_256",
    "CRYPTO_SHA2_256_HMAC",
    "CRYPTO_SHA2_384",
    "CRYPTO_SHA2_384_HMAC",
    "CRYPTO_SHA2_512",
    "CRYPTO_SHA2_512_HMAC",
    "DECRYPT",
    "DEVICE_ID",
    "ENCRYPT",
    "F_FINAL",
    "F_RESET",
    "F_UPDATE",
    "REQ",
    "RESP",
    "S_ACKNOWLEDGE",
    "S_DRIVER",
    "S_DRIVER_OK",
    "S_FEATURES_OK",
    "VENDOR_ID",
    "AuthMode",
    "Config",
    "CryptodevQtest",
    "DeviceError",
    "Opcode",
    "Posted",
    "Reply",
    "Status",
    "running",
]

VENDOR_ID = 0x1AF4
DEVICE_ID = 0x1040 + 63  # VIRTIO_ID_CRYPTODEV

# cryptodev-linux algorithm ids (virtio/include/crypto/cryptodev.h) and directions.
CRYPTO_AES_CBC = 11
CRYPTO_AES_CTR = 21
CRYPTO_AES_XTS = 22
CRYPTO_AES_ECB = 23
CRYPTO_NULL = 16
CRYPTO_AES_GCM = 50
CRYPTO_MD5_HMAC = 6
CRYPTO_SHA1_HMAC = 7
CRYPTO_SHA2_224_HMAC = 107
CRYPTO_SHA2_256_HMAC = 18
CRYPTO_SHA2_384_HMAC = 19
CRYPTO_SHA2_512_HMAC = 20
CRYPTO_MD5 = 13
CRYPTO_SHA1 = 14
CRYPTO_SHA2_224 = 103
CRYPTO_SHA2_256 = 104
CRYPTO_SHA2_384 = 105
CRYPTO_SHA2_512 = 106
ENCRYPT, DECRYPT = 0, 1
# CRYPT flags: multi-part hashing (virtio/include/virtio_cryptodev.h).
F_UPDATE, F_FINAL, F_RESET = 1, 2, 4

# Virtio status bits.
S_ACKNOWLEDGE, S_DRIVER, S_DRIVER_OK, S_FEATURES_OK = 1, 2, 4, 8
S_NEEDS_RESET, S_FAILED = 0x40, 0x80

# Data buffers, above the rings (virtqueue.py).
BUFFERS = 0x100000
BUFFERS_END = RAM_SIZE - 0x100000
# The BARs are assigned from here up, far above RAM.
MMIO_BASE = 0xE0000000

REQ = struct.Struct("<10I")
AUTH = struct.Struct("<4I")  # AUTH_CRYPT's header: mode, auth_len, data_off, tag_len
RESP = struct.Struct("<4I")


class Opcode(enum.IntEnum):
    CREATE_SESSION = 1
    DESTROY_SESSION = 2
    CRYPT = 3
    COPY_HASH = 4
    AUTH_CRYPT = 5


class AuthMode(enum.IntEnum):
    AEAD = 1
    TLS = 2
    SRTP = 3
    ETM = 4


class Status(enum.IntEnum):
    OK = 0
    BADREQ = 1
    NOTSUPP = 2
    NOSESSION = 3
    NOSPACE = 4
    BACKEND = 5
    BADMSG = 6


class DeviceError(RuntimeError):
    """The device answered a well-formed request with an error status."""

    def __init__(self, status: int, what: str) -> None:
        self.status = status
        name = Status(status).name if status in Status._value2member_map_ else str(status)
        super().__init__(f"{what}: device status {name}")


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """The device's answer to one well-formed request."""

    status: int
    session_id: int
    out_len: int
    used_len: int
    output: bytes
    result_len: int


@dataclasses.dataclass(frozen=True, slots=True)
class Posted:
    """A well-formed request on the ring, not waited for: where its answer goes."""

    head: int
    resp_addr: int
    out_addr: int
    out_len: int


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    max_data_len: int
    max_sessions: int
    max_key_len: int
    num_queues: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Caps:
    common: int
    notify: int
    notify_multiplier: int
    isr: int
    device: int


class CryptodevQtest:
    """Drives one virtio-cryptodev-pci function through a :class:`Qtest` QEMU.

    Use as a context manager: ``with CryptodevQtest.start(qemu) as dev: ...``.
    """

    def __init__(self, qtest: Qtest) -> None:
        self.qt = qtest
        self.devfn = self._find_function()
        self.caps = self._map_bars_and_caps()
        self.ring = Ring(DESC_TABLE, AVAIL_RING, USED_RING, 0)
        self.queue = 0
        self.features = 0
        self._next_buffer = BUFFERS
        self.init()

    @property
    def queue_size(self) -> int:
        return self.ring.size

    @property
    def notify_addr(self) -> int:
        return self.ring.notify_addr

    @classmethod
    def start(cls, qemu: Path, device: str = "", extra: Sequence[str] = (),
              timeout: float = 30.0) -> CryptodevQtest:
        props = f",{device}" if device else ""
        qt = Qtest(qemu_command(qemu, ["-device", f"virtio-cryptodev-pci{props}", *extra]), timeout)
        try:
            qt.command("endianness")  # QEMU started and answers
            return cls(qt)
        except BaseException:
            qt.close()
            raise

    def __enter__(self) -> CryptodevQtest:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.qt.close()

    # PCI configuration space (mechanism #1 on ports 0xcf8/0xcfc).

    def _cfg_addr(self, devfn: int, reg: int) -> None:
        self.qt.outl(0xCF8, 0x80000000 | devfn << 8 | (reg & 0xFC))

    def cfg_readl(self, reg: int, devfn: int | None = None) -> int:
        self._cfg_addr(self.devfn if devfn is None else devfn, reg)
        return self.qt.inl(0xCFC)

    def cfg_readb(self, reg: int) -> int:
        self._cfg_addr(self.devfn, reg)
        return self.qt.inb(0xCFC + (reg & 3))

    def cfg_writel(self, reg: int, value: int) -> None:
        self._cfg_addr(self.devfn, reg)
        self.qt.outl(0xCFC, value)

    def cfg_writew(self, reg: int, value: int) -> None:
        self._cfg_addr(self.devfn, reg)
        self.qt.outw(0xCFC + (reg & 2), value)

    def _find_function(self) -> int:
        for slot in range(32):
            devfn = slot << 3
            if self.cfg_readl(0, devfn) == DEVICE_ID << 16 | VENDOR_ID:
                return devfn
        raise QtestError("no virtio-cryptodev PCI function on bus 0")

    def _map_bars_and_caps(self) -> _Caps:
        base = MMIO_BASE
        bars: dict[int, int] = {}
        bar = 0
        while bar < 6:
            reg = 0x10 + 4 * bar
            original = self.cfg_readl(reg)
            if original & 1:  # I/O BAR: modern virtio does not need it
                bar += 1
                continue
            is64 = (original >> 1) & 3 == 2
            self.cfg_writel(reg, 0xFFFFFFFF)
            size_low = self.cfg_readl(reg) & ~0xF & 0xFFFFFFFF
            size_high = 0xFFFFFFFF
            if is64:
                self.cfg_writel(reg + 4, 0xFFFFFFFF)
                size_high = self.cfg_readl(reg + 4)
            mask = size_high << 32 | size_low
            if mask & 0xFFFFFFFF:
                size = (~mask & 0xFFFFFFFFFFFFFFFF) + 1
                base = (base + size - 1) & ~(size - 1)
                self.cfg_writel(reg, base & 0xFFFFFFFF)
                if is64:
                    self.cfg_writel(reg + 4, base >> 32)
                bars[bar] = base
                base += size
            bar += 2 if is64 else 1
        self.cfg_writew(0x04, 0x0006)  # memory space and bus mastering (DMA)

        found: dict[int, tuple[int, int]] = {}
        multiplier = 0
        if not self.cfg_readl(0x04) >> 16 & 0x10:
            raise QtestError("no PCI capability list")
        pos = self.cfg_readb(0x34) & 0xFC
        for _ in range(48):  # a bounded walk, whatever the device says
            if not pos:
                break
            cap_id, cap_next = self.cfg_readb(pos), self.cfg_readb(pos + 1)
            if cap_id == 0x09:  # vendor specific: a virtio structure
                cfg_type, bar = self.cfg_readb(pos + 3), self.cfg_readb(pos + 4)
                offset = self.cfg_readl(pos + 8)
                if cfg_type not in found and bar in bars:
                    found[cfg_type] = (bar, offset)
                if cfg_type == 2:
                    multiplier = self.cfg_readl(pos + 16)
            pos = cap_next & 0xFC
        try:
            common, notify, isr, device = (bars[found[t][0]] + found[t][1] for t in (1, 2, 3, 4))
        except KeyError as exc:
            raise QtestError(f"virtio capability {exc} missing") from None
        return _Caps(common, notify, multiplier, isr, device)

    # Virtio common configuration.

    def status(self) -> int:
        return self.qt.readb(self.caps.common + 0x14)

    def set_status(self, value: int) -> None:
        self.qt.writeb(self.caps.common + 0x14, value)

    @property
    def broken(self) -> bool:
        """The device said it needs a reset (virtio_error)."""
        return bool(self.status() & S_NEEDS_RESET)

    def reset(self) -> None:
        self.set_status(0)
        deadline = time.monotonic() + self.qt.timeout
        while self.status():
            if time.monotonic() > deadline:
                raise QtestError("device status stays non-zero after reset")
            time.sleep(0.01)

    def init(self, queue_size: int | None = None, queue: int = 0) -> None:
        """Resets the device and brings it up with one fresh virtqueue: request queue `queue`."""
        common = self.caps.common
        self.reset()
        self.set_status(S_ACKNOWLEDGE)
        self.set_status(S_ACKNOWLEDGE | S_DRIVER)
        self.qt.writel(common + 0x00, 0)
        offered = self.qt.readl(common + 0x04)
        self.qt.writel(common + 0x00, 1)
        offered |= self.qt.readl(common + 0x04) << 32
        if not offered & F_VERSION_1:
            raise QtestError("device does not offer VIRTIO_F_VERSION_1")
        self.features = offered & (F_VERSION_1 | F_INDIRECT_DESC)
        self.qt.writel(common + 0x08, 0)
        self.qt.writel(common + 0x0C, self.features & 0xFFFFFFFF)
        self.qt.writel(common + 0x08, 1)
        self.qt.writel(common + 0x0C, self.features >> 32)
        self.set_status(S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK)
        if not self.status() & S_FEATURES_OK:
            raise QtestError("device refused our features")

        if self.qt.readw(common + 0x12) <= queue:
            raise QtestError(f"device has no virtqueue {queue}")
        self.qt.writew(common + 0x16, queue)
        self.queue = queue
        maximum = self.qt.readw(common + 0x18)
        if queue_size is not None:
            self.qt.writew(common + 0x18, queue_size)
        size = self.qt.readw(common + 0x18)
        if not 0 < size <= maximum:
            raise QtestError(f"queue size {size} (device maximum {maximum})")
        self.qt.memset(DESC_TABLE, USED_RING + 0x8000 - DESC_TABLE)
        for reg, addr in ((0x20, DESC_TABLE), (0x28, AVAIL_RING), (0x30, USED_RING)):
            self.qt.writel(common + reg, addr & 0xFFFFFFFF)
            self.qt.writel(common + reg + 4, addr >> 32)
        self.qt.writew(common + 0x1C, 1)
        notify_addr = self.caps.notify + self.qt.readw(common + 0x1E) * self.caps.notify_multiplier
        self.ring = Ring(DESC_TABLE, AVAIL_RING, USED_RING, size, notify_addr)
        self.set_status(S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)

    def config(self) -> Config:
        """The device's limits, read field by field from its config space."""
        return Config(*(self.qt.readl(self.caps.device + 4 * i) for i in range(4)))

    # Guest memory.

    def buffer(self, data: bytes | int) -> int:
        """Places `data` (or that many zero bytes) in guest RAM; returns its address.

        Buffers come from a ring that wraps around; they stay valid for many requests.
        """
        length = data if isinstance(data, int) else len(data)
        addr = (self._next_buffer + 63) & ~63
        if addr + length > BUFFERS_END:
            addr = BUFFERS
            if addr + length > BUFFERS_END:
                raise ValueError(f"buffer of {length} bytes does not fit in guest RAM")
        self._next_buffer = addr + length
        if isinstance(data, int):
            if length:
                self.qt.memset(addr, length)
        else:
            self.qt.write(addr, data)
        return addr

    # The virtqueue.

    def used_idx(self) -> int:
        return self.qt.readw(self.ring.used + 2)

    def kick(self) -> None:
        self.qt.writew(self.ring.notify_addr, 0)

    def submit(self, chain: Sequence[Desc], *, at: int = 0, head: int | None = None,
               avail_step: int = 1, wait: float = 5.0) -> Used | None:
        """Writes `chain` into the descriptor table from index `at`, makes `head`
        (default `at`) available, moves the avail index by `avail_step`, notifies,
        and waits for the used ring to move. Returns the used entry, or None when
        the device did not answer (it broke itself, or `wait` passed).

        Nothing is checked: flags, `next` fields, addresses and lengths go to the
        device exactly as given."""
        ring = self.ring
        self.qt.write(ring.desc + 16 * at, b"".join(desc.pack() for desc in chain))
        self.qt.writew(ring.avail + 4 + 2 * (ring.avail_idx % ring.size), at if head is None else head)
        ring.avail_idx = (ring.avail_idx + avail_step) & 0xFFFF
        self.qt.writew(ring.avail + 2, ring.avail_idx)
        self.kick()
        deadline = time.monotonic() + wait
        while (entry := ring.take_used(self.qt)) is None:
            if self.broken or time.monotonic() > deadline:
                return None
            time.sleep(0.005)
        return entry

    def keep_ring_full(self, entry: Desc, seconds: float) -> int:
        """Puts `entry` (one descriptor: an indirect table many requests may share) in
        every descriptor slot and keeps every slot of the ring in flight for `seconds`,
        as a guest flooding the device would; then waits for the ring to drain.
        Returns how many requests the device answered."""
        ring = self.ring
        n = ring.size
        self.qt.write(ring.desc, entry.pack() * n)
        self.qt.write(ring.avail + 4, b"".join(i.to_bytes(2, "little") for i in range(n)))
        answered = in_flight = 0
        deadline = time.monotonic() + seconds
        while True:
            used = self.used_idx()
            done = (used - ring.used_idx) & 0xFFFF
            ring.used_idx = used
            answered += done
            in_flight -= done
            if self.broken:
                raise QtestError(f"the device broke under a full ring (status {self.status():#x})")
            if time.monotonic() > deadline:
                if not in_flight:
                    return answered
                if time.monotonic() > deadline + self.qt.timeout:
                    raise QtestTimeout(f"{in_flight} requests still unanswered")
            elif in_flight < n:
                # Slot i always names head i, so only the index moves.
                ring.avail_idx = (ring.avail_idx + n - in_flight) & 0xFFFF
                in_flight = n
                self.qt.writew(ring.avail + 2, ring.avail_idx)
                self.kick()
            time.sleep(0.002)

    def request(self, header: bytes, payload: bytes = b"", out_len: int = 0, *,
                indirect: bool = False) -> Reply:
        """One well-formed request: header, payload (device-readable), output
        room and the response (device-writable), each its own descriptor; in an
        indirect table when asked or when the chain is longer than the queue."""
        parts, posted = self.lay_out(header, payload, out_len)
        chain = link(parts)
        if indirect or len(chain) > self.queue_size:
            if not self.features & F_INDIRECT_DESC:
                raise QtestError("indirect descriptors were not negotiated")
            table = b"".join(desc.pack() for desc in chain)
            chain = [Desc(self.buffer(table), len(table), DESC_INDIRECT)]
        used = self.submit(chain)
        if used is None:
            raise QtestError(f"no answer to a well-formed request (device status {self.status():#x})")
        if used.id != 0:
            raise QtestError(f"device returned head {used.id}, not 0")
        reply = self.reply(posted, used)
        if reply.out_len > out_len or used.length != out_len + RESP.size:
            raise QtestError(f"device wrote {reply.out_len} of {out_len} bytes, used length {used.length}")
        return reply

    def lay_out(self, header: bytes, payload: bytes = b"", out_len: int = 0,
                ) -> tuple[list[tuple[int, int, int]], Posted]:
        """The buffers of one well-formed request placed in guest RAM: its
        (address, length, flags) parts, and where its answer will be."""
        parts = [(self.buffer(header), len(header), 0)]
        if payload:
            parts.append((self.buffer(payload), len(payload), 0))
        out_addr = self.buffer(out_len) if out_len else 0
        if out_len:
            parts.append((out_addr, out_len, DESC_WRITE))
        resp_addr = self.buffer(RESP.size)
        parts.append((resp_addr, RESP.size, DESC_WRITE))
        return parts, Posted(0, resp_addr, out_addr, out_len)

    def reply(self, posted: Posted, used: Used) -> Reply:
        """The answer the device wrote for `posted`, as `used` returned it."""
        status, session_id, written, result_len = RESP.unpack(self.qt.read(posted.resp_addr, RESP.size))
        output = self.qt.read(posted.out_addr, written) if written else b""
        return Reply(status, session_id, written, used.length, output, result_len)

    def post(self, header: bytes, payload: bytes = b"", out_len: int = 0) -> Posted:
        """Puts one well-formed request on the ring and notifies, without waiting:
        many can be in flight at once (each in descriptor slots of its own), and
        :meth:`collect` gathers their answers, here or on a migration's destination."""
        parts, posted = self.lay_out(header, payload, out_len)
        head = self.ring.make_available(self.qt, parts)
        self.kick()
        return dataclasses.replace(posted, head=head)

    def collect(self, posted: Sequence[Posted], wait: float = 10.0) -> list[Reply]:
        """The answers to requests :meth:`post` put on the ring, in their order."""
        by_head = {p.head: p for p in posted}
        replies: dict[int, Reply] = {}
        deadline = time.monotonic() + wait
        while len(replies) < len(posted):
            used = self.ring.take_used(self.qt)
            if used is None:
                if self.broken or time.monotonic() > deadline:
                    raise QtestTimeout(f"{len(posted) - len(replies)} of {len(posted)} requests unanswered "
                                       f"(device status {self.status():#x})")
                time.sleep(0.002)
                continue
            p = by_head.get(used.id)
            if p is None or used.id in replies:
                raise QtestError(f"device returned head {used.id}, which is not in flight")
            replies[used.id] = self.reply(p, used)
        return [replies[p.head] for p in posted]

    def moved_to(self, qtest: Qtest) -> CryptodevQtest:
        """This driver on a migration's destination: the same device, rings,
        buffers and requests in flight, now in `qtest`'s QEMU. Nothing is reset."""
        moved = object.__new__(CryptodevQtest)
        moved.__dict__.update(self.__dict__)
        moved.ring = dataclasses.replace(self.ring)
        moved.qt = qtest
        return moved

    # Well-formed operations.

    def create_session(self, *, cipher: int = 0, key: bytes = b"", mac: int = 0,
                       mac_key: bytes = b"") -> int:
        header = REQ.pack(Opcode.CREATE_SESSION, 0, cipher, mac, len(key), len(mac_key), 0, 0, 0, 0)
        reply = self.request(header, key + mac_key)
        if reply.status != Status.OK:
            raise DeviceError(reply.status, "create session")
        return reply.session_id

    def destroy_session(self, session_id: int) -> None:
        reply = self.request(REQ.pack(Opcode.DESTROY_SESSION, session_id, 0, 0, 0, 0, 0, 0, 0, 0))
        if reply.status != Status.OK:
            raise DeviceError(reply.status, "destroy session")

    def crypt(self, session_id: int, data: bytes, *, op: int = ENCRYPT, iv: bytes = b"",
              out_len: int | None = None, flags: int = 0) -> bytes:
        """Runs one operation; `out_len` is the output the session produces
        (data length for a cipher, the digest length for a MAC when it is written,
        their sum for both); `flags` are the multi-part hashing flags (F_*)."""
        header = REQ.pack(Opcode.CRYPT, session_id, 0, 0, 0, 0, op, len(iv), len(data), flags)
        expected = len(data) if out_len is None else out_len
        reply = self.request(header, iv + data, expected)
        if reply.status != Status.OK:
            raise DeviceError(reply.status, "crypt")
        if reply.out_len != expected:
            raise QtestError(f"device produced {reply.out_len} bytes, expected {expected}")
        return reply.output

    def auth_crypt(self, session_id: int, mode: AuthMode, data: bytes, *, op: int = ENCRYPT,
                   iv: bytes = b"", auth: bytes = b"", data_off: int | None = None,
                   tag: bytes = b"", tag_len: int = 16, out_len: int | None = None) -> Reply:
        """One AUTH_CRYPT: `auth` is A, the data sits at `data_off` in it (default: after
        it); `tag` is the tag to check when decrypting; `out_len` the writable room
        (default: the data, plus `tag_len` when encrypting). Any status comes back."""
        off = len(auth) if data_off is None else data_off
        header = REQ.pack(Opcode.AUTH_CRYPT, session_id, 0, 0, 0, 0, op, len(iv), len(data), 0)
        room = len(data) + (tag_len if op == ENCRYPT else 0) if out_len is None else out_len
        return self.request(header, AUTH.pack(mode, len(auth), off, tag_len) + iv + auth + data + tag,
                            room)

    def copy_hash(self, dst: int, src: int) -> None:
        """Copies session `src`'s running hash state into session `dst`."""
        reply = self.request(REQ.pack(Opcode.COPY_HASH, dst, 0, 0, 0, 0, 0, 0, 0, 0),
                             struct.pack("<I", src))
        if reply.status != Status.OK:
            raise DeviceError(reply.status, "copy hash")

    def aes_cbc(self, key: bytes, iv: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
        """One AES-CBC operation in a session of its own."""
        session = self.create_session(cipher=CRYPTO_AES_CBC, key=key)
        try:
            return self.crypt(session, data, op=DECRYPT if decrypt else ENCRYPT, iv=iv)
        finally:
            self.destroy_session(session)

    def hmac_sha256(self, key: bytes, data: bytes) -> bytes:
        """One HMAC-SHA256 in a session of its own."""
        session = self.create_session(mac=CRYPTO_SHA2_256_HMAC, mac_key=key)
        try:
            return self.crypt(session, data, out_len=32)
        finally:
            self.destroy_session(session)


@contextlib.contextmanager
def running(qemu: Path, device: str = "", extra: Sequence[str] = ()) -> Iterator[CryptodevQtest]:
    """``with running(qemu, "backend=builtin") as dev:``; QEMU is stopped on exit."""
    dev = CryptodevQtest.start(qemu, device, extra)
    try:
        yield dev
    finally:
        dev.qt.close()
