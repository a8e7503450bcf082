"""The chat client: asyncio streams around the sans-IO channel, with reconnection.

Lines the operator typed wait in a bounded outbox until a connection is up; a line leaves the outbox only
once its record is handed to the socket. When the connection drops after it was working, the client says
so and reconnects with exponential backoff. Errors that another attempt cannot fix (another key, another
protocol version, a server that refuses us) end it with one line and a non-zero status.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import socket
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..engines.base import Engine
from ..errors import (
    AuthenticationError,
    CryptochatError,
    ProtocolError,
    RemoteProtocolError,
    VersionMismatch,
)
from ..wire.channel import Channel, CloseReceived, ConnectionClosed, DataReceived, HandshakeComplete, Role
from ..wire.framing import DEFAULT_MAX_FRAME
from ..wire.messages import (
    Away,
    Bye,
    Emote,
    Emoted,
    Error,
    Hello,
    History,
    HistoryAction,
    Join,
    Leave,
    Message,
    Nick,
    Renamed,
    Say,
    Text,
    Welcome,
    Whisper,
    Whispered,
    Who,
    decode,
    encode,
)
from .commands import (
    Act,
    AskWho,
    BeAway,
    ChangeNick,
    Command,
    Quit,
    Reconnect,
    SendPrivate,
    SendText,
    check_command,
)
from .console import Console, Status, show_room_message

__all__ = ["ChatClient", "ClientConfig", "to_message"]

_READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class ClientConfig:
    host: str
    port: int
    name: str
    max_frame: int = DEFAULT_MAX_FRAME
    connect_timeout: float = 10.0
    handshake_timeout: float = 10.0
    """Seconds from connecting to the server's Welcome."""
    reconnect_initial: float = 0.5
    reconnect_max: float = 8.0
    reconnect_attempts: int = 10
    """Consecutive failed reconnections before giving up."""
    max_pending: int = 1000
    """Lines kept while disconnected; reading input pauses when this many wait."""
    close_timeout: float = 2.0


def to_message(command: Command) -> Message | str:
    """The message a command sends, or why it cannot be sent."""
    problem = check_command(command)
    if problem is not None:
        return problem
    match command:
        case SendText(text=text):
            return Say(text)
        case Act(text=text):
            return Emote(text)
        case SendPrivate(to=to, text=text):
            return Whisper(to, text)
        case ChangeNick(name=name):
            return Nick(name)
        case AskWho():
            return Who()
        case BeAway(reason=reason):
            return Away(reason)
        case _:
            raise AssertionError(f"{command} is for the console itself, not the room")


class _Lost(Exception):
    """The connection ended in a way another connection may fix; the message is the whole sentence."""


class _Unreachable(_Lost):
    """No connection could be made at all."""


class _Fatal(CryptochatError):
    """An error no reconnection can fix."""


