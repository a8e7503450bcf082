"""One room carried by several servers, sans-IO: the sealed event log they share and the room each replays.

Every room event (a member's message, a member lost, a server gone) is sealed by the server where it
happened, its *origin*, and appended to one log (a Redis stream, see :mod:`.redis_room`). Every server opens
the entries in the log's order and applies them to its own copy of the room (:class:`Replica`), which is a
plain :class:`~.room.Room`: the same inputs in the same order make the same decisions everywhere, so names
are unique across servers and every member sees one order. Each server delivers only to its own members.

The log's keeper (Redis) is not trusted. An entry (the one field of a stream entry)::

    version (1) = 2 | stream (16) | iv (16) | ciphertext (16*n, n >= 5) | tag (32)

    keys      = HKDF-SHA256(ikm = PSK, salt = none, info = "cryptochat v1 cluster", 64 bytes) = enc | mac
    tag       = HMAC-SHA256(mac, "cryptochat v2 cluster event" | len(room) (1) | room | version | stream
                            | iv | ciphertext)
    plaintext = origin (16) | seq (8) | seen (8) | digest (32) | kind (1) | member (4) | body

``stream`` is the identity of the one stream the entry belongs to: random, drawn by the server that
created the stream and sealed into the stream's first entry (:attr:`Kind.STREAM`), which every server
reads before anything else (:meth:`EventLog.follow`). An entry of any other stream (of a room moved to a
new stream, of another Redis, of another cluster) is refused even under the same key and room name.

``seq`` counts the origin's events from 0. ``seen`` is how many events the origin had applied when it sealed
this one and ``digest`` the hash chain over them (``d(k+1) = SHA-256(d(k) | tag(k+1))``, ``d(0)`` zeros).
:class:`EventLog` checks, in this order: lengths, the stream, the tag (constant time, before decrypting),
the layout, the origin's sequence (lower: a duplicate or replay, skipped; higher: events were dropped), and
that the origin had seen exactly what this server has applied at that point (otherwise the keeper
reordered or forked the log). A forged entry changes nothing and is skipped by every server alike; a
dropped or reordered one means the copies may differ, which :class:`SequenceError` reports so the server
can stop (and say so in a :attr:`Kind.BROKEN` event, so that the servers that saw nothing wrong stop too).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..engines.base import AES_BLOCK, Engine
from ..errors import IntegrityError, LocalProtocolError, RemoteProtocolError, SequenceError
from ..wire.messages import MAX_MEMBERS, MAX_REASON_BYTES, Hello, check_text, decode
from .room import Action, Deliver, Disconnect, Note, Room

__all__ = ["ORIGIN_SIZE", "STREAM_ID_SIZE", "Event", "EventLog", "Kind", "Replica", "lease_claim"]

ORIGIN_SIZE = 16
_VERSION = 2
_KEYS_INFO = b"cryptochat v1 cluster"
_EVENT_LABEL = b"cryptochat v2 cluster event"
_CLAIM_LABEL = b"cryptochat v2 cluster lease"
STREAM_ID_SIZE = 16
_HEAD = 1 + STREAM_ID_SIZE + AES_BLOCK  # version, stream, iv
_TAG = 32
_BODY = struct.Struct(f">{ORIGIN_SIZE}sQQ32sBI")  # origin, seq, seen, digest, kind, member
_KIND_AT = _BODY.size - 5  # kind (1) and member (4) end the fixed part
_MAX_ENTRY = 16 * 1024
"""Largest entry accepted: a chat line of 4 KiB as UTF-8 with its framing fits many times over."""
_MIN_ENTRY = _HEAD + AES_BLOCK * ((_BODY.size + AES_BLOCK) // AES_BLOCK) + _TAG
_WINDOW = 65536
"""Applied events whose digests are kept, to check what a lagging origin had seen."""
_MAX_ROOM_BYTES = 255
_KINDS = frozenset({1, 2, 3, 4, 5})


class Kind(IntEnum):
    MESSAGE = 1
    """A member's message to the room (body: its codec bytes)."""
    LEFT = 2
    """A member's connection ended (body: why, UTF-8)."""
    GONE = 3
    """A server stopped renewing its lease, or restarted (body: its origin, then why, UTF-8, if not the
    default "their server stopped answering"): its members leave."""
    STREAM = 4
    """The stream's first entry (seq, seen, member 0, digest zeros, no body): its ``stream`` names it."""
    BROKEN = 5
    """A server found the log broken (body: what it found, UTF-8): every server stops at this event."""


@dataclass(frozen=True, slots=True)
class Event:
    origin: bytes
    seq: int
    kind: Kind
    member: int
    """The origin server's own id for the member (``CONSOLE``: that server's operator)."""
    body: bytes


def cluster_keys(psk: bytes) -> tuple[bytes, bytes]:
    """The cluster's encryption and MAC keys: from the PSK alone, under a label no channel key uses."""
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_KEYS_INFO).derive(psk)
    return okm[:32], okm[32:]


