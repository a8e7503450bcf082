"""A few tests on real loopback sockets: the server and its clients in one event loop."""

from __future__ import annotations

import asyncio

import old_client
import pytest
from conftest import OTHER_KEY
from old_client import OldClient
from support import TIMEOUT, eventually, raw_join, start_client, start_server

from cryptochat.client.commands import Act, AskWho, BeAway, SendPrivate
from cryptochat.engines import Engine
from cryptochat.wire.messages import Leave, Say
from cryptochat.wire.names import check_name, normalise_name


@pytest.mark.parametrize("name", ["bob\u200b", "\u202ebob", "a\u3000b", "bob\ufe0f", "a:b"])
async def test_a_refused_name_is_always_said_bye_on_hello_error_on_nick(engine: Engine, name: str) -> None:
    sut = await start_server(engine)
    refused = await OldClient.connect(engine, sut.port, old_client.hello(name))
    await refused.until(lambda: refused.closed)
    assert refused.of("Bye") == [(check_name(normalise_name(name)),)]
    member = await OldClient.connect(engine, sut.port, old_client.hello("ann"))
    await member.until(lambda: member.of("Welcome"))
    member.send(old_client.nick(name))
    await member.until(lambda: member.of("Error"))
    assert member.of("Error") == [(check_name(normalise_name(name)),)]
    member.send(old_client.who())
    await member.until(lambda: member.of("Members"))  # still connected
    member.writer.close()
    await sut.server.close()


async def test_clients_and_the_console_share_one_total_order(engine: Engine) -> None:
    sut = await start_server(engine)
    clients = [start_client(engine, sut.port, name) for name in ("alice", "bob", "carol")]
    for c in clients:
        await c.connected()
    for i in range(20):
        for c in clients:
            c.console.say(f"{c.client.name} line {i}")
        sut.server.post(Say(f"server line {i}"))
    for c in clients:
        await c.console.until(lambda c=c: len(c.console.messages) == 60)
    await eventually(lambda: len(sut.texts()) == 60)
    # Any two participants see the lines they both received in the same order.
    views = {c.client.name: c.console.messages for c in clients} | {"server": sut.texts()}
    for a, seen_a in views.items():
        for b, seen_b in views.items():
            common = set(seen_a) & set(seen_b)
            assert [m for m in seen_a if m in common] == [m for m in seen_b if m in common], (a, b)
    assert ("alice", "alice line 7") in clients[1].console.messages  # unchanged: no upper-casing
    assert [await c.finish() for c in clients] == [0, 0, 0]
    await sut.server.close()


async def test_a_slow_consumer_is_disconnected_and_the_others_lose_nothing(engine: Engine) -> None:
    sut = await start_server(engine, slow_timeout=0.5)
    good = start_client(engine, sut.port, "good")
    await good.connected()
    slow = await raw_join(engine, sut.port, "slow", rcvbuf=4096)  # joins, then never reads
    line = "x" * 4000
    sent = 0
    async with asyncio.timeout(TIMEOUT):
        while not any("too slow" in entry for entry in sut.log) or sent < 50:
            sut.server.post(Say(f"{sent} {line}"))
            sent += 1
            if sent % 8 == 0:
                await asyncio.sleep(0.001)  # let the good client's queue drain, as real traffic would
    await good.console.until(lambda: len(good.console.messages) == sent)
    assert [int(text.split()[0]) for _, text in good.console.messages] == list(range(sent))
    await good.console.until(lambda: good.console.saw_notice("slow left (disconnected: too slow to keep up)"))
    assert sut.server.members == ("server", "good")
    slow.writer.close()
    assert await good.finish() == 0
    await sut.server.close()


