"""A seeded lifecycle fuzzer for the device over qtest: random interleavings of
requests put in flight, answers collected, resets with requests in flight,
re-initialisations kicked at once, unplugs and replugs with requests in flight,
and QMP, in one mode of the device.

The machine is a pc, whose root bus takes hotplug through ACPI: an unplug is
QMP's device_del and the eject a guest OS writes to the ACPI hotplug register
when it is asked, here over qtest, while the device's workers hold batches.

QEMU runs with freed memory poisoned (glibc's tcache off and `MALLOC_PERTURB_`),
so that a batch handed back through freed memory crashes instead of passing.
After every step QEMU must be alive, the device must not say it needs a reset
(every request is well-formed) and QMP must answer within a second; answers
collected without a reset in between must be the known ones, each exactly once.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from cryptodev_qtest import (
    CRYPTO_AES_CBC,
    ENCRYPT,
    REQ,
    S_ACKNOWLEDGE,
    S_DRIVER,
    S_DRIVER_OK,
    S_FEATURES_OK,
    CryptodevQtest,
    Opcode,
    Posted,
    Status,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from qtest import Qtest, QtestError, qemu_command
from virtqueue import F_VERSION_1, Ring
from vmlab import qmp

__all__ = ["POISON", "LifecycleResult", "fuzz"]

POISON = ("env", "MALLOC_PERTURB_=165", "GLIBC_TUNABLES=glibc.malloc.tcache_count=0")
"""Runs QEMU with every freed block overwritten and no per-thread cache to hide a reuse."""
QMP_WITHIN = 1.0
QTEST_TIMEOUT = 10.0
"""A qtest command unanswered this long is a hung QEMU."""
RING_SIZE = 256
MAX_FLIGHT = 60
BATCH = 32
"""The device's batch: requests it hands a worker at once."""
RINGS = 0x40000
"""Where the rings go in guest RAM: two places of 16 KiB a queue, below the driver's buffers."""
F_MQ = 1 << 0
KEY = bytes(range(32))
DEVICE_ID = "cd0"
ACPI_EJECT = 0xAE08
"""PIIX4's ACPI PCI hotplug eject register: bit N ejects the device in slot N."""


@dataclasses.dataclass
class LifecycleResult:
    steps: int = 0
    posted: int = 0
    answered: int = 0
    resets: int = 0
    reinits: int = 0
    unplugs: int = 0
    qmp_calls: int = 0
    worst_qmp: float = 0.0
    wrong: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.steps} steps: {self.posted} requests put in flight, {self.answered} answered and "
                f"checked, {self.resets} resets, {self.reinits} re-inits and {self.unplugs} unplugs "
                f"with requests in flight, "
                f"QMP {self.qmp_calls} times (worst {self.worst_qmp * 1000:.0f} ms), {len(self.wrong)} wrong")


