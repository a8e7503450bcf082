"""Flow control and admission on real loopback sockets: bursts, stalled readers, idle connections."""

from __future__ import annotations

import asyncio

import pytest
from conftest import KEY
from support import TIMEOUT, ClientUnderTest, raw_join, start_client, start_server

from cryptochat.engines import Engine
from cryptochat.wire.channel import Channel, DataReceived, Role
from cryptochat.wire.messages import Bye, Say, Text, Welcome, decode, encode


async def _watchers(engine: Engine, port: int, count: int) -> list[ClientUnderTest]:
    watchers = [start_client(engine, port, f"w{i}") for i in range(count)]
    for w in watchers:
        await w.connected()
    return watchers


def _left(watcher: ClientUnderTest) -> list[str]:
    return [n for n in watcher.console.notices if " left " in n]


async def test_a_burst_of_1000_lines_reaches_every_member_in_order_and_nobody_is_cut(engine: Engine) -> None:
    sut = await start_server(engine)
    watchers = await _watchers(engine, sut.port, 3)
    paster = start_client(engine, sut.port, "paster")
    await paster.connected()
    lines = [f"{i} {'p' * 200}" for i in range(1000)]
    paster.console.say(*lines)
    for w in watchers:
        await w.console.until(lambda w=w: len(w.console.messages) == len(lines), timeout=60)
        assert w.console.messages == [("paster", line) for line in lines]
    assert all(_left(w) == [] for w in watchers)
    assert not any("too slow" in entry for entry in sut.log)
    assert [await c.finish() for c in (*watchers, paster)] == [0, 0, 0, 0]
    await sut.server.close()


async def test_a_member_past_its_rate_is_paced_not_cut(engine: Engine) -> None:
    sut = await start_server(engine, rate=500.0, burst=20)
    (watcher,) = await _watchers(engine, sut.port, 1)
    chatty = start_client(engine, sut.port, "chatty")
    await chatty.connected()
    lines = [f"line {i}" for i in range(300)]
    chatty.console.say(*lines)
    await watcher.console.until(lambda: len(watcher.console.messages) == len(lines))
    assert watcher.console.messages == [("chatty", line) for line in lines]
    assert _left(watcher) == []
    assert [await c.finish() for c in (watcher, chatty)] == [0, 0]
    await sut.server.close()


async def test_a_member_that_stops_reading_is_cut_at_the_slow_timeout_and_the_burst_goes_on(
    engine: Engine,
) -> None:
    sut = await start_server(engine, slow_timeout=0.5, send_buffer=64 * 1024 * 1024)
    watchers = await _watchers(engine, sut.port, 2)
    stalled = await raw_join(engine, sut.port, "stalled", rcvbuf=4096)  # joins, then never reads
    paster = start_client(engine, sut.port, "paster")
    await paster.connected()
    lines = [f"{i} {'s' * 2000}" for i in range(1000)]  # 2 MB: far more than the stalled socket holds
    paster.console.say(*lines)
    gone = ["stalled left (disconnected: too slow to keep up)"]
    for w in watchers:
        await w.console.until(lambda w=w: len(w.console.messages) == len(lines), timeout=60)
        assert w.console.messages == [("paster", line) for line in lines]
        await w.console.until(lambda w=w: _left(w) == gone)
    (cut,) = [entry for entry in sut.log if "too slow" in entry]
    assert cut.startswith("stalled: disconnected, too slow to keep up (nothing read for")
    stalled.writer.close()
    assert [await c.finish() for c in (*watchers, paster)] == [0, 0, 0]
    await sut.server.close()


async def test_a_member_holding_more_than_the_send_buffer_is_cut(engine: Engine) -> None:
    sut = await start_server(engine, slow_timeout=60.0, send_buffer=256 * 1024)
    (watcher,) = await _watchers(engine, sut.port, 1)
    stalled = await raw_join(engine, sut.port, "stalled", rcvbuf=4096)
    for i in range(400):  # the operator's lines are not paced: only the budget stops them piling up
        sut.server.post(Say(f"{i} {'b' * 4000}"))
        await asyncio.sleep(0.001)  # the watcher reads in this same event loop
    await watcher.console.until(lambda: len(watcher.console.messages) == 400)
    gone = ["stalled left (disconnected: too slow to keep up)"]
    await watcher.console.until(lambda: _left(watcher) == gone)
    assert any("bytes waiting" in entry for entry in sut.log)
    stalled.writer.close()
    assert await watcher.finish() == 0
    await sut.server.close()


