"""A wire check: a proxy between a client and the server sees no plaintext and no repeated ciphertext."""

from __future__ import annotations

import asyncio
from itertools import combinations

from support import start_client, start_server

from cryptochat.engines import Engine
from cryptochat.wire.framing import FrameDecoder


class Tap:
    """A TCP proxy that records every byte in each direction."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.upstream = bytearray()  # client -> server
        self.downstream = bytearray()  # server -> client
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(
            self._pipe(c_reader, s_writer, self.upstream), self._pipe(s_reader, c_writer, self.downstream)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: bytearray) -> None:
        while data := await reader.read(65536):
            log += data
            writer.write(data)
            await writer.drain()
        writer.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()


def ciphertexts(stream: bytes, handshake_frames: int) -> list[bytes]:
    records = FrameDecoder().feed(stream)[handshake_frames:]
    return [r[26:-32] for r in records]


async def test_proxy_sees_no_plaintext_and_no_repeated_ciphertext(engine: Engine) -> None:
    sut = await start_server(engine)
    tap = Tap(sut.port)
    alice = start_client(engine, await tap.start(), "alice")
    bob = start_client(engine, sut.port, "bob")
    await alice.connected()
    await bob.connected()
    alice.console.say(*["attack at dawn"] * 5)
    bob.console.say(*["roger that"] * 5)
    await bob.console.until(lambda: len(bob.console.messages) == 5)
    await alice.console.until(lambda: len(alice.console.messages) == 5)
    assert await alice.finish() == 0
    assert await bob.finish() == 0
    await tap.close()
    await sut.server.close()

    wire = bytes(tap.upstream + tap.downstream)
    for secret in (b"attack at dawn", b"roger that", b"alice", b"bob"):
        assert secret not in wire
    up = ciphertexts(bytes(tap.upstream), handshake_frames=2)  # ClientHello, ClientFinished
    down = ciphertexts(bytes(tap.downstream), handshake_frames=1)  # ServerHello
    assert len(up) >= 5 and len(down) >= 5
    for records in (up, down):
        assert len(set(records)) == len(records)
        blocks = [r[i : i + 16] for r in records for i in range(0, len(r), 16)]
        assert len(set(blocks)) == len(blocks)
    assert all(a != b for a, b in combinations(up + down, 2))
