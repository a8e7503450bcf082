"""Helpers for the tests that run real processes: ``cryptochat serve`` and ``connect``, and ``redis-server``.

Everything started here is registered, and conftest's autouse fixture kills what a test left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

from demo.conductor import Participant
from demo.conductor import spawn as demo_spawn

CHAT = (sys.executable, "-m", "cryptochat")
_running: list[Participant] = []


def reap() -> None:
    """Kill every process a test started and left running."""
    while _running:
        participant = _running.pop()
        if participant.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(participant.process.pid, signal.SIGKILL)


def run(scenario: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run(scenario)``, then end what it left running and close the pipes while the loop still
    runs (a subprocess transport collected after its loop closed complains on stderr)."""

    async def main() -> None:
        try:
            await scenario
        finally:
            for participant in _running:
                if participant.process.returncode is None:
                    participant.process.kill()
                await participant.finish()
                stdin = participant.process.stdin
                if stdin is not None and not stdin.is_closing():
                    stdin.close()
            await asyncio.sleep(0)

    asyncio.run(main())


async def spawn(name: str, argv: list[str]) -> Participant:
    participant = await demo_spawn(name, argv)
    _running.append(participant)
    return participant


async def serve(key_file: str, *options: str, port: str = "0", ulimit: int | None = None) -> Participant:
    argv = [*CHAT, "serve", "--host", "127.0.0.1", "--port", port, "--key-file", key_file, *options]
    if ulimit is not None:
        argv = ["sh", "-c", f'ulimit -n {ulimit} && exec "$@"', "serve", *argv]
    server = await spawn("server", argv)
    assert await server.wait_for("listening on", stream="stderr")
    return server


def port_of(server: Participant) -> str:
    line = next(line for line in server.stderr if "listening on" in line)
    return line.rsplit(":", 1)[1].split()[0]


async def connect(key_file: str, port: str, name: str) -> Participant:
    client = await spawn(name, [*CHAT, "connect", "127.0.0.1", port, "--key-file", key_file, "--name", name])
    assert await client.wait_for("connected to", stream="stderr")
    return client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def stop(server: Participant) -> None:
    server.process.send_signal(signal.SIGTERM)
    assert await server.finish() == 0
    assert not any("Traceback" in line or "Invalid file descriptor" in line for line in server.stderr)


class Redis:
    """Our own ``redis-server`` on a free loopback port, its data in ``directory`` (AOF, fsync always),
    so that a restart on the same port finds the stream as it was."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: Participant | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is missing: make test-py installs it (scripts/test-deps.sh)"
        self.process = await spawn("redis", [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.directory,
            "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes",
        ])
        assert await self.process.wait_for("Ready to accept connections", timeout=10), self.process.stdout

    async def kill(self) -> None:
        assert self.process is not None
        self.process.process.kill()
        await self.process.finish()


class HoldingProxy:
    """A TCP proxy to a local port that holds back, once, the first chunk a client sends containing
    ``pattern`` (for ``delay`` seconds: that connection's later bytes wait behind it, the others flow)."""

    def __init__(self, port: int, pattern: bytes, delay: float) -> None:
        self._target = port
        self._pattern = pattern
        self._delay = delay
        self.held = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.close()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.append(client_w)
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            client_w.close()
            return
        self._writers.append(upstream_w)
        await asyncio.gather(
            self._pump(client_r, upstream_w, hold=True), self._pump(upstream_r, client_w, hold=False),
            return_exceptions=True,
        )

    async def _pump(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, *, hold: bool) -> None:
        try:
            while chunk := await r.read(65536):
                if hold and not self.held and self._pattern in chunk:
                    self.held += 1
                    await asyncio.sleep(self._delay)
                w.write(chunk)
                await w.drain()
        finally:
            w.close()
