"""Frame codec: a 4-byte big-endian body length, then the body. No I/O.

Every byte on a cryptochat connection is inside a frame, so a reader never has to guess where a message ends
(the seed sent fixed 256-byte buffers and hoped one ``read()`` returned exactly one).
"""

from __future__ import annotations

import struct

from ..errors import LocalProtocolError, RemoteProtocolError

__all__ = ["DEFAULT_MAX_FRAME", "HEADER_SIZE", "FrameDecoder", "encode_frame", "encode_header"]

DEFAULT_MAX_FRAME = 64 * 1024
"""Default largest frame body in bytes, excluding the 4-byte length prefix."""

_LENGTH = struct.Struct(">I")
HEADER_SIZE = _LENGTH.size


def encode_header(length: int, max_size: int = DEFAULT_MAX_FRAME) -> bytes:
    """The length prefix for a body of ``length`` bytes; refuse a body the peer would reject."""
    if length > max_size:
        raise LocalProtocolError(f"frame of {length} bytes exceeds the maximum of {max_size}")
    return _LENGTH.pack(length)


def encode_frame(body: bytes, max_size: int = DEFAULT_MAX_FRAME) -> bytes:
    """Return ``body`` with its length prefix."""
    return encode_header(len(body), max_size) + body


class FrameDecoder:
    """Reassembles frames from a byte stream split anywhere.

    The length is checked against ``max_size`` as soon as the 4-byte prefix is complete, so a hostile peer
    cannot make us buffer more than one maximal frame.
    """

    __slots__ = ("_buffer", "_max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_FRAME) -> None:
        if max_size < 1 or max_size > 0xFFFFFFFF:
            raise ValueError(f"max_size must be in 1..2**32-1, not {max_size}")
        self._max_size = max_size
        self._buffer = bytearray()

    @property
    def max_size(self) -> int:
        return self._max_size

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return every frame body it completed, in order."""
        if self._buffer:
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        # Parse straight out of ``data``; only an incomplete tail is copied into the buffer.
        frames: list[bytes] = []
        pos = 0
        while len(data) - pos >= HEADER_SIZE:
            (length,) = _LENGTH.unpack_from(data, pos)
            if length > self._max_size:
                raise RemoteProtocolError(
                    f"frame length {length} exceeds the maximum of {self._max_size}"
                )
            end = pos + HEADER_SIZE + length
            if len(data) < end:
                break
            frames.append(data[pos + HEADER_SIZE : end])
            pos = end
        self._buffer += data[pos:]
        return frames

    def check_eof(self) -> None:
        """The stream ended: fine at a frame boundary, truncation otherwise."""
        if self._buffer:
            raise RemoteProtocolError(
                f"connection closed in the middle of a frame ({len(self._buffer)} bytes pending)"
            )
