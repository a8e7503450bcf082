"""The room's rules, without sockets."""

from __future__ import annotations

import pytest

from cryptochat.errors import RemoteProtocolError
from cryptochat.messages import (
    Bye,
    Error,
    Hello,
    Join,
    Leave,
    Members,
    Nick,
    Renamed,
    Say,
    Text,
    Welcome,
    Who,
)
from cryptochat.room import CONSOLE, Deliver, Disconnect, Room


def room_with(*names: str) -> Room:
    room = Room("server", max_members=8)
    for i, name in enumerate(names, start=1):
        room.handle(i, Hello(name))
    return room


def test_join_welcomes_the_newcomer_and_tells_everyone_else() -> None:
    room = room_with("alice")
    assert room.handle(2, Hello("bob")) == [
        Deliver((2,), Welcome("bob", ("server", "alice", "bob"))),
        Deliver((CONSOLE, 1), Join("bob")),
    ]


def test_a_line_reaches_everyone_but_its_sender() -> None:
    room = room_with("alice", "bob")
    assert room.handle(1, Say("hi")) == [Deliver((CONSOLE, 2), Text("alice", "hi"))]


def test_the_console_takes_part_like_a_client() -> None:
    room = room_with("alice")
    assert room.post("from the operator") == [Deliver((1,), Text("server", "from the operator"))]


def test_a_taken_name_is_made_unique() -> None:
    room = room_with("alice", "alice")
    assert room.members == ("server", "alice", "alice-2")


def test_a_long_taken_name_stays_within_the_limit() -> None:
    long = "x" * 32
    room = room_with(long, long)
    assert room.members[2] == "x" * 30 + "-2"


def test_first_message_must_be_hello() -> None:
    with pytest.raises(RemoteProtocolError, match="expected Hello"):
        Room("server", 8).handle(1, Say("hi"))


def test_a_client_may_not_send_server_messages() -> None:
    with pytest.raises(RemoteProtocolError, match="may not send Text"):
        room_with("alice").handle(1, Text("bob", "forged"))


def test_who_answers_only_the_asker() -> None:
    assert room_with("alice").handle(1, Who()) == [Deliver((1,), Members(("server", "alice")))]


def test_nick_renames_and_tells_everyone_or_refuses_a_taken_name() -> None:
    room = room_with("alice", "bob")
    assert room.handle(1, Nick("bob")) == [Deliver((1,), Error("the name bob is taken"))]
    assert room.handle(1, Nick("ann")) == [Deliver((CONSOLE, 1, 2), Renamed("alice", "ann"))]


def test_bye_announces_the_leave_and_disconnects() -> None:
    room = room_with("alice", "bob")
    assert room.handle(1, Bye("leaving")) == [Deliver((CONSOLE, 2), Leave("alice", "bye")), Disconnect(1)]
    assert room.leave(1, "again") == []


def test_a_full_room_refuses_with_a_goodbye() -> None:
    room = Room("server", max_members=1)
    room.handle(1, Hello("alice"))
    assert room.handle(2, Hello("bob")) == [Deliver((2,), Bye("the room is full (1 clients)")), Disconnect(2)]


def test_the_console_never_leaves() -> None:
    room = room_with("alice")
    assert room.leave(CONSOLE, "x") == []
    assert "server" in room.members
