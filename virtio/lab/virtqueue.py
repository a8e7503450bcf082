"""The split virtqueue as the qtest driver lays it out in guest RAM: where the
descriptor table and the two rings sit, the descriptor and used-ring entries
byte for byte, the descriptor flags and the feature bits that shape them.

No I/O of its own: these are the bytes a driver, or a hostile test, writes
into guest memory, and a :class:`Ring` that writes and reads them through any
:class:`Memory` (cryptodev_qtest.py's is qtest).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "AVAIL_RING",
    "DESC_INDIRECT",
    "DESC_NEXT",
    "DESC_TABLE",
    "DESC_WRITE",
    "F_INDIRECT_DESC",
    "F_VERSION_1",
    "USED_RING",
    "Desc",
    "Memory",
    "Ring",
    "Used",
    "link",
]

# Feature bits.
F_INDIRECT_DESC = 1 << 28
F_VERSION_1 = 1 << 32

# Descriptor flags.
DESC_NEXT, DESC_WRITE, DESC_INDIRECT = 1, 2, 4

# The rings, low in guest RAM; data buffers go above them.
DESC_TABLE = 0x10000
AVAIL_RING = 0x18000
USED_RING = 0x20000

# addr, len, flags, next: little-endian, as VIRTIO_F_VERSION_1 has it.
_DESC = struct.Struct("<QIHH")


@dataclasses.dataclass(frozen=True, slots=True)
class Desc:
    """One split-ring descriptor, exactly as it goes into the table."""

    addr: int
    length: int
    flags: int = 0
    next: int = 0

    def pack(self) -> bytes:
        return _DESC.pack(self.addr, self.length, self.flags, self.next)


@dataclasses.dataclass(frozen=True, slots=True)
class Used:
    """One used-ring entry: the head the device returned and the length it wrote."""

    id: int
    length: int


def link(parts: Sequence[tuple[int, int, int]], first: int = 0) -> list[Desc]:
    """A chain of (address, length, flags) parts in consecutive table slots
    from `first`, each but the last pointing at the next."""
    last = len(parts) - 1
    return [
        Desc(addr, length, flags | (DESC_NEXT if i < last else 0), first + i + 1 if i < last else 0)
        for i, (addr, length, flags) in enumerate(parts)
    ]


class Memory(Protocol):
    """Guest RAM as a driver reaches it."""

    def write(self, addr: int, data: bytes) -> None: ...
    def writew(self, addr: int, value: int) -> None: ...
    def readw(self, addr: int) -> int: ...
    def readl(self, addr: int) -> int: ...


@dataclasses.dataclass
class Ring:
    """One split virtqueue in guest RAM, driven as a well-behaved driver does:
    each chain made available in descriptor slots of its own (wrapping to slot 0
    when it would not fit), used entries taken in the order the device wrote them.
    The indices are the driver's own, so a hostile test can still move them."""

    desc: int
    avail: int
    used: int
    size: int
    notify_addr: int = 0
    avail_idx: int = 0
    used_idx: int = 0
    next_slot: int = 0

    def make_available(self, memory: Memory, parts: Sequence[tuple[int, int, int]]) -> int:
        """Writes the chain of (address, length, flags) `parts` and makes it
        available, without notifying; returns its head."""
        if self.next_slot + len(parts) > self.size:
            self.next_slot = 0
        head = self.next_slot
        self.next_slot += len(parts)
        memory.write(self.desc + 16 * head, b"".join(desc.pack() for desc in link(parts, head)))
        memory.writew(self.avail + 4 + 2 * (self.avail_idx % self.size), head)
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        memory.writew(self.avail + 2, self.avail_idx)
        return head

    def take_used(self, memory: Memory) -> Used | None:
        """The next entry the device put in the used ring, or None if none yet."""
        if memory.readw(self.used + 2) == self.used_idx:
            return None
        slot = self.used_idx % self.size
        entry = Used(memory.readl(self.used + 4 + 8 * slot), memory.readl(self.used + 8 + 8 * slot))
        self.used_idx = (self.used_idx + 1) & 0xFFFF
        return entry
