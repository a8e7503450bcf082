"""Runs inside a guest: lets the host's demo conductor drive one cryptochat
process as if it were local. Connects to the conductor over the guest's
user-mode network, waits for RUN, starts the command, and relays:

    host -> guest   RUN | LINE <text> | EOF | TERM
    guest -> host   HELLO <name> | OUT <line> | ERR <line> | EXIT <status>

    usage: guest_bridge.py HOST PORT NAME -- COMMAND...
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys


async def relay(stream: asyncio.StreamReader, tag: bytes, writer: asyncio.StreamWriter) -> None:
    while line := await stream.readline():
        writer.write(tag + b" " + line.rstrip(b"\n") + b"\n")
        await writer.drain()


async def connect(host: str, port: int, patience: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The conductor, or a relay to it that another guest may still be starting: retried a while."""
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        try:
            return await asyncio.open_connection(host, port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def main(host: str, port: int, name: str, command: list[str]) -> int:
    reader, writer = await connect(host, port, patience=300)
    writer.write(f"HELLO {name}\n".encode())
    await writer.drain()
    if (await reader.readline()).strip() != b"RUN":
        return 2
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin and process.stdout and process.stderr
    relays = [
        asyncio.create_task(relay(process.stdout, b"OUT", writer)),
        asyncio.create_task(relay(process.stderr, b"ERR", writer)),
    ]

    async def commands() -> None:
        assert process.stdin
        while line := await reader.readline():
            verb, _, text = line.rstrip(b"\n").partition(b" ")
            if verb == b"LINE":
                process.stdin.write(text + b"\n")
                await process.stdin.drain()
            elif verb == b"EOF":
                process.stdin.close()
            elif verb == b"TERM" and process.returncode is None:
                process.send_signal(signal.SIGTERM)

    control = asyncio.create_task(commands())
    status = await process.wait()
    await asyncio.gather(*relays)
    control.cancel()
    writer.write(f"EXIT {status}\n".encode())
    writer.write_eof()
    # The guest may power off as soon as this returns: wait until the conductor has read it all
    # and closed its side, so that EXIT is not left in this kernel's send buffer.
    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(reader.read(), 30)
    writer.close()
    return status


if __name__ == "__main__":
    separator = sys.argv.index("--")
    host, port, name = sys.argv[1:separator]
    sys.exit(asyncio.run(main(host, int(port), name, sys.argv[separator + 1:])))
