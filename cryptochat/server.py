"""The chat server: asyncio streams around the sans-IO channel and room.

This module only moves bytes and enforces time and space limits: a handshake deadline, a cap on clients and
on connections still in their handshake, and a bounded send queue per client. A client whose queue fills up
is disconnected (the others are told), so one stalled reader never holds anyone else back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .channel import (
    Channel,
    CloseReceived,
    ConnectionClosed,
    DataReceived,
    Event,
    HandshakeComplete,
    Role,
)
from .engines.base import Engine
from .errors import ProtocolError
from .framing import DEFAULT_MAX_FRAME
from .messages import Bye, Message, decode, encode
from .room import CONSOLE, Action, Disconnect, Note, Room

__all__ = ["ChatServer", "ServerConfig"]

_READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "0.0.0.0"  # noqa: S104 - a chat server is meant to be reachable
    port: int = 5555
    name: str = "server"
    max_clients: int = 64
    max_handshakes: int = 16
    """Connections allowed to be in their handshake at once; more are closed at accept."""
    handshake_timeout: float = 10.0
    """Seconds from accept to the client's Hello."""
    send_queue: int = 256
    """Messages waiting for one client before it counts as too slow and is disconnected."""
    max_frame: int = DEFAULT_MAX_FRAME
    close_timeout: float = 2.0
    """Seconds a closing connection gets to flush before it is cut."""
    history: int = 50
    """Lines kept in memory and replayed to each member who joins (0: none)."""


_CLOSE = None  # in a send queue: close the channel once everything before it is sent


class _Client:
    """One connected, joined participant: its channel, its bounded queue and the task draining it."""

    def __init__(
        self, member: int, channel: Channel, writer: asyncio.StreamWriter, queue_size: int
    ) -> None:
        self.member = member
        self.channel = channel
        self.writer = writer
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(queue_size)
        self.sender: asyncio.Task[None] | None = None

    async def drain_queue(self) -> None:
        while True:
            # Seal everything already waiting, then hand it to the socket in one write.
            items = [await self.queue.get()]
            while not self.queue.empty():
                items.append(self.queue.get_nowait())
            closing = False
            for item in items:
                if item is None:
                    self.channel.close()
                    closing = True
                    break
                self.channel.send(item)
            self.writer.write(self.channel.data_to_send())
            await self.writer.drain()
            if closing:
                return


