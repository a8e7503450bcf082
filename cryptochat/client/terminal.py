"""The terminal console: a full-screen prompt_toolkit application.

Every line is ``[HH:MM] NAME: TEXT``, the operator's own included, each name in a colour of its own that
stays the same from run to run; notices are dimmed; a wrapped line continues under its text. A toolbar at
the bottom shows the name, the member count, the engine and the connection state. PageUp and PageDown
scroll back. Ctrl-C clears a half-typed line and quits only on an empty one; Ctrl-D on an empty line quits
(for the operator of a room, after a confirmation, since it closes the room for everyone).

When stdout is not a terminal (``cryptochat connect … | tee log``) the screen is drawn on stderr and the
plain transcript goes to stdout. When stderr is not a terminal (``2>op.log``), log lines and errors are
written there as well as shown.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TextIO

from prompt_toolkit.application import Application
from prompt_toolkit.data_structures import Point
from prompt_toolkit.filters import Condition
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import HSplit, Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.layout.dimension import Dimension
from prompt_toolkit.output import Output, create_output
from prompt_toolkit.styles import Style
from prompt_toolkit.utils import get_cwidth
from prompt_toolkit.widgets import TextArea

from .commands import Command, Help, Quit, SendText, check_command, help_text, parse_line
from .console import ERROR_PREFIX, Console, Status

__all__ = ["PASTE_CONFIRM_LINES", "TerminalConsole"]

PASTE_CONFIRM_LINES = 3
"""A paste of more lines than this is sent only after a confirmation."""
SCROLLBACK = 10_000
"""Lines kept for PageUp."""
_CONTEXT = 300
"""Lines laid out on each side of the one in view: more than any screen shows."""

# Twelve colours that read on dark and light backgrounds alike; a name's CRC picks one, so it is the same
# in every run and on every participant's screen.
_PALETTE = (
    "ansired", "ansigreen", "ansiyellow", "ansiblue", "ansimagenta", "ansicyan",
    "ansibrightred", "ansibrightgreen", "ansibrightyellow", "ansibrightblue", "ansibrightmagenta",
    "ansibrightcyan",
)

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
    }
)


def name_style(name: str) -> str:
    """The colour of ``name``: the same for everyone, every time."""
    return "fg:" + _PALETTE[zlib.crc32(name.encode("utf-8")) % len(_PALETTE)]


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
        self._scroll = 0  # lines scrolled back from the newest
        self._question: str | None = None  # a confirmation being asked, shown in the toolbar
        self._on_yes: Callable[[], None] | None = None
        self._paste_to_confirm: str | None = None
        self._commands: asyncio.Queue[Command] = asyncio.Queue()
        self._ended = False  # the screen is gone: notices and errors go to stderr
        self._transcript: TextIO | None = None if sys.stdout.isatty() else sys.stdout
        self._log_to_stderr = not sys.stderr.isatty()
        self._input = TextArea(
            prompt=[("class:prompt", "> ")],
            multiline=True,
            wrap_lines=True,
            height=Dimension(min=1, max=8),
            dont_extend_height=True,
        )
        self._output_window = Window(
            FormattedTextControl(self._fragments, get_cursor_position=self._cursor, show_cursor=False),
            wrap_lines=True,
            get_line_prefix=self._continuation,
        )
        toolbar = Window(FormattedTextControl(self._toolbar), height=1, style="class:toolbar")
        self._app: Application[None] = Application(
            layout=Layout(HSplit([self._output_window, toolbar, self._input]), focused_element=self._input),
            key_bindings=self._key_bindings(),
            style=_STYLE,
            full_screen=True,
            input=app_input,
            output=app_output or create_output(always_prefer_tty=True),
        )
        self.notice("/help for commands; PageUp and PageDown scroll")

    # ----------------------------------------------------------------- what the chat shows

    def message(self, sender: str, text: str, own: bool = False) -> None:
        self._add([(self._name_style(sender, own), sender), ("", ": "), ("", text)], text)

    def action(self, sender: str, text: str, own: bool = False) -> None:
        self._add([("", "* "), (self._name_style(sender, own), sender), ("", " "), ("", text)], text)

    def private(self, sender: str, text: str, to: str | None = None) -> None:
        where = " (private)" if to is None else f" → {to} (private)"
        own = to is not None
        self._add(
            [(self._name_style(sender, own), sender), ("class:private", where), ("", ": "), ("", text)], text
        )

    def history(self, sender: str, text: str, when: float, action: bool = False) -> None:
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

    def status(self, status: Status) -> None:
        self._status = status
        self._app.invalidate()

    def _name_style(self, name: str, own: bool) -> str:
        return name_style(name) + (" bold" if own else "")

    def _add(
        self, fragments: StyleAndTextTuples, text: str, stderr: str | None = None, stamp: str | None = None
    ) -> None:
        """Show a line; ``stderr`` is its log form, written when stderr is a log or the screen is gone."""
        prefix: StyleAndTextTuples = [("class:time", stamp or time.strftime("[%H:%M] "))]
        plain = "".join(fragment[1] for fragment in (*prefix, *fragments))
        self._lines.append(_Line([*prefix, *fragments], get_cwidth(plain) - get_cwidth(text)))
        if self._scroll:
            self._scroll += 1  # keep the view where the reader scrolled it
        if self._transcript is not None:
            try:
                print(plain, file=self._transcript, flush=True)
            except OSError:  # the reader of the pipe went away (| head): the chat goes on without it
                self._transcript = None
        if stderr is not None:
            print(stderr, file=sys.stderr, flush=True)  # noqa: T201 - the log
        self._app.invalidate()

    # ----------------------------------------------------------------- layout callbacks

    def _focus(self) -> tuple[int, int]:
        """The line to keep in view (the newest, or as far back as scrolled) and the first one rendered."""
        focus = max(0, len(self._lines) - 1 - self._scroll)
        return focus, max(0, focus - _CONTEXT)

    def _fragments(self) -> StyleAndTextTuples:
        # Only the lines around the one in view: laying out the whole scrollback on every message
        # would cost a fifth of a second once it is full.
        focus, first = self._focus()
        out: StyleAndTextTuples = []
        for i, line in enumerate(itertools.islice(self._lines, first, focus + _CONTEXT)):
            if i:
                out.append(("", "\n"))
            out.extend(line.fragments)
        return out

    def _cursor(self) -> Point:
        # The window scrolls to keep this "cursor" in view.
        focus, first = self._focus()
        return Point(0, focus - first)

    def _continuation(self, lineno: int, wrap_count: int) -> StyleAndTextTuples:
        index = self._focus()[1] + lineno
        if wrap_count == 0 or index >= len(self._lines):
            return []
        return [("", " " * min(self._lines[index].indent, 40))]

    def _toolbar(self) -> StyleAndTextTuples:
        if self._question is not None:
            return [("class:toolbar.question", f" {self._question} ")]
        s = self._status
        parts = [s.name, f"{s.members} in the room", self._engine, s.state]
        if self._scroll:
            parts.append(f"scrolled back {self._scroll} lines (PageDown)")
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

        @kb.add(Keys.PageUp)
        def _back(event: KeyPressEvent) -> None:
            self._scroll = min(len(self._lines) - 1, self._scroll + self._page())

        @kb.add(Keys.PageDown)
        def _forward(event: KeyPressEvent) -> None:
            self._scroll = max(0, self._scroll - self._page())

        @kb.add(Keys.Vt100MouseEvent)
        def _not_a_mouse(event: KeyPressEvent) -> None:
            # Mouse reporting is never turned on, so this is typed text that merely looks like a report
            # (Esc then "[31m"); prompt_toolkit's own handler would fail to unpack it.
            event.current_buffer.insert_text(event.data.lstrip("\x1b"))

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
        for command in commands:
            assert not isinstance(command, str)
            if isinstance(command, Help):
                for line in help_text(command.topic):
                    self.notice(line)
            else:
                self._commands.put_nowait(command)

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
