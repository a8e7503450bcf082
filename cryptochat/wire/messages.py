"""Chat messages carried one per record: frozen dataclasses with a strict binary codec. No I/O.

Encoding: one type byte, then the fields in order. A string is a 2-byte big-endian length and that many
bytes of UTF-8; a list of names is a 2-byte count followed by that many strings. A message must use exactly
all of its bytes. Decoding rejects anything malformed with :class:`~cryptochat.errors.RemoteProtocolError`;
encoding an invalid message raises :class:`~cryptochat.errors.LocalProtocolError`.

Text never contains control characters (Unicode category Cc): a participant must not be able to drive the
other participants' terminals with escape sequences. Nor does it contain bidirectional overrides or isolates,
which would reorder what the others see (Trojan Source). A name the server sends is one it accepted by the
rule of :mod:`.names`; here it is only checked for what would harm a terminal. A name a client asks for is
any UTF-8 at all, so that the room, not the codec, refuses it and always says why.

Optional fields come last: a revision absent on the wire means revision 1, an absent line number or time
means none (see :mod:`.revisions`); an optional field is written only with all the optional fields
before it.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar

from ..errors import LocalProtocolError, RemoteProtocolError
from .names import MAX_NAME_BYTES

__all__ = [
    "MAX_ACTION_BYTES",
    "MAX_ASKED_BYTES",
    "MAX_NAME_BYTES",
    "MAX_REASON_BYTES",
    "MAX_TEXT_BYTES",
    "REVISION",
    "Absence",
    "Away",
    "Bye",
    "Emote",
    "Emoted",
    "Error",
    "Hello",
    "History",
    "HistoryAction",
    "Join",
    "Leave",
    "Members",
    "Message",
    "Nick",
    "Notice",
    "Private",
    "Renamed",
    "Say",
    "Text",
    "Welcome",
    "Whisper",
    "Whispered",
    "Who",
    "check_shown_name",
    "check_text",
    "decode",
    "encode",
]

MAX_TEXT_BYTES = 4096
"""Largest chat line, in bytes of UTF-8."""
MAX_ACTION_BYTES = MAX_TEXT_BYTES - 2
"""Largest action: its older form, a Text ``* ACTION``, must fit a chat line."""
MAX_REASON_BYTES = 256
MAX_ASKED_BYTES = 256
"""Largest name a client may ask for (Hello, Nick, Whisper): NFKC may shorten it, the room judges it."""
REVISION = 4
"""The newest revision of the chat messages, which this implementation speaks (docs/protocol.md)."""
MAX_MEMBERS = 4096

_U16 = struct.Struct(">H")


# Cc (C0, DEL, C1 controls), Cs (lone surrogates, which cannot be encoded as UTF-8 at all), and the
# bidirectional embeddings, overrides (U+202A..U+202E) and isolates (U+2066..U+2069). A regex rather than
# unicodedata per character: every relayed line passes through here.
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")  # control characters have no name in the Unicode database
    return f"U+{ord(char):04X} ({name})" if name else f"U+{ord(char):04X}"


def check_shown_name(name: str) -> str | None:
    """Why ``name`` cannot be a name the server sends, or ``None``: what a terminal could not show safely.

    The server sends only names its room accepted (:func:`.names.check_name`, a stricter rule); a receiver
    checks no more than this, so that it does not depend on the server's version of Unicode.
    """
    size = len(name.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= MAX_NAME_BYTES:
        return f"a name must be 1 to {MAX_NAME_BYTES} bytes of UTF-8"
    if ":" in name:
        return "a name must not contain a colon"
    return check_text(name)


def check_text(text: str, limit: int = MAX_TEXT_BYTES) -> str | None:
    """Why ``text`` cannot be sent, or ``None`` if it can."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        return f"it is {size} bytes of UTF-8, over the limit of {limit}"
    found = _FORBIDDEN_IN_TEXT.search(text)
    if found is not None:
        if _CONTROL.match(found.group()):
            return f"it contains the control character {_describe(found.group())}"
        return (
            f"it contains {_describe(found.group())}, a bidirectional control that would reorder "
            "what the others see"
        )
    return None


