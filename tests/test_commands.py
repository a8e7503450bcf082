"""What typed lines mean, without a terminal."""

from __future__ import annotations

import pytest

from cryptochat.client.commands import (
    Act,
    AskWho,
    BeAway,
    ChangeNick,
    Clear,
    Help,
    Ignore,
    Quit,
    Reconnect,
    SendPrivate,
    SendText,
    check_command,
    help_text,
    parse_line,
)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("hello", SendText("hello")),
        ("//etc/passwd is a path", SendText("/etc/passwd is a path")),
        ("/who", AskWho()),
        ("/WHO", AskWho()),
        ("/Nick   alice ", ChangeNick("alice")),
        ("/me waves  back", Act("waves  back")),
        ("/MSG bob  see you at 5", SendPrivate("bob", "see you at 5")),
        ("/quit", Quit("")),
        ("/QUIT gone fishing", Quit("gone fishing")),
        ("/help", Help("")),
        ("/help msg", Help("msg")),
        ("/Clear", Clear()),
        ("/ignore  Bob ", Ignore("Bob")),
        ("/reconnect", Reconnect()),
        ("/AWAY  at lunch ", BeAway("at lunch")),
        ("/away", BeAway("")),
    ],
)
def test_lines_become_commands_whatever_the_case_of_the_command_word(line: str, command: object) -> None:
    assert parse_line(line) == command


@pytest.mark.parametrize(
    ("line", "usage"),
    [
        ("/nick", "usage: /nick NAME"),
        ("/nick two words", "usage: /nick NAME"),
        ("/me", "usage: /me ACTION"),
        ("/msg bob", "usage: /msg NAME TEXT"),
        ("/msg", "usage: /msg NAME TEXT"),
        ("/ignore", "usage: /ignore NAME"),
        ("/ignore two names", "usage: /ignore NAME"),
    ],
)
def test_a_command_used_wrongly_gives_its_usage(line: str, usage: str) -> None:
    assert parse_line(line) == usage


def test_an_unknown_command_is_never_sent_as_text() -> None:
    problem = parse_line("/frobnicate now")
    assert isinstance(problem, str)
    assert problem.startswith("unknown command /frobnicate: /help lists the commands")


def test_help_lists_every_command_or_explains_one() -> None:
    every = help_text()
    assert [line.split(":")[0] for line in every] == [
        "/who", "/nick NAME", "/me ACTION", "/msg NAME TEXT", "/away [REASON]", "/ignore NAME", "/clear",
        "/reconnect", "/quit [REASON]", "/help [COMMAND]", "//TEXT",
    ]
    assert help_text("/MSG") == ["/msg NAME TEXT: a private line that only NAME receives"]
    assert help_text("nope")[0] == "no command /nope"


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        (SendText("x" * 5000), "not sent: it is 5000 bytes of UTF-8, over the limit of 4096"),
        (Act("evil \u202e txt"), "not sent: it contains U+202E (RIGHT-TO-LEFT OVERRIDE), a bidirectional"),
        (SendPrivate("b ob", "hi"), "not sent: a name must not contain U+0020 (SPACE)"),
        (ChangeNick("bob\u200b"), "name not changed: a name must not contain U+200B (ZERO WIDTH SPACE)"),
        (Quit("r" * 300), "not quitting: the reason: it is 300 bytes of UTF-8, over the limit of 256"),
        (BeAway("r" * 300), "not away: the reason: it is 300 bytes of UTF-8, over the limit of 256"),
    ],
)
def test_what_cannot_be_sent_is_said_in_the_users_words(command: object, problem: str) -> None:
    said = check_command(command)  # type: ignore[arg-type]
    assert said is not None and said.startswith(problem)
    assert "Say" not in said and "Text." not in said
