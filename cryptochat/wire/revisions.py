"""How the chat messages grow without breaking older clients: revisions and older forms. No I/O.

A client says in Hello the newest revision it speaks, and the server uses the lower of that and its own
(Welcome says which). The server never sends a client a message newer than that revision: it sends the
older form given here instead, or nothing. Revision 1 is the first protocol, types 0x01..0x0C.
"""

from __future__ import annotations

from .messages import (
    REVISION,
    Emote,
    Emoted,
    History,
    HistoryAction,
    Message,
    Private,
    Text,
    Whisper,
)

__all__ = ["REVISION", "for_revision", "introduced_in", "negotiate"]

_INTRODUCED: dict[type[Message], int] = {
    Emote: 2,
    Emoted: 2,
    Whisper: 2,
    Private: 2,
    History: 2,
    HistoryAction: 2,
}
"""The revision that added each type; every type not listed is from revision 1."""


def introduced_in(message: Message) -> int:
    return _INTRODUCED.get(type(message), 1)


def negotiate(asked: int) -> int:
    """The revision a connection uses: the lower of what the client speaks and what this side does."""
    return min(asked, REVISION)


def for_revision(message: Message, revision: int) -> Message | None:
    """What a client speaking ``revision`` gets for ``message``: itself, an older form, or nothing."""
    if introduced_in(message) <= revision:
        return message
    match message:
        case Emoted(sender=sender, text=text):
            # What people wrote before there was /me: the same line, marked as an action.
            return Text(sender, f"* {text}")
        # Replayed lines would pass for lines said now, and a private line for a public one: nothing.
        case _:
            return None
