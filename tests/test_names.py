"""Names by UTS #39: the rule and the examples of docs/protocol.md, as the room applies them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cryptochat.server.room import CONSOLE, Deliver, Disconnect, Note, Room
from cryptochat.wire.messages import Bye, Error, Hello, Nick, Private, Renamed, Whisper, Whispered
from cryptochat.wire.names import UNICODE_VERSION, check_name, name_keys, normalise_name

PROTOCOL = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()


def _unescape(cell: str) -> str:
    """A name as the doc writes it: in backquotes, ``\\u{…}`` for a code point, a note in brackets after."""
    found = re.match(r"`([^`]*)`", cell.strip())
    assert found, cell
    return re.sub(r"\\u\{([0-9A-F]+)\}", lambda m: chr(int(m.group(1), 16)), found.group(1))


def _table(header: str) -> list[list[str]]:
    start = PROTOCOL.index(header)
    rows = []
    for line in PROTOCOL[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


VALIDITY = _table("| name asked | result |")
LOOKALIKES = _table("| present | asked | look alike? |")


def test_the_doc_pins_the_unicode_version_the_names_follow() -> None:
    assert f"**Unicode {UNICODE_VERSION}**" in PROTOCOL


@pytest.mark.parametrize(("asked", "result"), VALIDITY, ids=[row[0] for row in VALIDITY])
def test_each_example_name_of_the_doc_is_accepted_or_refused_as_it_says(asked: str, result: str) -> None:
    name = normalise_name(_unescape(asked))
    problem = check_name(name)
    if not result.startswith("refused"):
        assert problem is None
        assert name == _unescape(result)
        return
    assert problem is not None
    # The reason names the character the doc names, or what the doc says is mixed.
    for code in re.findall(r"U\+[0-9A-F]{4,5}", result):
        assert code in problem
    if mixed := re.search(r"mixes (.*)", result):
        assert mixed.group(1) in problem


@pytest.mark.parametrize(
    ("present", "asked", "alike"), LOOKALIKES, ids=[f"{row[0]}-{row[1]}" for row in LOOKALIKES]
)
def test_each_example_pair_of_the_doc_looks_alike_or_not_as_it_says(
    present: str, asked: str, alike: str
) -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello(_unescape(present)))
    room.handle(2, Hello(_unescape(asked)))
    given = room.name_of(2)
    assert given is not None
    assert given.endswith("-2") == (alike == "yes"), given
    assert (not name_keys(_unescape(present)).isdisjoint(name_keys(_unescape(asked)))) == (alike == "yes")


INVISIBLE = ["bob\ufe0f", "b\u034fob", "\u3164", "\uffa0", "\u115f", "a\U000e0100", "a\u17b4", "\u2800"]
UNSHOWN = ["bob\u200b", "\u202ebob", "a b", "a\u3000b", "a:b", "tab\t", "x" * 33, ""]


@pytest.mark.parametrize("asked", INVISIBLE + UNSHOWN)
def test_a_refused_name_in_hello_gets_bye_with_the_reason(asked: str) -> None:
    room = Room("host", max_members=8)
    problem = check_name(normalise_name(asked))
    assert problem is not None
    assert room.handle(1, Hello(asked)) == [
        Note(f"refused a join: {problem}", 1),
        Deliver((1,), Bye(problem)),
        Disconnect(1),
    ]
    assert room.members == ("host",)


@pytest.mark.parametrize("asked", INVISIBLE + UNSHOWN)
def test_a_refused_name_in_nick_gets_error_with_the_reason_and_the_member_stays(asked: str) -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("ann"))
    problem = check_name(normalise_name(asked))
    assert room.handle(1, Nick(asked)) == [Deliver((1,), Error(problem or ""))]
    assert room.name_of(1) == "ann"


def test_b0b_is_taken_while_bob_is_present_and_a_whisper_to_b0b_reaches_bob() -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("bob"))
    room.handle(2, Hello("b0b"))
    assert room.name_of(2) == "b0b-2"
    assert room.handle(2, Nick("B0B")) == [Deliver((2,), Error("the name B0B is taken (too much like bob)"))]
    assert room.handle(2, Whisper("b0b", "psst")) == [
        Deliver((1,), Private("b0b-2", "psst")),
        Deliver((2,), Whispered("bob", "psst")),
    ]


def test_a_whisper_to_an_invalid_name_gets_the_reason() -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("ann"))
    problem = check_name("bob\u200b")
    assert room.handle(1, Whisper("bob\u200b", "psst")) == [
        Deliver((1,), Error(f"nobody can be called that: {problem}"))
    ]


def test_a_long_name_is_shortened_by_whole_characters_before_its_suffix() -> None:
    long = "é" * 16  # 32 bytes
    room = Room("host", max_members=8)
    room.handle(1, Hello(long))
    room.handle(2, Hello(long))
    assert room.name_of(2) == "é" * 15 + "-2"


def test_renaming_to_a_valid_name_still_works() -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("ann"))
    assert room.handle(1, Nick("Анна")) == [Deliver((CONSOLE, 1), Renamed("ann", "Анна"))]
