"""A room on Redis: asyncio around :mod:`.cluster`, so several servers carry one room (``serve --cluster``).

Four tasks share one connection pool:

- the **reader** follows the room's stream (``XREAD BLOCK``) from its first entry, opens each entry and
  applies it to this server's replica, and hands the actions for this server's members to the server
  (before any task starts, the server creates the stream's first entry, which names the stream, with
  ``XADD`` at the fixed id ``0-1``, so that of servers starting together only one can, and follows
  whichever stream start is there);
- the **publisher** appends what this server's members do (``XADD``, pipelined), in order, and keeps an
  entry until Redis has taken it, so that an outage delays events but loses none (an append that Redis
  took but could not confirm comes back as a duplicate, which the log skips);
- the **heartbeat** renews this server's lease, a key that expires ``lease`` seconds after its last renewal
  (written first before any task starts, so that no server can see this one's Hello before its lease);
- the **watch** declares gone, through the stream, any server with members whose lease it has found
  missing at every check for a whole lease (so a lease deleted or late is written again before that), once
  this server has itself been connected for a whole lease (so that no one is declared gone for an outage
  that stopped everyone's renewals).

A lease holds a MAC of where and as whom its server runs: a server that finds its own in a lease at start
is that server restarted, and declares it gone before its Hello, so that it takes its name back.

While Redis is unreachable every task retries; the members of this server are told when it goes and when
it comes back. An entry that fails authentication is skipped with one log line; a gap or a change of
order in the log ends the server (``fail``), since its copy of the room can no longer be trusted, after
it appended a ``BROKEN`` event that ends every other server too, including those that applied an entry
the keeper deleted afterwards: all stop, so the room never splits into copies that went on apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from typing import cast
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from ..engines.base import Engine
from ..errors import CryptochatError, IntegrityError, SequenceError
from ..wire.messages import Bye, Hello, Message, Notice, encode
from .cluster import ORIGIN_SIZE, EventLog, Kind, Replica, lease_claim
from .cluster_config import ClusterConfig
from .hosting import Perform
from .room import CONSOLE, Action, Deliver, check_input, refuse_full

__all__ = ["RedisRoom"]

_FIELD = b"e"
_RESTARTED = "their server restarted"
_MAX_FOUND = 300
"""Bytes of a BROKEN event's explanation that reach the log."""
_START_ID = "0-1"
"""The stream's first entry: an XADD at this id succeeds only on a stream that has never had an entry."""
_Streams = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None
"""What XREAD answers under RESP2 (redis-py's default): per stream, its entries as (id, fields)."""
_READ_COUNT = 1000
_READ_BLOCK_MS = 1000
_PUBLISH_BATCH = 500
_OUTBOX_HIGH = 4000
"""Events waiting for Redis beyond which the server stops reading its members (until a quarter are left)."""
_RETRY = (0.1, 2.0)
"""First and longest pause between attempts while Redis is unreachable."""
_CLOSE_TIMEOUT = 2.0
_CONNECT_TIMEOUT = 2.0


