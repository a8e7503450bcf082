"""One room on several real servers and a real redis-server, on loopback: order, names, leases, restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import pytest
import redis
from processes import CHAT, HoldingProxy, Redis, connect, free_port, port_of, run, serve, stop

from cryptochat.engines import Engine
from cryptochat.server.cluster import EventLog, Kind
from cryptochat.wire.messages import Say, encode
from demo.conductor import Participant

ROOM = "lobby"
LEASE = 2.0  # short, so the tests wait little; long enough that a busy machine does not miss one


async def on_redis(key_file: str, directory: str, count: int) -> tuple[Redis, list[Participant]]:
    """A redis-server of the test's own, and ``count`` servers carrying the room on it."""
    store = Redis(directory)
    await store.start()
    return store, await cluster(key_file, store.url, count)


async def cluster(key_file: str, url: str, count: int) -> list[Participant]:
    return [
        await serve(key_file, "--cluster", url, "--room", ROOM, "--lease", str(LEASE), "--name", f"s{i}")
        for i in range(count)
    ]


def name_given(client: Participant) -> str:
    line = next(line for line in client.stderr if line.startswith("connected to"))
    return line.split(" as ", 1)[1].split(";")[0]


def lines_from(participant: Participant, prefix: str = "t") -> list[str]:
    return [line for line in participant.stdout if line.startswith(prefix)]


