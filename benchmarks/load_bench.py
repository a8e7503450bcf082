"""Load harness: one real ``cryptochat serve`` and 10, 100 and 1,000 members on loopback.

For each room size it prints the server's RSS and open descriptors with everyone joined, the fan-out
latency (from a member sending a line until *every* other member has it: p50/p99 over 30 lines sent one
at a time), and the highest delivery rate the room sustains with p99 < 100 ms per delivery (a ladder of
offered rates, 2 s each, stopping at the first that misses or costs a member).

Then the same for one room of 100 members carried by one server alone, by one server on Redis and by three
servers on one Redis (``serve --cluster``, a ``redis-server`` of its own on a loopback port, AOF with
fsync always), the members spread evenly over the servers, and the ratio of three servers to one: the best
of two runs of each, one after the other.

Then two attacks by members or neighbours (``stall`` and ``lockout``, which tests/test_load.py runs too):
while one member pushes 200 KB/s and another never reads and rejoins each time it is cut, the latency of
every line at three other members (p99, and how many came over 1 s late); and while an attacker keeps the
16 handshakes an address may have held (32 connections, each reopened as soon as it is cut, from a
process of its own), how many newcomers from that address get in within 10 s.

Bounded: loopback only, at most 1,000 members, each step a few seconds, the whole run about three minutes.
All members live in this one process (and so share its CPU with the sender); the server is its own
process. The server runs with ``--rate`` and ``--burst`` raised, since this measures the room's capacity,
not one member's allowance. Run: ``python benchmarks/load_bench.py [SIZES...]`` (or ``make load``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field

from cryptochat.engines import open_engine
from cryptochat.errors import CryptochatError
from cryptochat.wire.channel import Channel, DataReceived, HandshakeComplete, Role
from cryptochat.wire.messages import Bye, Hello, Join, Leave, Message, Say, Text, Welcome, decode, encode

SIZES = (10, 100, 1000)
CLUSTER_SIZE = 100
CLUSTER_ROOM = "bench"
CLUSTER_RUNS = 2
"""Runs of each cluster setup, the best kept: on 2 shared cores one stall can cut a ladder short."""
FANOUT_LINES = 30
STEP_SECONDS = 2.0
LADDER = (500, 1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000)  # offered deliveries per second
P99_GOAL = 0.100
JOIN_CONCURRENCY = 8  # below the server's handshakes per address: the members all come from 127.0.0.1
ENGINE = open_engine("software")


@dataclass
class Tally:
    """Arrivals per line: how many members have it, when the last did, every delivery's latency."""

    expected: int
    count: dict[int, int] = field(default_factory=dict)
    complete: dict[int, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    waiting_for: int = -1

    def arrived(self, seq: int, sent_at: float) -> None:
        now = time.perf_counter()
        self.latencies.append(now - sent_at)
        n = self.count.get(seq, 0) + 1
        self.count[seq] = n
        if n == self.expected:
            self.complete[seq] = now - sent_at
            if seq == self.waiting_for:
                self.done.set()


class Member:
    def __init__(self, key: bytes, name: str) -> None:
        self.key = key
        self.name = name
        self.channel = Channel(Role.CLIENT, key, ENGINE)
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None
        self.joined_names: set[str] = set()
        self.seen = asyncio.Event()
        self.lost = False

    async def join(self, port: int, tally: list[Tally]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer = writer
        writer.write(self.channel.data_to_send())
        while HandshakeComplete() not in self.channel.receive_data(await reader.read(65536)):
            pass
        self.channel.send(encode(Hello(self.name)))
        writer.write(self.channel.data_to_send())
        self.task = asyncio.create_task(self.read(reader, tally))

    async def read(self, reader: asyncio.StreamReader, tally: list[Tally]) -> None:
        while data := await reader.read(65536):
            for event in self.channel.receive_data(data):
                if not isinstance(event, DataReceived):
                    continue
                message = decode(event.data)
                if isinstance(message, Text):
                    seq, sent_at = message.text.split(" ", 2)[:2]
                    tally[0].arrived(int(seq), float(sent_at))
                elif (isinstance(message, Join) and message.name == "sender") or (
                    isinstance(message, Welcome) and "sender" in message.members
                ):
                    self.seen.set()
        self.lost = True

    def say(self, text: str) -> None:
        assert self.writer is not None
        self.channel.send(encode(Say(text)))
        self.writer.write(self.channel.data_to_send())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        if self.task is not None:
            self.task.cancel()


def percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[p - 1]


def server_figures(pid: int) -> tuple[float, int]:
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))


