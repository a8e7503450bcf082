"""What a participant is shown agrees with docs/usage.md, and its own private line is shown as the server
delivered it: to the member's real name, and only if someone got it."""

from __future__ import annotations

import time

import pytest
from support import start_client, start_server

from cryptochat.client.commands import SendPrivate
from cryptochat.client.console import PipeConsole
from cryptochat.engines import Engine
from cryptochat.server.room import Deliver, Room
from cryptochat.wire.messages import Hello, Private, Whisper, Whispered


def test_the_pipe_console_prints_lines_as_the_usage_guide_says(capsys: pytest.CaptureFixture[str]) -> None:
    console = PipeConsole()
    console.private("ann", "psst")
    console.history("ann", "waves", when=0.0, action=True)
    console.history("ann", "hello", when=0.0)
    out, err = capsys.readouterr()
    assert out == "ann (private): psst\n"
    stamp = time.strftime("[%H:%M]", time.localtime(0.0))
    assert err == f"{stamp} earlier: * ann waves\n{stamp} earlier: ann: hello\n"


def test_the_whisperer_is_told_whom_its_line_reached_by_the_real_name() -> None:
    room = Room("host", max_members=8)
    room.handle(1, Hello("ann"))
    room.handle(2, Hello("Bob"))
    assert room.handle(1, Whisper("BOB", "psst")) == [
        Deliver((2,), Private("ann", "psst")),
        Deliver((1,), Whispered("Bob", "psst")),
    ]


async def test_a_private_line_is_shown_as_sent_once_delivered_and_to_the_real_name(engine: Engine) -> None:
    sut = await start_server(engine)
    ann, bob = start_client(engine, sut.port, "ann"), start_client(engine, sut.port, "Bob")
    await ann.connected()
    await bob.connected()
    ann.console.inbox.put_nowait(SendPrivate("nobody", "lost"))
    ann.console.inbox.put_nowait(SendPrivate("BOB", "psst"))
    await bob.console.until(lambda: bob.console.privates == [("ann", "psst")])
    await ann.console.until(lambda: ann.console.sent == [("msg Bob", "psst")])
    assert ann.console.errors == ["the server says: nobody called nobody is here"]
    assert [await c.finish() for c in (ann, bob)] == [0, 0]
    await sut.server.close()