class ChatClient:
    def __init__(self, config: ClientConfig, psk: bytes, engine: Engine, console: Console) -> None:
        self.config = config
        self._psk = psk
        self._engine = engine
        self._console = console
        self._name = config.name
        self._members: set[str] = set()
        self._state = "connecting"
        self._quit_reason = ""  # the room says "bye" for an empty one
        # Each line with its encoding: shown as the operator's own once handed to a live channel.
        self._outbox: deque[tuple[Message, bytes]] = deque()
        self._wake = asyncio.Event()
        self._has_room = asyncio.Event()
        self._input_done = False
        self._stop = asyncio.Event()
        self._countdown_over = asyncio.Event()  # stop, or /reconnect: the wait to reconnect ends now
        self._welcomed = False  # the current connection got its Welcome
        self._ever_welcomed = False
        self._seen: int | None = None  # the number of the last room line shown: a reconnection resumes there

    @property
    def name(self) -> str:
        return self._name

    def stop(self) -> None:
        """Leave now (a signal): send what is queued if connected, but do not wait to reconnect."""
        self._input_done = True
        self._stop.set()
        self._countdown_over.set()
        self._wake.set()

    async def run(self) -> int:
        """Chat until the input ends or :meth:`stop`; return the exit status."""
        commands = asyncio.create_task(self._read_commands())
        problem = None
        try:
            status = await self._connect_loop()
        except _Fatal as exc:
            status, problem = 1, str(exc)
        finally:
            commands.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await commands
        # After the console closed, so that a terminal user still sees it once the full screen is gone.
        if problem is not None:
            self._console.error(problem)
        return status

    def _show_status(self, state: str | None = None) -> None:
        if state is not None:
            self._state = state
        connected = self._state == "connected"
        members = len(self._members) if connected else None
        names = tuple(sorted(self._members)) if connected else ()
        self._console.status(Status(self._name, members, self._state, names))

    # ----------------------------------------------------------------- input side

    async def _read_commands(self) -> None:
        async for command in self._console.commands():
            if isinstance(command, Quit):
                self._quit_reason = command.reason or self._quit_reason
                break
            if isinstance(command, Reconnect):
                if self._state.startswith("reconnecting"):
                    self._console.notice("reconnecting now")
                    self._countdown_over.set()
                else:
                    self._console.error(f"not waiting to reconnect: {self._state}")
                continue
            message = to_message(command)
            if isinstance(message, str):
                self._console.error(message)
                continue
            while len(self._outbox) >= self.config.max_pending:
                self._has_room.clear()
                await self._has_room.wait()
            self._outbox.append((message, encode(message)))
            if self._ever_welcomed and not self._welcomed:  # before the first connection, just wait
                self._console.pending(self._as_shown(message), len(self._outbox))
            self._wake.set()
        self._input_done = True
        self._wake.set()

    # ----------------------------------------------------------------- connections

    async def _connect_loop(self) -> int:
        failures = 0
        while True:
            self._welcomed = False
            try:
                await self._session()
                return 0
            except _Lost as lost:
                if not self._ever_welcomed:
                    if isinstance(lost, _Unreachable):
                        raise _Fatal(str(lost)) from None
                    raise _Fatal(f"cannot reach the server at {self._address()}: {lost}") from None
                failures = 1 if self._welcomed else failures + 1
                self._welcomed = False  # from now on, a line typed waits for the next connection
                if self._input_done and (not self._outbox or self._stop.is_set()):
                    self._console.notice(f"{lost}; nothing left to send")
                    return 0
                tries = self.config.reconnect_attempts
                if tries == 0:
                    raise _Fatal(f"{lost}; not reconnecting (--reconnect-attempts 0)") from None
                if failures > tries:
                    raise _Fatal(
                        f"{lost}; gave up after {tries} reconnection attempt{'s' if tries != 1 else ''}"
                    ) from None
                base = self.config.reconnect_initial * 2 ** (failures - 1)
                # Jitter, so clients dropped together by a restart do not all return at the same instant.
                delay = min(self.config.reconnect_max, base) * random.uniform(0.8, 1.2)
                self._console.notice(f"{lost}; reconnecting in {delay:.1f} s")
                if await self._count_down(delay):
                    return 0

    async def _count_down(self, delay: float) -> bool:
        """Wait ``delay`` seconds, the toolbar counting them down; True if :meth:`stop` came first.

        ``/reconnect`` ends the wait early.
        """
        loop = asyncio.get_running_loop()
        end = loop.time() + delay
        if not self._stop.is_set():
            self._countdown_over.clear()
        while (left := end - loop.time()) > 0 and not self._countdown_over.is_set():
            self._show_status(f"reconnecting in {math.ceil(left)} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._countdown_over.wait(), min(left, 1.0))
        self._show_status("connecting")
        return self._stop.is_set()

    def _address(self) -> str:
        host = self.config.host
        return f"[{host}]:{self.config.port}" if ":" in host else f"{host}:{self.config.port}"

    async def _session(self) -> None:
        """One connection, from connect to goodbye; returns after leaving cleanly, raises otherwise."""
        cfg = self.config
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            raise _Unreachable(f"cannot reach the server at {self._address()}: {_describe(exc)}") from None
        channel = Channel(Role.CLIENT, self._psk, self._engine, max_frame=cfg.max_frame)
        try:
            await self._converse(channel, reader, writer)
        except (AuthenticationError, VersionMismatch) as exc:
            writer.write(channel.data_to_send())  # our confirmation lets the server report it too
            raise _Fatal(str(exc)) from None
        except ProtocolError as exc:
            writer.write(channel.data_to_send())
            raise _Lost(f"connection lost: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise _Lost(f"connection lost: {_describe(exc)}") from None
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(cfg.close_timeout):
                    await writer.wait_closed()
            writer.transport.abort()

    async def _converse(
        self, channel: Channel, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.handshake_timeout
        leaving = False
        read: asyncio.Task[bytes] | None = None
        try:
            while True:
                # A server under load may read from us only once we read what it sent (flow control):
                # while our writes wait to drain we keep reading, and only stop taking from the outbox.
                transport = writer.transport
                congested = transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]
                if self._welcomed and not leaving and not congested:
                    self._flush(channel)
                    if self._input_done and (not self._outbox or self._stop.is_set()):
                        channel.send(encode(Bye(self._quit_reason)))
                        channel.close()
                        leaving = True
                        deadline = loop.time() + self.config.close_timeout
                writer.write(channel.data_to_send())
                if read is None:
                    read = asyncio.create_task(reader.read(_READ_SIZE))
                wake = asyncio.create_task(self._wake.wait())
                waits: set[asyncio.Future[Any]] = {read, wake}
                if congested:
                    waits.add(asyncio.create_task(_drained(writer)))
                timeout = None if self._welcomed and not leaving else deadline - loop.time()
                done, pending = await asyncio.wait(
                    waits, timeout=max(timeout, 0) if timeout is not None else None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for task in pending - {read}:
                    task.cancel()
                self._wake.clear()
                if not done:
                    if leaving:
                        return  # the server did not confirm our goodbye in time; we said it anyway
                    raise _Lost("the server did not answer the handshake in time")
                if read not in done:
                    continue
                data, read = read.result(), None
                for event in channel.receive_data(data):
                    if isinstance(event, HandshakeComplete):
                        channel.send(encode(Hello(self._name, seen=self._seen)))
                    elif isinstance(event, DataReceived):
                        self._on_message(decode(event.data), leaving)
                    elif isinstance(event, CloseReceived):
                        if leaving:
                            return
                        raise _Lost("the server closed the connection")
                    elif isinstance(event, ConnectionClosed):
                        if leaving:
                            return
                        raise _Lost("the server closed the connection" if event.clean else "connection lost")
        finally:
            if read is not None:
                read.cancel()

    def _flush(self, channel: Channel) -> None:
        while self._outbox:
            message, wire = self._outbox.popleft()
            channel.send(wire)
            self._show_own(message)
        self._has_room.set()

    def _as_shown(self, message: Message) -> str:
        """A line waiting to be sent, as the operator typed it to be seen."""
        match message:
            case Emote(text=text):
                return f"* {self._name} {text}"
            case Whisper(to=to, text=text):
                return f"→ {to} (private): {text}"
            case Say(text=text):
                return text
            case Nick(name=name):
                return f"/nick {name}"
            case Away(reason=reason):
                return f"/away {reason}".rstrip()
            case _:
                return "/who"

    def _show_own(self, message: Message) -> None:
        match message:
            case Say(text=text):
                self._console.message(self._name, text, own=True)
            case Emote(text=text):
                self._console.action(self._name, text, own=True)

    def _on_message(self, message: Message, leaving: bool) -> None:
        console = self._console
        match message:
            case Welcome(name=name, members=members):
                if self._welcomed:
                    raise RemoteProtocolError("a second Welcome")
                if name != self._name:
                    console.notice(f"the name {self._name} is taken; you are {name}")
                self._name = name
                self._members = set(members)
                verb = "reconnected" if self._ever_welcomed else "connected"
                console.notice(f"{verb} to {self._address()} as {name}; present: {', '.join(members)}")
                self._welcomed = self._ever_welcomed = True
                self._show_status("connected")
            case Whispered(to=to, text=text):
                # Shown once the server has delivered it, to whom it really went.
                console.private(self._name, text, to=to)
            case Error(reason=reason):
                console.refused(f"the server says: {reason}")
            case Bye(reason=reason):
                if not self._welcomed:
                    raise _Fatal(f"the server refused us: {reason}")
                if not leaving:
                    raise _Lost(f"the server said goodbye: {reason}")
            case _:
                if not show_room_message(console, message):
                    raise RemoteProtocolError(f"a server may not send {type(message).__name__}")
                self._track(message)

    def _track(self, message: Message) -> None:
        """Keep the last line's number, and the name and the member count in the toolbar, up to date."""
        match message:
            case Text(seq=int(seq)) | Emoted(seq=int(seq)) | History(seq=seq) | HistoryAction(seq=seq):
                self._seen = seq
                return
            case Join(name=name):
                self._members.add(name)
            case Leave(name=name):
                self._members.discard(name)
            case Renamed(old=old, new=new):
                self._members.discard(old)
                self._members.add(new)
                if old == self._name:
                    self._name = new
            case _:
                return
        self._show_status()


async def _drained(writer: asyncio.StreamWriter) -> None:
    """Wait for the transport's buffer to drain; a lost connection is the reader's to report."""
    with contextlib.suppress(ConnectionError):
        await writer.drain()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        # The resolver's own numbers (EAI_NONAME is -2) mean nothing to os.strerror.
        return exc.strerror or str(exc)
    if isinstance(exc, OSError) and exc.errno:
        # Not exc.strerror: asyncio puts "Connect call failed ('127.0.0.1', 5601)" there.
        return os.strerror(exc.errno)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