_log_readers: set[asyncio.Task[bytes]] = set()


async def start_server(
    key_file: str, size: int, *options: str
) -> tuple[asyncio.subprocess.Process, int]:
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cryptochat", "serve", "--host", "127.0.0.1", "--port", "0",
        "--key-file", key_file, "--max-clients", str(size + 1), "--rate", "1000000", "--burst", "1000000",
        *options,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    assert server.stderr is not None
    line = await _ready(server.stderr, b"listening on", "the server")
    return server, int(line.decode().rsplit(":", 1)[1].split()[0])


async def _ready(log: asyncio.StreamReader, marker: bytes, what: str) -> bytes:
    """Wait for the line holding ``marker``, then keep reading the log so it never blocks on a full pipe."""
    while marker not in (line := await log.readline()):
        if not line:
            raise RuntimeError(f"{what} did not start")
    _log_readers.add(asyncio.create_task(log.read()))
    return line


async def start_redis(directory: str) -> tuple[asyncio.subprocess.Process, str]:
    """A ``redis-server`` of our own on a free loopback port, its AOF in ``directory``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing (make bench installs it: scripts/install-test-deps.sh)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    redis = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
        "--appendonly", "yes", "--appendfsync", "always",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert redis.stdout is not None
    await _ready(redis.stdout, b"Ready to accept connections", "redis-server")
    return redis, f"redis://127.0.0.1:{port}/0"


@dataclass(frozen=True)
class Figures:
    rss: float
    fds: int
    p50: float
    p99: float
    sustained: float
    at_p99: float

    def row(self, label: str) -> str:
        return (
            f"   {label:>10}  {self.rss:7.1f}  {self.fds:5d}  {self.p50 * 1000:8.1f}"
            f"  {self.p99 * 1000:8.1f}  {self.sustained:12.0f}  {self.at_p99 * 1000:9.1f}"
        )


def header(label: str) -> str:
    return (f"   {label:>10}  {'RSS MB':>7}  {'fds':>5}  {'fan-out p50/p99 ms':>18}  "
            f"{'deliveries/s':>12}  {'at p99 ms':>9}")


async def room(
    key: bytes, key_file: str, size: int, servers: int = 1, cluster: str | None = None
) -> Figures:
    """Run the figures for one room of ``size`` members on ``servers`` servers (on Redis at ``cluster``)."""
    options = ("--cluster", cluster, "--room", CLUSTER_ROOM) if cluster else ()
    started = [await start_server(key_file, size, *options) for _ in range(servers)]
    server, port = started[0]
    tally = [Tally(expected=size)]
    members = [Member(key, f"m{i}") for i in range(size)]
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def join(i: int, member: Member) -> None:
        async with gate:
            await member.join(started[i % servers][1], tally)

    try:
        await asyncio.gather(*(join(i, m) for i, m in enumerate(members)))
        sender = Member(key, "sender")
        await sender.join(port, tally)
        # The room has one order: a member that saw the sender join has seen every join before it. On
        # several servers a member's Hello may come after the sender's: it finds the sender present.
        await asyncio.wait_for(asyncio.gather(*(m.seen.wait() for m in members)), 120)
        rss, fds = server_figures(server.pid)

        for seq in range(FANOUT_LINES):
            tally[0].waiting_for = seq
            tally[0].done.clear()
            sender.say(f"{seq} {time.perf_counter()!r} fan-out")
            await asyncio.wait_for(tally[0].done.wait(), 30)
        fanout = list(tally[0].complete.values())

        sustained, at_p99 = 0.0, float("nan")
        seq = 10**6
        for offered in LADDER:
            tally[0] = Tally(expected=size)
            rate = offered / size  # lines per second from the sender
            start = time.perf_counter()
            sent = 0
            while (elapsed := time.perf_counter() - start) < STEP_SECONDS:
                due = int(elapsed * rate) + 1
                while sent < due:
                    sender.say(f"{seq + sent} {time.perf_counter()!r} load")
                    sent += 1
                await asyncio.sleep(0.002)
            tally[0].waiting_for = seq + sent - 1
            if tally[0].waiting_for in tally[0].complete:
                tally[0].done.set()
            try:
                await asyncio.wait_for(tally[0].done.wait(), 10)
            except TimeoutError:
                break
            seq += sent
            p99 = percentile(tally[0].latencies, 99)
            if p99 > P99_GOAL or any(m.lost for m in members):
                break
            sustained, at_p99 = sent * size / (time.perf_counter() - start), p99
        return Figures(rss, fds, percentile(fanout, 50), percentile(fanout, 99), sustained, at_p99)
    finally:
        for m in members:
            m.close()
        for process, _ in started:
            process.terminate()
            await process.wait()
        for task in _log_readers:
            task.cancel()
        _log_readers.clear()


def main() -> None:
    sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES
    key = os.urandom(32)
    print("load: one cryptochat serve on loopback, members in one client process (2 cores shared)")
    print(header("members"))
    with tempfile.TemporaryDirectory() as directory:
        key_file = os.path.join(directory, "load.key")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        for size in sizes:
            print(asyncio.run(room(key, key_file, size)).row(str(size)), flush=True)
        print(f"   (sustained: the highest offered rate of {LADDER} deliveries/s held {STEP_SECONDS:g} s"
              f" with p99 < {P99_GOAL * 1000:g} ms and nobody cut)")
        print(f"cluster: one room of {CLUSTER_SIZE} members, one server alone vs servers on one Redis"
              f" (best of {CLUSTER_RUNS} runs; RSS and fds: the first server)")
        print(header("servers"))
        figures: dict[str, Figures] = {}
        setups = (("1 alone", 1, False), ("1 on Redis", 1, True), ("3 on Redis", 3, True))
        for label, servers, redis in setups:
            runs = (asyncio.run(cluster_room(key, key_file, directory, servers, redis))
                    for _ in range(CLUSTER_RUNS))
            figures[label] = max(runs, key=lambda f: f.sustained)
            print(figures[label].row(label), flush=True)
        alone, three = figures["1 alone"], figures["3 on Redis"]
        if alone.sustained and alone.at_p99:
            print(f"   3 servers on Redis / 1 server alone: {three.sustained / alone.sustained:.2f}x the"
                  f" deliveries/s, {three.at_p99 / alone.at_p99:.2f}x the p99 at that rate")
        stalled = asyncio.run(stall(key, key_file))
        print(f"stall: a member pushing {PUSH_BYTES_PER_SECOND // 1000} KB/s and a non-reader that rejoins"
              f" when cut, {STALL_SECONDS:g} s: {stalled.lines} lines at 3 other members, p99"
              f" {stalled.p99 * 1000:.0f} ms, {stalled.late} over 1 s; the non-reader cut {stalled.cuts}"
              f" times; anyone else cut: {'yes' if stalled.others_cut else 'no'}")
        locked = asyncio.run(lockout(key, key_file))
        print(f"lockout: {LOCKOUT_HOLDERS} handshakes reopened as cut from one address: {locked.admitted}"
              f" of {locked.tries} newcomers from it in within {LOCKOUT_WINDOW:g} s"
              f" (median {locked.median:.2f} s)")


PUSH_BYTES_PER_SECOND = 200_000
PUSH_LINE = 4000
TALK_INTERVAL = 0.05
STALL_SECONDS = 12.0
LOCKOUT_HOLDERS = 32
"""Connections the attacker keeps reopening from one address: twice the cap, so that 16 are always held."""
LOCKOUT_TRIES = 20
LOCKOUT_WINDOW = 10.0
"""Seconds a newcomer has to get in, retrying like the client (0.5 s, then doubling)."""


class Peer:
    """A member driven by hand: joins, then reads everything (noting when lines arrive) or nothing."""

    def __init__(self, key: bytes, name: str, rcvbuf: int | None = None) -> None:
        self.name = name
        self.channel = Channel(Role.CLIENT, key, ENGINE)
        self.rcvbuf = rcvbuf
        self.writer: asyncio.StreamWriter | None = None
        self.reader: asyncio.StreamReader | None = None
        self.latencies: list[float] = []
        self.left: asyncio.Queue[str] = asyncio.Queue()
        self.lost = False

    async def join(self, port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=4096)
        self.writer.write(self.channel.data_to_send())
        while HandshakeComplete() not in self.channel.receive_data(await self._read()):
            pass
        self.say_message(Hello(self.name))
        while not any(
            isinstance(e, DataReceived) and isinstance(decode(e.data), Welcome)
            for e in self.channel.receive_data(await self._read())
        ):
            pass

    async def _read(self) -> bytes:
        assert self.reader is not None
        data = await self.reader.read(65536)
        if not data:
            raise ConnectionResetError("the server closed the connection")
        return data

    async def read(self) -> None:
        """Read until the end, noting each line's latency (lines say ``SEQ SENT_AT ...``) and who left."""
        assert self.reader is not None
        while data := await self.reader.read(65536):
            now = time.perf_counter()
            for event in self.channel.receive_data(data):
                if not isinstance(event, DataReceived):
                    continue
                message = decode(event.data)
                if isinstance(message, Text):
                    self.latencies.append(now - float(message.text.split(" ", 2)[1]))
                elif isinstance(message, Leave):
                    self.left.put_nowait(message.name)
        self.lost = True

    def say_message(self, message: Message) -> None:
        assert self.writer is not None
        self.channel.send(encode(message))
        self.writer.write(self.channel.data_to_send())

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()


