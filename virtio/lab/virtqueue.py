"""The split virtqueue as the qtest driver lays it out in guest RAM: where the
descriptor table and the two rings sit, the descriptor and used-ring entries
byte for byte, the descriptor flags and the feature bits that shape them.

No I/O: these are the bytes a driver, or a hostile test, writes into guest
memory; cryptodev_qtest.py puts them there over qtest.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence

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