class ChatServer:
    """A chat room on one listening socket. ``show`` receives what the operator's console should see."""

    def __init__(
        self,
        config: ServerConfig,
        psk: bytes,
        engine: Engine,
        show: Callable[[Message], None],
        log: Callable[[str], None],
    ) -> None:
        self.config = config
        self._psk = psk
        self._engine = engine
        self._show = show
        self._log = log
        self._room = Room(config.name, config.max_clients, config.history)
        self._clients: dict[int, _Client] = {}
        self._ids = itertools.count(CONSOLE + 1)
        self._handshaking = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def name(self) -> str:
        """The operator's name in the room (``/nick`` changes it)."""
        return self._room.name_of(CONSOLE) or self.config.name

    @property
    def members(self) -> tuple[str, ...]:
        return self._room.members

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, self.config.host, self.config.port
        )

    def post(self, message: Message) -> None:
        """The operator's console sent ``message`` (Say, Emote, Whisper, Who, Nick) to the room.

        :class:`LocalProtocolError` if the message cannot be encoded, exactly as a client's could not be.
        """
        encode(message)
        self._perform(self._room.handle(CONSOLE, message))

    async def close(self, reason: str = "the server is shutting down") -> None:
        """Stop accepting, say goodbye to every client, give them a moment to flush, then cut."""
        if self._server is not None:
            self._server.close()
        for client in list(self._clients.values()):
            self._clients.pop(client.member)
            # Everyone is leaving: the Leave announcements the room returns would go to no one.
            self._room.leave(client.member, reason)
            self._enqueue(client, encode(Bye(reason)))
            self._enqueue(client, _CLOSE)
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=self.config.close_timeout)
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections))
        if self._server is not None:
            await self._server.wait_closed()

    # ----------------------------------------------------------------- connections

    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve_connection(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = _peer_name(writer)
        if self._handshaking >= self.config.max_handshakes:
            self._log(f"{peer}: refused, too many connections in their handshake")
            writer.transport.abort()
            return
        channel = Channel(Role.SERVER, self._psk, self._engine, max_frame=self.config.max_frame)
        member = next(self._ids)
        client: _Client | None = None
        reason = "connection lost"
        try:
            self._handshaking += 1
            try:
                async with asyncio.timeout(self.config.handshake_timeout):
                    first = await self._handshake(channel, reader, writer)
            finally:
                self._handshaking -= 1
            client = _Client(member, channel, writer, self.config.send_queue)
            client.sender = asyncio.create_task(client.drain_queue())
            self._clients[member] = client
            reason = await self._read_loop(client, reader, first)
        except TimeoutError:
            self._log(f"{peer}: handshake deadline passed, dropped")
        except ProtocolError as exc:
            self._log(f"{peer}: {exc}")
            reason = "protocol error"
            writer.write(channel.data_to_send())  # e.g. a version reject explaining the failure
        except (ConnectionError, OSError) as exc:
            self._log(f"{peer}: {exc.strerror or exc}")
        finally:
            self._perform(self._room.leave(member, reason))
            self._clients.pop(member, None)
            await self._finish(client, writer)

    async def _handshake(
        self, channel: Channel, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> list[Event]:
        """Run the handshake until the first application record; return the events from there on."""
        while True:
            events = channel.receive_data(await reader.read(_READ_SIZE))
            writer.write(channel.data_to_send())
            await writer.drain()
            for i, event in enumerate(events):
                if isinstance(event, DataReceived):
                    return events[i:]
                if not isinstance(event, HandshakeComplete):
                    raise ConnectionError("the client left before saying hello")

    async def _read_loop(self, client: _Client, reader: asyncio.StreamReader, events: list[Event]) -> str:
        """Process the member's records until it leaves; return why it left."""
        while True:
            for event in events:
                if isinstance(event, DataReceived):
                    self._perform(self._room.handle(client.member, decode(event.data)))
                elif isinstance(event, CloseReceived):
                    self._enqueue(client, _CLOSE)
                elif isinstance(event, ConnectionClosed):
                    return "bye" if event.clean else "connection lost"
            if client.member not in self._clients:
                return "bye"
            events = client.channel.receive_data(await reader.read(_READ_SIZE))

    async def _finish(self, client: _Client | None, writer: asyncio.StreamWriter) -> None:
        if client is not None and client.sender is not None:
            # Let the sender flush what the room queued (a goodbye, a CLOSE), within limits.
            sender = client.sender
            await asyncio.wait([sender], timeout=self.config.close_timeout)
            sender.cancel()
            if sender.done() and not sender.cancelled():
                sender.exception()  # a leaving client's socket failing is not worth reporting
        writer.close()
        with contextlib.suppress(ConnectionError, OSError, TimeoutError):
            async with asyncio.timeout(self.config.close_timeout):
                await writer.wait_closed()
        writer.transport.abort()

    # ----------------------------------------------------------------- room actions

    def _perform(self, actions: list[Action]) -> None:
        """Carry out the room's actions in order, so every member sees the same order."""
        pending = deque(actions)
        while pending:
            action = pending.popleft()
            if isinstance(action, Note):
                self._log(action.text)
                continue
            if isinstance(action, Disconnect):
                client = self._clients.pop(action.member, None)
                if client is not None:
                    self._enqueue(client, _CLOSE)
                continue
            slow: list[_Client] = []
            wire = encode(action.message)  # once per delivery, not once per recipient
            for member in action.to:
                if member == CONSOLE:
                    self._show(action.message)
                elif (client := self._clients.get(member)) is not None and not self._offer(client, wire):
                    slow.append(client)
            # Announced after this delivery reached everyone else, to keep a single order for all.
            for client in slow:
                pending.extend(self._drop_slow(client))

    def _offer(self, client: _Client, item: bytes | None) -> bool:
        try:
            client.queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    def _enqueue(self, client: _Client, item: bytes | None) -> None:
        if not self._offer(client, item):
            self._perform(self._drop_slow(client))

    def _drop_slow(self, client: _Client) -> list[Action]:
        name = self._room.name_of(client.member) or f"#{client.member}"
        self._log(f"{name}: disconnected, too slow to keep up ({self.config.send_queue} queued)")
        self._clients.pop(client.member, None)
        if client.sender is not None:
            client.sender.cancel()
        client.writer.transport.abort()
        return self._room.leave(client.member, "disconnected: too slow to keep up")


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"[{peer[0]}]:{peer[1]}" if ":" in peer[0] else f"{peer[0]}:{peer[1]}"
    return "peer"