@dataclass(frozen=True)
class Stall:
    lines: int
    p99: float
    late: int
    """Lines that came more than 1 s after they were sent."""
    cuts: int
    """Times the non-reader was cut (and rejoined)."""
    others_cut: bool


async def stall(key: bytes, key_file: str, seconds: float = STALL_SECONDS) -> Stall:
    """Other members' latency while a member pushes 200 KB/s and a non-reader rejoins whenever it is cut."""
    # The server's own limits (rate, burst, buffers, timeouts), not the raised ones of the ladder.
    server, port = await start_server(key_file, 10, "--rate", "100", "--burst", "2000")
    watchers = [Peer(key, f"w{i}") for i in range(3)]
    pusher, talker = Peer(key, "pusher"), Peer(key, "talker")
    readers: list[asyncio.Task[None]] = []
    nonreaders: list[Peer] = []
    cuts = 0
    try:
        for peer in (*watchers, pusher, talker):
            await peer.join(port)
            readers.append(asyncio.create_task(peer.read()))

        async def rejoin() -> None:
            nonlocal cuts
            while True:
                nonreader = Peer(key, "nonreader", rcvbuf=4096)
                nonreaders.append(nonreader)
                await nonreader.join(port)  # then never reads again
                while await watchers[0].left.get() != "nonreader":
                    pass
                cuts += 1
                nonreader.close()

        async def push() -> None:
            interval = PUSH_LINE / PUSH_BYTES_PER_SECOND
            for seq in itertools.count():
                pusher.say_message(Say(f"{seq} {time.perf_counter()!r} {'p' * PUSH_LINE}"))
                await asyncio.sleep(interval)

        async def talk() -> None:
            for seq in itertools.count():
                talker.say_message(Say(f"{seq} {time.perf_counter()!r} talk"))
                await asyncio.sleep(TALK_INTERVAL)

        attack = [asyncio.create_task(job()) for job in (rejoin, push, talk)]
        await asyncio.sleep(seconds)
        for task in attack:
            task.cancel()
        await asyncio.sleep(1.0)  # what is in flight arrives
        latencies = [x for w in watchers for x in w.latencies]
        others_cut = any(p.lost for p in (*watchers, pusher, talker))
        late = sum(x > 1 for x in latencies)
        return Stall(len(latencies), percentile(latencies, 99), late, cuts, others_cut)
    finally:
        for peer in (*watchers, pusher, talker, *nonreaders):
            peer.close()
        for task in readers:
            task.cancel()
        server.terminate()
        await server.wait()


