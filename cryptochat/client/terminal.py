"""The terminal console: a full-screen prompt_toolkit application.

Every line is ``[HH:MM] NAME: TEXT``, the operator's own included, each name in a colour of its own that
stays the same from run to run (the operator's own in the terminal's colour, which no other name has);
notices are dimmed; a long line wraps between words and continues under its text. A toolbar at the bottom
shows the name, the connection state, the member count and the engine. PageUp and PageDown scroll back.
Ctrl-C clears a half-typed line and quits only on an empty one; Ctrl-D on an empty line quits (for the
operator of a room, after a confirmation, since it closes the room for everyone); Ctrl-Z suspends.

It runs only when stdin and stdout are terminals. When stderr is not one (``2>op.log``), log lines and
errors are written there as well as shown.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from prompt_toolkit.application import Application
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import HSplit, Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl, UIContent, UIControl
from prompt_toolkit.layout.dimension import Dimension
from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.layout.utils import explode_text_fragments
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style
from prompt_toolkit.utils import get_cwidth
from prompt_toolkit.widgets import TextArea

from .commands import (
    COMMANDS,
    ChangeNick,
    Clear,
    Command,
    Help,
    Ignore,
    Quit,
    SendPrivate,
    SendText,
    check_command,
    help_text,
    parse_line,
)
from .console import ERROR_PREFIX, Console, Status

__all__ = ["PASTE_CONFIRM_LINES", "TerminalConsole"]

PASTE_CONFIRM_LINES = 3
"""A paste of more lines than this is sent only after a confirmation."""
SCROLLBACK = 10_000
"""Lines kept for PageUp."""
_WHEEL_LINES = 3
"""Lines one turn of the mouse wheel scrolls."""

# Colours of the 256-colour palette that read on dark and light backgrounds alike and that people tell
# apart; a name's CRC picks one, so it is the same in every run and on every participant's screen. None is
# the terminal's own foreground: that one is the operator's own name's, and nobody else's.
_PALETTE = (
    "#d70000", "#ff5f5f", "#d7005f", "#ff5faf", "#af005f", "#d75f00", "#ff8700", "#af5f00",
    "#d7875f", "#af8700", "#d7af00", "#878700", "#5f8700", "#00af00", "#5faf00", "#00875f",
    "#87af5f", "#00af5f", "#00af87", "#008787", "#00afaf", "#5fafaf", "#0087af", "#005fd7",
    "#0087ff", "#5f87d7", "#5f5fff", "#8700d7", "#af5fff", "#af00af", "#875faf", "#d75fd7",
)
_OWN_NAME = "bold"

# What no line may hold (control characters, bidirectional overrides and isolates) and a terminal would
# not show: the editor shows each as <U+XXXX> so that it can be found and removed.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_STYLE = Style.from_dict(
    {
        "time": "ansibrightblack",
        "notice": "ansibrightblack italic",
        "error": "ansired bold",
        "private": "ansimagenta bold",
        "history": "ansibrightblack",
        "toolbar": "reverse",
        "toolbar.question": "reverse bold ansiyellow",
        "prompt": "bold",
        "invisible": "reverse",
        "mention": "bg:ansiyellow fg:ansiblack",
        "marker": "ansibrightblack",
    }
)


def name_style(name: str) -> str:
    """The colour of ``name``: the same for everyone, every time."""
    return "fg:" + _PALETTE[zlib.crc32(name.encode("utf-8")) % len(_PALETTE)]


def wrap(fragments: StyleAndTextTuples, indent: int, width: int) -> list[StyleAndTextTuples]:
    """Lay a line out in rows of ``width`` columns, breaking between words where it can.

    Continuation rows start ``indent`` columns in (at most about half the width); the spaces a break falls
    on are dropped, so the continuation starts exactly there. A word longer than a row is cut where the row
    ends.
    """
    indent = max(0, min(indent, (width - 2) // 2))  # a continuation always has room for a wide character
    rows: list[StyleAndTextTuples] = [[]]
    column = 0
    spaces: StyleAndTextTuples = []  # the spaces since the last word, placed only if a word follows them

    def new_row() -> None:
        nonlocal column
        rows.append([("", " " * indent)] if indent else [])
        column = indent
        spaces.clear()

    for word in _words(fragments):
        if word[0][1] == " ":
            spaces.extend(word)
            continue
        size = sum(get_cwidth(char) for _, char in word)
        if column + len(spaces) + size > width and column > indent and size <= width - indent:
            new_row()
        elif column + len(spaces) >= width:
            new_row()  # a long word follows a row already full of spaces
        rows[-1].extend(spaces)
        column += len(spaces)
        spaces.clear()
        for style, char in word:
            char_width = get_cwidth(char)
            if column + char_width > width and column > indent:
                new_row()
            rows[-1].append((style, char))
            column += char_width
    return rows


def _words(fragments: StyleAndTextTuples) -> list[list[tuple[str, str]]]:
    """The line's characters with their styles, in runs of spaces and runs of anything else."""
    words: list[list[tuple[str, str]]] = []
    for style, text, *_ in explode_text_fragments(fragments):
        if words and (words[-1][0][1] == " ") == (text == " "):
            words[-1].append((style, text))
        else:
            words.append([(style, text)])
    return words