async def until(predicate: object, timeout: float = 20.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def leave_all(*participants: Participant) -> None:
    for p in participants:
        await p.end_input()
        assert await p.finish() == 0


def stream_entries(url: str) -> list[bytes]:
    with redis.Redis.from_url(url) as r:
        return [value for _, fields in r.xrange(f"cryptochat:{ROOM}:events") for value in fields.values()]


def test_members_on_three_servers_see_one_order_and_unique_names(
    key_file: str, tmp_path: str, engine: Engine
) -> None:
    per_talker = 30

    async def scenario() -> None:
        store, servers = await on_redis(key_file, str(tmp_path), 3)
        ports = [port_of(s) for s in servers]
        watchers = [await connect(key_file, port, "watcher") for port in ports]
        assert [name_given(w) for w in watchers] == ["watcher", "watcher-2", "watcher-3"]
        talkers = [await connect(key_file, port, f"t{i}") for i, port in enumerate(ports)]
        said = {f"t{i}": [f"line {n} from t{i}" for n in range(per_talker)] for i in range(3)}

        async def talk(talker: Participant) -> None:
            for line in said[talker.name]:
                await talker.type(line)
                await asyncio.sleep(0.005)  # interleave the three

        await asyncio.gather(*(talk(t) for t in talkers))
        await until(lambda: all(len(lines_from(w)) == 3 * per_talker for w in watchers))
        orders = [lines_from(w) for w in watchers]
        assert orders[0] == orders[1] == orders[2]
        for name, lines in said.items():
            assert [line.split(": ", 1)[1] for line in orders[0] if line.startswith(f"{name}:")] == lines
        assert len({line.split(":")[0] for line in orders[0][:per_talker * 2]}) > 1  # really interleaved

        # Redis holds only sealed entries; a forged and a replayed one are refused and change nothing.
        entries = stream_entries(store.url)
        assert entries and not any(b"line" in e or b"watcher" in e for e in entries)
        with redis.Redis.from_url(store.url) as r:
            # Random bytes under this stream's version and identity, which are not secret.
            r.xadd(f"cryptochat:{ROOM}:events", {b"e": entries[-1][:17] + os.urandom(16 + 128 + 32)})
            r.xadd(f"cryptochat:{ROOM}:events", {b"e": entries[-1]})
        await talkers[0].type("after the forgery")
        for w in watchers:
            assert await w.wait_for("t0: after the forgery")
            assert lines_from(w)[-1] == "t0: after the forgery" and len(lines_from(w)) == 3 * per_talker + 1
        for s in servers:
            assert any("refused stream entry" in line and "authentication" in line for line in s.stderr)
            assert any("a duplicate" in line for line in s.stderr)

        # An entry sealed with the key but after a gap in its origin's sequence (events dropped): every
        # server's copy of the room is in doubt, so each one says why and closes.
        with open(key_file, "rb") as f:
            forger = EventLog(f.read(), ROOM, engine)
        forger.follow(entries[0])
        forger.seal(Kind.MESSAGE, 1, encode(Say("never appended")))
        with redis.Redis.from_url(store.url) as r:
            r.xadd(f"cryptochat:{ROOM}:events", {b"e": forger.seal(Kind.MESSAGE, 1, encode(Say("gap")))})
        for s in servers:
            assert await s.finish() == 1
            assert any("are missing (dropped)" in line for line in s.stderr)
        for client in (*talkers, *watchers):
            assert await client.wait_for("the room's event log was tampered with", stream="stderr")
        await store.kill()

    run(scenario())


def test_a_killed_servers_members_leave_within_the_lease_and_history_comes_from_the_stream(
    key_file: str, tmp_path: str
) -> None:
    async def scenario() -> None:
        store, (first, doomed) = await on_redis(key_file, str(tmp_path), 2)
        alice = await connect(key_file, port_of(first), "alice")
        bob = await connect(key_file, port_of(doomed), "bob")
        await alice.type("said before the crash")
        assert await bob.wait_for("alice: said before the crash")
        killed_at = time.monotonic()
        os.kill(doomed.process.pid, signal.SIGKILL)
        assert await alice.wait_for("bob left (their server stopped answering)", stream="stderr", timeout=10)
        # Its lease runs out (at most a lease after its last renewal), is found missing at a check (a
        # quarter lease apart) and again a whole lease later; then the round trip through Redis.
        assert time.monotonic() - killed_at < LEASE * 2.25 + 1.0

        # A server started afterwards rebuilds the room from the stream alone: members and history.
        (late,) = await cluster(key_file, store.url, 1)
        carol = await connect(key_file, port_of(late), "carol")
        assert any(line.endswith("present: s0, alice, s0-2, carol") for line in carol.stderr), carol.stderr
        assert await carol.wait_for("earlier: alice: said before the crash", stream="stderr")
        await leave_all(alice, carol, bob)
        await stop(first)
        await stop(late)
        await store.kill()

    run(scenario())


def test_a_redis_restart_is_survived_without_loss_duplicates_or_reordering(
    key_file: str, tmp_path: str
) -> None:
    async def scenario() -> None:
        store, servers = await on_redis(key_file, str(tmp_path), 2)
        talker = await connect(key_file, port_of(servers[0]), "t0")
        watcher = await connect(key_file, port_of(servers[1]), "watcher")
        said = [f"line {n}" for n in range(40)]
        for line in said[:20]:
            await talker.type(line)
        assert await watcher.wait_for("t0: line 19")
        await store.kill()
        assert await watcher.wait_for("unreachable", stream="stderr")
        for line in said[20:]:
            await talker.type(line)
        await asyncio.sleep(LEASE * 1.5)  # every lease in Redis has expired by the time it is back
        await store.start()
        assert await watcher.wait_for("t0: line 39", timeout=20)
        assert await watcher.wait_for("is back", stream="stderr")
        await asyncio.sleep(LEASE * 1.5)  # time enough to be wrongly declared gone
        await talker.type("still here")
        assert await watcher.wait_for("t0: still here")
        assert lines_from(watcher) == [f"t0: {line}" for line in [*said, "still here"]]
        assert not any(" left " in line for line in watcher.stderr)
        for s in servers:
            assert any("lost Redis" in line for line in s.stderr)
        await leave_all(talker, watcher)
        for s in servers:
            await stop(s)
        await store.kill()

    run(scenario())


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (["--cluster", "redis://127.0.0.1:6379/0"], "--cluster and --room go together"),
        (["--room", ROOM], "--cluster and --room go together"),
        (["--cluster", "http://127.0.0.1:6379/0", "--room", ROOM], "is not a redis://HOST:PORT/DB address"),
        (["--cluster", "redis://127.0.0.1/0", "--room", ROOM], "needs a port and a database number"),
        (["--cluster", "redis://127.0.0.1:6379/0", "--room", "a room"], "is not a room name"),
        (["--cluster", "redis://127.0.0.1:6379/0", "--room", ROOM, "--lease", "0"], "out of range"),
    ],
)
def test_a_wrong_cluster_option_is_one_line_and_status_2(
    key_file: str, options: list[str], complaint: str
) -> None:
    result = subprocess.run(
        [*CHAT, "serve", "--host", "127.0.0.1", "--port", "0", "--key-file", key_file, *options],
        capture_output=True, text=True, timeout=20, check=False,
    )
    assert result.returncode == 2
    assert complaint in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("credentials", "shown"), [("", ""), ("ops:s3cret@", "ops:***@")])
def test_an_unreachable_redis_is_one_line_and_status_1_without_its_password(
    key_file: str, credentials: str, shown: str
) -> None:
    port = free_port()
    result = subprocess.run(
        [*CHAT, "serve", "--host", "127.0.0.1", "--port", "0", "--key-file", key_file,
         "--cluster", f"redis://{credentials}127.0.0.1:{port}/0", "--room", ROOM],
        capture_output=True, text=True, timeout=20, check=False,
    )
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"cryptochat: cannot reach the cluster at redis://{shown}127.0.0.1:{port}/0")
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr


