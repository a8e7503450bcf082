"""The room's rules, without sockets."""

from __future__ import annotations

import pytest

from cryptochat.errors import RemoteProtocolError
from cryptochat.server.room import CONSOLE, Deliver, Disconnect, Note, Room
from cryptochat.wire.messages import (
    Absence,
    Away,
    Bye,
    Emote,
    Emoted,
    Error,
    Hello,
    History,
    HistoryAction,
    Join,
    Leave,
    Members,
    Nick,
    Private,
    Renamed,
    Say,
    Text,
    Welcome,
    Whisper,
    Whispered,
    Who,
)


def room_with(*names: str) -> Room:
    room = Room("server", max_members=8, clock=lambda: 1.0)
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
    assert room.handle(1, Say("hi")) == [Deliver((CONSOLE, 2), Text("alice", "hi", 0, 1000))]


def test_the_console_takes_part_like_a_client() -> None:
    room = room_with("alice")
    assert room.handle(CONSOLE, Say("operator here")) == [
        Deliver((1,), Text("server", "operator here", 0, 1000))
    ]


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
    assert room.handle(1, Bye("leaving")) == [Deliver((CONSOLE, 2), Leave("alice", "leaving")), Disconnect(1)]
    assert room.leave(1, "again") == []


def test_a_full_room_refuses_with_a_goodbye() -> None:
    room = Room("server", max_members=1)
    room.handle(1, Hello("alice"))
    assert room.handle(2, Hello("bob")) == [
        Note("refused bob: the room is full (1 client)", 2),
        Deliver((2,), Bye("the room is full (1 client)")),
        Disconnect(2),
    ]


def test_the_console_never_leaves() -> None:
    room = room_with("alice")
    assert room.leave(CONSOLE, "x") == []
    assert "server" in room.members


@pytest.mark.parametrize("lookalike", ["Bob", "BOB", "b0b", "\uff42\uff4f\uff42"])
def test_a_name_that_looks_like_a_present_one_is_made_unique(lookalike: str) -> None:
    # Case, a zero, fullwidth letters: each would pass for bob.
    room = room_with("bob")
    room.handle(2, Hello(lookalike))
    assert room.name_of(2) not in {"bob", lookalike}
    assert room.name_of(2).endswith("-2")


def test_names_are_kept_nfkc_normalised() -> None:
    room = room_with("\uff41\uff4c\uff49")  # fullwidth "ali"
    assert room.name_of(1) == "ali"


@pytest.mark.parametrize("lookalike", ["ALICE", "a1ice"])
def test_a_rename_to_a_lookalike_is_refused_and_says_whom_it_resembles(lookalike: str) -> None:
    room = room_with("alice", "bob")
    assert room.handle(2, Nick(lookalike)) == [
        Deliver((2,), Error(f"the name {lookalike} is taken (too much like alice)"))
    ]


def test_a_member_may_change_the_case_of_their_own_name() -> None:
    room = room_with("alice")
    assert room.handle(1, Nick("Alice")) == [Deliver((CONSOLE, 1), Renamed("alice", "Alice"))]


def test_an_action_reaches_everyone_but_its_author() -> None:
    room = room_with("alice", "bob")
    assert room.handle(1, Emote("waves")) == [Deliver((CONSOLE, 2), Emoted("alice", "waves", 0, 1000))]


def test_a_private_line_reaches_only_its_recipient_found_by_any_case() -> None:
    room = room_with("alice", "bob", "carol")
    assert room.handle(1, Whisper("BOB", "psst")) == [
        Deliver((2,), Private("alice", "psst")),
        Deliver((1,), Whispered("bob", "psst")),
    ]


def test_a_private_line_to_nobody_is_an_error_for_its_sender() -> None:
    room = room_with("alice")
    assert room.handle(1, Whisper("zed", "psst")) == [Deliver((1,), Error("nobody called zed is here"))]


def test_a_goodbye_without_a_reason_is_announced_as_bye() -> None:
    room = room_with("alice", "bob")
    assert room.handle(1, Bye(""))[0] == Deliver((CONSOLE, 2), Leave("alice", "bye"))


def test_a_newcomer_gets_the_recent_lines_and_actions_but_no_private_ones() -> None:
    room = Room("server", max_members=8, history=2, first_line=10, clock=lambda: 1.0)
    room.handle(1, Hello("alice"))
    room.handle(1, Say("too old"))
    room.handle(1, Whisper("server", "never replayed"))
    room.handle(CONSOLE, Say("from the operator"))
    room.handle(1, Emote("waves"))
    assert room.handle(2, Hello("bob")) == [
        Deliver((2,), Welcome("bob", ("server", "alice", "bob"))),
        Deliver((2,), History("server", "from the operator", 11, 1000)),
        Deliver((2,), HistoryAction("alice", "waves", 12, 1000)),
        Deliver((CONSOLE, 1), Join("bob")),
    ]


def test_history_zero_keeps_nothing() -> None:
    room = room_with("alice")
    room.handle(1, Say("gone"))
    assert [a for a in room.handle(2, Hello("bob")) if isinstance(a, Deliver) and a.to == (2,)] == [
        Deliver((2,), Welcome("bob", ("server", "alice", "bob")))
    ]


def test_going_away_tells_everyone_and_who_lists_the_reason_after_the_members() -> None:
    room = room_with("alice", "bob", "carol")
    assert room.handle(3, Away("at lunch")) == [Deliver((CONSOLE, 1, 2, 3), Absence("carol", "at lunch"))]
    room.handle(1, Away("in a meeting"))
    assert room.handle(2, Who()) == [
        Deliver((2,), Members(("server", "alice", "bob", "carol"))),
        Deliver((2,), Absence("alice", "in a meeting")),  # in the order of the list, not of going away
        Deliver((2,), Absence("carol", "at lunch")),
    ]


def test_an_empty_reason_is_back_and_saying_again_what_is_known_tells_nobody() -> None:
    room = room_with("alice", "bob")
    assert room.handle(1, Away("")) == []  # not away: already back
    room.handle(1, Away("out"))
    assert room.handle(1, Away("out")) == []
    assert room.handle(1, Away("")) == [Deliver((CONSOLE, 1, 2), Absence("alice", ""))]
    assert room.handle(2, Who()) == [Deliver((2,), Members(("server", "alice", "bob")))]


def test_a_rename_keeps_the_away_reason_under_the_new_name() -> None:
    room = room_with("alice", "bob")
    room.handle(1, Away("out"))
    room.handle(1, Nick("alicia"))
    assert room.handle(2, Who())[1:] == [Deliver((2,), Absence("alicia", "out"))]


def test_leaving_clears_the_away_reason_so_a_newcomer_in_the_same_seat_is_not_away() -> None:
    room = room_with("alice", "bob")
    room.handle(1, Away("out"))
    room.leave(1, "connection lost")
    room.handle(1, Hello("alice"))  # the server may give a closed connection's id to a new one
    assert room.handle(2, Who()) == [Deliver((2,), Members(("server", "bob", "alice")))]


def test_the_console_may_be_away_too() -> None:
    room = room_with("alice")
    assert room.handle(CONSOLE, Away("back in 5")) == [Deliver((CONSOLE, 1), Absence("server", "back in 5"))]