class _ShowInvisible(Processor):
    """Shows each character no line may hold as ``<U+XXXX>``, reversed, in the editor."""

    def apply_transformation(self, transformation_input: TransformationInput) -> Transformation:
        fragments = explode_text_fragments(transformation_input.fragments)
        if not any(_INVISIBLE.match(fragment[1]) for fragment in fragments):
            return Transformation(fragments)
        shown: StyleAndTextTuples = []
        to_display: list[int] = []  # source position -> display position
        for style, char, *_ in fragments:
            to_display.append(sum(len(text) for _, text, *_ in shown))
            if _INVISIBLE.match(char):
                shown.append((style + " class:invisible", f"<U+{ord(char):04X}>"))
            else:
                shown.append((style, char))
        end = sum(len(text) for _, text, *_ in shown)
        to_display += [end, end + 1]  # the cursor may stand after the last character

        def source_to_display(position: int) -> int:
            return to_display[min(position, len(to_display) - 1)]

        def display_to_source(position: int) -> int:
            return max((i for i, shown_at in enumerate(to_display) if shown_at <= position), default=0)

        return Transformation(shown, source_to_display=source_to_display, display_to_source=display_to_source)


class _Scrollback(UIControl):
    """The chat lines, word-wrapped to the window, ending with the line in view at the bottom."""

    def __init__(self, rows: Callable[[int, int], list[StyleAndTextTuples]]) -> None:
        self._rows = rows

    def create_content(self, width: int, height: int | None) -> UIContent:
        rows = self._rows(width, height or 1)
        return UIContent(get_line=lambda i: rows[i], line_count=len(rows), show_cursor=False)


def _wheel(report: str) -> int | None:
    """From a mouse report: 1 for the wheel turned up, -1 down, 0 for anything else; None if not a report."""
    sgr = re.fullmatch(r"\x1b\[<(\d+);\d+;\d+[mM]", report)
    if sgr is not None:
        button = int(sgr.group(1))
    elif len(report) == 6 and report.startswith("\x1b[M"):
        button = ord(report[3]) - 32
    else:
        return None
    return {64: 1, 65: -1}.get(button, 0)


@dataclass(frozen=True, slots=True)
class _Completion:
    """What Tab last did: the candidates for the word that began at ``start``, and the one shown."""

    start: int
    candidates: tuple[str, ...]
    index: int
    shown: str
    """The text before the cursor once it was completed: Tab again there means the next candidate."""


@dataclass(frozen=True, slots=True)
class _Line:
    fragments: StyleAndTextTuples
    indent: int
    """Columns a wrapped continuation is indented by, to sit under the text."""