# Field kinds: each message field is a name, free text of some limit, or a list of names.
_NAME = "name"
_ASKED = "asked"
_TEXT = "text"
_ACTION = "action"
_REASON = "reason"
_NAMES = "names"
_REVISION = "revision"
_LINE = "line"  # a line number or a time: optional 8-byte number
_NUMBER = "number"  # the same, always present
_OPTIONAL = {_REVISION: 1, _LINE: None}
"""Optional kinds, and the value their absence stands for."""
_U64 = struct.Struct(">Q")
_LIMITS = {_TEXT: MAX_TEXT_BYTES, _ACTION: MAX_ACTION_BYTES, _REASON: MAX_REASON_BYTES}


@dataclass(frozen=True, slots=True)
class Hello:
    """Client -> server, first message: the name the client would like, the newest revision it speaks, and
    the number of the last room line it has (on a reconnection: the room replays only what came after)."""

    name: str
    revision: int = REVISION
    seen: int | None = None
    TYPE: ClassVar[int] = 0x01
    KINDS: ClassVar[tuple[str, ...]] = (_ASKED, _REVISION, _LINE)


@dataclass(frozen=True, slots=True)
class Welcome:
    """Server -> client: the name given (the asked one, or made unique), who is present, the revision used."""

    name: str
    members: tuple[str, ...]
    revision: int = REVISION
    TYPE: ClassVar[int] = 0x02
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _NAMES, _REVISION)


@dataclass(frozen=True, slots=True)
class Say:
    """Client -> server: a chat line for everyone else."""

    text: str
    TYPE: ClassVar[int] = 0x03
    KINDS: ClassVar[tuple[str, ...]] = (_TEXT,)


@dataclass(frozen=True, slots=True)
class Text:
    """Server -> client: a chat line and who said it; from revision 2, its number and time."""

    sender: str
    text: str
    seq: int | None = None
    time: int | None = None
    """Milliseconds since the Unix epoch, when the server took the line."""
    TYPE: ClassVar[int] = 0x04
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _TEXT, _LINE, _LINE)


@dataclass(frozen=True, slots=True)
class Join:
    name: str
    TYPE: ClassVar[int] = 0x05
    KINDS: ClassVar[tuple[str, ...]] = (_NAME,)


@dataclass(frozen=True, slots=True)
class Leave:
    name: str
    reason: str
    TYPE: ClassVar[int] = 0x06
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _REASON)


@dataclass(frozen=True, slots=True)
class Who:
    """Client -> server: ask for the member list."""

    TYPE: ClassVar[int] = 0x07
    KINDS: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, slots=True)
class Members:
    names: tuple[str, ...]
    TYPE: ClassVar[int] = 0x08
    KINDS: ClassVar[tuple[str, ...]] = (_NAMES,)


@dataclass(frozen=True, slots=True)
class Nick:
    """Client -> server: change my name."""

    name: str
    TYPE: ClassVar[int] = 0x09
    KINDS: ClassVar[tuple[str, ...]] = (_ASKED,)


@dataclass(frozen=True, slots=True)
class Renamed:
    old: str
    new: str
    TYPE: ClassVar[int] = 0x0A
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _NAME)


@dataclass(frozen=True, slots=True)
class Error:
    """Server -> client: a request was refused (the connection stays up unless a Bye follows)."""

    reason: str
    TYPE: ClassVar[int] = 0x0B
    KINDS: ClassVar[tuple[str, ...]] = (_REASON,)


@dataclass(frozen=True, slots=True)
class Bye:
    """Either way: the sender is leaving (client) or closing the room or this connection (server)."""

    reason: str
    TYPE: ClassVar[int] = 0x0C
    KINDS: ClassVar[tuple[str, ...]] = (_REASON,)


