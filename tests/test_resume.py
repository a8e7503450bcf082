"""History that resumes: room lines are numbered and timed; a client back from a drop gets only what it
missed, each line at the time it was said."""

from __future__ import annotations

import asyncio
import time

from support import start_client, start_server

from cryptochat.engines import Engine
from cryptochat.server.room import Action, Deliver, Room
from cryptochat.wire.messages import Emote, Hello, History, HistoryAction, Message, Say, Text


def test_room_lines_are_numbered_in_order_and_stamped_with_their_time() -> None:
    now = [100.0]
    room = Room("host", max_members=8, history=10, first_line=7, clock=lambda: now[0])
    room.handle(1, Hello("ann"))
    assert room.handle(1, Say("one")) == [Deliver((0,), Text("ann", "one", 7, 100_000))]
    now[0] = 101.5
    assert room.handle(1, Say("two")) == [Deliver((0,), Text("ann", "two", 8, 101_500))]


def test_a_hello_that_has_seen_a_line_gets_only_the_lines_after_it() -> None:
    room = Room("host", max_members=8, history=10, clock=lambda: 5.0)
    room.handle(1, Hello("ann"))
    for text in ("one", "two", "three"):
        room.handle(1, Say(text))
    room.handle(1, Emote("waves"))
    assert _to(3, room.handle(3, Hello("bob", seen=1)))[1:] == [
        History("ann", "three", 2, 5000),
        HistoryAction("ann", "waves", 3, 5000),
    ]
    assert len(_to(4, room.handle(4, Hello("cy")))[1:]) == 4  # no line seen: all that is kept


def _to(member: int, actions: list[Action]) -> list[Message]:
    return [a.message for a in actions if isinstance(a, Deliver) and a.to == (member,)]


async def test_a_client_back_from_a_drop_gets_only_what_it_missed_at_its_time(engine: Engine) -> None:
    sut = await start_server(engine)
    ann, bob = start_client(engine, sut.port, "ann"), start_client(engine, sut.port, "bob")
    await ann.connected()
    await bob.connected()
    bob.console.say("one", "two")
    await ann.console.until(lambda: len(ann.console.messages) == 2)
    # The network drops ann: the server loses her connection.
    [held] = [m for m in sut.server._members.values() if sut.server._room.name_of(m.id) == "ann"]
    held.writer.transport.abort()
    await bob.console.until(lambda: bob.console.saw_notice("ann left"))
    said_at = time.time()
    bob.console.say("three")
    await asyncio.sleep(0.1)
    await ann.console.until(lambda: ann.console.saw_notice("reconnected to"))
    await ann.console.until(lambda: ann.console.saw_notice("earlier: bob: three"))
    replayed = [n for n in ann.console.notices if "earlier:" in n]
    stamps = {time.strftime("[%H:%M]", time.localtime(t)) for t in (said_at, said_at + 1)}
    assert len(replayed) == 1 and replayed[0].split(" ", 1)[0] in stamps, replayed
    assert [await c.finish() for c in (ann, bob)] == [0, 0]
    await sut.server.close()