def test_a_server_that_stalled_past_its_lease_comes_back_and_its_members_rejoin(
    key_file: str, tmp_path: str
) -> None:
    async def scenario() -> None:
        store, (steady, stalled) = await on_redis(key_file, str(tmp_path), 2)
        alice = await connect(key_file, port_of(steady), "alice")
        bob = await connect(key_file, port_of(stalled), "bob")
        stalled.process.send_signal(signal.SIGSTOP)
        assert await alice.wait_for("bob left (their server stopped answering)", stream="stderr", timeout=10)
        stalled.process.send_signal(signal.SIGCONT)
        assert await stalled.wait_for("declared this server gone", stream="stderr")
        await until(lambda: sum("bob joined" in line for line in alice.stderr) == 2)  # bob's client is back
        await bob.type("back again")
        assert await alice.wait_for("bob: back again")
        await leave_all(alice, bob)
        await stop(steady)
        await stop(stalled)
        await store.kill()

    run(scenario())


def joins_seen(member: Participant) -> list[str]:
    return [line for line in member.stderr if line.endswith(" joined")]


async def copy_is_refused(
    server: Participant, url: str, entries: list[bytes], *watchers: Participant
) -> None:
    """Append ``entries`` to the room's stream at ``url``: ``server`` refuses each one, in one log line, and
    stays up; no member is shown anything of them (a line said afterwards is the next thing they see)."""
    speaker, *others = watchers
    await speaker.type("before the copies")
    for w in others:
        assert await w.wait_for(f"{speaker.name}: before the copies")
    joins = [joins_seen(w) for w in watchers]

    def refused() -> int:
        return sum("refused stream entry" in line for line in server.stderr)

    before = refused()
    with redis.Redis.from_url(url) as r:
        for entry in entries:
            r.xadd(f"cryptochat:{ROOM}:events", {b"e": entry})
    await until(lambda: refused() == before + len(entries))
    assert all(
        "another stream" in line for line in server.stderr[-len(entries):]
    ), server.stderr[-len(entries):]
    await speaker.type("after the copies")
    for w, seen in zip(others, joins[1:], strict=True):
        assert await w.wait_for(f"{speaker.name}: after the copies")
        assert w.stdout[-2:] == [f"{speaker.name}: before the copies", f"{speaker.name}: after the copies"]
        assert joins_seen(w) == seen
    assert joins_seen(speaker) == joins[0]
    assert server.process.returncode is None


def test_entries_copied_from_a_stream_renamed_aside_are_refused_unseen(key_file: str, tmp_path: str) -> None:
    async def scenario() -> None:
        store, (before,) = await on_redis(key_file, str(tmp_path), 1)
        alice = await connect(key_file, port_of(before), "alice")
        await alice.type("said in the old stream")
        await leave_all(alice)
        await stop(before)
        events = f"cryptochat:{ROOM}:events"
        with redis.Redis.from_url(store.url) as r:
            r.rename(events, f"{events}:aside")  # the room moved to a new stream
            old = [value for _, fields in r.xrange(f"{events}:aside") for value in fields.values()]
        (after,) = await cluster(key_file, store.url, 1)
        bob = await connect(key_file, port_of(after), "bob")
        carol = await connect(key_file, port_of(after), "carol")
        await copy_is_refused(after, store.url, old, bob, carol)
        await leave_all(bob, carol)
        await stop(after)
        await store.kill()

    run(scenario())


def test_entries_copied_from_another_redis_with_the_same_room_are_refused_unseen(
    key_file: str, tmp_path: str
) -> None:
    async def scenario() -> None:
        here_dir, there_dir = tmp_path / "here", tmp_path / "there"
        here_dir.mkdir()
        there_dir.mkdir()
        here, (server,) = await on_redis(key_file, str(here_dir), 1)
        there, (elsewhere,) = await on_redis(key_file, str(there_dir), 1)
        dave = await connect(key_file, port_of(elsewhere), "dave")
        await dave.type("said on the other Redis")
        bob = await connect(key_file, port_of(server), "bob")
        carol = await connect(key_file, port_of(server), "carol")
        await copy_is_refused(server, here.url, stream_entries(there.url), bob, carol)
        await leave_all(bob, carol, dave)
        await stop(server)
        await stop(elsewhere)
        await here.kill()
        await there.kill()

    run(scenario())


