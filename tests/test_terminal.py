"""The terminal console as a user meets it: real processes on real pseudo-terminals, the screen rendered."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_support import CTRL_C, CTRL_D, ROWS, Terminal

from cryptochat.client.terminal import name_style

TIME = r"\[\d\d:\d\d\] "
Room = tuple[Terminal, str]

_started: list[Terminal] = []


def start(args: list[str], shell: bool = False, rows: int = ROWS) -> Terminal:
    terminal = Terminal(args, shell=shell, rows=rows)
    _started.append(terminal)
    return terminal


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    yield
    while _started:
        _started.pop().kill()


@pytest.fixture
def operator(key_file: str) -> Room:
    """A room whose operator is at a terminal, and its port."""
    server = start(["serve", "--host", "127.0.0.1", "--port", "0", "--key-file", key_file, "--name", "op"])
    screen = server.wait_for(r"listening on 127\.0\.0\.1:\d+ as op")
    port = re.search(r"listening on 127\.0\.0\.1:(\d+)", screen)
    assert port is not None
    return server, port.group(1)


def join(key_file: str, port: str, name: str) -> Terminal:
    client = start(["connect", "127.0.0.1", port, "--key-file", key_file, "--name", name])
    client.wait_for(f"connected to 127.0.0.1:{port} as {name}")
    return client


def test_own_lines_show_time_and_name_like_everyone_elses(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.type("hello there\r")
    alice.wait_for(f"^{TIME}alice: hello there$")
    server.wait_for(f"^{TIME}alice: hello there$")
    server.type("hi alice\r")
    server.wait_for(f"^{TIME}op: hi alice$")
    alice.wait_for(f"^{TIME}op: hi alice$")


def test_the_toolbar_shows_name_members_engine_and_state(key_file: str, operator: Room) -> None:
    _, port = operator
    alice = join(key_file, port, "alice")
    alice.wait_for(r"^ alice │ 2 in the room │ software │ connected")
    alice.wait_for(r"/help for commands")


def test_an_incoming_line_leaves_the_half_typed_one_alone(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.type("half a thou")
    alice.wait_until(lambda _: alice.input_line() == "half a thou", "the half-typed line")
    server.type("interrupting\r")
    alice.wait_for(f"^{TIME}op: interrupting$")
    assert alice.input_line() == "half a thou"
    alice.type("ght\r")
    server.wait_for(f"^{TIME}alice: half a thought$")


def test_a_three_line_paste_is_three_messages(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.paste("one\ntwo\n\tthree")
    alice.type("\r")
    screen = server.wait_for(f"^{TIME}alice: +three$")
    assert re.search(f"^{TIME}alice: one\n{TIME}alice: two\n{TIME}alice:     three$", screen, re.MULTILINE)


def test_up_brings_back_the_line_sent_before(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.type("say it again\r")
    server.wait_for(f"^{TIME}alice: say it again$")
    alice.type("\x1b[A")  # Up
    alice.wait_until(lambda _: alice.input_line() == "say it again", "the previous line")


def test_a_longer_paste_asks_first_then_sends_every_line(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.paste("\n".join(f"line {i}" for i in range(1, 6)) + "\n/quit")
    alice.type("\r")
    alice.wait_for("6 lines: Enter again sends them as 6 messages, Ctrl-C clears")
    alice.type("\r")
    server.wait_for(f"^{TIME}alice: /quit$")  # a pasted line is text, never a command
    assert all(f"alice: line {i}" in server.text for i in range(1, 6))


def test_private_lines_and_actions(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    bob = join(key_file, port, "bob")
    alice.type("/msg BOB just for you\r")
    alice.wait_for(f"^{TIME}alice → bob \\(private\\): just for you$")
    bob.wait_for(f"^{TIME}alice \\(private\\): just for you$")
    alice.type("/ME waves\r")
    bob.wait_for(f"^{TIME}\\* alice waves$")
    server.wait_for(f"^{TIME}\\* alice waves$")
    assert "just for you" not in server.text
    alice.type("/msg nobody hello?\r")
    alice.wait_for("the server says: nobody called nobody is here")


def test_commands_are_case_insensitive_and_help_lists_them(key_file: str, operator: Room) -> None:
    _, port = operator
    alice = join(key_file, port, "alice")
    alice.type("/WHO\r")
    alice.wait_for(r"present \(2\): op, alice")
    alice.type("/Help\r")
    screen = alice.wait_for(r"/quit \[REASON\]: leave")
    for usage in ["/who", "/nick NAME", "/me ACTION", "/msg NAME TEXT", "/help [COMMAND]"]:
        assert usage in screen
    alice.type("/frobnicate\r")
    alice.wait_for("unknown command /frobnicate")
    assert alice.input_line() == "/frobnicate"  # kept, to fix the typo


def test_ctrl_c_clears_the_line_and_quits_only_on_an_empty_one(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.type("a draft")
    alice.wait_until(lambda _: alice.input_line() == "a draft", "the draft")
    alice.type(CTRL_C)
    alice.wait_until(lambda _: alice.input_line() == "", "the line cleared")
    assert alice.child.isalive()
    alice.type(CTRL_C)
    assert alice.exit_status() == 0
    server.wait_for(r"alice left \(bye\)")


def test_quit_with_a_reason_tells_the_others(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.type("/quit gone fishing\r")
    assert alice.exit_status() == 0
    server.wait_for(r"alice left \(gone fishing\)")


def test_the_operators_ctrl_d_asks_before_closing_the_room(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    server.type(CTRL_D)
    server.wait_for("Shut the room down for everyone\\? y: yes, any other key: no")
    server.type("n")
    server.wait_for("-- going on")
    server.type("still open\r")
    alice.wait_for(f"^{TIME}op: still open$")
    server.type(CTRL_D)
    server.wait_for("Shut the room down")
    server.type("y")
    assert server.exit_status() == 0
    alice.wait_for("the server said goodbye: the server is shutting down; reconnecting in")
    alice.wait_for(r"^ alice │ \d+ in the room │ software │ reconnecting in \d+ s")


def test_the_operators_quit_reason_reaches_everyone(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    server.type("/quit back in five\r")
    assert server.exit_status() == 0
    alice.wait_for("the server said goodbye: the server is shutting down: back in five")


def test_a_line_over_the_limit_is_refused_and_kept_for_editing(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.paste("x" * 10_000)
    alice.type("\r")
    alice.wait_for(r"! not sent: it is 10000 bytes of UTF-8, over the limit of 4096 \(kept for editing\)")
    alice.type(CTRL_C)  # the line was kept: Ctrl-C clears it instead of quitting
    alice.type("short now\r")
    server.wait_for(f"^{TIME}alice: short now$")
    assert alice.child.isalive()
    assert "Traceback" not in alice.text


def test_greek_and_emoji_arrive_intact(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.type("Καλημέρα κόσμε 👋🏽\r")
    server.wait_for(f"^{TIME}alice: Καλημέρα κόσμε 👋🏽")


def test_escape_sequences_typed_by_hand_are_text_not_a_crash(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.type("\x1b[31m")  # typed quickly: Esc, then [31m; it looks like a mouse report
    alice.type("\x1b[2;3R\x1b[<0;1;2M\x1bOP")
    alice.type(" red?\r")
    server.wait_for(f"^{TIME}alice: .*red\\?$")
    assert alice.child.isalive()
    assert "Traceback" not in alice.text + server.text
    assert "Press ENTER" not in alice.text


# Fragments of what terminals send and people mistype: escape prefixes, reports, pastes, controls.
_KEY_SOUP = [
    "\x1b[", "\x1b[M", "\x1b[<", "\x1bO", "\x1b", "[", ";", "m", "M", "R", "~", "31", "999999999999",
    "\x00", "\x1f", "\x7f", "a", "é", "👋", "\x1b[200~", "\x1b[201~", "\x1b[5~", "\x1b[6~", "\x1b[A",
    "\t", "\r", "\x08", "\x15", "\x17", "\x1a", "\x12", "\x1b[1;5C", "\x1b]0;x\x07", "/", "/msg", " ",
]


def test_no_key_sequence_brings_the_console_down(key_file: str, operator: Room) -> None:
    rng = random.Random(9)
    server, port = operator
    alice = join(key_file, port, "alice")
    for _ in range(200):
        alice.type("".join(rng.choice(_KEY_SOUP) for _ in range(rng.randint(1, 8))))
    alice.type("\x03\x03")  # Ctrl-C: clear whatever is left, then (on the empty line) quit
    alice.type("\x03")
    assert alice.exit_status() == 0
    assert "Traceback" not in alice.text
    server.wait_for(r"alice left \(bye\)")


def test_names_that_look_alike_are_told_apart(key_file: str, operator: Room) -> None:
    _, port = operator
    join(key_file, port, "bob")
    mallory = start(["connect", "127.0.0.1", port, "--key-file", key_file, "--name", "b0b"])
    mallory.wait_for("the name b0b is taken; you are b0b-2")
    mallory.type("/nick BOB\r")
    mallory.wait_for(r"the server says: the name BOB is taken \(too much like bob\)")
    mallory.type("/nick bob\u200b\r")
    mallory.wait_for(r"name not changed: a name must not contain U\+200B \(ZERO WIDTH SPACE\)")


def test_with_stdout_piped_the_terminal_console_still_takes_commands(
    key_file: str, operator: Room, tmp_path: os.PathLike[str]
) -> None:
    server, port = operator
    log = os.path.join(tmp_path, "log")
    tee = start(
        ["{cryptochat}", "connect", "127.0.0.1", port, "--key-file", key_file, "--name", "teeuser",
         "|", "tee", log],
        shell=True,
    )
    tee.wait_for("connected to")
    tee.type("typed through tee\r")
    server.wait_for("teeuser: typed through tee")
    tee.type("/quit\r")
    assert tee.exit_status() == 0
    server.wait_for(r"teeuser left \(bye\)")
    assert "teeuser: /quit" not in server.text
    with open(log, encoding="utf-8") as f:
        transcript = f.read()
    assert re.search(f"^{TIME}teeuser: typed through tee$", transcript, re.MULTILINE)


def test_the_operators_log_goes_to_stderr_when_it_is_redirected(
    key_file: str, tmp_path: os.PathLike[str]
) -> None:
    log = os.path.join(tmp_path, "op.log")
    server = start(
        ["{cryptochat}", "serve", "--host", "127.0.0.1", "--port", "0", "--key-file", key_file,
         "--max-clients", "1", "2>" + log],
        shell=True,
    )
    screen = server.wait_for(r"listening on 127\.0\.0\.1:\d+")
    port = re.search(r"listening on 127\.0\.0\.1:(\d+)", screen)
    assert port is not None
    join(key_file, port.group(1), "first")
    second_log = os.path.join(tmp_path, "second.log")
    second = start(
        ["{cryptochat}", "connect", "127.0.0.1", port.group(1), "--key-file", key_file, "--name", "second",
         "2>" + second_log],
        shell=True,
    )
    assert second.exit_status() == 1
    server.wait_for("refused second: the room is full")
    with open(second_log, encoding="utf-8") as f:
        refusal = "cryptochat: the server refused us: the room is full (1 clients)"
        assert f.read().splitlines()[1:] == [refusal]
    server.type("/quit\r")
    assert server.exit_status() == 0
    with open(log, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("engine: ")
    assert lines[1].startswith("listening on 127.0.0.1:")
    assert "refused second: the room is full (1 clients)" in lines
    assert lines[-1] == "shutting down"


def test_a_newcomer_sees_recent_lines_at_the_time_they_were_said(key_file: str, operator: Room) -> None:
    server, port = operator
    server.type("said before anyone came\r")
    server.type("/me lights the fire\r")
    server.wait_for(f"^{TIME}\\* op lights the fire$")
    alice = join(key_file, port, "alice")
    alice.wait_for(f"^{TIME}op: said before anyone came$")
    alice.wait_for(f"^{TIME}\\* op lights the fire$")


def test_a_long_line_wraps_under_its_text_and_pageup_scrolls_back(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    server.paste("w" * 150)
    server.type("\r")
    screen = alice.wait_for(f"^{TIME}op: w+$")
    lines = screen.splitlines()
    first = next(i for i, line in enumerate(lines) if line.endswith("op: " + "w" * 88))
    assert lines[first + 1] == " " * 12 + "w" * 62  # under the text, past "[HH:MM] op: "
    for i in range(40):
        server.type(f"filler {i}\r")
    alice.wait_for(f"^{TIME}op: filler 39$")
    assert "filler 0" not in alice.text
    alice.type("\x1b[5~")  # PageUp
    alice.wait_for(r"scrolled back \d+ lines \(PageDown\)")
    alice.wait_for(f"^{TIME}op: filler 1\\d$")
    alice.type("\x1b[6~\x1b[6~")  # PageDown, back to the newest
    alice.wait_for(f"^{TIME}op: filler 39$")


USAGE = Path(__file__).resolve().parents[1] / "docs" / "usage.md"
SCREEN_BLOCK = re.compile(
    r"(<!-- screen: captured by tests/test_terminal\.py -->\n```text\n)(.*?)(```)", re.DOTALL
)


def test_the_screen_shown_in_the_usage_guide_is_the_real_one(key_file: str, operator: Room) -> None:
    """docs/usage.md shows this screen; CRYPTOCHAT_UPDATE_DOCS=1 rewrites it there from this run."""
    server, port = operator
    bob = join(key_file, port, "bob")
    server.type("welcome, both of you\r")
    alice = start(["connect", "127.0.0.1", port, "--key-file", key_file, "--name", "alice"], rows=14)
    alice.wait_for("connected to")
    bob.type("Καλημέρα! ☕\r")
    alice.wait_for("bob: Καλημέρα")
    alice.type("hi all, the build is green\r")
    alice.wait_for("alice: hi all")
    alice.type("/me ships it\r")
    alice.wait_for(r"\* alice ships it")
    alice.type("/msg bob lunch at one?\r")
    alice.wait_for(r"alice → bob \(private\): lunch at one\?")
    bob.type("/msg alice sure\r")
    alice.wait_for(r"bob \(private\): sure")
    alice.type("typing while th")
    screen = alice.wait_until(lambda _: alice.input_line() == "typing while th", "the half-typed line")
    screen = re.sub(r"\[\d\d:\d\d\]", "[14:02]", screen)
    screen = re.sub(r"127\.0\.0\.1:\d+", "chat.example.org:5555", screen)
    doc = USAGE.read_text(encoding="utf-8")
    if os.environ.get("CRYPTOCHAT_UPDATE_DOCS") == "1":
        doc = SCREEN_BLOCK.sub(lambda m: m.group(1) + screen + "\n" + m.group(3), doc)
        USAGE.write_text(doc, encoding="utf-8")
    shown = SCREEN_BLOCK.search(doc)
    assert shown is not None, "docs/usage.md has no captured screen block"
    assert shown.group(2) == screen + "\n"


def _colour_of(terminal: Terminal, pattern: str) -> str:
    """The foreground colour of the first character of the screen line matching ``pattern``'s name."""
    for y, line in enumerate(terminal.text.splitlines()):
        found = re.search(pattern, line)
        if found:
            return str(terminal.screen.buffer[y][found.start(1)].fg)
    raise AssertionError(f"no line matches {pattern!r}")


def test_a_name_has_the_same_colour_on_every_screen_and_names_differ(key_file: str, operator: Room) -> None:
    assert name_style("alice") != name_style("bob")
    server, port = operator
    alice = join(key_file, port, "alice")
    bob = join(key_file, port, "bob")
    alice.type("colour check\r")
    bob.wait_for(f"^{TIME}alice: colour check$")
    server.wait_for(f"^{TIME}alice: colour check$")
    alice.wait_for(f"^{TIME}alice: colour check$")
    bob.type("me too\r")
    alice.wait_for(f"^{TIME}bob: me too$")
    seen = {_colour_of(t, rf"^{TIME}(alice): colour check$") for t in (alice, bob, server)}
    assert len(seen) == 1 and seen != {"default"}
    assert _colour_of(alice, rf"^{TIME}(bob): me too$") not in seen | {"default"}
