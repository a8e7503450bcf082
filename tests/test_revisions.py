"""The protocol grows by revisions: a client of the previous document keeps working in a room that uses
everything newer; the server sends each client only what its revision knows."""

from __future__ import annotations

import old_client
from old_client import OldClient
from support import start_client, start_server

from cryptochat.client.commands import Act, ChangeNick, SendPrivate
from cryptochat.engines import Engine
from cryptochat.server.room import CONSOLE, Deliver, Room
from cryptochat.wire.messages import (
    Absence,
    Away,
    Emote,
    Emoted,
    Error,
    Hello,
    History,
    Members,
    Notice,
    Private,
    Say,
    Text,
    Welcome,
    Whisper,
    Who,
)
from cryptochat.wire.revisions import REVISION, for_revision


def test_the_server_answers_the_lower_of_its_revision_and_the_clients() -> None:
    room = Room("host", max_members=8)
    assert room.handle(1, Hello("new", 200))[0] == Deliver((1,), Welcome("new", ("host", "new"), REVISION))
    assert room.handle(2, Hello("old", 1))[0] == Deliver((2,), Welcome("old", ("host", "new", "old"), 1))


def test_a_revision_1_client_gets_an_action_as_a_text_and_no_history() -> None:
    room = Room("host", max_members=8, history=5, clock=lambda: 1.0)
    room.handle(1, Hello("new"))
    room.handle(1, Say("before"))
    joined = room.handle(2, Hello("old", 1))
    assert not any(isinstance(a, Deliver) and isinstance(a.message, History) for a in joined)
    assert room.handle(1, Emote("waves")) == [
        Deliver((CONSOLE,), Emoted("new", "waves", 1, 1000)),
        Deliver((2,), Text("new", "* waves")),
    ]


def test_a_whisper_to_a_revision_1_client_is_refused_to_its_sender_not_shown_as_a_public_line() -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("new"))
    room.handle(2, Hello("old", 1))
    assert room.handle(1, Whisper("old", "psst")) == [
        Deliver((1,), Error("old cannot receive private lines (an older client)"))
    ]


def test_a_revision_1_client_that_whispers_anyway_gets_no_copy_it_could_not_read() -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("new"))
    room.handle(2, Hello("old", 1))
    assert room.handle(2, Whisper("new", "psst")) == [Deliver((1,), Private("old", "psst"))]


def test_every_newer_message_has_an_older_form_that_fits_revision_1() -> None:
    longest = "x" * 4094
    assert for_revision(Emoted("a", longest), 1) == Text("a", "* " + longest)
    assert for_revision(History("a", "x", 1, 1000), 1) is None
    assert for_revision(Text("a", "x", 1, 1000), 1) == Text("a", "x")  # no line number or time


async def test_a_previous_document_client_joins_a_room_with_history_and_stays_while_others_use_everything(
    engine: Engine,
) -> None:
    sut = await start_server(engine)
    alice, bob = start_client(engine, sut.port, "alice"), start_client(engine, sut.port, "bob")
    await alice.connected()
    await bob.connected()
    alice.console.say("said before the old client came")
    await bob.console.until(lambda: len(bob.console.messages) == 1)

    old = await OldClient.connect(engine, sut.port, old_client.hello("elder"))
    await old.until(lambda: old.of("Welcome"))
    assert old.of("Welcome") == [("elder", ("server", "alice", "bob", "elder"))]

    expected = []
    for i in range(10):
        bobs_name = "robert" if i >= 6 else "bob"
        expected += [("alice", f"alice {i}"), (bobs_name, f"bob {i}")]
        # Each waits for the other's line before its own, so that the order is known.
        alice.console.say(f"alice {i}")
        if i == 3:
            alice.console.inbox.put_nowait(Act("waves"))
            bob.console.inbox.put_nowait(SendPrivate("alice", "psst"))
        await bob.console.until(lambda i=i: ("alice", f"alice {i}") in bob.console.messages)
        if i == 6:
            bob.console.inbox.put_nowait(ChangeNick("robert"))
        bob.console.say(f"bob {i}")
        await alice.console.until(lambda i=i, b=bobs_name: (b, f"bob {i}") in alice.console.messages)
    await old.until(lambda: len(old.of("Text")) >= 21)
    texts = old.of("Text")
    # Every line said since it came, in order, and nothing from before; the action as a line.
    assert [t for t in texts if t != ("alice", "* waves")] == expected
    assert ("alice", "* waves") in texts
    assert old.of("Renamed") == [("bob", "robert")]
    old.send(old_client.who())
    await old.until(lambda: old.of("Members"))
    assert not old.closed
    old.send(old_client.bye("done"))
    await alice.console.until(lambda: alice.console.saw_notice("elder left (done)"))
    assert [await alice.finish(), await bob.finish()] == [0, 0]
    await sut.server.close()


def test_a_notice_goes_as_a_notice_from_revision_3_and_as_an_error_before() -> None:
    notice = Notice("the room's shared store is back")
    assert for_revision(notice, 3) == notice
    assert for_revision(notice, 2) == for_revision(notice, 1) == Error("the room's shared store is back")
    # A revision-2 client keeps everything else of its revision as it was.
    line = Text("ann", "hi", 7, 1_700_000_000_000)
    assert for_revision(line, 2) == line


def test_older_clients_see_nobody_away_neither_in_who_nor_when_it_changes() -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("new", 4))
    for member, revision in ((2, 3), (3, 2), (4, 1)):
        room.handle(member, Hello(f"old{revision}", revision))
    assert room.handle(1, Away("at lunch")) == [Deliver((CONSOLE, 1), Absence("new", "at lunch"))]
    for member in (2, 3, 4):
        # Exactly what they got before revision 4: the member list alone.
        assert room.handle(member, Who()) == [Deliver((member,), Members(room.members))]
    assert room.handle(1, Who())[1:] == [Deliver((1,), Absence("new", "at lunch"))]


def test_an_older_client_that_says_away_anyway_is_listed_away_to_those_who_can_read_it() -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("old", 3))
    room.handle(2, Hello("new", 4))
    assert room.handle(1, Away("out")) == [Deliver((CONSOLE, 2), Absence("old", "out"))]
    assert for_revision(Absence("old", "out"), 3) is None