@dataclass(frozen=True, slots=True)
class Emote:
    """Client -> server: an action for everyone else (``/me waves``)."""

    text: str
    TYPE: ClassVar[int] = 0x0D
    KINDS: ClassVar[tuple[str, ...]] = (_ACTION,)


@dataclass(frozen=True, slots=True)
class Emoted:
    """Server -> client: an action and who did it, its number and time (as for :class:`Text`)."""

    sender: str
    text: str
    seq: int | None = None
    time: int | None = None
    TYPE: ClassVar[int] = 0x0E
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _ACTION, _LINE, _LINE)


@dataclass(frozen=True, slots=True)
class Whisper:
    """Client -> server: a private line for one member only."""

    to: str
    text: str
    TYPE: ClassVar[int] = 0x0F
    KINDS: ClassVar[tuple[str, ...]] = (_ASKED, _TEXT)


@dataclass(frozen=True, slots=True)
class Private:
    """Server -> client: a private line and who sent it."""

    sender: str
    text: str
    TYPE: ClassVar[int] = 0x10
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _TEXT)


@dataclass(frozen=True, slots=True)
class History:
    """Server -> client, right after Welcome: a chat line said before this member joined, its number and
    its original time."""

    sender: str
    text: str
    seq: int
    time: int
    TYPE: ClassVar[int] = 0x11
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _TEXT, _NUMBER, _NUMBER)


@dataclass(frozen=True, slots=True)
class HistoryAction:
    """Server -> client, right after Welcome: an action done before this member joined (as History)."""

    sender: str
    text: str
    seq: int
    time: int
    TYPE: ClassVar[int] = 0x12
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _ACTION, _NUMBER, _NUMBER)


@dataclass(frozen=True, slots=True)
class Whispered:
    """Server -> client: your private line reached this member (by its real name)."""

    to: str
    text: str
    TYPE: ClassVar[int] = 0x13
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _TEXT)


@dataclass(frozen=True, slots=True)
class Notice:
    """Server -> client (revision 3): news from the server that refuses nothing (the room's shared store
    went away or came back); the connection and the room go on."""

    text: str
    TYPE: ClassVar[int] = 0x14
    KINDS: ClassVar[tuple[str, ...]] = (_REASON,)


@dataclass(frozen=True, slots=True)
class Away:
    """Client -> server (revision 4): I am away, for this reason; an empty reason: I am back."""

    reason: str
    TYPE: ClassVar[int] = 0x15
    KINDS: ClassVar[tuple[str, ...]] = (_REASON,)


@dataclass(frozen=True, slots=True)
class Absence:
    """Server -> client (revision 4): this member is away, for this reason, or (empty) back. Sent when it
    changes, and after Members for each member who is away."""

    name: str
    reason: str
    TYPE: ClassVar[int] = 0x16
    KINDS: ClassVar[tuple[str, ...]] = (_NAME, _REASON)


Message = (
    Hello | Welcome | Say | Text | Join | Leave | Who | Members | Nick | Renamed | Error | Bye
    | Emote | Emoted | Whisper | Private | History | HistoryAction | Whispered | Notice | Away | Absence
)

_TYPES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello, Welcome, Say, Text, Join, Leave, Who, Members, Nick, Renamed, Error, Bye,
        Emote, Emoted, Whisper, Private, History, HistoryAction, Whispered, Notice, Away, Absence,
    )
}


def _check_field(kind: str, value: object) -> str | None:
    if kind == _REVISION:
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 255
        return None if ok else "a revision is a number from 1 to 255"
    if kind in (_LINE, _NUMBER):
        if kind == _LINE and value is None:
            return None
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64
        return None if ok else "a line number or time is a number from 0 to 2^64 - 1"
    if kind == _NAMES:
        if not isinstance(value, tuple) or len(value) > MAX_MEMBERS:
            return f"a name list must be a tuple of at most {MAX_MEMBERS} names"
        return next((p for p in map(_check_one_name, value) if p is not None), None)
    if not isinstance(value, str):
        return "must be a string"
    if kind == _NAME:
        return check_shown_name(value)
    if kind == _ASKED:
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > MAX_ASKED_BYTES:
            return f"a name asked for must be at most {MAX_ASKED_BYTES} bytes of UTF-8"
        # Controls and all are the room's to refuse, with a reason; only what UTF-8 cannot carry is not.
        return "contains a lone surrogate" if _SURROGATE.search(value) else None
    return check_text(value, _LIMITS[kind])


