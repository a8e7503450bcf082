"""Load harness: one real ``cryptochat serve`` and 10, 100 and 1,000 members on loopback.

For each room size it prints the server's RSS and open descriptors with everyone joined, the fan-out
latency (from a member sending a line until *every* other member has it: p50/p99 over 30 lines sent one
at a time), and the highest delivery rate the room sustains with p99 < 100 ms per delivery (a ladder of
offered rates, 2 s each, stopping at the first that misses or costs a member).

Then the same for one room of 100 members carried by one server alone, by one server on Redis and by three
servers on one Redis (``serve --cluster``, a ``redis-server`` of its own on a loopback port, AOF with
fsync always), the members spread evenly over the servers, and the ratio of three servers to one: the best
of two runs of each, one after the other.

Bounded: loopback only, at most 1,000 members, each step a few seconds, the whole run about two minutes.
All members live in this one process (and so share its CPU with the sender); the server is its own
process. The server runs with ``--rate`` and ``--burst`` raised, since this measures the room's capacity,
not one member's allowance. Run: ``python benchmarks/load_bench.py [SIZES...]`` (or ``make load``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field

from cryptochat.engines import open_engine
from cryptochat.wire.channel import Channel, DataReceived, HandshakeComplete, Role
from cryptochat.wire.messages import Hello, Join, Say, Text, Welcome, decode, encode

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
