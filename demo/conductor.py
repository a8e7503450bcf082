"""A local demo: one ``cryptochat serve`` and two scripted ``cryptochat connect`` on loopback.

``python3 demo/conductor.py`` (``make demo-local``) makes a temporary key, runs the real commands as
subprocesses with piped stdin, plays :data:`DEFAULT_SCRIPT` one line at a time (each line is awaited at
every other participant before the next is typed, so the expected order is the script's), prints what each
side saw and a summary, and exits non-zero if any line went missing or arrived out of order.

The pieces are reusable for other set-ups (the VM demo): :func:`expected_receipts` and
:func:`check_transcript` are pure; :func:`run_conversation` takes the command to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

__all__ = [
    "DEFAULT_SCRIPT",
    "ConversationResult",
    "Line",
    "Participant",
    "Speaker",
    "check_transcript",
    "expected_receipts",
    "main",
    "play",
    "run_conversation",
    "spawn",
    "wait_until",
]


@dataclass(frozen=True, slots=True)
class Line:
    """``speaker`` types ``text``."""

    speaker: str
    text: str


DEFAULT_SCRIPT: tuple[Line, ...] = (
    Line("alice", "hi bob, can you read this?"),
    Line("bob", "loud and clear, alice"),
    Line("server", "welcome, both of you"),
    Line("alice", "the same line twice"),
    Line("alice", "the same line twice"),
    Line("bob", "lower case stays lower case, and ünïcödé stays ünïcödé"),
    Line("server", "that is all for the demo"),
)


def expected_receipts(script: Sequence[Line], participants: Sequence[str]) -> dict[str, list[str]]:
    """What each participant's stdout must show: every line of the others, in script order."""
    return {
        name: [f"{line.speaker}: {line.text}" for line in script if line.speaker != name]
        for name in participants
    }


def check_transcript(script: Sequence[Line], received: Mapping[str, Sequence[str]]) -> list[str]:
    """Compare what each participant received with what it should have; return the problems found."""
    problems: list[str] = []
    for name, expected in expected_receipts(script, list(received)).items():
        got = list(received[name])
        if got == expected:
            continue
        missing = [line for line in expected if line not in got]
        extra = [line for line in got if line not in expected]
        for line in missing:
            problems.append(f"{name} never received {line!r}")
        for line in extra:
            problems.append(f"{name} received unexpected {line!r}")
        if not missing and not extra:
            problems.append(f"{name} received the right lines in the wrong order or count: {got!r}")
    return problems


