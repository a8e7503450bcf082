"""The terminal console as a user meets it: real processes on real pseudo-terminals, the screen rendered."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_support import COLUMNS, CTRL_C, CTRL_D, ROWS, Terminal

from cryptochat.client.terminal import name_style

TIME = r"\[\d\d:\d\d\] "
Room = tuple[Terminal, str]

_started: list[Terminal] = []


def start(
    args: list[str],
    shell: bool = False,
    rows: int = ROWS,
    columns: int = COLUMNS,
    env: dict[str, str] | None = None,
) -> Terminal:
    terminal = Terminal(args, shell=shell, rows=rows, columns=columns, env=env)
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


def join(key_file: str, port: str, name: str, rows: int = ROWS) -> Terminal:
    client = start(["connect", "127.0.0.1", port, "--key-file", key_file, "--name", name], rows=rows)
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
    alice.wait_for(r"^ alice │ connected │ 2 in the room │ software")
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
    alice.wait_for(r"^ alice │ reconnecting in \d+ s │ software")


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


def test_names_that_look_alike_are_told_apart_and_a_refused_one_stays_in_the_editor(
    key_file: str, operator: Room
) -> None:
    _, port = operator
    join(key_file, port, "bob")
    mallory = start(["connect", "127.0.0.1", port, "--key-file", key_file, "--name", "b0b"])
    mallory.wait_for("the name b0b is taken; you are b0b-2")
    mallory.type("/nick BOB\r")
    mallory.wait_for(r"the server says: the name BOB is taken \(too much like bob\) \(kept for editing\)")
    assert mallory.input_line() == "/nick BOB"  # refused by the server, kept like a local refusal
    mallory.type(CTRL_C)
    mallory.type("/nick bob\u200b\r")
    mallory.wait_for(r"name not changed: a name must not contain U\+200B \(ZERO WIDTH SPACE\)")


def test_with_stdout_piped_the_pipe_console_says_so_and_the_screen_stays_clean(
    key_file: str, operator: Room, tmp_path: os.PathLike[str]
) -> None:
    server, port = operator
    log = os.path.join(tmp_path, "log")
    tee = start(
        ["{cryptochat}", "connect", "127.0.0.1", port, "--key-file", key_file, "--name", "teeuser",
         "|", "tee", log],
        shell=True,
    )
    tee.wait_for("^stdout is not a terminal, so this is the pipe console: each line is sent as it is")
    server.wait_for("teeuser joined")
    tee.type("typed through tee\r")
    server.wait_for(f"^{TIME}teeuser: typed through tee$")
    server.type("seen by tee\r")
    tee.wait_for("^op: seen by tee$")
    assert "│" not in tee.text  # no toolbar drawn over what tee writes
    tee.type(CTRL_D)
    assert tee.exit_status() == 0
    server.wait_for(r"teeuser left \(bye\)")
    with open(log, encoding="utf-8") as f:
        assert f.read().splitlines() == ["op: seen by tee"]  # the pipe console's format


def test_with_stdout_redirected_stderr_says_which_console_and_with_only_stderr_it_is_the_terminal(
    key_file: str, operator: Room, tmp_path: os.PathLike[str]
) -> None:
    server, port = operator
    out, err = os.path.join(tmp_path, "out"), os.path.join(tmp_path, "err")
    piped = start(
        ["{cryptochat}", "connect", "127.0.0.1", port, "--key-file", key_file, "--name", "piped",
         ">" + out, "2>" + err],
        shell=True,
    )
    alice = start(
        ["{cryptochat}", "connect", "127.0.0.1", port, "--key-file", key_file, "--name", "alice",
         "2>" + os.path.join(tmp_path, "alice.err")],
        shell=True,
    )
    piped.type(CTRL_D)
    assert piped.exit_status() == 0
    with open(err, encoding="utf-8") as f:
        assert (
            "stdout is not a terminal, so this is the pipe console: each line is sent as it is, /commands "
            "included; Ctrl-D leaves"
        ) in f.read().splitlines()
    alice.wait_for(f"connected to 127.0.0.1:{port} as alice")  # stderr is a file: still the terminal
    alice.type("/quit\r")
    assert alice.exit_status() == 0
    server.wait_for(r"alice left \(bye\)")
    assert "alice: /quit" not in server.text


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
        refusal = "cryptochat: the server refused us: the room is full (1 client)"
        assert f.read().splitlines()[1:] == [refusal]
    server.type("/quit\r")
    assert server.exit_status() == 0
    with open(log, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("engine: ")
    assert lines[1].startswith("listening on 127.0.0.1:")
    assert "refused second: the room is full (1 client)" in lines
    assert lines[-1] == "shutting down"


def test_a_newcomer_sees_recent_lines_at_the_time_they_were_said(key_file: str, operator: Room) -> None:
    server, port = operator
    server.type("said before anyone came\r")
    server.type("/me lights the fire\r")
    server.wait_for(f"^{TIME}\\* op lights the fire$")
    alice = join(key_file, port, "alice")
    alice.wait_for(f"^{TIME}op: said before anyone came$")
    alice.wait_for(f"^{TIME}\\* op lights the fire$")


def test_a_long_line_wraps_between_words_with_its_continuation_under_the_text(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    words = [f"hundredth{i:02d}" for i in range(30)]
    server.paste(" ".join(words))
    server.type("\r")
    lines = alice.wait_for("hundredth29$").splitlines()
    first = next(i for i, line in enumerate(lines) if "op: hundredth00" in line)
    last = next(i for i, line in enumerate(lines) if line.endswith("hundredth29"))
    assert lines[first].startswith("[") and lines[first].index("op: ") == 8
    rows = [lines[first][12:], *lines[first + 1:last + 1]]
    for row in rows[1:]:
        assert re.match(r"^ {12}hundredth", row), row  # under the text, not one column further
    assert [word for row in rows for word in row.split()] == words  # no word cut in two


def _last_filler(text: str) -> int:
    return int(re.findall(f"^{TIME}op: filler (\\d+)$", text, re.MULTILINE)[-1])


def test_resizing_down_to_8_by_3_and_back_redraws_the_wrapped_view(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    server.type("a line long enough to wrap on a small screen 漢字 👋🏽\r")
    alice.wait_for("op: a line long enough")
    for rows, columns in [(3, 8), (5, 20), (ROWS, COLUMNS)]:
        alice.resize(rows, columns)
        alice.type("\x0c")  # Ctrl-L: pyte keeps what a smaller screen left behind; a redraw clears it
        alice.wait_until(lambda text: "│" in text, f"the toolbar at {columns}x{rows}")
    alice.wait_for(f"^{TIME}op: a line long enough to wrap on a small screen 漢字 👋🏽$")
    assert alice.child.isalive() and "Traceback" not in alice.text


def test_pageup_and_pagedown_move_the_view_a_page_at_once(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice", rows=12)
    for i in range(30):
        server.type(f"filler {i}\r")
    alice.wait_for(f"^{TIME}op: filler 29$")
    alice.type("\x1b[5~")  # PageUp
    screen = alice.wait_for(r"scrolled back \d+ lines")
    found = re.search(r"scrolled back (\d+) lines", screen)
    assert found is not None
    back = int(found.group(1))
    assert _last_filler(screen) == 29 - back  # the view moved with the first PageUp
    alice.type("\x1b[5~")
    screen = alice.wait_until(lambda text: f"scrolled back {2 * back} lines" in text, "a second page")
    assert _last_filler(screen) == 29 - 2 * back
    alice.type("\x1b[6~")  # PageDown
    screen = alice.wait_until(lambda text: f"scrolled back {back} lines" in text, "a page forward")
    assert _last_filler(screen) == 29 - back
    alice.type("\x1b[6~")
    screen = alice.wait_until(lambda text: "scrolled back" not in text, "the newest")
    assert _last_filler(screen) == 29


USAGE = Path(__file__).resolve().parents[1] / "docs" / "usage.md"


def documented(name: str, screen: str) -> None:
    """docs/usage.md shows ``screen`` as NAME; CRYPTOCHAT_UPDATE_DOCS=1 rewrites it there from this run."""
    screen = re.sub(r"\[\d\d:\d\d\]", "[14:02]", screen)
    screen = re.sub(r"127\.0\.0\.1:\d+", "chat.example.org:5555", screen)
    block = re.compile(
        rf"(<!-- screen: {re.escape(name)}, captured by tests/test_terminal\.py -->\n```text\n)(.*?)(```)",
        re.DOTALL,
    )
    doc = USAGE.read_text(encoding="utf-8")
    if os.environ.get("CRYPTOCHAT_UPDATE_DOCS") == "1":
        doc = block.sub(lambda m: m.group(1) + screen + "\n" + m.group(3), doc)
        USAGE.write_text(doc, encoding="utf-8")
    shown = block.search(doc)
    assert shown is not None, f"docs/usage.md has no captured screen block for {name}"
    assert shown.group(2) == screen + "\n"


def test_the_screen_shown_in_the_usage_guide_is_the_real_one(key_file: str, operator: Room) -> None:
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
    documented("the console", screen)


def _colour_of(terminal: Terminal, pattern: str) -> str:
    """The foreground colour of the first character of the screen line matching ``pattern``'s name."""
    for y, line in enumerate(terminal.text.splitlines()):
        found = re.search(pattern, line)
        if found:
            return str(terminal.screen.buffer[y][found.start(1)].fg)
    raise AssertionError(f"no line matches {pattern!r}")


