"""The chat server: asyncio around the sans-IO channel, room, admission and rate limits.

This module only moves bytes and enforces time and space limits:

- **Admission** (:mod:`.admission`): who may start a handshake, per source address and in total, and a
  deadline for finishing it.
- **Flow control**: what the room delivers to a member waits in a per-member list until the end of the
  current event-loop step, then is sealed and handed to its socket in one write. A member whose socket
  does not take it fast enough makes the server stop *reading* from everyone (TCP backpressure on the
  senders), so that a burst is paced to what the room reads; reading resumes as soon as it drains, or
  after ``_HOLD`` at the latest: from then on that member's backlog waits in its own queue (its transport
  buffer), bounded by ``send_buffer``, and nobody else waits for it. Each member's reading is also paced
  by a token bucket (rate and burst). A member is too slow, and cut with a Bye saying why, only when
  something sent to it has waited longer than ``slow_timeout`` or more than ``send_buffer`` bytes wait
  for it: never because someone else sent a burst.
- **Descriptors**: the listening socket is served by our own accept loop, which sheds and pauses when the
  process runs out of file descriptors instead of logging a traceback per failed accept.

Log lines about refused or failed connections are rate-limited per source (:class:`.LogThrottle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import resource
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..engines.base import Engine
from ..errors import ConfigError, LocalProtocolError, ProtocolError
from ..wire.channel import (
    Channel,
    CloseReceived,
    ConnectionClosed,
    DataReceived,
    Event,
    HandshakeComplete,
    Role,
)
from ..wire.framing import DEFAULT_MAX_FRAME
from ..wire.messages import Bye, Message, decode, encode
from .admission import Admission, Refused
from .hosting import LocalRoom, RoomHost
from .ratelimit import LogThrottle, TokenBucket
from .room import CONSOLE, Action, Disconnect, Note

__all__ = ["ChatServer", "ServerConfig"]

_READ_SIZE = 64 * 1024
_HIGH_WATER = 64 * 1024
"""Bytes in a member's transport buffer above which it is congested; it is relieved at a quarter of it."""
_HOLD = 0.1
"""Seconds one congested member may keep the server from reading anyone: a reader that keeps up drains
64 KiB far sooner, and a member that does not read holds the others back no longer than this, once per
congestion (each time it joins, at most)."""
_SEND_BUFFER_KERNEL = 64 * 1024
"""SO_SNDBUF of a member's socket (Linux doubles it). Fixed instead of autotuned (up to 4 MiB on loopback),
so that what waits for a member is mostly in the transport buffer, where the server sees and bounds it."""
_RESERVED_FDS = 32
"""Descriptors kept for everything but connections: stdio, the listener, the spare, epoll, an engine."""
_ACCEPT_PAUSE = 0.1
"""Seconds the accept loop rests after running out of descriptors, so closing connections can free some."""
_LOG_INTERVAL = 1.0
"""At most one line per kind of refusal and source per this many seconds."""
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "0.0.0.0"  # noqa: S104 - a chat server is meant to be reachable
    port: int = 5555
    name: str = "server"
    max_clients: int = 1000
    """Members in the room; lowered at start if the file descriptor limit cannot hold them."""
    max_handshakes: int = 256
    """Connections in their handshake at once; random early drop from a quarter of this on."""
    handshakes_per_source: int = 16
    """Connections in their handshake from one address; past it a new one replaces that address's oldest."""
    handshake_timeout: float = 10.0
    """Seconds from accept to the client's Hello."""
    slow_timeout: float = 5.0
    """Seconds something sent to a member may wait unread before the member counts as too slow."""
    send_buffer: int = 1024 * 1024
    """Bytes that may wait for one member before it counts as too slow."""
    rate: float = 100.0
    """Messages per second one member may send on average (reading from it pauses beyond)."""
    burst: int = 2000
    """Messages one member may send at once (a paste, a reconnecting client's outbox)."""
    max_frame: int = DEFAULT_MAX_FRAME
    close_timeout: float = 2.0
    """Seconds a closing connection gets to flush before it is cut."""
    history: int = 50
    """Lines kept in memory and replayed to each member who joins (0: none)."""

    def __post_init__(self) -> None:
        for name in ("max_clients", "max_handshakes", "handshakes_per_source", "send_buffer", "burst"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be at least 1")
        for name in ("handshake_timeout", "slow_timeout", "rate"):
            value = getattr(self, name)
            if not 0 < value < float("inf"):
                raise ConfigError(f"{name.replace('_', '-')} must be a positive, finite number")


_CLOSE = None  # in a member's outgoing list: close the channel once everything before it is sent


class _Member:
    """One connection past its handshake: its channel, what waits for it, and how much of it was sent."""

    __slots__ = (
        "channel", "closed", "dirty", "id", "marks", "outgoing", "release", "relief", "source", "writer",
        "written",
    )

    def __init__(self, member: int, source: str, channel: Channel, writer: asyncio.StreamWriter) -> None:
        self.id = member
        self.source = source
        self.channel = channel
        self.writer = writer
        self.outgoing: list[bytes | None] = []
        self.dirty = False  # in the server's list of members to flush
        self.closed = False  # our CLOSE is sealed (or the channel failed): nothing more can be sent
        self.relief: asyncio.Task[None] | None = None  # waits for a congested transport to drain
        self.release: asyncio.TimerHandle | None = None  # ends the congestion's hold on the others
        # Bytes ever handed to the transport, and (when handed, total so far) for writes that did not go
        # straight to the kernel: the first mark past what was sent dates the oldest unsent byte.
        self.written = writer.transport.get_write_buffer_size()
        self.marks: deque[tuple[float, int]] = deque()

    @property
    def backlog(self) -> int:
        """Bytes handed to the transport that the kernel has not taken yet."""
        return self.writer.transport.get_write_buffer_size()

    def flush(self, now: float) -> None:
        """Seal everything waiting and hand it to the socket in one write."""
        if not self.closed:
            try:
                run: list[bytes] = []
                for item in self.outgoing:
                    if item is not _CLOSE:
                        run.append(item)
                        continue
                    if run:
                        self.channel.send_many(run)
                    self.channel.close()
                    self.closed = True
                    break
                else:
                    if run:
                        self.channel.send_many(run)
            except LocalProtocolError:
                self.closed = True  # the channel ended under us (failed, or the peer went): nothing to add
        self.outgoing.clear()
        data = self.channel.data_to_send()
        transport = self.writer.transport
        if data and not transport.is_closing():
            transport.write(data)
            self.written += len(data)
            if transport.get_write_buffer_size():
                self.marks.append((now, self.written))

    def waiting_since(self) -> float | None:
        """When the oldest byte still waiting for this member's socket was handed over; ``None``: none."""
        sent = self.written - self.backlog
        while self.marks and self.marks[0][1] <= sent:
            self.marks.popleft()
        return self.marks[0][0] if self.marks else None


class ChatServer:
    """A chat room on one listening socket. ``show`` receives what the operator's console should see.

    ``room`` makes the room the server carries, given the member limit that fits its descriptors: by
    default a :class:`.LocalRoom` in this process.
    """

    def __init__(
        self,
        config: ServerConfig,
        psk: bytes,
        engine: Engine,
        show: Callable[[Message], None],
        log: Callable[[str], None],
        room: Callable[[int], RoomHost] | None = None,
    ) -> None:
        self.config = config
        self._psk = psk
        self._engine = engine
        self._show = show
        self._log = log
        self.max_clients, max_handshakes = _fit_descriptors(config.max_clients, config.max_handshakes)
        if room is None:
            self._room: RoomHost = LocalRoom(config.name, self.max_clients, config.history)
        else:
            self._room = room(self.max_clients)
        self._failed = asyncio.Event()
        self._failure = ""
        self._admission = Admission(max_handshakes, config.handshakes_per_source)
        self._members: dict[int, _Member] = {}
        self._handshaking: dict[int, asyncio.Task[None]] = {}
        self._ids = itertools.count(CONSOLE + 1)
        self._dirty: list[_Member] = []
        self._flush_pending = False
        self._congested: set[_Member] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._throttle = LogThrottle(_LOG_INTERVAL)
        self._listener: socket.socket | None = None
        self._port: int | None = None  # kept: a room on Redis still delivers while the listener closes
        self._spare: int | None = None
        self._background: list[asyncio.Task[None]] = []
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._port is not None, "start() first"
        return self._port

    @property
    def members(self) -> tuple[str, ...]:
        return self._room.members

    @property
    def max_handshakes(self) -> int:
        return self._admission.full

    async def start(self) -> None:
        cfg = self.config
        family = socket.getaddrinfo(cfg.host, cfg.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        listener = socket.create_server((cfg.host, cfg.port), family=family[0][0], backlog=1024)
        listener.setblocking(False)
        self._listener = listener
        self._port = int(listener.getsockname()[1])
        self._spare = _open_spare()
        if (self.max_clients, self.max_handshakes) != (cfg.max_clients, cfg.max_handshakes):
            self._log(
                f"file descriptor limit {_fd_limit()}: room limited to {self.max_clients} members"
                f" and {self.max_handshakes} handshakes (raise it with ulimit -n)"
            )
        await self._room.start(self._perform, self._fail, self._flowing)
        self._background = [
            asyncio.create_task(self._accept_loop(listener)),
            asyncio.create_task(self._watch_slow()),
        ]

    @property
    def name(self) -> str:
        """The operator's name in the room (``/nick`` changes it)."""
        return self._room.name_of(CONSOLE) or self.config.name

    def post(self, message: Message) -> None:
        """The operator's console sent ``message`` (Say, Emote, Whisper, Who, Nick, Away) to the room.

        :class:`LocalProtocolError` if the message cannot be encoded, exactly as a client's could not be.
        """
        encode(message)
        self._room.submit(CONSOLE, message)

    async def failed(self) -> str:
        """Wait until the room can no longer be carried (its shared log was tampered with); say why."""
        await self._failed.wait()
        return self._failure

    def _fail(self, why: str) -> None:
        self._failure = why
        self._failed.set()

    async def close(self, reason: str = "the server is shutting down") -> None:
        """Stop accepting, say goodbye to every client, give them a moment to flush, then cut."""
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        if self._listener is not None:
            self._listener.close()
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
        leaving = list(self._members.values())
        self._members.clear()
        for member in leaving:
            self._queue(member, encode(Bye(reason)))
            self._queue(member, _CLOSE)
        await self._room.close([member.id for member in leaving], reason)
        self._flowing.set()  # nobody is left to wait for
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=self.config.close_timeout)
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections))

    # ----------------------------------------------------------------- accepting

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(listener)
            except OSError as exc:
                if exc.errno not in _RESOURCE_ERRORS:
                    self._log_limited("accept", "accept", f"accept failed: {exc.strerror or exc}")
                    continue
                self._out_of_descriptors(listener, exc)
                await asyncio.sleep(_ACCEPT_PAUSE)
                continue
            self._admit(conn, _source(address))
            # An accept that finds the next connection already queued does not yield, so without this a
            # flood of reopened connections is accepted in one go, each replacing an older one from its
            # address, before the newcomer among them gets its round trip read: one accept per turn.
            await asyncio.sleep(0)

    def _out_of_descriptors(self, listener: socket.socket, exc: OSError) -> None:
        """Refuse the connection at the head of the queue with the spare descriptor, and say so, rarely."""
        refused = ""
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                conn.close()
                refused = "; refusing connections"
            self._spare = _open_spare()
        self._log_limited(
            "descriptors", "all", f"out of file descriptors ({exc.strerror}){refused}, accepting paused"
        )

    def _admit(self, conn: socket.socket, source: str) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER_KERNEL)
        # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, which an accepted socket
        # of socket.create_server's is not (proto 0): without it Nagle and delayed ACKs stall small
        # lines for 40 ms.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = next(self._ids)
        decision = self._admission.admit(connection, source)
        if isinstance(decision, Refused):
            self._log_limited("refused", source, f"{source}: refused, {decision.reason}")
            conn.close()
            return
        if decision.evict is not None and (old := self._handshaking.pop(decision.evict, None)) is not None:
            self._log_limited(
                "replaced", source,
                f"{source}: dropped its oldest connection in handshake, at the limit of"
                f" {self.config.handshakes_per_source} per address",
            )
            old.cancel()
        task = asyncio.create_task(self._serve_connection(conn, connection, source))
        self._handshaking[connection] = task
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    # ----------------------------------------------------------------- connections

    async def _serve_connection(self, conn: socket.socket, connection: int, source: str) -> None:
        try:
            reader, writer = await _streams(conn)
        except OSError:
            conn.close()
            self._handshake_over(connection)
            return
        channel = Channel(Role.SERVER, self._psk, self._engine, max_frame=self.config.max_frame)
        member: _Member | None = None
        reason = "connection lost"
        try:
            try:
                async with asyncio.timeout(self.config.handshake_timeout):
                    first = await self._handshake(channel, reader, writer)
            finally:
                self._handshake_over(connection)
            writer.transport.set_write_buffer_limits(high=_HIGH_WATER, low=_HIGH_WATER // 4)
            member = _Member(connection, source, channel, writer)
            self._members[connection] = member
            reason = await self._read_loop(member, reader, first)
        except TimeoutError:
            self._log_limited("deadline", source, f"{source}: handshake deadline passed, dropped")
        except ProtocolError as exc:
            self._log_limited("protocol", source, f"{source}: {exc}")
            reason = "protocol error"
            if not writer.transport.is_closing():
                writer.write(channel.data_to_send())  # e.g. a version reject explaining the failure
        except (ConnectionError, OSError) as exc:
            self._log_limited("lost", source, f"{source}: {exc.strerror or exc}")
        finally:
            self._room.leave(connection, reason)
            self._members.pop(connection, None)
            await self._finish(member, writer)

    def _handshake_over(self, connection: int) -> None:
        self._admission.done(connection)
        self._handshaking.pop(connection, None)

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

    async def _read_loop(self, member: _Member, reader: asyncio.StreamReader, events: list[Event]) -> str:
        """Process the member's records until it leaves; return why it left."""
        loop = asyncio.get_running_loop()
        bucket = TokenBucket(self.config.rate, self.config.burst, loop.time())
        while True:
            received = 0
            for event in events:
                if isinstance(event, DataReceived):
                    received += 1
                    self._on_message(member, decode(event.data))
                elif isinstance(event, CloseReceived):
                    self._queue(member, _CLOSE)
                elif isinstance(event, ConnectionClosed):
                    return "bye" if event.clean else "connection lost"
            if member.id not in self._members:
                return "bye"
            # Read on only when the room can take more from this member: its rate allows it, and every
            # member's socket is keeping up (otherwise what it sends could not be queued for everyone).
            delay = bucket.take(received, loop.time())
            if delay:
                await asyncio.sleep(delay)
            await self._flowing.wait()
            await self._room.ready()
            events = member.channel.receive_data(await reader.read(_READ_SIZE))

    def _on_message(self, member: _Member, message: Message) -> None:
        self._room.submit(member.id, message)

    async def _finish(self, member: _Member | None, writer: asyncio.StreamWriter) -> None:
        if member is not None:
            self._unblock(member)
            if member.relief is not None:
                member.relief.cancel()
            # What the room queued (a goodbye, a CLOSE) goes out now; close() sends what is buffered.
            member.flush(asyncio.get_running_loop().time())
        writer.close()
        with contextlib.suppress(ConnectionError, OSError, TimeoutError):
            async with asyncio.timeout(self.config.close_timeout):
                await writer.wait_closed()
        writer.transport.abort()

    # ----------------------------------------------------------------- room actions and flow control

    def _perform(self, actions: list[Action]) -> None:
        """Queue the room's actions in order, so every member sees the same order."""
        for action in actions:
            if isinstance(action, Note):
                # Refused joins: throttled per source address, as every refusal.
                about = self._members.get(action.member)
                self._log_limited("note", about.source if about else "room", action.text)
                continue
            if isinstance(action, Disconnect):
                member = self._members.pop(action.member, None)
                if member is not None:
                    self._queue(member, _CLOSE)
                continue
            wire = encode(action.message)  # once per delivery, not once per recipient
            for to in action.to:
                if to == CONSOLE:
                    self._show(action.message)
                elif (member := self._members.get(to)) is not None:
                    self._queue(member, wire)

    def _queue(self, member: _Member, item: bytes | None) -> None:
        member.outgoing.append(item)
        if not member.dirty:
            member.dirty = True
            self._dirty.append(member)
            if not self._flush_pending:
                # Everything the room produces during this event-loop step leaves in one write per member.
                self._flush_pending = True
                asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        now = asyncio.get_running_loop().time()
        while self._dirty:
            dirty, self._dirty = self._dirty, []
            for member in dirty:
                member.dirty = False
                member.flush(now)
                if member.id not in self._members:
                    continue  # leaving: its close is bounded by close_timeout, it holds nobody back
                backlog = member.backlog
                if backlog > self.config.send_buffer:
                    self._drop_slow(member, f"{backlog} bytes waiting")
                elif backlog > _HIGH_WATER and member.relief is None:
                    self._congest(member)

    def _congest(self, member: _Member) -> None:
        self._congested.add(member)
        self._flowing.clear()
        member.relief = asyncio.create_task(self._relieve(member))
        member.release = asyncio.get_running_loop().call_later(_HOLD, self._unblock, member)

    def _unblock(self, member: _Member) -> None:
        """``member`` holds nobody back any more (it drained, its hold is over, or it is gone)."""
        if member.release is not None:
            member.release.cancel()
            member.release = None
        self._congested.discard(member)
        if not self._congested:
            self._flowing.set()

    async def _relieve(self, member: _Member) -> None:
        try:
            # Returns once the transport's buffer is below its low-water mark (or the connection is gone).
            await member.writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            member.relief = None
            self._unblock(member)

    async def _watch_slow(self) -> None:
        timeout = self.config.slow_timeout
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = loop.time()
            for member in list(self._members.values()):
                since = member.waiting_since()
                if since is not None and now - since > timeout:
                    self._drop_slow(member, f"nothing read for {now - since:.1f} s")

    def _drop_slow(self, member: _Member, why: str) -> None:
        name = self._room.name_of(member.id) or f"#{member.id}"
        self._log(f"{name}: disconnected, too slow to keep up ({why})")
        self._members.pop(member.id, None)
        self._unblock(member)
        # The goodbye goes after what already waits: the member reads it if it ever reads again within
        # close_timeout; then the connection is cut whatever is left unsent.
        member.outgoing = [encode(Bye(f"too slow to keep up ({why})")), _CLOSE]
        loop = asyncio.get_running_loop()
        member.flush(loop.time())
        transport = member.writer.transport
        transport.close()
        loop.call_later(self.config.close_timeout, transport.abort)
        self._room.leave(member.id, "disconnected: too slow to keep up")

    def _log_limited(self, kind: str, source: str, line: str) -> None:
        held = self._throttle.check(f"{kind} {source}", asyncio.get_running_loop().time())
        if held is None:
            return
        self._log(f"{line} (and {held} more like it)" if held else line)


async def _streams(conn: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Stream reader and writer for an accepted socket, as ``asyncio.start_server`` would make them."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_READ_SIZE, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, conn)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def _source(address: object) -> str:
    """The peer's address as logs show it and admission counts it: IPv6 in brackets."""
    if not isinstance(address, tuple):
        return "local"
    host = str(address[0])
    return f"[{host}]" if ":" in host else host


def _fd_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _fit_descriptors(max_clients: int, max_handshakes: int) -> tuple[int, int]:
    """The room and handshake limits, lowered to fit this process's descriptor limit (one per connection)."""
    limit = _fd_limit()
    if limit == resource.RLIM_INFINITY:
        return max_clients, max_handshakes
    available = max(2, limit - _RESERVED_FDS)
    handshakes = max(1, min(max_handshakes, available // 4))
    return max(1, min(max_clients, available - handshakes)), handshakes


def _open_spare() -> int | None:
    """A descriptor held in reserve, given up to accept-and-close a connection when none are left."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