@dataclass
class Participant:
    """A running ``cryptochat`` process and everything it printed so far."""

    name: str
    process: asyncio.subprocess.Process
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    def start_reading(self) -> None:
        assert self.process.stdout is not None and self.process.stderr is not None
        self.readers = [
            asyncio.create_task(self._pump(self.process.stdout, self.stdout)),
            asyncio.create_task(self._pump(self.process.stderr, self.stderr)),
        ]

    async def _pump(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        while raw := await stream.readline():
            into.append(raw.decode("utf-8", "replace").rstrip("\n"))
            self.changed.set()

    async def wait_for(self, predicate: str, *, stream: str = "stdout", timeout: float = 10.0) -> bool:
        """Wait until a line containing ``predicate`` appears; False on timeout or exit."""
        lines = self.stdout if stream == "stdout" else self.stderr
        return await wait_until(
            lambda: any(predicate in line for line in lines),
            self.changed,
            timeout,
            gone=lambda: self.process.returncode is not None and all(r.done() for r in self.readers),
        )

    async def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()

    async def end_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.process.stdin.wait_closed()

    async def finish(self, timeout: float = 10.0) -> int:
        """Wait for exit (killing it after ``timeout``) and for its output to be read."""
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
            self.stderr.append(f"(demo: killed after {timeout} s)")
        await asyncio.gather(*self.readers)
        return code


async def spawn(name: str, argv: Sequence[str]) -> Participant:
    """Start ``argv`` with all three standard streams piped and start collecting its output."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    participant = Participant(name, process)
    participant.start_reading()
    return participant


@dataclass
class ConversationResult:
    received: dict[str, list[str]]
    notices: dict[str, list[str]]
    exit_codes: dict[str, int]
    problems: list[str]
    engine: str
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.problems


async def run_conversation(
    script: Sequence[Line],
    key_file: str,
    *,
    clients: Sequence[str] = ("alice", "bob"),
    server_name: str = "server",
    command: Sequence[str] = (sys.executable, "-m", "cryptochat"),
    engine: str = "auto",
    timeout: float = 10.0,
) -> ConversationResult:
    """Start a server and ``clients`` on loopback, play ``script``, stop everyone, check the transcript."""
    started = time.monotonic()
    common = ["--key-file", key_file, "--engine", engine]
    server = await spawn(
        server_name,
        [*command, "serve", "--host", "127.0.0.1", "--port", "0", "--name", server_name, *common],
    )
    people = {server_name: server}
    problems: list[str] = []
    try:
        if not await server.wait_for("listening on", stream="stderr", timeout=timeout):
            raise RuntimeError("the server did not start: " + " | ".join(server.stderr))
        listening = next(line for line in server.stderr if line.startswith("listening on"))
        port = listening.split()[2].rsplit(":", 1)[1]
        for name in clients:
            people[name] = await spawn(
                name, [*command, "connect", "127.0.0.1", port, "--name", name, *common]
            )
            if not await people[name].wait_for("connected to", stream="stderr", timeout=timeout):
                raise RuntimeError(f"{name} did not connect: " + " | ".join(people[name].stderr))
        problems += await play(script, people, timeout)
    except RuntimeError as exc:
        problems.append(str(exc))
    finally:
        exit_codes = await _stop_all(people, server_name, timeout)
    received = {name: p.stdout for name, p in people.items()}
    problems += check_transcript(script, received) if not problems else []
    problems += [f"{name} exited with status {code}" for name, code in exit_codes.items() if code != 0]
    engine_line = next((ln for ln in server.stderr if ln.startswith("engine: ")), "engine: ?")
    return ConversationResult(
        received=received,
        notices={name: p.stderr for name, p in people.items()},
        exit_codes=exit_codes,
        problems=problems,
        engine=engine_line.removeprefix("engine: "),
        seconds=time.monotonic() - started,
    )


class Speaker(Protocol):
    """A participant :func:`play` can type into and watch: a local process or one in a guest."""

    stdout: list[str]
    changed: asyncio.Event

    async def type(self, text: str) -> None: ...


async def play(script: Sequence[Line], people: Mapping[str, Speaker], timeout: float) -> list[str]:
    """Type each line, and wait until every other participant shows it before the next.

    So the order the server chooses is the script's. Returns the problems (a line that never arrived).
    """
    problems: list[str] = []
    for i, line in enumerate(script):
        await people[line.speaker].type(line.text)
        # Lines may repeat: wait for this occurrence, not an earlier one.
        count = script[: i + 1].count(line)
        shown = f"{line.speaker}: {line.text}"
        for name, who in people.items():
            if name == line.speaker:
                continue
            if not await wait_until(partial(_shows, who, shown, count), who.changed, timeout):
                problems.append(f"{name} did not receive {line.text!r} within {timeout} s")
    return problems


def _shows(who: Speaker, line: str, count: int) -> bool:
    return who.stdout.count(line) >= count


async def wait_until(
    condition: Callable[[], bool],
    changed: asyncio.Event,
    timeout: float,
    gone: Callable[[], bool] = lambda: False,
) -> bool:
    """Wait until ``condition()`` holds, checking again each time ``changed`` is set.

    False on timeout, or once ``gone()`` says nothing more can change (the participant exited).
    """
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                if gone():
                    return False
                changed.clear()
                await changed.wait()
    except TimeoutError:
        return False
    return True


async def _stop_all(people: Mapping[str, Participant], server_name: str, timeout: float) -> dict[str, int]:
    """Clients first (end of input: they leave cleanly), then the server (SIGTERM)."""
    codes: dict[str, int] = {}
    clients = {n: p for n, p in people.items() if n != server_name}
    for participant in clients.values():
        await participant.end_input()
    for name, participant in clients.items():
        codes[name] = await participant.finish(timeout)
    server = people[server_name]
    await server.end_input()
    if server.process.returncode is None:
        server.process.send_signal(signal.SIGTERM)
    codes[server_name] = await server.finish(timeout)
    return codes


def _print_result(script: Sequence[Line], result: ConversationResult) -> None:
    for name in result.received:
        print(f"--- as {name} saw it")
        for line in result.notices[name]:
            print(f"  [notice] {line}")
        for line in result.received[name]:
            print(f"  {line}")
    for problem in result.problems:
        print(f"PROBLEM: {problem}")
    text_bytes = sum(len(line.text.encode()) for line in script)
    deliveries = sum(len(lines) for lines in result.received.values())
    status = "ok" if result.ok else "FAILED"
    print(
        f"demo {status}: {len(script)} messages ({text_bytes} bytes of text), {deliveries} deliveries"
        f" to {len(result.received)} participants, engine {result.engine}, {result.seconds:.2f} s"
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cryptochat-demo-") as tmp:
        key_file = os.path.join(tmp, "demo.key")
        with open(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(os.urandom(32))
        result = asyncio.run(run_conversation(DEFAULT_SCRIPT, key_file))
    _print_result(DEFAULT_SCRIPT, result)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