async def test_a_client_killed_mid_record_leaves_and_the_room_goes_on(engine: Engine) -> None:
    sut = await start_server(engine)
    watcher = start_client(engine, sut.port, "watcher")
    await watcher.connected()
    victim = await raw_join(engine, sut.port, "victim")
    victim.channel.send(b"\x03" + b"\x00" * 600)
    wire = victim.channel.data_to_send()
    victim.writer.write(wire[: len(wire) // 2])
    await victim.writer.drain()
    victim.writer.transport.abort()
    await watcher.console.until(lambda: watcher.console.saw_notice("victim left"))
    assert Leave("victim", "protocol error") in sut.shown
    sut.server.post(Say("still here"))
    await watcher.console.until(lambda: ("server", "still here") in watcher.console.messages)
    assert await watcher.finish() == 0
    await sut.server.close()


async def test_a_connection_that_says_nothing_is_dropped_at_the_handshake_deadline(engine: Engine) -> None:
    sut = await start_server(engine, handshake_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", sut.port)
    assert await asyncio.wait_for(reader.read(100), TIMEOUT) == b""
    assert any("handshake deadline" in entry for entry in sut.log)
    writer.close()
    await sut.server.close()


async def test_garbage_instead_of_a_handshake_closes_only_that_connection(engine: Engine) -> None:
    sut = await start_server(engine)
    member = start_client(engine, sut.port, "member")
    await member.connected()
    reader, writer = await asyncio.open_connection("127.0.0.1", sut.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: chat\r\n\r\n")
    assert await asyncio.wait_for(reader.read(100), TIMEOUT) == b""
    sut.server.post(Say("unaffected"))
    await member.console.until(lambda: ("server", "unaffected") in member.console.messages)
    writer.close()
    assert await member.finish() == 0
    await sut.server.close()


async def test_a_full_room_refuses_the_next_client_with_an_error(engine: Engine) -> None:
    sut = await start_server(engine, max_clients=1)
    first = start_client(engine, sut.port, "first")
    await first.connected()
    second = start_client(engine, sut.port, "second")
    assert await asyncio.wait_for(second.task, TIMEOUT) == 1
    assert second.console.errors == ["the server refused us: the room is full (1 client)"]
    assert await first.finish() == 0
    await sut.server.close()


async def test_wrong_key_is_reported_by_the_client_and_the_server(engine: Engine) -> None:
    sut = await start_server(engine)
    intruder = start_client(engine, sut.port, "intruder", key=OTHER_KEY)
    assert await asyncio.wait_for(intruder.task, TIMEOUT) == 1
    assert intruder.console.errors == ["the server does not hold the same key"]
    await eventually(lambda: any("the client does not hold the same key" in e for e in sut.log))
    await sut.server.close()


async def test_unreachable_server_is_one_clear_error(engine: Engine) -> None:
    sut = await start_server(engine)
    port = sut.port
    await sut.server.close()
    client = start_client(engine, port, "alone")
    assert await asyncio.wait_for(client.task, TIMEOUT) == 1
    assert client.console.errors[0].startswith(f"cannot reach the server at 127.0.0.1:{port}")


async def test_client_reconnects_after_a_server_restart_and_sends_what_was_typed_meanwhile(
    engine: Engine,
) -> None:
    sut = await start_server(engine)
    port = sut.port
    alice = start_client(engine, port, "alice", reconnect_initial=0.05)
    await alice.connected()
    await sut.server.close()
    await alice.console.until(lambda: alice.console.saw_notice("reconnecting in"))
    assert alice.console.saw_notice("the server said goodbye: the server is shutting down")
    alice.console.say("typed while the server was down")
    restarted = await start_server(engine, port=port)
    await alice.console.until(lambda: alice.console.saw_notice("reconnected to"))
    await eventually(lambda: len(restarted.texts()) == 1)
    assert restarted.texts() == [("alice", "typed while the server was down")]
    assert await alice.finish() == 0
    await restarted.server.close()


async def test_client_exits_cleanly_when_the_server_shuts_down_after_its_input_ended(engine: Engine) -> None:
    sut = await start_server(engine)
    bob = start_client(engine, sut.port, "bob")
    await bob.connected()
    bob.console.say("last line")
    await eventually(lambda: len(sut.texts()) == 1)
    assert await bob.finish() == 0
    assert Leave("bob", "bye") in sut.shown
    await sut.server.close()


async def test_failed_reconnections_say_why_once_in_plain_words(engine: Engine) -> None:
    sut = await start_server(engine)
    port = sut.port
    alice = start_client(
        engine, port, "alice", reconnect_initial=0.01, reconnect_max=0.02, reconnect_attempts=2
    )
    await alice.connected()
    await sut.server.close()
    assert await asyncio.wait_for(alice.task, TIMEOUT) == 1
    retries = [n for n in alice.console.notices if "reconnecting in" in n]
    assert retries[0].startswith("the server said goodbye: the server is shutting down; reconnecting in")
    unreachable = f"cannot reach the server at 127.0.0.1:{port}: Connection refused"
    assert retries[1].startswith(f"{unreachable}; reconnecting in")
    assert alice.console.errors == [f"{unreachable}; gave up after 2 reconnection attempts"]
    assert not any("Connect call failed" in n or "(connection lost)" in n for n in alice.console.notices)


async def test_lines_are_shown_as_ones_own_once_sent_and_the_others_see_actions_and_private_lines(
    engine: Engine,
) -> None:
    sut = await start_server(engine)
    alice = start_client(engine, sut.port, "alice")
    bob = start_client(engine, sut.port, "bob")
    await alice.connected()
    await bob.connected()
    alice.console.inbox.put_nowait(Act("waves"))
    alice.console.inbox.put_nowait(SendPrivate("bob", "psst"))
    alice.console.say("hello all")
    await bob.console.until(lambda: len(bob.console.messages) == 1)
    assert bob.console.actions == [("alice", "waves")]
    assert bob.console.privates == [("alice", "psst")]
    # The private line is shown when the server says it was delivered: after the others, sent at once.
    await alice.console.until(lambda: ("msg bob", "psst") in alice.console.sent)
    assert alice.console.sent == [("me", "waves"), ("say", "hello all"), ("msg bob", "psst")]
    assert ("alice", "psst") not in [(m.sender, m.text) for m in sut.shown if hasattr(m, "sender")]
    assert await alice.finish() == 0
    assert await bob.finish() == 0
    await sut.server.close()


async def test_away_reaches_a_newcomers_who_and_an_old_client_gets_the_member_list_alone(
    engine: Engine,
) -> None:
    sut = await start_server(engine)
    bob = start_client(engine, sut.port, "bob")
    await bob.connected()
    bob.console.inbox.put_nowait(BeAway("at lunch"))
    await bob.console.until(lambda: bob.console.saw_notice("bob is away (at lunch)"))
    old = await OldClient.connect(engine, sut.port, old_client.hello("elder"))
    await old.until(lambda: old.of("Welcome"))
    alice = start_client(engine, sut.port, "alice")
    await alice.connected()
    alice.console.inbox.put_nowait(AskWho())
    await alice.console.until(lambda: alice.console.saw_notice("bob is away (at lunch)"))
    assert alice.console.notices[-2:] == ["present (4): server, bob, elder, alice", "bob is away (at lunch)"]
    old.send(old_client.who())
    await old.until(lambda: old.of("Members"))
    bob.console.inbox.put_nowait(BeAway(""))
    await alice.console.until(lambda: alice.console.saw_notice("bob is back"))
    old.send(old_client.who())
    await old.until(lambda: len(old.of("Members")) == 2)
    assert not old.closed  # it never got a message it does not know
    old.writer.close()
    assert [await alice.finish(), await bob.finish()] == [0, 0]
    await sut.server.close()