def _shown(url: str) -> str:
    """``url`` for the log: without a password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


class RedisRoom:
    """The :class:`~.hosting.RoomHost` of a server in a cluster."""

    def __init__(
        self,
        config: ClusterConfig,
        psk: bytes,
        engine: Engine,
        *,
        console_name: str,
        max_clients: int,
        history: int,
        log: Callable[[str], None],
        identity: str | None = None,
    ) -> None:
        """``identity``: where and as whom this server runs (host name, address, port, name), which no
        other live server can share, so that restarted within its lease it takes its place back; ``None``
        (a port chosen by the system) for a server that no later one replaces."""
        self.config = config
        self._url = _shown(config.url)
        self._log_line = log
        self._events = EventLog(psk, config.room, engine)
        self._replica = Replica(self._events.origin, history)
        self._claim = os.urandom(32) if identity is None else lease_claim(psk, identity)
        self._console_name = console_name
        self._max_clients = max_clients
        prefix = f"cryptochat:{config.room}"
        self._stream = f"{prefix}:events"
        self._alive = f"{prefix}:alive:"
        # No retries inside the client: every task retries itself, and an outage must be seen at once
        # (it restarts the wait before anyone may be declared gone). Timeouts, so that a Redis that
        # vanished from the network is an outage, not a hang.
        self._redis: redis.Redis = redis.Redis.from_url(
            config.url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=_CONNECT_TIMEOUT,
            socket_timeout=_READ_BLOCK_MS / 1000 + _CONNECT_TIMEOUT,
        )
        self._hello: set[int] = set()  # this server's members whose Hello was sent, the operator included
        self._outbox: list[bytes] = []
        self._wake = asyncio.Event()
        self._room_for_more = asyncio.Event()
        self._room_for_more.set()
        self._declared: set[bytes] = set()
        self._missing: dict[bytes, float] = {}  # servers whose lease is missing: since when, by loop time
        self._down = False
        self._connected_since = 0.0
        self._perform: Perform | None = None
        self._fail: Callable[[str], None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []  # the reader, the heartbeat and the watch

    # ----------------------------------------------------------------- RoomHost

    def name_of(self, member: int) -> str | None:
        return self._replica.name_of(member)

    @property
    def members(self) -> tuple[str, ...]:
        return self._replica.members

    async def start(self, perform: Perform, fail: Callable[[str], None], flowing: asyncio.Event) -> None:
        try:
            await self._redis.ping()
            last = await self._follow_stream()
            predecessors = await self._predecessors()
            await self._renew()  # before the Hello: no one may find this server in the room without it
        except (RedisError, OSError) as exc:
            await self._redis.aclose()
            raise CryptochatError(f"cannot reach the cluster at {self._url}: {exc}") from None
        except IntegrityError as exc:
            await self._redis.aclose()
            raise CryptochatError(
                f"the stream {self._stream} on {self._url} does not start as this key and room's do ({exc}):"
                " move the room to a new stream"
            ) from None
        self._perform = perform
        self._fail = fail
        self._connected_since = asyncio.get_running_loop().time()
        self._publisher = asyncio.create_task(self._publish_loop(), name="publisher")
        self._tasks = [
            asyncio.create_task(self._read_loop(flowing, last), name="reader"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._watch_loop(), name="watch"),
        ]
        for task in (self._publisher, *self._tasks):
            task.add_done_callback(self._ended)
        self._log_line(
            f"cluster: room {self.config.room} on {self._url}, this server {self._origin_name()}"
        )
        for origin in predecessors:
            # Before the Hellos, so that the operator and the members coming back get their names back.
            self._log_line(f"cluster: restarted within the lease of {origin.hex()[:8]}, this server before")
            self._append(Kind.GONE, CONSOLE, origin + _RESTARTED.encode())
        self.submit(CONSOLE, Hello(self._console_name))

    def submit(self, member: int, message: Message) -> None:
        check_input(member in self._hello, message)
        if isinstance(message, Hello):
            clients = len(self._hello - {CONSOLE})
            if member != CONSOLE and clients >= self._max_clients:
                self._do(refuse_full(member, message.name, self._max_clients))
                return
            self._hello.add(member)
        self._append(Kind.MESSAGE, member, encode(message))
        if isinstance(message, Bye):
            self._hello.discard(member)  # its leave is on its way: no second one when the connection ends

    def leave(self, member: int, reason: str) -> None:
        if member in self._hello:
            self._hello.discard(member)
            self._append(Kind.LEFT, member, reason.encode())

    async def ready(self) -> None:
        await self._room_for_more.wait()

    async def close(self, members: Sequence[int], reason: str) -> None:
        # First no more watching (the others' leases vanish as they shut down too) or renewing; then
        # the leaves go out, for as long as Redis takes them within the time allowed.
        for task in self._tasks:
            task.cancel()
        for member in (*members, CONSOLE):
            self.leave(member, reason)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                while self._outbox and not self._down:
                    await asyncio.sleep(0.01)
        if self._publisher is not None:
            self._publisher.cancel()
            self._tasks.append(self._publisher)
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await asyncio.wait(self._tasks)
                await self._redis.delete(self._alive + self._events.origin.hex())
                await self._redis.aclose()
        self._events.close()

    # ----------------------------------------------------------------- the tasks

    def _append(self, kind: Kind, member: int, body: bytes) -> None:
        self._outbox.append(self._events.seal(kind, member, body))
        self._wake.set()
        if len(self._outbox) >= _OUTBOX_HIGH:
            self._room_for_more.clear()

    async def _follow_stream(self) -> bytes:
        """Make sure the stream has its first entry, take its identity, and return that entry's id."""
        with contextlib.suppress(ResponseError):  # the stream already has a first entry
            await self._redis.xadd(self._stream, {_FIELD: self._events.new_stream()}, id=_START_ID)
        first = cast(list[tuple[bytes, dict[bytes, bytes]]], await self._redis.xrange(self._stream, count=1))
        if not first:
            raise IntegrityError("the stream was deleted as it was created")
        entry_id, fields = first[0]
        self._events.follow(fields.get(_FIELD, b""))
        return entry_id

    async def _read_loop(self, flowing: asyncio.Event, last: bytes) -> None:
        pause = _RETRY[0]
        while True:
            await flowing.wait()  # the server's members are not keeping up: let Redis hold the events
            try:
                reply = cast(_Streams, await self._redis.xread(
                    {self._stream: last}, count=_READ_COUNT, block=_READ_BLOCK_MS
                ))
            except (RedisError, OSError) as exc:
                pause = await self._retry(exc, pause)
                continue
            pause = self._reached()
            for _, entries in reply or ():
                for entry_id, fields in entries:
                    last = entry_id
                    if not self._apply(entry_id, fields.get(_FIELD, b"")):
                        return

    def _apply(self, entry_id: bytes, entry: bytes) -> bool:
        """Apply one stream entry; False when the log can no longer be trusted (the server is ending)."""
        where = entry_id.decode(errors="replace")
        try:
            event = self._events.open(entry)
        except IntegrityError as exc:
            self._log_line(f"cluster: refused stream entry {where}: {exc}")
            return True
        except SequenceError as exc:
            self._log_line(f"cluster: stream entry {where}: {exc}; this server's copy of the room is unsafe")
            # The servers that applied what this one misses see nothing wrong: tell them, so all stop.
            self._append(Kind.BROKEN, CONSOLE, f"stream entry {where}: {exc}".encode())
            self._stop(f"the room's event log was tampered with ({exc})")
            return False
        if event is None:
            self._log_line(f"cluster: skipped stream entry {where}, a duplicate of an applied event")
            return True
        if event.kind is Kind.BROKEN:
            finder = event.origin.hex()[:8]
            found = event.body[:_MAX_FOUND].decode("ascii", "replace")  # what a server's exception said
            self._log_line(
                f"cluster: stream entry {where}: server {finder} found the room's event log broken"
                f" ({found!r}); this server stops with it"
            )
            self._stop(f"the room's event log was tampered with (found by server {finder})")
            return False
        self._do(self._replica.apply(event))
        if event.kind is Kind.GONE and event.body[:ORIGIN_SIZE] == self._events.origin:
            # Its members were told to reconnect (a Disconnect each); the operator joins again.
            self._log_line("cluster: the others declared this server gone: its members left")
            self._hello.clear()
            self.submit(CONSOLE, Hello(self._console_name))
        return True

    async def _publish_loop(self) -> None:
        pause = _RETRY[0]
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = self._outbox[:_PUBLISH_BATCH]
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for entry in batch:
                            pipe.xadd(self._stream, {_FIELD: entry})
                        await pipe.execute()
                except (RedisError, OSError) as exc:
                    pause = await self._retry(exc, pause)
                    continue
                pause = self._reached()
                del self._outbox[: len(batch)]
                if len(self._outbox) <= _OUTBOX_HIGH // 4:
                    self._room_for_more.set()

    async def _predecessors(self) -> list[bytes]:
        """The servers whose lease holds this one's claim: this very server, before a restart."""
        keys = [key async for key in self._redis.scan_iter(match=self._alive + "*")]
        claims = cast(list[bytes | None], await self._redis.mget(keys)) if keys else []
        found = []
        for key, claim in zip(keys, claims, strict=True):
            origin = cast(bytes, key)[len(self._alive):]
            if claim == self._claim and len(origin) == 2 * ORIGIN_SIZE:
                with contextlib.suppress(ValueError):
                    found.append(bytes.fromhex(origin.decode("ascii", "replace")))
        return found

    async def _renew(self) -> None:
        await self._redis.set(
            self._alive + self._events.origin.hex(), self._claim, px=max(1, int(self.config.lease * 1000))
        )

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.lease / 3)
            try:
                await self._renew()
            except (RedisError, OSError) as exc:
                self._lost(exc)
            else:
                self._reached()

    async def _watch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.lease / 4)
            origins = self._replica.origins()
            self._declared &= origins
            self._missing = {o: t for o, t in self._missing.items() if o in origins}
            for origin in origins - self._declared:
                if not self._settled():
                    break
                try:
                    alive = await self._redis.exists(self._alive + origin.hex())
                except (RedisError, OSError) as exc:
                    self._lost(exc)
                    break
                if alive:
                    self._missing.pop(origin, None)
                    continue
                since = self._missing.setdefault(origin, loop.time())
                # Checked again: an outage that began and ended while we waited restarts the wait.
                if loop.time() - since >= self.config.lease and self._settled():
                    self._log_line(
                        f"cluster: server {origin.hex()[:8]}'s lease has been missing for a whole lease:"
                        " its members leave"
                    )
                    self._declared.add(origin)
                    self._append(Kind.GONE, CONSOLE, origin)

    # ----------------------------------------------------------------- helpers

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A task that stops on its own, but for the reader after a broken log, is a bug: end the server
        (its members would otherwise wait for a room that no longer moves)."""
        if task.cancelled() or task.exception() is None:
            return
        self._log_line(f"cluster: internal error in the {task.get_name()}: {task.exception()!r}")
        self._stop("internal error in the cluster's link")

    def _stop(self, why: str) -> None:
        assert self._fail is not None
        self._fail(why)

    def _settled(self) -> bool:
        """Whether Redis has answered for a whole lease: every live server has renewed its lease since."""
        since = asyncio.get_running_loop().time() - self._connected_since
        return not self._down and since >= self.config.lease

    def _lost(self, exc: BaseException) -> None:
        """A command failed: say so, once per outage."""
        if not self._down:
            self._down = True
            self._missing.clear()  # not watched throughout: the whole lease starts again
            self._log_line(f"cluster: lost Redis at {self._url} ({exc}); retrying")
            self._tell("the room's shared store is unreachable: lines wait until it is back")

    async def _retry(self, exc: BaseException, pause: float) -> float:
        """A command failed: wait, and return the next pause."""
        self._lost(exc)
        await asyncio.sleep(pause)
        return min(pause * 2, _RETRY[1])

    def _reached(self) -> float:
        """Redis answered: if it was lost, say it is back. Returns the first retry pause."""
        if self._down:
            self._down = False
            self._connected_since = asyncio.get_running_loop().time()
            self._log_line(f"cluster: Redis at {self._url} is back")
            self._tell("the room's shared store is back")
            self._wake.set()
        return _RETRY[0]

    def _tell(self, notice: str) -> None:
        here = tuple(m for m in self._replica.local_members() if m in self._hello)
        if here:
            self._do([Deliver(here, Notice(notice))])

    def _do(self, actions: list[Action]) -> None:
        assert self._perform is not None, "start() first"
        self._perform(actions)

    def _origin_name(self) -> str:
        return self._events.origin.hex()[:8]
