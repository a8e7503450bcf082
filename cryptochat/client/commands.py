"""What a typed line means: a chat line or a slash command. Pure: no I/O, no terminal.

Command words are case-insensitive (``/WHO`` is ``/who``); a line starting with ``//`` is sent as a chat
line with one ``/`` removed. A line that is not a valid command is never sent: the caller shows why.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..wire.messages import MAX_ACTION_BYTES, MAX_REASON_BYTES, check_text
from ..wire.names import check_name, normalise_name

__all__ = [
    "COMMANDS",
    "Act",
    "AskWho",
    "BeAway",
    "ChangeNick",
    "Clear",
    "Command",
    "Help",
    "Ignore",
    "Quit",
    "Reconnect",
    "SendPrivate",
    "SendText",
    "check_command",
    "help_text",
    "parse_line",
]


@dataclass(frozen=True, slots=True)
class SendText:
    text: str


@dataclass(frozen=True, slots=True)
class Act:
    """``/me ACTION``."""

    text: str


@dataclass(frozen=True, slots=True)
class SendPrivate:
    """``/msg NAME TEXT``."""

    to: str
    text: str


@dataclass(frozen=True, slots=True)
class AskWho:
    pass


@dataclass(frozen=True, slots=True)
class BeAway:
    """``/away [REASON]``: away for ``reason``, or back (empty)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChangeNick:
    name: str


@dataclass(frozen=True, slots=True)
class Help:
    """``/help [COMMAND]``: ``topic`` is the command asked about, or empty for all of them."""

    topic: str = ""


@dataclass(frozen=True, slots=True)
class Clear:
    """``/clear``: empty the view; the console's own business, nothing is sent."""


@dataclass(frozen=True, slots=True)
class Ignore:
    """``/ignore NAME``: hide, or show again, NAME's lines; the console's own business, nothing is sent."""

    name: str


@dataclass(frozen=True, slots=True)
class Reconnect:
    """``/reconnect``: while waiting to reconnect, try now."""


@dataclass(frozen=True, slots=True)
class Quit:
    """Leave; ``reason`` is what the others are told (empty: the default)."""

    reason: str = ""


Command = (
    SendText | Act | SendPrivate | AskWho | ChangeNick | BeAway | Help | Clear | Ignore | Reconnect | Quit
)

COMMANDS: dict[str, tuple[str, str]] = {
    "who": ("/who", "list who is in the room, and who is away"),
    "nick": ("/nick NAME", "change your name"),
    "me": ("/me ACTION", "say what you are doing, shown as * NAME ACTION"),
    "msg": ("/msg NAME TEXT", "a private line that only NAME receives"),
    "away": ("/away [REASON]", "say you are away, and why, in everyone's /who; /away alone: back"),
    "ignore": ("/ignore NAME", "hide NAME's lines from your screen; /ignore NAME again to stop"),
    "clear": ("/clear", "empty the view and its scrollback"),
    "reconnect": ("/reconnect", "while waiting to reconnect, try now"),
    "quit": ("/quit [REASON]", "leave (also Ctrl-D, or Ctrl-C on an empty line)"),
    "help": ("/help [COMMAND]", "this list, or the help of one command"),
}
"""Each command word: its usage and what it does."""


def help_text(topic: str = "") -> list[str]:
    """The lines ``/help`` shows: every command, or the one asked about."""
    word = topic.strip().lstrip("/").lower()
    if word in COMMANDS:
        usage, meaning = COMMANDS[word]
        return [f"{usage}: {meaning}"]
    lines = [] if not word else [f"no command /{word}"]
    lines += [f"{usage}: {meaning}" for usage, meaning in COMMANDS.values()]
    lines.append("//TEXT: send TEXT starting with one /")
    return lines


def parse_line(line: str) -> Command | str:
    """Turn a typed line into a command, or return why it is not one (never sent)."""
    if line.startswith("//"):
        return SendText(line[1:])
    if not line.startswith("/"):
        return SendText(line)
    word, _, rest = line[1:].partition(" ")
    word, rest = word.lower(), rest.strip()
    if word not in COMMANDS:
        return (
            f"unknown command /{word}: /help lists the commands; start with // to send a line beginning "
            "with /"
        )
    usage = f"usage: {COMMANDS[word][0]}"
    match word:
        case "who":
            return AskWho()
        case "help":
            return Help(rest)
        case "quit":
            return Quit(rest)
        case "clear":
            return Clear()
        case "reconnect":
            return Reconnect()
        case "away":
            return BeAway(rest)
        case "ignore":
            return Ignore(rest) if rest and " " not in rest else usage
        case "nick":
            return ChangeNick(rest) if rest and " " not in rest else usage
        case "me":
            return Act(rest) if rest else usage
        case _:
            to, _, text = rest.partition(" ")
            return SendPrivate(to, text.strip()) if to and text.strip() else usage


def check_command(command: Command) -> str | None:
    """Why ``command`` cannot be sent, in the user's words (never the codec's), or ``None``."""
    match command:
        case SendText(text=text):
            problem = check_text(text)
            return None if problem is None else f"not sent: {problem}"
        case Act(text=text):
            problem = check_text(text, MAX_ACTION_BYTES)
            return None if problem is None else f"not sent: {problem}"
        case SendPrivate(to=to, text=text):
            problem = check_text(text) or check_name(normalise_name(to))
            return None if problem is None else f"not sent: {problem}"
        case ChangeNick(name=name):
            problem = check_name(normalise_name(name))
            return None if problem is None else f"name not changed: {problem}"
        case Quit(reason=reason):
            problem = check_text(reason, MAX_REASON_BYTES)
            return None if problem is None else f"not quitting: the reason: {problem}"
        case BeAway(reason=reason):
            problem = check_text(reason, MAX_REASON_BYTES)
            return None if problem is None else f"not away: the reason: {problem}"
        case _:
            return None
