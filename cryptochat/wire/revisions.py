"""How the chat messages grow without breaking older clients: revisions and older forms. No I/O.

A client says in Hello the newest revision it speaks, and the server uses the lower of that and its own
(Welcome says which). The server never sends a client a message, or a field, newer than that revision: it
sends the older form given here instead, or nothing. Revision 1 is the first protocol, types 0x01..0x0C
without the optional fields that follow a Hello's name or a Text's line.
"""

from __future__ import annotations

from .messages import (
    REVISION,
    Absence,
    Emoted,
    Error,
    History,
    HistoryAction,
    Message,
    Notice,
    Private,
    Text,
    Whispered,
)

__all__ = ["REVISION", "for_revision", "negotiate"]


def negotiate(asked: int) -> int:
    """The revision a connection uses: the lower of what the client speaks and what this side does."""
    return min(asked, REVISION)


def for_revision(message: Message, revision: int) -> Message | None:
    """What a client speaking ``revision`` gets for ``message``: itself, an older form, or nothing."""
    if revision >= 4:  # each step below names the revision that added it, not the newest
        return message
    if isinstance(message, Absence):
        # Revision 4 added being away; before, nobody was seen away, in /who or anywhere else.
        return None
    if revision >= 3:
        return message
    if isinstance(message, Notice):
        # Revision 3 added Notice; before, a notice came as an Error, which those clients show.
        return Error(message.text)
    if revision >= 2:
        return message
    match message:
        case Text(seq=None):
            return message
        case Text(sender=sender, text=text):
            return Text(sender, text)
        case Emoted(sender=sender, text=text):
            # What people wrote before there was /me: the same line, marked as an action.
            return Text(sender, f"* {text}")
        # Replayed lines would pass for lines said now, and a private line for a public one: nothing.
        case History() | HistoryAction() | Private() | Whispered():
            return None
        case _:
            return message
