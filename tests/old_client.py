"""A client written from the previous docs/protocol.md alone: chat messages 0x01..0x0C, revision 1.

Its codec is its own, strictly as that document reads: a message is a type byte and its fields with
nothing after them, any other type byte is a protocol error, and a name is 1..32 bytes of UTF-8 with no
`:` and nothing of the Unicode categories C or Z. Frames, the handshake and records did not change, so it
uses the project's channel for them.
"""

from __future__ import annotations

import asyncio
import struct
import unicodedata
from dataclasses import dataclass

from conftest import KEY

from cryptochat.engines import Engine
from cryptochat.wire.channel import (
    Channel,
    CloseReceived,
    ConnectionClosed,
    DataReceived,
    HandshakeComplete,
    Role,
)

# Field kinds of the previous document's table.
_FIELDS: dict[int, tuple[str, tuple[str, ...]]] = {
    0x02: ("Welcome", ("name", "names")),
    0x04: ("Text", ("name", "text")),
    0x05: ("Join", ("name",)),
    0x06: ("Leave", ("name", "reason")),
    0x08: ("Members", ("names",)),
    0x0A: ("Renamed", ("name", "name")),
    0x0B: ("Error", ("reason",)),
    0x0C: ("Bye", ("reason",)),
}
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class OldProtocolError(Exception):
    pass


@dataclass(frozen=True)
class OldMessage:
    kind: str
    fields: tuple[object, ...]


def _string(data: bytes, pos: int) -> tuple[str, int]:
    if pos + 2 > len(data):
        raise OldProtocolError("truncated")
    (n,) = struct.unpack_from(">H", data, pos)
    raw = data[pos + 2 : pos + 2 + n]
    if len(raw) != n:
        raise OldProtocolError("truncated")
    text = raw.decode("utf-8")  # a UnicodeDecodeError is a protocol error too
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise OldProtocolError("control character")
    return text, pos + 2 + n


def _check(kind: str, value: str) -> None:
    size = len(value.encode())
    if kind == "name":
        bad = any(c == ":" or unicodedata.category(c)[0] in "CZ" for c in value)
        if not 1 <= size <= 32 or bad:
            raise OldProtocolError(f"invalid name {value!r}")
    elif size > (4096 if kind == "text" else 256) or _BIDI & set(value):
        raise OldProtocolError(f"invalid {kind}")


def decode(data: bytes) -> OldMessage:
    if not data or data[0] not in _FIELDS:
        raise OldProtocolError(f"unknown or client-only message type {data[:1].hex()}")
    name, kinds = _FIELDS[data[0]]
    pos, values = 1, []
    for kind in kinds:
        if kind == "names":
            (count,) = struct.unpack_from(">H", data, pos)
            pos += 2
            names = []
            for _ in range(count):
                value, pos = _string(data, pos)
                _check("name", value)
                names.append(value)
            values.append(tuple(names))
        else:
            value, pos = _string(data, pos)
            _check(kind, value)
            values.append(value)
    if pos != len(data):
        raise OldProtocolError(f"{name} has trailing bytes")
    return OldMessage(name, tuple(values))


def _str(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">H", len(raw)) + raw


def hello(name: str) -> bytes:
    return b"\x01" + _str(name)


def say(text: str) -> bytes:
    return b"\x03" + _str(text)


def nick(name: str) -> bytes:
    return b"\x09" + _str(name)


def who() -> bytes:
    return b"\x07"


def bye(reason: str) -> bytes:
    return b"\x0c" + _str(reason)


class OldClient:
    """Connects, says Hello and keeps every message it receives; any it cannot read ends it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, channel: Channel) -> None:
        self.reader = reader
        self.writer = writer
        self.channel = channel
        self.received: list[OldMessage] = []
        self.closed = False

    @classmethod
    async def connect(cls, engine: Engine, port: int, first: bytes) -> OldClient:
        """Handshake, then send ``first`` (a Hello, normally) as the first message."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        channel = Channel(Role.CLIENT, KEY, engine)
        writer.write(channel.data_to_send())
        while HandshakeComplete() not in channel.receive_data(await reader.read(65536)):
            pass
        client = cls(reader, writer, channel)
        client.send(first)
        return client

    def send(self, message: bytes) -> None:
        self.channel.send(message)
        self.writer.write(self.channel.data_to_send())

    async def receive(self) -> None:
        """Read once and keep what came; a close by the server is noted in ``closed``."""
        data = await self.reader.read(65536)
        if not data:
            self.closed = True
            return
        for event in self.channel.receive_data(data):
            if isinstance(event, DataReceived):
                self.received.append(decode(event.data))
            elif isinstance(event, CloseReceived | ConnectionClosed):
                self.closed = True

    async def until(self, predicate: object, timeout: float = 10.0) -> None:
        assert callable(predicate)
        async with asyncio.timeout(timeout):
            while not predicate():
                if self.closed:
                    raise OldProtocolError("the server closed the connection")
                await self.receive()

    def of(self, kind: str) -> list[tuple[object, ...]]:
        return [m.fields for m in self.received if m.kind == kind]
