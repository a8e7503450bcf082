from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptochat.errors import LocalProtocolError, RemoteProtocolError
from cryptochat.wire.messages import (
    MAX_NAME_BYTES,
    MAX_TEXT_BYTES,
    Absence,
    Away,
    Bye,
    Emote,
    Emoted,
    Error,
    Hello,
    Join,
    Leave,
    Members,
    Message,
    Nick,
    Private,
    Renamed,
    Say,
    Text,
    Welcome,
    Whisper,
    Who,
    check_text,
    decode,
    encode,
)

EVERY_KIND: list[Message] = [
    Hello("alice"),
    Welcome("alice-2", ("server", "alice", "alice-2")),
    Say("hello, world"),
    Text("bob", "héllo ✓"),
    Join("carol"),
    Leave("carol", "connection lost"),
    Who(),
    Members(("server",)),
    Nick("dave"),
    Renamed("dave", "david"),
    Error("the name x is taken"),
    Bye("the server is shutting down"),
    Emote("waves"),
    Emoted("alice", "waves 👋"),
    Whisper("bob", "just between us"),
    Private("alice", "just between us"),
    Away("at lunch"),
    Away(""),
    Absence("alice", "at lunch"),
]


@pytest.mark.parametrize("message", EVERY_KIND, ids=lambda m: type(m).__name__)
def test_every_message_kind_round_trips(message: Message) -> None:
    assert decode(encode(message)) == message


def test_messages_are_frozen_and_slotted() -> None:
    message = Say("x")
    with pytest.raises(AttributeError):
        message.text = "y"  # type: ignore[misc]
    assert not hasattr(message, "__dict__")


def test_text_is_sent_unchanged_not_upper_cased() -> None:
    # Seed defect 4: the seed's server upper-cased what it received.
    assert decode(encode(Text("bob", "lower case"))) == Text("bob", "lower case")


def test_text_at_the_documented_maximum_is_accepted() -> None:
    text = "é" * (MAX_TEXT_BYTES // 2)
    assert decode(encode(Say(text))) == Say(text)


def test_text_over_the_maximum_is_refused_locally_and_remotely() -> None:
    text = "x" * (MAX_TEXT_BYTES + 1)
    with pytest.raises(LocalProtocolError, match="over the limit"):
        encode(Say(text))
    raw = b"\x03" + len(text).to_bytes(2, "big") + text.encode()
    with pytest.raises(RemoteProtocolError, match="over the limit"):
        decode(raw)


@pytest.mark.parametrize("text", ["\x1b[2J", "bell\x07", "new\nline", "nul\x00"])
def test_control_characters_are_refused_so_no_one_drives_a_terminal(text: str) -> None:
    with pytest.raises(LocalProtocolError, match="control"):
        encode(Say(text))
    raw = b"\x03" + len(text.encode()).to_bytes(2, "big") + text.encode()
    with pytest.raises(RemoteProtocolError, match="control"):
        decode(raw)


@pytest.mark.parametrize("name", ["", "colon:", "x" * (MAX_NAME_BYTES + 1), "tab\t", "\u202ebob"])
def test_a_name_the_server_sends_is_refused_if_a_terminal_could_not_show_it_safely(name: str) -> None:
    with pytest.raises(LocalProtocolError):
        encode(Text(name, "hi"))
    raw = bytes([Join.TYPE]) + len(name.encode()).to_bytes(2, "big") + name.encode()
    with pytest.raises(RemoteProtocolError):
        decode(raw)


@pytest.mark.parametrize("name", ["", "has space", "bob\u200b", "\u202ebob", "tab\t", "x" * 200])
def test_a_name_a_client_asks_for_passes_the_codec_so_that_the_room_can_say_why_it_is_refused(
    name: str,
) -> None:
    for message in (Hello(name), Nick(name), Whisper(name, "hi")):
        assert decode(encode(message)) == message


def test_hello_and_welcome_without_a_revision_are_revision_1_and_carry_it_only_from_revision_2() -> None:
    assert encode(Hello("ann", 1)) == b"\x01\x00\x03ann"
    assert decode(b"\x01\x00\x03ann") == Hello("ann", 1)
    assert encode(Hello("ann", 2)) == b"\x01\x00\x03ann\x02"
    assert decode(encode(Welcome("ann", ("ann",), 1))) == Welcome("ann", ("ann",), 1)
    assert encode(Welcome("ann", ("ann",), 1)) == b"\x02\x00\x03ann\x00\x01\x00\x03ann"
    with pytest.raises(RemoteProtocolError, match="revision"):
        decode(b"\x01\x00\x03ann\x00")


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "empty"),
        (b"\xff", "unknown message type"),
        (b"\x01\x00\x05ab", "truncated"),
        (b"\x01\x00\x02ab\x02" + bytes(8) + b"!", "trailing"),
        (b"\x01\x00\x02\xff\xfe", "invalid UTF-8"),
        (b"\x07\x00", "trailing"),
    ],
)
def test_malformed_messages_are_rejected(raw: bytes, error: str) -> None:
    with pytest.raises(RemoteProtocolError, match=error):
        decode(raw)


names = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"), blacklist_characters=":"
    ),
    min_size=1,
    max_size=8,
)
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=BIDI_CONTROLS),
    max_size=200,
)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.builds(Say, texts), st.builds(Text, names, texts), st.builds(Leave, names, texts)))
def test_generated_messages_round_trip(message: Message) -> None:
    assert decode(encode(message)) == message


@pytest.mark.parametrize("control", BIDI_CONTROLS)
def test_bidi_overrides_and_isolates_are_refused_in_text_both_ways(control: str) -> None:
    with pytest.raises(LocalProtocolError, match="bidirectional control"):
        encode(Say(f"abc{control}def"))
    raw = bytes([Text.TYPE]) + b"\x00\x03bob" + len(f"a{control}".encode()).to_bytes(2, "big")
    with pytest.raises(RemoteProtocolError, match="bidirectional control"):
        decode(raw + f"a{control}".encode())


def test_text_keeps_what_people_write_greek_emoji_and_joiners() -> None:
    for text in ["Καλημέρα", "👩\u200d💻 at work", "مرحبا", "\u200fRTL mark is fine"]:
        assert check_text(text) is None