def _cbc(iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


@dataclasses.dataclass
class _Queue:
    """One request queue as this driver lays it out: its own split ring, in
    16 KiB from `base` (descriptors, then avail, then used, 4 KiB apart)."""

    ring: Ring
    flight: list[tuple[Posted, bytes | None]] = dataclasses.field(default_factory=list)
    """Each request out, with its known answer (None: any status but OK)."""

    @classmethod
    def at(cls, base: int, notify_addr: int) -> _Queue:
        return cls(Ring(base, base + 0x1000, base + 0x2000, RING_SIZE, notify_addr))


class _Commands:
    """qtest writes kept, to go to QEMU at once (:meth:`Qtest.pipeline`)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def writeb(self, addr: int, value: int) -> None:
        self.lines.append(f"writeb {addr:#x} {value:#x}")

    def writew(self, addr: int, value: int) -> None:
        self.lines.append(f"writew {addr:#x} {value:#x}")

    def writel(self, addr: int, value: int) -> None:
        self.lines.append(f"writel {addr:#x} {value:#x}")

    def outl(self, port: int, value: int) -> None:
        self.lines.append(f"outl {port:#x} {value:#x}")



class _Writes(Protocol):
    def writeb(self, addr: int, value: int) -> None: ...
    def writew(self, addr: int, value: int) -> None: ...
    def writel(self, addr: int, value: int) -> None: ...


class _Device:
    """The device with every request queue up (a ring of RING_SIZE each, apart
    from the single-queue layout of :class:`CryptodevQtest`), over its qtest line."""

    def __init__(self, dev: CryptodevQtest) -> None:
        self.dev = dev
        self.qt = dev.qt
        self.queues: list[_Queue] = []
        self.generation = 0
        self.session = 0

    def _bring_up(self, out: _Writes) -> None:
        """The writes of a reset and of every queue set up again on self.queues."""
        common = self.dev.caps.common
        out.writeb(common + 0x14, 0)
        out.writeb(common + 0x14, S_ACKNOWLEDGE | S_DRIVER)
        for select, value in ((0, F_MQ), (1, F_VERSION_1 >> 32)):
            out.writel(common + 0x08, select)
            out.writel(common + 0x0C, value)
        out.writeb(common + 0x14, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK)
        for index, queue in enumerate(self.queues):
            ring = queue.ring
            out.writew(common + 0x16, index)
            out.writew(common + 0x18, RING_SIZE)
            for reg, addr in ((0x20, ring.desc), (0x28, ring.avail), (0x30, ring.used)):
                out.writel(common + reg, addr & 0xFFFFFFFF)
                out.writel(common + reg + 4, addr >> 32)
            out.writew(common + 0x1C, 1)
        out.writeb(common + 0x14, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)

    def _fresh_queues(self) -> list[_Queue]:
        """Empty rings, in the other of each queue's two places: the ones before
        a reset stay as they were until the reset is done."""
        self.generation += 1
        queues = []
        for index, queue in enumerate(self.queues):
            base = RINGS + (2 * index + self.generation % 2) * 0x4000
            self.qt.memset(base, 0x4000)
            queues.append(_Queue.at(base, queue.ring.notify_addr))
        return queues

    def init(self) -> None:
        """Resets the device, brings every queue up, and opens one AES-CBC session."""
        dev, common = self.dev, self.dev.caps.common
        if not self.queues:  # where each queue is notified, read once
            dev.reset()
            for index in range(self.qt.readw(common + 0x12)):
                self.qt.writew(common + 0x16, index)
                notify = dev.caps.notify + self.qt.readw(common + 0x1E) * dev.caps.notify_multiplier
                self.queues.append(_Queue.at(0, notify))
        self.queues = self._fresh_queues()
        self._bring_up(self.qt)
        if dev.status() & S_FEATURES_OK == 0:
            raise QtestError(f"device refused our features (status {dev.status():#x})")
        self.open_session()

    def prepare_reinit(self, requests: int) -> list[_Queue]:
        """The queues of a re-initialisation, each with `requests` already available.
        The reset took the session: each is answered NOSESSION, once."""
        queues = self._fresh_queues()
        for queue in queues:
            for _ in range(requests):
                header = REQ.pack(Opcode.CRYPT, self.session, 0, 0, 0, 0, ENCRYPT, 16, 16, 0)
                self.post(queue, header, bytes(32), 16, None)
        return queues

    def reinit_and_kick_at_once(self, queues: list[_Queue]) -> None:
        """A reset, every queue set up again on `queues` and kicked, in one short
        burst of qtest lines that QEMU takes in one read: a worker that still holds
        a batch from before the reset cannot come back in between."""
        self.queues = queues
        out = _Commands()
        self._bring_up(out)
        for queue in queues:
            out.writew(queue.ring.notify_addr, 0)
        self.qt.pipeline(out.lines)

    def open_session(self) -> None:
        header = REQ.pack(Opcode.CREATE_SESSION, 0, CRYPTO_AES_CBC, 0, len(KEY), 0, 0, 0, 0, 0)
        self.post(self.queues[0], header, KEY, 0, b"")
        self.kick(self.queues[0])
        (status, session, _, _), = self.collect(self.queues[0])
        if status != Status.OK:
            raise QtestError(f"create session: status {status}")
        self.session = session

    def post(self, queue: _Queue, header: bytes, payload: bytes, out_len: int, answer: bytes | None) -> None:
        """One request made available on `queue`, not notified yet (see :meth:`kick`);
        `answer` is its known output, or None for any status but OK."""
        parts, posted = self.dev.lay_out(header, payload, out_len)
        head = queue.ring.make_available(self.qt, parts)
        queue.flight.append((dataclasses.replace(posted, head=head), answer))

    def kick(self, queue: _Queue) -> None:
        self.qt.writew(queue.ring.notify_addr, 0)

    def collect(self, queue: _Queue) -> list[tuple[int, int, bytes, bytes | None]]:
        """(status, session id, output, known answer) of every request out on `queue`."""
        waiting = {posted.head: (posted, answer) for posted, answer in queue.flight}
        done = []
        deadline = time.monotonic() + 10
        while waiting:
            used = queue.ring.take_used(self.qt)
            if used is None:
                if self.dev.broken or time.monotonic() > deadline:
                    raise QtestError(f"{len(waiting)} requests unanswered (status {self.dev.status():#x})")
                time.sleep(0.002)
                continue
            if used.id not in waiting:
                raise QtestError(f"head {used.id} answered, which is not in flight (or twice)")
            posted, answer = waiting.pop(used.id)
            reply = self.dev.reply(posted, used)
            done.append((reply.status, reply.session_id, reply.output, answer))
        queue.flight = []
        return done


class _Run:
    def __init__(self, device: _Device, properties: str, qmp_path: Path, rng: random.Random,
                 result: LifecycleResult) -> None:
        self.device = device
        self.properties = properties
        self.qmp_path = qmp_path
        self.rng = rng
        self.result = result
        device.init()

    def in_flight(self) -> bool:
        return any(queue.flight for queue in self.device.queues)

    def post(self, *, heavy: bool = False, kick: bool = True) -> None:
        """Requests on every queue, then (unless not `kick`) a kick of each: every queue
        has a batch out at once; `heavy`: a whole batch's worth of large ones, that keep
        a worker busy."""
        for queue in self.device.queues:
            count = BATCH if heavy else self.rng.randint(1, 40)
            # At most MAX_FLIGHT per ring: each takes four of its descriptors.
            for _ in range(min(count, MAX_FLIGHT - len(queue.flight))):
                blocks = self.rng.randint(2048, 4096) if heavy else self.rng.randint(1, 4096)
                data = self.rng.randbytes(16 * blocks)
                iv = self.rng.randbytes(16)
                header = REQ.pack(Opcode.CRYPT, self.device.session, 0, 0, 0, 0, ENCRYPT, 16, len(data), 0)
                self.device.post(queue, header, iv + data, len(data), _cbc(iv, data))
                self.result.posted += 1
        for queue in self.device.queues:
            if kick:
                self.device.kick(queue)

    def post_and_reset(self) -> None:
        """Batches out on every queue and a reset at once, while workers have them."""
        self.post()
        self.reset()

    def collect(self) -> None:
        for index, queue in enumerate(self.device.queues):
            for status, _, output, answer in self.device.collect(queue):
                if (status == Status.OK) != (answer is not None) or output != (answer or b""):
                    self.result.wrong.append(f"queue {index}: status {status}, answer {output == answer}")
                self.result.answered += 1

    def reset(self) -> None:
        """A reset with whatever is in flight: those requests are the reset's to drop."""
        self.result.resets += self.in_flight()
        self.device.init()

    def reinit_and_kick(self) -> None:
        """Batches out on every queue; then a reset, the queues set up again and
        kicked, in one go, before a worker may be back."""
        queues = self.device.prepare_reinit(self.rng.randint(1, 8))
        self.post(heavy=True)
        self.result.reinits += 1
        self.device.reinit_and_kick_at_once(queues)
        self.collect()
        self.device.open_session()

    def unplug_replug(self) -> None:
        """The device unplugged while workers hold a batch from every queue, then a new
        one plugged in: the old one's requests are never answered. The kicks and the
        ACPI eject a guest OS writes once asked (QMP's device_del) go in one burst of
        qtest lines, so the device goes while its batches are being worked."""
        reply = qmp(self.qmp_path, "device_del", id=DEVICE_ID)
        if "return" not in reply:
            raise QtestError(f"device_del: {reply}")
        self.post(heavy=True, kick=False)
        self.result.unplugs += 1
        qt = self.device.qt
        out = _Commands()
        for queue in self.device.queues:
            out.writew(queue.ring.notify_addr, 0)
        out.outl(ACPI_EJECT, 1 << (self.device.dev.devfn >> 3))
        qt.pipeline(out.lines)
        deadline = time.monotonic() + QTEST_TIMEOUT
        while self._plugged():
            if time.monotonic() > deadline:
                raise QtestError("the device is still there after its eject")
            time.sleep(0.01)
        # The human monitor's device_add takes properties as the command line writes them.
        line = f"device_add virtio-cryptodev-pci,id={DEVICE_ID},{self.properties}"
        reply = qmp(self.qmp_path, "human-monitor-command", **{"command-line": line})
        if not self._plugged():
            raise QtestError(f"{line}: {reply}")
        self.device = _Device(CryptodevQtest(qt))
        self.device.init()

    def _plugged(self) -> bool:
        return "return" in qmp(self.qmp_path, "qom-get", path=f"/machine/peripheral/{DEVICE_ID}",
                               property="type")

    def ask_qmp(self) -> None:
        started = time.monotonic()
        reply = qmp(self.qmp_path, "query-status")
        took = time.monotonic() - started
        self.result.qmp_calls += 1
        self.result.worst_qmp = max(self.result.worst_qmp, took)
        if "return" not in reply or took > QMP_WITHIN:
            self.result.wrong.append(f"QMP answered {reply} after {took:.2f} s")

    def check(self, what: str) -> None:
        if not self.device.qt.alive():
            raise QtestError(f"QEMU died after {what}:\n{self.device.qt.stderr[-3000:]}")
        if self.device.dev.broken:
            self.result.wrong.append(f"device needs a reset after {what}")
            self.reset()


def fuzz(qemu: Path, device: str, extra: Sequence[str], seed: int, seconds: float,
         directory: Path) -> LifecycleResult:
    """Runs the lifecycle fuzzer on one device (`device`: its properties) for `seconds`."""
    rng = random.Random(seed)
    result = LifecycleResult()
    qmp_path = directory / f"lifecycle-{seed}.qmp"
    args = [*extra, "-device", f"virtio-cryptodev-pci,id={DEVICE_ID},{device}",
            "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    command = [*POISON, *qemu_command(qemu, args, machine="pc")]
    qt = Qtest(command, timeout=QTEST_TIMEOUT)
    try:
        qt.command("endianness")
        run = _Run(_Device(CryptodevQtest(qt)), device, qmp_path, rng, result)
        steps = [(run.post, 4), (run.collect, 3), (run.reset, 1), (run.post_and_reset, 2),
                 (run.reinit_and_kick, 2), (run.unplug_replug, 1), (run.ask_qmp, 1)]
        actions, weights = zip(*steps, strict=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            action = rng.choices(actions, weights)[0]
            action()
            result.steps += 1
            run.check(action.__name__)
        run.collect()
        run.check("the last collect")
    finally:
        qt.close()
    return result