def _pad(data: bytes) -> bytes:
    n = AES_BLOCK - len(data) % AES_BLOCK
    return data + bytes([n]) * n


class EventLog:
    """Seals this server's events and opens everyone's, in the log's order, checking that order."""

    def __init__(
        self, psk: bytes, room: str, engine: Engine, random: Callable[[int], bytes] = os.urandom
    ) -> None:
        raw_room = room.encode()
        if not 1 <= len(raw_room) <= _MAX_ROOM_BYTES:
            raise ValueError(f"a room name must be 1 to {_MAX_ROOM_BYTES} bytes")
        enc_key, mac_key = cluster_keys(psk)
        self._seal = engine.aes_cbc_hmac_sha256(enc_key, mac_key)
        self._bind = _EVENT_LABEL + bytes([len(raw_room)]) + raw_room
        self._random = random
        self.origin = random(ORIGIN_SIZE)
        self._stream: bytes | None = None
        self._seq = 0
        self._expected: dict[bytes, int] = {}
        self._applied = 0
        self._digests: deque[bytes] = deque([bytes(32)], maxlen=_WINDOW)

    @property
    def applied(self) -> int:
        """Events accepted so far, from every origin."""
        return self._applied

    def new_stream(self) -> bytes:
        """The first entry of a new stream, under a fresh random identity (for a stream that has none yet)."""
        start = _BODY.pack(self.origin, 0, 0, bytes(32), Kind.STREAM, 0)
        return self._sealed(self._random(STREAM_ID_SIZE), start)

    def follow(self, start: bytes) -> None:
        """Take the identity of the stream whose first entry is ``start``, before any :meth:`seal` or
        :meth:`open`. :class:`IntegrityError` if it is not a stream's first entry for this key and room.
        """
        plain = self._unsealed(start, start[1 : 1 + STREAM_ID_SIZE])
        if plain[_KIND_AT] != Kind.STREAM:
            raise IntegrityError("the stream's first entry is not the start of a stream")
        self._stream = start[1 : 1 + STREAM_ID_SIZE]

    def seal(self, kind: Kind, member: int, body: bytes) -> bytes:
        if self._stream is None:
            raise LocalProtocolError("follow() the stream's first entry before sealing")
        plain = _BODY.pack(self.origin, self._seq, self._applied, self._digests[-1], kind, member) + body
        entry = self._sealed(self._stream, plain)
        self._seq += 1
        return entry

    def open(self, entry: bytes) -> Event | None:
        """The event, or ``None`` for a duplicate of one already applied (a retried append, a replay, a
        copy of the stream's first entry).

        :class:`IntegrityError`: forged, altered, malformed or of another stream, nothing changed.
        :class:`SequenceError`: an origin's events are missing or the log's order is not the one its
        origins saw.
        """
        if self._stream is None:
            raise LocalProtocolError("follow() the stream's first entry before opening")
        plain = self._unsealed(entry, self._stream)
        origin, seq, seen, digest, kind, member = _BODY.unpack_from(plain)
        if kind == Kind.STREAM:
            return None
        expected = self._expected.get(origin, 0)
        if seq < expected:
            return None
        if seq > expected:
            raise SequenceError(
                f"events {expected} to {seq - 1} of server {origin.hex()[:8]} are missing (dropped)"
            )
        if seen > self._applied:
            raise SequenceError(
                f"event {seq} of server {origin.hex()[:8]} comes before events its server had seen"
                " (reordered or dropped)"
            )
        back = self._applied - seen
        if back < len(self._digests) and self._digests[-1 - back] != digest:
            raise SequenceError(
                f"event {seq} of server {origin.hex()[:8]} was sealed after another order of the log"
                " (forked or dropped)"
            )
        self._expected[origin] = seq + 1
        self._applied += 1
        self._digests.append(hashlib.sha256(self._digests[-1] + entry[-_TAG:]).digest())
        return Event(origin, seq, Kind(kind), member, plain[_BODY.size :])

    def _sealed(self, stream: bytes, plain: bytes) -> bytes:
        iv = self._random(AES_BLOCK)
        head = bytes([_VERSION]) + stream + iv
        return head + self._seal.seal(self._bind + head, iv, _pad(plain))

    def _unsealed(self, entry: bytes, stream: bytes) -> bytes:
        """The plaintext of an entry of ``stream``, its layout checked, or :class:`IntegrityError`."""
        ct_len = len(entry) - _HEAD - _TAG
        if not _MIN_ENTRY <= len(entry) <= _MAX_ENTRY or ct_len % AES_BLOCK:
            raise IntegrityError(f"malformed entry of {len(entry)} bytes")
        head, ciphertext, tag = entry[:_HEAD], entry[_HEAD:-_TAG], entry[-_TAG:]
        if head[1 : 1 + STREAM_ID_SIZE] != stream:
            # The identity is not secret: a plain comparison, before the MAC, says which refusal it is.
            raise IntegrityError(
                f"entry belongs to another stream {head[1:1 + STREAM_ID_SIZE].hex()[:8]}"
                " (copied from a room moved to a new stream, another Redis or another cluster)"
            )
        padded = self._seal.open(self._bind + head, head[-AES_BLOCK:], ciphertext, tag)
        if padded is None:
            raise IntegrityError("entry failed authentication (forged, altered, or for another room or key)")
        n = padded[-1]
        if head[0] != _VERSION or not 1 <= n <= AES_BLOCK or padded[-n:] != bytes([n]) * n:
            raise IntegrityError("authenticated entry is malformed (a buggy server holds the key)")
        plain = padded[:-n]
        if len(plain) < _BODY.size:
            raise IntegrityError(f"authenticated entry of {len(plain)} bytes is too short")
        if plain[_KIND_AT] not in _KINDS:
            raise IntegrityError(f"authenticated entry has an unknown kind {plain[_KIND_AT]}")
        return plain

    def close(self) -> None:
        self._seal.close()