@dataclass(frozen=True)
class Lockout:
    tries: int
    admitted: int
    """Newcomers welcomed within LOCKOUT_WINDOW seconds."""
    median: float
    """Seconds a welcomed newcomer took, from its first attempt."""


async def _hold(key: bytes, port: int) -> None:
    """One held handshake: connect, send a ClientHello, never finish; reopen as soon as it is cut."""
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.write(Channel(Role.CLIENT, key, ENGINE).data_to_send())
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass
        writer.transport.abort()


async def _newcomer(key: bytes, port: int, name: str) -> float | None:
    """Seconds until a newcomer is welcomed, retrying like the client; ``None``: not within the window."""
    start = time.perf_counter()
    backoff = 0.5
    while (left := LOCKOUT_WINDOW - (time.perf_counter() - start)) > 0:
        peer = Peer(key, name)
        try:
            async with asyncio.timeout(left):
                await peer.join(port)
            peer.say_message(Bye("done"))
            return time.perf_counter() - start
        except (OSError, TimeoutError, CryptochatError):
            pass
        finally:
            peer.close()
        await asyncio.sleep(min(backoff, max(0.0, LOCKOUT_WINDOW - (time.perf_counter() - start))))
        backoff *= 2
    return None


async def _holders(key: bytes, port: int, count: int) -> None:
    await asyncio.gather(*(_hold(key, port) for _ in range(count)))