def test_a_name_has_the_same_colour_on_every_screen_and_yours_is_yours_alone(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    twin = next(n for n in (f"twin{i}" for i in range(1000)) if name_style(n) == name_style("alice"))
    alice = join(key_file, port, "alice")
    bob = join(key_file, port, twin)
    alice.type("colour check\r")
    bob.wait_for(f"^{TIME}alice: colour check$")
    server.wait_for(f"^{TIME}alice: colour check$")
    alice.wait_for(f"^{TIME}alice: colour check$")
    seen = {_colour_of(t, rf"^{TIME}(alice): colour check$") for t in (bob, server)}
    assert len(seen) == 1 and seen != {"default"}
    own = _colour_of(alice, rf"^{TIME}(alice): colour check$")
    bob.type("same hash\r")
    alice.wait_for(f"^{TIME}{twin}: same hash$")
    others = {_colour_of(alice, rf"^{TIME}({twin}): same hash$")}
    for name in ("bob", "dave", "heidi", "oscar"):
        bob.type(f"/nick {name}\r")
        bob.type(f"I am {name}\r")
        alice.wait_for(f"^{TIME}{name}: I am {name}$")
        others.add(_colour_of(alice, rf"^{TIME}({name}): I am {name}$"))
    assert len(others) == 5  # five names, five colours
    assert own not in others  # nobody else has your colour on your screen



def test_the_operators_log_has_joins_renames_and_leaves_when_stderr_is_redirected(
    key_file: str, tmp_path: os.PathLike[str]
) -> None:
    log = os.path.join(tmp_path, "op.log")
    server = start(
        ["{cryptochat}", "serve", "--host", "127.0.0.1", "--port", "0", "--key-file", key_file,
         "2>" + log],
        shell=True,
    )
    port = re.search(r"listening on 127\.0\.0\.1:(\d+)", server.wait_for("listening on"))
    assert port is not None
    alice = join(key_file, port.group(1), "alice")
    alice.type("/nick alison\r")
    server.wait_for("alice is now known as alison")
    alice.type("/quit\r")
    server.wait_for(r"alison left \(bye\)")
    with open(log, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert [
        line for line in lines if "alice" in line or "alison" in line
    ] == ["alice joined", "alice is now known as alison", "alison left (bye)"]


def test_a_hangup_is_a_goodbye_from_a_client_and_a_clean_shutdown_from_the_operator(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    bob = join(key_file, port, "bob")
    alice.child.kill(signal.SIGHUP)
    server.wait_for(r"alice left \(bye\)")
    server.child.kill(signal.SIGHUP)
    assert server.exit_status() == 0
    bob.wait_for("the server said goodbye: the server is shutting down; reconnecting in")


def test_a_name_that_does_not_resolve_gets_the_resolvers_message(key_file: str) -> None:
    try:
        socket.getaddrinfo("no-such-host.invalid", 5555)
    except socket.gaierror as exc:
        why = exc.strerror
    else:
        pytest.skip("this resolver answers for .invalid")
    alice = start(["connect", "no-such-host.invalid", "5555", "--key-file", key_file])
    assert alice.exit_status() == 1
    alice.wait_for(f"^cryptochat: cannot reach the server at no-such-host.invalid:5555: {why}$")


def test_the_toolbar_puts_the_state_first_and_drops_the_count_while_disconnected(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    alice = start(["connect", "127.0.0.1", port, "--key-file", key_file, "--name", "alice"], columns=40)
    alice.wait_for(r"^ alice │ connected │ 2 in the room")
    server.type("/quit\r")
    assert server.exit_status() == 0
    screen = alice.wait_for(r"^ alice │ reconnecting in \d s")
    assert "in the room" not in screen


def test_a_line_typed_during_an_outage_is_shown_waiting_at_once(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    server.type("/quit\r")
    assert server.exit_status() == 0
    alice.wait_for("the server said goodbye")
    alice.type("said in the gap\r")  # within the first half second of the outage
    alice.wait_for(f"^{TIME}-- not connected: 1 waiting, sent on reconnection: said in the gap$")
    alice.type("/me waits\r")
    alice.wait_for(f"^{TIME}-- not connected: 2 waiting, sent on reconnection: \\* alice waits$")


def test_ctrl_z_suspends_and_the_console_comes_back_on_fg(key_file: str, operator: Room) -> None:
    server, port = operator
    shell = start(
        ["set -m;", "{cryptochat}", "connect", "127.0.0.1", port, "--key-file", key_file, "--name", "alice",
         "; echo STOPPED; read x; fg"],
        shell=True,
    )
    shell.wait_for("connected to")
    shell.type("\x1a")  # Ctrl-Z
    shell.wait_for("STOPPED")
    shell.type("\r")  # the shell's fg
    shell.wait_for(r"^ alice │")
    shell.type("back again\r")
    server.wait_for(f"^{TIME}alice: back again$")


def test_a_refused_invisible_character_is_shown_in_the_editor(key_file: str, operator: Room) -> None:
    _, port = operator
    alice = join(key_file, port, "alice")
    alice.paste("abc\u202edef")
    alice.type("\r")
    alice.wait_for(r"not sent: it contains U\+202E \(RIGHT-TO-LEFT OVERRIDE\)")
    alice.wait_until(lambda _: alice.input_line() == "abc<U+202E>def", "the override shown where it is")


def test_invalid_utf8_on_piped_stdin_is_sent_with_a_warning(key_file: str, operator: Room) -> None:
    server, port = operator
    piped = start(
        ["printf 'fine\\n\\377bad\\n' |", "{cryptochat}", "connect", "127.0.0.1", port,
         "--key-file", key_file, "--name", "bot"],
        shell=True,
    )
    piped.wait_for(
        "^cryptochat: line 2 of the input is not valid UTF-8: sent with U\\+FFFD in place of the bad bytes$"
    )
    server.wait_for(f"^{TIME}bot: \ufffdbad$")
    assert piped.exit_status() == 0


def test_without_reconnection_the_end_says_so_plainly(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = start(
        ["connect", "127.0.0.1", port, "--key-file", key_file, "--name", "alice", "--reconnect-attempts", "0"]
    )
    alice.wait_for("connected to")
    server.type("/quit\r")
    assert alice.exit_status() == 1
    assert (
        "cryptochat: the server said goodbye: the server is shutting down; not reconnecting "
        "(--reconnect-attempts 0)"
    ) in alice.text.replace("\n", "")  # one line, wrapped by the terminal


def test_usage_errors_point_to_the_commands_own_help_and_help_shows_ranges(
    tmp_path: os.PathLike[str],
) -> None:
    keygen = start(["keygen", os.path.join(tmp_path, "a"), "b"])
    assert keygen.exit_status() == 2
    keygen.wait_for(r"^cryptochat: unrecognized arguments: b \(see: cryptochat keygen --help\)$")
    assert not os.path.exists(os.path.join(tmp_path, "a"))
    helped = start(["serve", "--help"], rows=80)
    helped.wait_for("--history N")
    assert helped.exit_status() == 0
    flat = " ".join(helped.text.split())
    assert "(0 to 10000; default: 50)" in flat
    assert "(at least 1; default: 1000)" in flat


def test_a_log_file_marks_where_each_session_starts_and_ends(
    key_file: str, operator: Room, tmp_path: os.PathLike[str]
) -> None:
    _, port = operator
    log = os.path.join(tmp_path, "chat.log")
    alice = start(
        ["connect", "127.0.0.1", port, "--key-file", key_file, "--name", "alice", "--log", log]
    )
    alice.wait_for("connected to")
    alice.type("/quit off to lunch\r")
    assert alice.exit_status() == 0
    with open(log, encoding="utf-8") as f:
        lines = [line[20:] for line in f.read().splitlines()]  # after "YYYY-MM-DD HH:MM:SS "
    assert lines[0] == f"-- log started: cryptochat connect 127.0.0.1:{port} as alice"
    assert lines[-2] == "-- you left (off to lunch)"
    assert lines[-1] == "-- log ended"


# ----------------------------------------------------------------- what irssi and weechat users reach for


def test_tab_completes_commands_and_names(key_file: str, operator: Room) -> None:
    _, port = operator
    alice = join(key_file, port, "alice", rows=6)
    join(key_file, port, "bob")
    alice.wait_for("bob joined")
    alice.type("hi B\t")
    documented("completion", alice.wait_until(lambda _: alice.input_line() == "hi bob", "a name completed"))
    alice.type(CTRL_C + "/wh\t")
    alice.wait_until(lambda _: alice.input_line() == "/who", "/who completed")
    alice.type(CTRL_C + "b\t")
    alice.wait_until(lambda _: alice.input_line() == "bob:", "a name completed at the start")
    alice.type(CTRL_C + "/msg o\t")
    alice.wait_until(lambda _: alice.input_line() == "/msg op", "a name completed after /msg")


def _background(terminal: Terminal, pattern: str) -> str:
    for y, line in enumerate(terminal.text.splitlines()):
        found = re.search(pattern, line)
        if found:
            return str(terminal.screen.buffer[y][found.start(1)].bg)
    raise AssertionError(f"no line matches {pattern!r}")


def test_a_line_naming_you_or_a_private_one_is_highlighted_and_rings_the_bell(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    alice = join(key_file, port, "alice", rows=8)
    server.type("nothing for you\r")
    alice.wait_for(f"^{TIME}op: nothing for you$")
    quiet = alice.screen.bells
    server.type("Alice, look here\r")
    alice.wait_for(f"^{TIME}op: Alice, look here$")
    alice.wait_until(lambda _: alice.screen.bells == quiet + 1, "the bell")
    server.type("/msg alice psst\r")
    alice.wait_for(f"^{TIME}op \\(private\\): psst$")
    alice.wait_until(lambda _: alice.screen.bells == quiet + 2, "the bell again")
    assert _background(alice, rf"^{TIME}op: (nothing)") == "default"
    assert _background(alice, rf"^{TIME}op: (Alice), look here") != "default"
    assert _background(alice, rf"^{TIME}op \(private\): (psst)") != "default"
    documented("a mention", alice.text)


def test_new_lines_are_counted_while_scrolled_back_and_marked_since_you_last_typed(
    key_file: str, operator: Room
) -> None:
    server, port = operator
    alice = join(key_file, port, "alice", rows=12)
    alice.type("anyone?\r")
    alice.wait_for(f"^{TIME}alice: anyone\\?$")
    for i in range(5):
        server.type(f"filler {i}\r")
    alice.wait_for(f"^{TIME}op: filler 4$")
    lines = alice.text.splitlines()
    marker = lines.index("──── new since you last typed ────")
    assert lines[marker - 1].endswith("alice: anyone?")
    assert lines[marker + 1].endswith("op: filler 0")
    alice.type("\x1b[<64;10;5M")  # the wheel, up
    alice.wait_for(r"scrolled back 3 lines")
    server.type("one more\r")
    server.type("and another\r")
    screen = alice.wait_for(r"scrolled back 5 lines \(PageDown\) │ 2 new below")
    assert _last_filler(screen) == 1  # the view stayed where it was scrolled
    documented("new lines", screen)


def test_clear_empties_the_view(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    server.type("before the clear\r")
    alice.wait_for(f"^{TIME}op: before the clear$")
    alice.type("/clear\r")
    alice.wait_until(lambda text: "before the clear" not in text and "present:" not in text, "a clear view")
    server.type("after the clear\r")
    alice.wait_for(f"^{TIME}op: after the clear$")
    assert alice.text.startswith(alice.text.lstrip("\n"))
    assert alice.text.splitlines()[0].endswith("op: after the clear")


def test_ignore_hides_a_name_until_asked_again(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    alice.type("/ignore OP\r")
    alice.wait_for("ignoring OP: /ignore OP again to stop")
    server.type("you cannot hear me\r")
    server.type("/msg alice nor this\r")
    server.type("/me waves unseen\r")
    server.wait_for(f"^{TIME}\\* op waves unseen$")
    alice.type("/ignore op\r")
    alice.wait_for("no longer ignoring op")
    server.type("now you can\r")
    screen = alice.wait_for(f"^{TIME}op: now you can$")
    assert "cannot hear" not in screen and "nor this" not in screen and "unseen" not in screen


def test_reconnect_tries_again_at_once(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    server.type("/quit\r")
    assert server.exit_status() == 0
    alice.wait_for(r"│ reconnecting in [45] s")  # the third wait: 3.2 s or more
    again = start(["serve", "--host", "127.0.0.1", "--port", port, "--key-file", key_file, "--name", "op"])
    again.wait_for("listening on")
    alice.type("/reconnect\r")
    alice.wait_for("-- reconnecting now")
    # Back before the countdown, which had 2 s or more to go, reaches its last second.
    screen = alice.wait_until(
        lambda text: "reconnected to" in text or "reconnecting in 1 s" in text, "the reconnection"
    )
    assert f"reconnected to 127.0.0.1:{port} as alice" in screen


def test_the_mouse_wheel_scrolls_the_history(key_file: str, operator: Room) -> None:
    server, port = operator
    alice = join(key_file, port, "alice")
    for i in range(30):
        server.type(f"filler {i}\r")
    alice.wait_for(f"^{TIME}op: filler 29$")
    alice.type("\x1b[<64;10;5M\x1b[<64;10;5M")  # the wheel turned up twice (SGR mouse reports)
    screen = alice.wait_for(r"scrolled back 6 lines")
    assert _last_filler(screen) == 23
    alice.type("\x1b[<65;10;5M\x1b[<65;10;5M")  # and down
    alice.wait_until(lambda text: "scrolled back" not in text, "the newest again")
    assert alice.input_line() == ""


def test_a_line_after_midnight_is_preceded_by_the_new_day(key_file: str, operator: Room) -> None:
    server, port = operator
    # A time zone in which midnight comes a few seconds from now: POSIX TZ's local time is UTC minus the
    # offset, so an offset of (seconds past midnight UTC + AHEAD) puts local time AHEAD seconds before it.
    ahead = 3
    now = time.time()
    offset = int(now + ahead) % 86400
    tz = f"XXX{offset // 3600}:{offset % 3600 // 60:02d}:{offset % 60:02d}"
    alice = start(["connect", "127.0.0.1", port, "--key-file", key_file, "--name", "alice"], env={"TZ": tz})
    alice.wait_for(r"^\[23:59\] -- connected to")
    time.sleep(max(0.0, now + ahead + 0.5 - time.time()))
    server.type("good morning\r")
    screen = alice.wait_for(r"^\[00:00\] op: good morning$")
    day = time.strftime("%A %-d %B %Y", time.gmtime(now + ahead + 1 - offset))
    lines = screen.splitlines()
    assert lines[lines.index("[00:00] op: good morning") - 1] == f"──── {day} ────"


def test_away_with_a_reason_is_shown_in_who_and_cleared_by_away_alone(key_file: str, operator: Room) -> None:
    server, port = operator
    bob = join(key_file, port, "bob")
    bob.type("/away at lunch\r")
    bob.wait_for(f"^{TIME}-- bob is away \\(at lunch\\)$")
    alice = join(key_file, port, "alice")  # came after: only /who can tell her
    alice.type("/who\r")
    screen = alice.wait_for(f"^{TIME}-- bob is away \\(at lunch\\)$")
    assert re.search(f"^{TIME}-- present \\(3\\): op, bob, alice\n{TIME}-- bob is away", screen, re.MULTILINE)
    bob.type("/away\r")
    alice.wait_for(f"^{TIME}-- bob is back$")
    server.type("/who\r")
    screen = server.wait_for(r"present \(3\): op, bob, alice")
    assert "away" not in screen.split("present (3)")[-1]