def test_an_entry_deleted_after_some_servers_applied_it_stops_every_server(
    key_file: str, tmp_path: str
) -> None:
    async def scenario() -> None:
        store, servers = await on_redis(key_file, str(tmp_path), 2)
        alice = await connect(key_file, port_of(servers[0]), "alice")
        assert await servers[1].wait_for("alice joined", stream="stderr")  # so bob's join is sealed after
        bob = await connect(key_file, port_of(servers[1]), "bob")
        await alice.type("about to vanish")
        assert await bob.wait_for("alice: about to vanish")
        with redis.Redis.from_url(store.url) as r:
            events = f"cryptochat:{ROOM}:events"
            joins = [i for i, _ in r.xrange(events) if i != b"0-1"]  # s0, s1, alice, bob...
            r.xdel(events, joins[2])
        # A server that reads the stream now stops at bob's join, sealed after alice's: what it applied
        # is a prefix of what the others applied, so they would see nothing wrong in what it seals next.
        # It says what it found in the stream, and they stop there.
        (late,) = await cluster(key_file, store.url, 1)
        for s in (late, *servers):
            assert await s.finish() == 1, "\n".join(s.stderr)
        assert any("(reordered or dropped)" in line for line in late.stderr)
        for s in servers:
            assert any("found the room's event log broken" in line for line in s.stderr), "\n".join(s.stderr)
        for member in (alice, bob):
            assert await member.wait_for("the room's event log was tampered with", stream="stderr")
        await store.kill()

    run(scenario())


def test_a_server_is_not_declared_gone_while_its_lease_is_late_or_briefly_missing(
    key_file: str, tmp_path: str
) -> None:
    async def scenario() -> None:
        store, (steady,) = await on_redis(key_file, str(tmp_path), 1)
        alice = await connect(key_file, port_of(steady), "alice")
        await asyncio.sleep(LEASE)  # steady now checks the others' leases, every quarter lease
        # The new server's first lease write reaches Redis a second late (a slow link, a busy Redis).
        proxy = HoldingProxy(store.port, b"$3\r\nSET\r\n", delay=1.0)
        await proxy.start()
        late = await serve(key_file, "--cluster", proxy.url, "--room", ROOM, "--lease", str(LEASE),
                           "--name", "late")
        assert await alice.wait_for("late joined", stream="stderr")
        assert proxy.held == 1
        # Its lease deleted (by whoever can write to Redis): it is written again within a third of a lease.
        with redis.Redis.from_url(store.url) as r:
            (lease,) = r.keys(f"cryptochat:{ROOM}:alive:*{late_origin(late)}*")
            r.delete(lease)
        await asyncio.sleep(LEASE * 1.5)
        assert not any("late left" in line for line in alice.stderr), alice.stderr
        assert not any("its members leave" in line for line in steady.stderr), steady.stderr
        await leave_all(alice)
        await stop(late)
        await stop(steady)
        await proxy.close()
        await store.kill()

    run(scenario())


def late_origin(server: Participant) -> str:
    """The first 8 hex digits of a server's random id, as its log shows it."""
    line = next(line for line in server.stderr if line.startswith("cluster: room"))
    return line.rsplit(" ", 1)[1]


def test_a_server_restarted_within_its_lease_takes_its_name_back_and_so_do_its_members(
    key_file: str, tmp_path: str
) -> None:
    async def scenario() -> None:
        store, (steady,) = await on_redis(key_file, str(tmp_path), 1)
        alice = await connect(key_file, port_of(steady), "alice")
        port = str(free_port())
        # A lease longer than a restart takes on a busy machine (nothing here waits for it to run out).
        options = ("--cluster", store.url, "--room", ROOM, "--lease", "10", "--name", "east")
        east = await serve(key_file, *options, port=port)
        bob = await connect(key_file, port, "bob")
        assert await alice.wait_for("bob joined", stream="stderr")
        os.kill(east.process.pid, signal.SIGKILL)
        await east.finish()
        # Its lease is still there: the same server on the same host and port recognises it as its own.
        again = await serve(key_file, *options, port=port)
        await until(lambda: sum("bob joined" in line for line in alice.stderr) == 2)
        assert [line for line in alice.stderr if line.startswith(("east", "bob"))] == [
            "east joined", "bob joined",
            "east left (their server restarted)", "bob left (their server restarted)",
            "east joined", "bob joined",
        ]
        assert await bob.wait_for(f"reconnected to 127.0.0.1:{port} as bob;", stream="stderr")
        assert not any("-2" in line for line in alice.stderr)
        await leave_all(alice, bob)
        await stop(again)
        await stop(steady)
        await store.kill()

    run(scenario())