def _check_one_name(value: object) -> str | None:
    return check_shown_name(value) if isinstance(value, str) else "a name must be a string"


def _put_str(out: bytearray, value: str) -> None:
    raw = value.encode("utf-8")
    out += _U16.pack(len(raw))
    out += raw


def encode(message: Message) -> bytes:
    """Serialize ``message``; raise :class:`LocalProtocolError` if any field is invalid."""
    out = bytearray([message.TYPE])
    values = [(kind, field.name, getattr(message, field.name)) for kind, field in zip(
        message.KINDS, fields(message), strict=True
    )]
    # Optional fields are written up to the last one that is present: absent means revision 1 (what a
    # client of revision 1 sends and expects) or no number.
    written = max(
        (i for i, (kind, _, value) in enumerate(values) if kind not in _OPTIONAL or value != _OPTIONAL[kind]),
        default=-1,
    )
    for i, (kind, name, value) in enumerate(values):
        problem = _check_field(kind, value)
        if problem is None and i < written and kind == _LINE and value is None:
            problem = "absent, but a later field is present"
        if problem is not None:
            raise LocalProtocolError(f"{type(message).__name__}.{name}: {problem}")
        if i > written:
            break
        if kind == _NAMES:
            out += _U16.pack(len(value))
            for each in value:
                _put_str(out, each)
        elif kind == _REVISION:
            out.append(value)
        elif kind in (_LINE, _NUMBER):
            out += _U64.pack(value)
        else:
            _put_str(out, value)
    return bytes(out)


class _Reader:
    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, n: int) -> bytes:
        end = self._pos + n
        if end > len(self._data):
            raise RemoteProtocolError("message is truncated")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u16(self) -> int:
        (value,) = _U16.unpack(self.take(_U16.size))
        return int(value)

    def string(self) -> str:
        raw = self.take(self.u16())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteProtocolError("message contains invalid UTF-8") from None

    def revision(self) -> int:
        return 1 if self.done() else self.take(1)[0]

    def number(self) -> int:
        (value,) = _U64.unpack(self.take(_U64.size))
        return int(value)

    def line(self) -> int | None:
        return None if self.done() else self.number()

    def done(self) -> bool:
        return self._pos == len(self._data)


_READERS: dict[str, Callable[[_Reader], object]] = {
    _NAME: _Reader.string,
    _ASKED: _Reader.string,
    _TEXT: _Reader.string,
    _ACTION: _Reader.string,
    _REASON: _Reader.string,
    _NAMES: lambda r: tuple(r.string() for _ in range(r.u16())),
    _REVISION: _Reader.revision,
    _LINE: _Reader.line,
    _NUMBER: _Reader.number,
}


def decode(data: bytes) -> Message:
    """Parse one message; raise :class:`RemoteProtocolError` on anything malformed."""
    if not data:
        raise RemoteProtocolError("empty message")
    cls = _TYPES.get(data[0])
    if cls is None:
        raise RemoteProtocolError(f"unknown message type {data[0]:#x}")
    reader = _Reader(data[1:])
    values = [_READERS[kind](reader) for kind in cls.KINDS]
    if not reader.done():
        raise RemoteProtocolError(f"{cls.__name__} has trailing bytes")
    for kind, value, field in zip(cls.KINDS, values, fields(cls), strict=True):
        problem = _check_field(kind, value)
        if problem is not None:
            raise RemoteProtocolError(f"{cls.__name__}.{field.name}: {problem}")
    return cls(*values)  # type: ignore[arg-type]