def _reason(body: bytes, default: str) -> str:
    reason = body.decode("utf-8", "replace") or default
    # Its origin checked it, so never reached: a Leave must encode.
    return default if check_text(reason, MAX_REASON_BYTES) is not None else reason


def lease_claim(psk: bytes, identity: str) -> bytes:
    """What a server's lease holds: a MAC of where and as whom it runs, so that the same server restarted
    recognises its predecessor's lease (:mod:`.redis_room`) while Redis learns neither name nor address."""
    return hmac.new(cluster_keys(psk)[1], _CLAIM_LABEL + identity.encode(), hashlib.sha256).digest()


class Replica:
    """This server's copy of the room, fed every accepted event in the log's order.

    Room ids are given in the order members join, the same on every server; what :meth:`apply` returns
    concerns this server's members only, under the server's own ids.
    """

    def __init__(self, origin: bytes, history: int, clock: Callable[[], float] = time.time) -> None:
        self._origin = origin
        # No console of its own: each server's operator joins as a member of its server. Lines are
        # numbered by their place in the log, the same on every server; each server stamps their time
        # when it applies them.
        self._room = Room(None, MAX_MEMBERS, history, clock=clock)
        self._ids: dict[tuple[bytes, int], int] = {}
        self._who: dict[int, tuple[bytes, int]] = {}
        self._next = 1

    def name_of(self, member: int) -> str | None:
        """The name of this server's member ``member``, once it has joined."""
        room_id = self._ids.get((self._origin, member))
        return None if room_id is None else self._room.name_of(room_id)

    @property
    def members(self) -> tuple[str, ...]:
        return self._room.members

    def local_members(self) -> tuple[int, ...]:
        return tuple(m for o, m in self._who.values() if o == self._origin)

    def origins(self) -> set[bytes]:
        """The other servers that have members in the room."""
        return {o for o, _ in self._who.values() if o != self._origin}

    def apply(self, event: Event) -> list[Action]:
        key = (event.origin, event.member)
        if event.kind is Kind.GONE:
            gone = event.body[:ORIGIN_SIZE]
            reason = _reason(event.body[ORIGIN_SIZE:], "their server stopped answering")
            affected = [i for i, (o, _) in self._who.items() if o == gone]
            actions = [a for i in affected for a in self._room.leave(i, reason)]
        elif event.kind is Kind.LEFT:
            affected = [self._ids[key]] if key in self._ids else []
            reason = _reason(event.body, "connection lost")
            actions = [a for i in affected for a in self._room.leave(i, reason)]
        else:
            affected, actions = self._message(key, event.body)
        local = self._localize(actions)
        for i in affected:
            if self._room.name_of(i) is None:
                del self._ids[self._who.pop(i)]
        return local

    def _message(self, key: tuple[bytes, int], body: bytes) -> tuple[list[int], list[Action]]:
        try:
            message = decode(body)
        except RemoteProtocolError:
            return [], []  # authenticated but not a message: its origin checked it, so never from a client
        room_id = self._ids.get(key)
        if room_id is None:
            if not isinstance(message, Hello):
                return [], []  # a member that already left (its server raced the news), or was refused
            room_id = self._next
            self._next += 1
            self._ids[key] = room_id
            self._who[room_id] = key
        try:
            return [room_id], self._room.handle(room_id, message)
        except RemoteProtocolError:
            return [room_id], []  # a second Hello: its origin lets none through

    def _localize(self, actions: list[Action]) -> list[Action]:
        local: list[Action] = []
        for action in actions:
            if isinstance(action, Deliver):
                to = tuple(m for o, m in map(self._who.__getitem__, action.to) if o == self._origin)
                if to:
                    local.append(Deliver(to, action.message))
                continue
            origin, member = self._who.get(action.member, (b"", 0))
            if origin != self._origin:
                continue
            if isinstance(action, Disconnect):
                local.append(Disconnect(member))
            else:
                local.append(Note(action.text, member))
        return local