class TerminalConsole(Console):
    def __init__(
        self,
        engine: str,
        status: Status,
        *,
        operator: bool = False,
        app_input: Input | None = None,
        app_output: Output | None = None,
    ) -> None:
        self._engine = engine
        self._status = status
        self._operator = operator
        self._lines: deque[_Line] = deque(maxlen=SCROLLBACK)
        self._added = 0  # lines ever added: the number of the next one, however many the deque dropped
        self._read: int | None = None  # the number of the first line that came after you last typed
        self._day: tuple[int, int] | None = None  # the date of the last line, to mark a new day
        self._scroll = 0  # lines scrolled back from the newest
        self._unseen = 0  # lines that came while scrolled back
        self._ignored: set[str] = set()  # case-folded names whose lines are not shown
        self._completion: _Completion | None = None
        self._question: str | None = None  # a confirmation being asked, shown in the toolbar
        self._on_yes: Callable[[], None] | None = None
        self._paste_to_confirm: str | None = None
        self._commands: asyncio.Queue[Command] = asyncio.Queue()
        self._ended = False  # the screen is gone: notices and errors go to stderr
        self._log_to_stderr = not sys.stderr.isatty()
        self._refusable: str | None = None  # the last line the server may refuse, to give back if it does
        self._input = TextArea(
            prompt=[("class:prompt", "> ")],
            multiline=True,
            wrap_lines=True,
            height=Dimension(min=1, max=8),
            dont_extend_height=True,
            input_processors=[_ShowInvisible()],
        )
        self._input.buffer.on_text_changed += lambda _: self._mark_read()
        self._output_window = Window(_Scrollback(self._rows))
        toolbar = Window(FormattedTextControl(self._toolbar), height=1, style="class:toolbar")
        self._app: Application[None] = Application(
            layout=Layout(HSplit([self._output_window, toolbar, self._input]), focused_element=self._input),
            key_bindings=self._key_bindings(),
            style=_STYLE,
            full_screen=True,
            mouse_support=True,  # for the wheel; Shift and the mouse still select text in most terminals
            input=app_input,
            output=app_output,
        )
        self.notice("/help for commands; PageUp and PageDown scroll")

    # ----------------------------------------------------------------- what the chat shows

    def message(self, sender: str, text: str, own: bool = False) -> None:
        if self._hidden(sender, own):
            return
        said = self._text_style(text, own)
        self._add([(self._name_style(sender, own), sender), ("", ": "), (said, text)], text, own=own)

    def action(self, sender: str, text: str, own: bool = False) -> None:
        if self._hidden(sender, own):
            return
        said = self._text_style(text, own)
        name = self._name_style(sender, own)
        self._add([("", "* "), (name, sender), ("", " "), (said, text)], text, own=own)

    def private(self, sender: str, text: str, to: str | None = None) -> None:
        own = to is not None
        if self._hidden(sender, own):
            return
        where = " (private)" if to is None else f" → {to} (private)"
        said = "" if own else self._mention()  # a private line is always for you
        self._add(
            [(self._name_style(sender, own), sender), ("class:private", where), ("", ": "), (said, text)],
            text,
            own=own,
        )

    def history(self, sender: str, text: str, when: float, action: bool = False) -> None:
        if self._hidden(sender, own=False):
            return
        # Dimmed, at the time it was said.
        who = [("class:history", "* " if action else ""), (name_style(sender) + " italic", sender)]
        rest = [("class:history", f" {text}" if action else f": {text}")]
        self._add([*who, *rest], text, stamp=time.strftime("[%H:%M] ", time.localtime(when)))

    def notice(self, text: str) -> None:
        self._add([("class:notice", f"-- {text}")], text, stderr=text if self._ended else None)

    def error(self, text: str) -> None:
        to_stderr = self._log_to_stderr or self._ended
        self._add([("class:error", f"! {text}")], text, stderr=ERROR_PREFIX + text if to_stderr else None)

    def log(self, text: str) -> None:
        to_stderr = self._log_to_stderr or self._ended
        self._add([("class:notice", f"-- {text}")], text, stderr=text if to_stderr else None)

    def refused(self, text: str) -> None:
        line, self._refusable = self._refusable, None
        if line is None or self._input.text or self._ended:
            self.error(text)
            return
        self._input.buffer.set_document(Document(line), bypass_readonly=True)
        self.error(f"{text} (kept for editing)")

    def pending(self, text: str, waiting: int) -> None:
        self.notice(f"not connected: {waiting} waiting, sent on reconnection: {text}")

    def status(self, status: Status) -> None:
        if status.name != self._status.name:
            self._refusable = None  # the /nick went through: there is nothing to give back
        self._status = status
        self._app.invalidate()

    def _name_style(self, name: str, own: bool) -> str:
        return _OWN_NAME if own else name_style(name)

    def _hidden(self, sender: str, own: bool) -> bool:
        return not own and sender.casefold() in self._ignored

    def _text_style(self, text: str, own: bool) -> str:
        """A line naming you, as a word and in any case, is a mention."""
        name = re.escape(self._status.name)
        if own or re.search(rf"(?<!\w){name}(?!\w)", text, re.IGNORECASE) is None:
            return ""
        return self._mention()

    def _mention(self) -> str:
        """Ring the terminal's bell (or set its urgency hint) for a line meant for you; its style."""
        self._app.output.bell()
        return "class:mention"

    def _add(
        self,
        fragments: StyleAndTextTuples,
        text: str,
        stderr: str | None = None,
        stamp: str | None = None,
        own: bool = False,
    ) -> None:
        """Show a line; ``stderr`` is its log form, written when stderr is a log or the screen is gone."""
        now = time.localtime()
        if self._day is not None and (now.tm_year, now.tm_yday) != self._day:
            day = f"{time.strftime('%A', now)} {now.tm_mday} {time.strftime('%B %Y', now)}"
            self._append(_Line([("class:marker", f"──── {day} ────")], 0))
        self._day = (now.tm_year, now.tm_yday)
        prefix: StyleAndTextTuples = [("class:time", stamp or time.strftime("[%H:%M] ", now))]
        plain = "".join(fragment[1] for fragment in (*prefix, *fragments))
        self._append(_Line([*prefix, *fragments], get_cwidth(plain) - get_cwidth(text)))
        if own:
            self._mark_read()  # what you said yourself you have seen
        if stderr is not None:
            print(stderr, file=sys.stderr, flush=True)  # noqa: T201 - the log

    def _append(self, line: _Line) -> None:
        self._lines.append(line)
        self._added += 1
        if self._scroll:
            self._scroll += 1  # keep the view where the reader scrolled it
            self._unseen += 1
        self._app.invalidate()

    def _mark_read(self) -> None:
        self._read = self._added

    def _scroll_to(self, back: int) -> None:
        self._scroll = max(0, min(len(self._lines) - 1, back))
        if not self._scroll:
            self._unseen = 0
        self._app.invalidate()

    # ----------------------------------------------------------------- layout callbacks

    def _rows(self, width: int, height: int) -> list[StyleAndTextTuples]:
        """The rows that fill the view: the line in view at the bottom, the lines before it above."""
        rows: list[StyleAndTextTuples] = []
        index = len(self._lines) - 1 - self._scroll
        first = self._added - len(self._lines)  # the number of the oldest line kept
        # Only as many lines as fill the view are laid out: the scrollback may hold 10,000.
        while index >= 0 and len(rows) < height:
            line = self._lines[index]
            rows[:0] = wrap(line.fragments, line.indent, width)
            if first + index == self._read and index > 0:  # the first line since you last typed
                rows.insert(0, [("class:marker", "──── new since you last typed ────")])
            index -= 1
        return rows[-height:]

    def _toolbar(self) -> StyleAndTextTuples:
        if self._question is not None:
            return [("class:toolbar.question", f" {self._question} ")]
        s = self._status
        # Most important first, since a narrow terminal cuts the end: the state before the count.
        parts = [s.name, s.state]
        if self._scroll:
            parts.append(f"scrolled back {self._scroll} lines (PageDown)")
        if self._unseen:
            parts.append(f"{self._unseen} new below")
        if s.members is not None:
            parts.append(f"{s.members} in the room")
        parts.append(self._engine)
        return [("", " " + " │ ".join(parts) + " ")]

    # ----------------------------------------------------------------- keys

    def _key_bindings(self) -> KeyBindings:
        kb = KeyBindings()
        asking = Condition(lambda: self._question is not None)
        empty = Condition(lambda: not self._input.text)

        @kb.add(Keys.Enter, eager=True)
        def _enter(event: KeyPressEvent) -> None:
            self._submit()

        @kb.add(Keys.ControlC, filter=~empty)
        def _clear(event: KeyPressEvent) -> None:
            self._input.buffer.reset()
            self._paste_to_confirm = None

        @kb.add(Keys.ControlC, filter=empty)
        @kb.add(Keys.ControlD, filter=empty)
        def _quit(event: KeyPressEvent) -> None:
            if self._operator:
                self._ask("Shut the room down for everyone? y: yes, any other key: no", self._quit)
            else:
                self._quit()

        @kb.add(Keys.ControlZ)
        def _suspend(event: KeyPressEvent) -> None:
            event.app.suspend_to_background()

        @kb.add(Keys.PageUp)
        def _back(event: KeyPressEvent) -> None:
            self._scroll_to(self._scroll + self._page())

        @kb.add(Keys.PageDown)
        def _forward(event: KeyPressEvent) -> None:
            self._scroll_to(self._scroll - self._page())

        @kb.add(Keys.Tab)
        def _complete(event: KeyPressEvent) -> None:
            self._complete()

        @kb.add(Keys.Vt100MouseEvent)
        def _mouse(event: KeyPressEvent) -> None:
            # The wheel scrolls; clicks do nothing. Typed text that merely looks like a report (Esc then
            # "[31m") is text: prompt_toolkit's own handler would fail to unpack it.
            wheel = _wheel(event.data)
            if wheel is None:
                event.current_buffer.insert_text(event.data.lstrip("\x1b"))
            elif wheel:
                self._scroll_to(self._scroll + wheel * _WHEEL_LINES)

        # Last, so that while a question is asked it takes every key before the bindings above.
        @kb.add(Keys.Any, filter=asking, eager=True)
        @kb.add(Keys.ControlC, filter=asking, eager=True)
        @kb.add(Keys.ControlD, filter=asking, eager=True)
        @kb.add(Keys.Enter, filter=asking, eager=True)
        def _answer(event: KeyPressEvent) -> None:
            on_yes = self._on_yes
            self._question = self._on_yes = None
            if event.data.lower() == "y" and on_yes is not None:
                on_yes()
            else:
                self.notice("going on")

        return kb

    def _page(self) -> int:
        info = self._output_window.render_info
        return max(1, (info.window_height if info is not None else 10) - 1)

    def _ask(self, question: str, on_yes: Callable[[], None]) -> None:
        self._question, self._on_yes = question, on_yes
        self._app.invalidate()

    def _quit(self, reason: str = "") -> None:
        self._commands.put_nowait(Quit(reason))

    def _submit(self) -> None:
        text = self._input.text
        # Tabs (pasted code) become spaces: a tab is a control character, which no message may hold.
        lines = [line.expandtabs(4) for line in text.split("\n") if line.strip()]
        if not lines:
            self._input.buffer.reset()
            return
        commands: list[Command | str]
        self._refusable = None
        if len(lines) == 1:
            commands = [parse_line(lines[0])]
        else:
            # A paste is text, every line of it: a pasted "/quit" is not a command.
            commands = [SendText(line) for line in lines]
            if len(lines) > PASTE_CONFIRM_LINES and self._paste_to_confirm != text:
                self._paste_to_confirm = text
                n = len(lines)
                self.notice(f"{n} lines: Enter again sends them as {n} messages, Ctrl-C clears")
                return
        for i, command in enumerate(commands, start=1):
            problem = command if isinstance(command, str) else check_command(command)
            if problem is not None:
                where = f"line {i}: " if len(commands) > 1 else ""
                self.error(f"{where}{problem} (kept for editing)")
                return  # nothing is dropped silently: everything stays in the editor
        self._input.buffer.reset(append_to_history=True)
        self._paste_to_confirm = None
        if isinstance(commands[0], ChangeNick | SendPrivate):
            self._refusable = text
        for command in commands:
            assert not isinstance(command, str)
            if isinstance(command, Help):
                for line in help_text(command.topic):
                    self.notice(line)
            elif isinstance(command, Clear):
                self._lines.clear()
                self._scroll_to(0)
            elif isinstance(command, Ignore):
                self._ignore(command.name)
            else:
                self._commands.put_nowait(command)

    def _ignore(self, name: str) -> None:
        key = name.casefold()
        if key in self._ignored:
            self._ignored.discard(key)
            self.notice(f"no longer ignoring {name}")
        else:
            self._ignored.add(key)
            self.notice(f"ignoring {name}: /ignore {name} again to stop")

    def _complete(self) -> None:
        """Tab: complete the word before the cursor, a command or a name; Tab again for the next one."""
        buffer = self._input.buffer
        before = buffer.document.text_before_cursor
        done = self._completion
        if done is not None and before == done.shown:
            done = _Completion(done.start, done.candidates, (done.index + 1) % len(done.candidates), "")
        else:
            start = len(before) - len(before.rsplit(" ", 1)[-1])
            word = before[start:]
            if start == 0 and word.startswith("/"):
                candidates = [f"/{command} " for command in COMMANDS if command.startswith(word[1:].lower())]
            else:
                # At the start of a line a name is an address (irssi's "bob: "), elsewhere a word.
                end = ": " if start == 0 else " "
                names = sorted(
                    (n for n in self._status.names if n != self._status.name), key=str.casefold
                )
                candidates = [n + end for n in names if n.casefold().startswith(word.casefold())]
            if not candidates:
                return
            done = _Completion(start, tuple(candidates), 0, "")
        buffer.delete_before_cursor(len(before) - done.start)
        buffer.insert_text(done.candidates[done.index])
        self._completion = _Completion(
            done.start, done.candidates, done.index, buffer.document.text_before_cursor
        )

    # ----------------------------------------------------------------- input

    async def commands(self) -> AsyncIterator[Command]:
        app = asyncio.create_task(self._app.run_async(handle_sigint=False))
        # However the application ends (its terminal gone, say), the chat must not wait for input.
        app.add_done_callback(lambda _: self._commands.put_nowait(Quit()))
        try:
            while True:
                command = await self._commands.get()
                yield command
                if isinstance(command, Quit):
                    return
        finally:
            self._ended = True
            if not app.done():
                self._app.exit()
            try:
                await app
            except (asyncio.CancelledError, EOFError):
                pass
            except Exception as exc:  # whatever broke the screen, the user gets one line, not a traceback
                self.error(f"the terminal console failed: {exc}")
