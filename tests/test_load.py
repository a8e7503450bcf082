"""The server under load as users run it: real processes on loopback, bursts, restarts, few descriptors."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import subprocess
import time

import pytest
from conftest import KEY
from processes import CHAT, connect, free_port, port_of, serve, stop

from benchmarks.load_bench import lockout, stall
from cryptochat.engines import Engine
from cryptochat.wire.channel import Channel, DataReceived, HandshakeComplete, Role
from cryptochat.wire.messages import Bye, Hello, Welcome, decode, encode


@pytest.fixture
def known_key(tmp_path: os.PathLike[str]) -> str:
    """A key file holding conftest's KEY, so in-process raw clients can join the real server."""
    path = os.path.join(tmp_path, "known.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(KEY)
    return path


def test_a_pasted_burst_of_1000_lines_reaches_every_member_in_order(key_file: str) -> None:
    lines = [f"{i} {'paste ' * 30}" for i in range(1000)]

    async def scenario() -> None:
        server = await serve(key_file)
        port = port_of(server)
        watchers = [await connect(key_file, port, f"w{i}") for i in range(3)]
        paster = await connect(key_file, port, "paster")
        for line in lines:
            await paster.type(line)
        for w in watchers:
            assert await w.wait_for(lines[-1][:20], timeout=60)
            assert w.stdout == [f"paster: {line}" for line in lines]
            assert not any(" left " in n for n in w.stderr)
        for p in (paster, *watchers):
            await p.end_input()
            assert await p.finish() == 0
        await stop(server)
        assert not any("too slow" in line for line in server.stderr)

    asyncio.run(scenario())


def test_a_reconnecting_client_flushes_600_lines_to_every_member_in_order(key_file: str) -> None:
    port = str(free_port())
    lines = [f"{i} typed while the server was away" for i in range(600)]

    async def scenario() -> None:
        first = await serve(key_file, port=port)
        flusher = await connect(key_file, port, "flusher")
        await stop(first)
        # Wait until its backoff is long (the third retry, ~4 s) so the others are present on its return.
        backoff = re.compile(r"reconnecting in (\d+\.\d) s")
        assert await flusher.wait_for("reconnecting in", stream="stderr")
        for line in lines:
            await flusher.type(line)
        assert await _wait(lambda: any(
            (m := backoff.search(n)) is not None and float(m.group(1)) >= 3 for n in flusher.stderr
        ), timeout=20)
        second = await serve(key_file, port=port)
        watchers = [await connect(key_file, port, f"w{i}") for i in range(2)]
        assert await flusher.wait_for("reconnected to", stream="stderr", timeout=15)
        for w in watchers:
            assert await w.wait_for(lines[-1], timeout=30)
            assert w.stdout == [f"flusher: {line}" for line in lines]
        for p in (flusher, *watchers):
            await p.end_input()
            assert await p.finish() == 0
        await stop(second)
        assert not any("too slow" in line for line in second.stderr)

    asyncio.run(scenario())


async def _wait(predicate: object, timeout: float) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _try_join(engine: Engine, port: int, name: str) -> tuple[bool, asyncio.StreamWriter]:
    """Join as ``name``: True when welcomed, False when refused with a Bye."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    channel = Channel(Role.CLIENT, KEY, engine)
    writer.write(channel.data_to_send())
    while HandshakeComplete() not in channel.receive_data(await reader.read(65536)):
        pass
    channel.send(encode(Hello(name)))
    writer.write(channel.data_to_send())
    while True:
        for event in channel.receive_data(await reader.read(65536)):
            if isinstance(event, DataReceived):
                message = decode(event.data)
                if isinstance(message, Welcome | Bye):
                    return isinstance(message, Welcome), writer


def test_with_128_descriptors_connections_past_the_limit_are_refused_quietly(
    known_key: str, engine: Engine
) -> None:
    async def scenario() -> None:
        started = time.monotonic()
        server = await serve(known_key, "--max-clients", "1000", ulimit=128)
        assert any("room limited to" in line for line in server.stderr)
        port = port_of(server)
        alice, bob = await connect(known_key, port, "alice"), await connect(known_key, port, "bob")
        # Fill the room past its limit: the last ones are refused, the refusals logged rarely.
        joined = [await _try_join(engine, int(port), f"m{i}") for i in range(100)]
        welcomed = sum(ok for ok, _ in joined)
        assert 0 < welcomed < 100
        # Now take away the descriptors the server counted on, as other work in the process would.
        pid = server.process.pid
        in_use = len(os.listdir(f"/proc/{pid}/fd"))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 2, in_use + 2))
        idle = [await asyncio.open_connection("127.0.0.1", int(port)) for _ in range(40)]
        await asyncio.sleep(1.5)
        await alice.type("still chatting")
        assert await bob.wait_for("alice: still chatting")
        for _, writer in (*joined, *idle):
            writer.close()
        for p in (alice, bob):
            await p.end_input()
            assert await p.finish() == 0
        await stop(server)
        seconds = time.monotonic() - started
        full = [line for line in server.stderr if "the room is full" in line]
        starved = [line for line in server.stderr if "out of file descriptors" in line]
        assert 1 <= len(full) <= seconds + 1
        assert 1 <= len(starved) <= seconds + 1

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("option", "value"),
    [("--rate", "0"), ("--burst", "0"), ("--slow-timeout", "-1"), ("--send-buffer", "0"),
     ("--max-handshakes", "0"), ("--handshakes-per-source", "0"), ("--slow-timeout", "nan")],
)
def test_a_nonsensical_limit_is_one_line_and_status_2(key_file: str, option: str, value: str) -> None:
    result = subprocess.run(
        [*CHAT, "serve", "--host", "127.0.0.1", "--port", "0", "--key-file", key_file, option, value],
        capture_output=True, text=True, timeout=20, check=False,
    )
    assert result.returncode == 2
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"cryptochat: argument {option}: {value} is out of range")
    assert "Traceback" not in result.stderr


def test_a_non_reader_that_rejoins_when_cut_does_not_hold_back_the_others_of_a_200_kb_s_room(
    known_key: str,
) -> None:
    figures = asyncio.run(stall(KEY, known_key, seconds=8.0))
    assert figures.cuts >= 1  # it was cut, and came back
    assert not figures.others_cut
    assert figures.p99 < 0.5, figures
    assert figures.late == 0, figures


def test_a_newcomer_gets_in_while_its_address_keeps_its_handshakes_held_and_reopened(known_key: str) -> None:
    figures = asyncio.run(lockout(KEY, known_key, tries=6))
    assert figures.admitted >= 3, figures
