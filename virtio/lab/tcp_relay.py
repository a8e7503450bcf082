"""Runs inside a guest: relays one TCP connection per LISTEN=TARGET pair, each
byte both ways, half-closes passed on, and exits when every one has ended, so a
guest script can wait for the connections it relays.

    usage: tcp_relay.py LISTEN_HOST:PORT=TARGET_HOST:PORT ...

The chat-migration guest has no network to the host but its neighbour's; the
neighbour relays for it (chat_migration.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def relay_one(listen: tuple[str, int], target: tuple[str, int]) -> None:
    """Accepts one connection on `listen`, relays it to `target` and returns when both ends are closed."""
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(accept, *listen)
    reader, writer = await accepted.get()
    server.close()
    try:
        target_reader, target_writer = await asyncio.open_connection(*target)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, target_writer), pipe(target_reader, writer))
    target_writer.close()
    writer.close()


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main(pairs: list[str]) -> None:
    relays = [relay_one(address(listen), address(target))
              for listen, _, target in (pair.partition("=") for pair in pairs)]
    await asyncio.gather(*relays)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