def _attack(key: bytes, port: int, count: int) -> None:
    asyncio.run(_holders(key, port, count))


async def lockout(
    key: bytes, key_file: str, tries: int = LOCKOUT_TRIES, holders: int = LOCKOUT_HOLDERS
) -> Lockout:
    """Newcomers from an address where ``holders`` handshakes are held, each reopened as soon as it is cut.

    The attacker is a process of its own, as it would be, so that it does not slow the newcomer down.
    """
    server, port = await start_server(key_file, 10)
    attacker = multiprocessing.get_context("fork").Process(target=_attack, args=(key, port, holders))
    attacker.start()
    try:
        await asyncio.sleep(1.0)  # the holders are in place and have been for a while
        times = []
        for i in range(tries):
            took = await _newcomer(key, port, f"newcomer{i}")
            if took is not None:
                times.append(took)
        return Lockout(tries, len(times), statistics.median(times) if times else float("nan"))
    finally:
        attacker.terminate()
        attacker.join()
        server.terminate()
        await server.wait()


async def cluster_room(key: bytes, key_file: str, directory: str, servers: int, redis: bool) -> Figures:
    if not redis:
        return await room(key, key_file, CLUSTER_SIZE)
    data = tempfile.mkdtemp(dir=directory)
    store, url = await start_redis(data)
    try:
        return await room(key, key_file, CLUSTER_SIZE, servers, url)
    finally:
        store.terminate()
        await store.wait()


if __name__ == "__main__":
    main()
