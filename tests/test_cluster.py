"""The cluster's sealed log and replicated room, without sockets or Redis: a list is the log."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from conftest import KEY
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cryptochat.engines import Engine
from cryptochat.errors import IntegrityError, SequenceError
from cryptochat.server.cluster import Event, EventLog, Kind, Replica, cluster_keys, lease_claim
from cryptochat.server.room import CONSOLE, Deliver, Disconnect
from cryptochat.wire.messages import (
    Absence,
    Away,
    Hello,
    History,
    Join,
    Leave,
    Members,
    Say,
    Text,
    Welcome,
    Who,
    encode,
)


class Server:
    """One server's side of the log: its sealer/opener and its replica, following the stream that ``start``
    (its first entry) names, or a stream of its own."""

    def __init__(self, engine: Engine, start: bytes | None = None, room: str = "lobby") -> None:
        self.log = EventLog(KEY, room, engine)
        self.start = self.log.new_stream() if start is None else start
        self.log.follow(self.start)
        self.replica = Replica(self.log.origin, history=10, clock=lambda: 1.0)
        self.got: list[object] = []

    def say(self, member: int, message: object) -> bytes:
        return self.log.seal(Kind.MESSAGE, member, encode(message))  # type: ignore[arg-type]

    def read(self, entries: list[bytes]) -> None:
        for entry in entries:
            event = self.log.open(entry)
            if event is not None:
                self.got.extend(self.replica.apply(event))


@pytest.fixture
def pair(engine: Engine) -> tuple[Server, Server]:
    a = Server(engine)
    return a, Server(engine, a.start)


def test_servers_reading_one_log_agree_on_names_and_order(pair: tuple[Server, Server]) -> None:
    a, b = pair
    log = [a.say(1, Hello("alice")), b.say(1, Hello("alice")), a.say(1, Say("one")), b.say(1, Say("two"))]
    a.read(log)
    b.read(log)
    assert a.replica.members == b.replica.members == ("alice", "alice-2")
    assert a.got == [
        Deliver((1,), Welcome("alice", ("alice",))),
        Deliver((1,), Join("alice-2")),
        Deliver((1,), Text("alice-2", "two", 1, 1000)),
    ]
    assert b.got == [
        Deliver((1,), Welcome("alice-2", ("alice", "alice-2"))),
        Deliver((1,), Text("alice", "one", 0, 1000)),
    ]


def test_a_member_away_on_one_server_is_listed_away_by_the_other(pair: tuple[Server, Server]) -> None:
    a, b = pair
    log = [a.say(1, Hello("alice")), b.say(1, Hello("bob")), a.say(1, Away("at lunch")), b.say(1, Who())]
    a.read(log)
    b.read(log)
    assert b.got[-3:] == [
        Deliver((1,), Absence("alice", "at lunch")),
        Deliver((1,), Members(("alice", "bob"))),
        Deliver((1,), Absence("alice", "at lunch")),
    ]


def test_a_newcomer_gets_the_history_from_the_log(pair: tuple[Server, Server], engine: Engine) -> None:
    a, _ = pair
    log = [a.say(1, Hello("alice")), a.say(1, Say("before you came"))]
    late = Server(engine, a.start)
    late.read(log)
    log.append(late.say(7, Hello("carol")))
    late.read(log[2:])
    assert late.got[1] == Deliver((7,), History("alice", "before you came", 0, 1000))


def test_a_server_declared_gone_takes_its_members_with_it(pair: tuple[Server, Server]) -> None:
    a, b = pair
    log = [a.say(1, Hello("alice")), b.say(1, Hello("bob")), b.say(2, Hello("bea"))]
    log.append(a.log.seal(Kind.GONE, CONSOLE, b.log.origin))
    a.read(log)
    b.read(log)
    assert a.replica.members == ("alice",)
    assert a.got[-2:] == [
        Deliver((1,), Leave("bob", "their server stopped answering")),
        Deliver((1,), Leave("bea", "their server stopped answering")),
    ]
    assert Disconnect(1) in b.got and Disconnect(2) in b.got  # told late, the gone server lets them go


def test_a_lost_connection_is_a_leave_for_everyone(pair: tuple[Server, Server]) -> None:
    a, b = pair
    log = [a.say(1, Hello("alice")), b.say(1, Hello("bob")), b.log.seal(Kind.LEFT, 1, b"connection lost")]
    a.read(log)
    assert a.got[-1] == Deliver((1,), Leave("bob", "connection lost"))


def test_nothing_of_a_line_is_in_the_entry(pair: tuple[Server, Server]) -> None:
    a, _ = pair
    entry = a.say(1, Say("the secret plan"))
    assert b"secret" not in entry and b"plan" not in entry
    assert cluster_keys(KEY)[0] not in entry and cluster_keys(KEY)[1] not in entry


@pytest.mark.parametrize("where", [0, 5, 40, -1])
def test_an_altered_entry_is_refused_and_changes_nothing(pair: tuple[Server, Server], where: int) -> None:
    a, b = pair
    honest = a.say(1, Hello("alice"))
    forged = bytearray(honest)
    forged[where] ^= 1
    with pytest.raises(IntegrityError):
        b.log.open(bytes(forged))
    assert b.log.applied == 0
    b.read([honest])  # the forgery took nothing from the real entry's place
    assert b.replica.members == ("alice",)


def test_an_entry_for_another_room_or_key_is_refused_even_under_this_streams_identity(
    engine: Engine
) -> None:
    reader = Server(engine)
    for room, key in (("elsewhere", KEY), ("lobby", bytes(32))):
        other = EventLog(key, room, engine)
        with pytest.raises(IntegrityError, match="authentication"):
            other.follow(reader.start)
        other.follow(other.new_stream())
        entry = other.seal(Kind.MESSAGE, 1, encode(Hello("mallory")))
        with pytest.raises(IntegrityError, match="another stream"):
            reader.log.open(entry)
        claimed = entry[:1] + reader.start[1:17] + entry[17:]  # the MAC, over the identity, says no
        with pytest.raises(IntegrityError, match="authentication"):
            reader.log.open(claimed)
    assert reader.log.applied == 0


@pytest.mark.parametrize("size", [0, 1, 128, 200, 17 * 1024])
def test_an_entry_of_impossible_size_is_refused_before_anything_else(
    pair: tuple[Server, Server], size: int
) -> None:
    _, b = pair
    with pytest.raises(IntegrityError, match="malformed"):
        b.log.open(bytes(size))


def test_a_replayed_entry_is_a_duplicate_and_applied_once(pair: tuple[Server, Server]) -> None:
    a, b = pair
    hello, line = a.say(1, Hello("alice")), a.say(1, Say("once"))
    b.read([hello, line])
    assert b.log.open(line) is None
    assert b.log.open(hello) is None
    assert b.log.applied == 2


def test_a_dropped_entry_is_detected(pair: tuple[Server, Server]) -> None:
    a, b = pair
    a.say(1, Hello("alice"))
    with pytest.raises(SequenceError, match="missing"):
        b.log.open(a.say(1, Say("after a gap")))


def test_an_origin_reordered_within_itself_is_detected(pair: tuple[Server, Server]) -> None:
    a, b = pair
    first, second = a.say(1, Hello("alice")), a.say(1, Say("second"))
    with pytest.raises(SequenceError, match="missing"):
        b.log.open(second)
    assert b.log.open(first) is not None


def test_an_event_moved_before_what_its_server_had_seen_is_detected(
    pair: tuple[Server, Server], engine: Engine
) -> None:
    a, b = pair
    b.read([a.say(1, Hello("alice"))])
    answer = b.say(1, Hello("bob"))  # sealed after b applied alice's hello
    late = Server(engine, a.start)  # shown bob's join first
    with pytest.raises(SequenceError, match="reordered"):
        late.log.open(answer)


def test_a_log_forked_between_servers_is_detected_at_the_next_event(pair: tuple[Server, Server]) -> None:
    a, b = pair
    x, y = a.say(1, Hello("alice")), b.say(1, Hello("bob"))
    a.read([x, y])  # the keeper shows a one order...
    b.read([y, x])  # ...and b the other
    after = b.say(1, Say("which order?"))
    with pytest.raises(SequenceError, match="forked"):
        a.log.open(after)


def test_every_honest_event_type_round_trips(pair: tuple[Server, Server]) -> None:
    a, b = pair
    entry = a.log.seal(Kind.LEFT, 3, b"too slow")
    assert b.log.open(entry) == Event(a.log.origin, 0, Kind.LEFT, 3, b"too slow")


def test_an_entry_from_another_stream_of_the_same_room_and_key_is_refused(engine: Engine) -> None:
    old, new = Server(engine), Server(engine)  # the room moved to a new stream: each has its own start
    first = old.say(1, Hello("ghost"))  # seq 0, seen 0: it would pass every order check
    with pytest.raises(IntegrityError, match="another stream"):
        new.log.open(first)
    with pytest.raises(IntegrityError, match="another stream"):
        new.log.open(old.start)
    assert new.log.applied == 0


def test_only_a_stream_start_can_name_the_stream(pair: tuple[Server, Server], engine: Engine) -> None:
    a, _ = pair
    fresh = EventLog(KEY, "lobby", engine)
    with pytest.raises(IntegrityError, match="not the start of a stream"):
        fresh.follow(a.say(1, Hello("alice")))
    altered = bytearray(a.start)
    altered[1] ^= 1
    with pytest.raises(IntegrityError, match="authentication"):
        fresh.follow(bytes(altered))


def test_a_copy_of_the_stream_start_later_in_the_stream_is_a_duplicate(pair: tuple[Server, Server]) -> None:
    a, b = pair
    b.read([a.say(1, Hello("alice"))])
    assert b.log.open(a.start) is None
    assert b.log.applied == 1


def test_a_server_that_finds_the_log_broken_says_so_in_an_event_the_others_accept(
    pair: tuple[Server, Server], engine: Engine
) -> None:
    a, b = pair
    log = [a.say(1, Hello("alice")), a.say(1, Say("deleted once applied")), a.say(1, Say("after"))]
    b.read(log)
    late = Server(engine, a.start)
    late.read(log[:1])
    with pytest.raises(SequenceError, match="missing"):
        late.log.open(log[2])
    broken = late.log.seal(Kind.BROKEN, CONSOLE, b"events 1 to 1 of server 12345678 are missing")
    event = b.log.open(broken)
    assert event is not None and event.kind is Kind.BROKEN


def test_a_server_gone_with_a_reason_makes_its_members_leave_with_it(pair: tuple[Server, Server]) -> None:
    a, b = pair
    log = [a.say(1, Hello("alice")), b.say(1, Hello("bob"))]
    log.append(a.log.seal(Kind.GONE, CONSOLE, b.log.origin + b"their server restarted"))
    a.read(log)
    assert a.got[-1] == Deliver((1,), Leave("bob", "their server restarted"))


def test_a_lease_claim_is_the_same_only_for_the_same_key_and_identity() -> None:
    claim = lease_claim(KEY, "host\0::\x005555\0east")
    assert claim == lease_claim(KEY, "host\0::\x005555\0east")
    assert claim != lease_claim(KEY, "host\0::\x005556\0east")
    assert claim != lease_claim(bytes(32), "host\0::\x005555\0east")
    assert b"east" not in claim and b"host" not in claim


def test_an_entry_checks_with_the_documented_recipe_alone(pair: tuple[Server, Server]) -> None:
    """docs/scaling.md's entry format, byte by byte, with nothing of the package but the entries."""
    a, _ = pair
    entry = a.say(1, Hello("alice"))
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"cryptochat v1 cluster").derive(KEY)
    enc, mac = okm[:32], okm[32:]
    room = b"lobby"
    version, stream, iv, ciphertext, tag = entry[0], entry[1:17], entry[17:33], entry[33:-32], entry[-32:]
    assert version == 2 and stream == a.start[1:17] and len(ciphertext) % 16 == 0
    signed = b"cryptochat v2 cluster event" + bytes([len(room)]) + room + entry[:-32]
    assert hmac.compare_digest(hmac.new(mac, signed, hashlib.sha256).digest(), tag)
    decryptor = Cipher(algorithms.AES(enc), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    plain = padded[: -padded[-1]]
    assert plain[:16] == a.log.origin
    assert int.from_bytes(plain[16:24], "big") == 0  # seq
    assert int.from_bytes(plain[24:32], "big") == 0  # seen
    assert plain[32:64] == bytes(32)  # digest of nothing applied
    assert plain[64] == 1 and int.from_bytes(plain[65:69], "big") == 1  # MESSAGE, member 1
    assert plain[69:] == encode(Hello("alice"))
    # The smallest valid entry: a stream's start, kind 4, with no body.
    assert len(a.start) == 1 + 16 + 16 + 80 + 32 == 145