async def test_a_member_cut_for_not_reading_is_told_why_if_it_reads_again(engine: Engine) -> None:
    sut = await start_server(engine, slow_timeout=60.0, send_buffer=256 * 1024)
    stalled = await raw_join(engine, sut.port, "stalled", rcvbuf=4096)
    sent = 0
    while not any("too slow" in entry for entry in sut.log):
        sut.server.post(Say(f"{sent} {'b' * 4000}"))
        sent += 1
        await asyncio.sleep(0.001)
    received = []
    async with asyncio.timeout(TIMEOUT):
        while data := await stalled.reader.read(65536):
            events = stalled.channel.receive_data(data)
            received += [decode(e.data) for e in events if isinstance(e, DataReceived)]
    assert isinstance(received[-1], Bye)
    assert received[-1].reason.startswith("too slow to keep up (") and "bytes waiting" in received[-1].reason
    await sut.server.close()


@pytest.mark.parametrize("idle", [16, 64])
async def test_idle_connections_from_one_address_do_not_keep_a_newcomer_out(
    engine: Engine, idle: int
) -> None:
    sut = await start_server(engine, handshake_timeout=60.0)
    holders = [await asyncio.open_connection("127.0.0.1", sut.port) for _ in range(idle)]
    newcomer = start_client(engine, sut.port, "newcomer", reconnect_attempts=0)
    await newcomer.connected()
    assert sut.server.members == ("server", "newcomer")
    # Every replaced connection was one line at most per second, not one per connection.
    replaced = [entry for entry in sut.log if "dropped its oldest connection" in entry]
    assert 1 <= len(replaced) <= 2
    for _reader, writer in holders:
        writer.close()
    assert await newcomer.finish() == 0
    await sut.server.close()


async def test_past_the_handshake_pool_connections_are_refused_and_logged_once(engine: Engine) -> None:
    sut = await start_server(engine, max_handshakes=4, handshakes_per_source=100, handshake_timeout=60.0)
    holders = [await asyncio.open_connection("127.0.0.1", sut.port) for _ in range(20)]
    refused = 0
    for reader, _writer in holders:
        try:
            async with asyncio.timeout(0.2):
                refused += await reader.read(1) == b""
        except TimeoutError:
            pass  # still in its handshake: one of the four admitted
    assert refused >= 16  # random early drop may refuse some of the first four too
    lines = [entry for entry in sut.log if "refused" in entry]
    assert 1 <= len(lines) < refused
    for _reader, writer in holders:
        writer.close()
    await asyncio.wait_for(sut.server.close(), TIMEOUT)


async def test_a_client_keeps_reading_while_its_own_lines_wait_to_be_read(engine: Engine) -> None:
    """A server under flow control reads a member only once the member reads: neither may wait for the other.

    This server sends 16 MiB (more than any socket buffers hold) and reads nothing until all of it was
    read, while the client flushes 1,000 lines it holds: a client that stopped reading until its own
    writes drained would wait forever.
    """
    received: list[str] = []
    everything_read = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        channel = Channel(Role.SERVER, KEY, engine)
        hello = False
        while not hello:
            hello = any(isinstance(e, DataReceived) for e in channel.receive_data(await reader.read(65536)))
            writer.write(channel.data_to_send())
        channel.send(encode(Welcome("flusher", ("server", "flusher"))))
        for i in range(4096):
            channel.send(encode(Text("server", f"{i} {'s' * 4000}")))
        writer.write(channel.data_to_send())
        await writer.drain()
        while writer.transport.get_write_buffer_size():
            await asyncio.sleep(0.01)
        everything_read.set()
        while len(received) < 1000:
            for event in channel.receive_data(await reader.read(65536)):
                if isinstance(event, DataReceived) and isinstance(message := decode(event.data), Say):
                    received.append(message.text)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    flusher = start_client(engine, port, "flusher", reconnect_attempts=0)
    await flusher.connected()
    lines = [f"{i} {'c' * 4000}" for i in range(1000)]
    flusher.console.say(*lines)
    async with asyncio.timeout(60):
        await everything_read.wait()
        while len(received) < 1000:
            await asyncio.sleep(0.01)
    assert received == lines
    await flusher.console.until(lambda: len(flusher.console.messages) == 4096)
    flusher.client.stop()
    await asyncio.wait_for(flusher.task, TIMEOUT)
    server.close()
