"""One room carried by several servers, sans-IO: the sealed event log they share and the room each replays.

Every room event (a member's message, a member lost, a server gone) is sealed by the server where it
happened, its *origin*, and appended to one log (a Redis stream, see :mod:`.redis_room`). Every server opens
the entries in the log's order and applies them to its own copy of the room (:class:`Replica`), which is a
plain :class:`~.room.Room`: the same inputs in the same order make the same decisions everywhere, so names
are unique across servers and every member sees one order. Each server delivers only to its own members.

The log's keeper (Redis) is not trusted. An entry (the one field of a stream entry)::

    version (1) | iv (16) | ciphertext (16*n, n >= 5) | tag (32)

    keys      = HKDF-SHA256(ikm = PSK, salt = none, info = "cryptochat v1 cluster", 64 bytes) = enc | mac
    tag       = HMAC-SHA256(mac, "cryptochat v1 cluster event" | len(room) (1) | room | version | iv | ct)
    plaintext = origin (16) | seq (8) | seen (8) | digest (32) | kind (1) | member (4) | body

``seq`` counts the origin's events from 0. ``seen`` is how many events the origin had applied when it sealed
this one and ``digest`` the hash chain over them (``d(k+1) = SHA-256(d(k) | tag(k+1))``, ``d(0)`` zeros).
:class:`EventLog` checks, in this order: lengths, the tag (constant time, before decrypting), the layout, the
origin's sequence (lower: a duplicate or replay, skipped; higher: events were dropped), and that the origin
had seen exactly what this server has applied at that point (otherwise the keeper reordered or forked the
log). A forged entry changes nothing and is skipped by every server alike; a dropped or reordered one means
the copies may differ, which :class:`SequenceError` reports so the server can stop.
"""

from __future__ import annotations

import hashlib
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
from ..errors import IntegrityError, RemoteProtocolError, SequenceError
from ..wire.messages import MAX_MEMBERS, MAX_REASON_BYTES, Hello, check_text, decode
from .room import Action, Deliver, Disconnect, Note, Room

__all__ = ["ORIGIN_SIZE", "Event", "EventLog", "Kind", "Replica"]

ORIGIN_SIZE = 16
_VERSION = 1
_KEYS_INFO = b"cryptochat v1 cluster"
_EVENT_LABEL = b"cryptochat v1 cluster event"
_TAG = 32
_BODY = struct.Struct(f">{ORIGIN_SIZE}sQQ32sBI")  # origin, seq, seen, digest, kind, member
_MAX_ENTRY = 16 * 1024
"""Largest entry accepted: a chat line of 4 KiB as UTF-8 with its framing fits many times over."""
_MIN_ENTRY = 1 + AES_BLOCK + AES_BLOCK * ((_BODY.size + AES_BLOCK) // AES_BLOCK) + _TAG
_WINDOW = 65536
"""Applied events whose digests are kept, to check what a lagging origin had seen."""
_MAX_ROOM_BYTES = 255
_KINDS = frozenset({1, 2, 3})


class Kind(IntEnum):
    MESSAGE = 1
    """A member's message to the room (body: its codec bytes)."""
    LEFT = 2
    """A member's connection ended (body: why, UTF-8)."""
    GONE = 3
    """A server stopped renewing its lease (body: its origin): its members leave."""


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
        self._seq = 0
        self._expected: dict[bytes, int] = {}
        self._applied = 0
        self._digests: deque[bytes] = deque([bytes(32)], maxlen=_WINDOW)

    @property
    def applied(self) -> int:
        """Events accepted so far, from every origin."""
        return self._applied

    def seal(self, kind: Kind, member: int, body: bytes) -> bytes:
        plain = _BODY.pack(self.origin, self._seq, self._applied, self._digests[-1], kind, member) + body
        iv = self._random(AES_BLOCK)
        head = bytes([_VERSION]) + iv
        sealed = self._seal.seal(self._bind + head, iv, _pad(plain))
        self._seq += 1
        return head + sealed

    def open(self, entry: bytes) -> Event | None:
        """The event, or ``None`` for a duplicate of one already applied (a retried append, a replay).

        :class:`IntegrityError`: forged, altered or malformed, nothing changed. :class:`SequenceError`: an
        origin's events are missing or the log's order is not the one its origins saw.
        """
        ct_len = len(entry) - 1 - AES_BLOCK - _TAG
        if not _MIN_ENTRY <= len(entry) <= _MAX_ENTRY or ct_len % AES_BLOCK:
            raise IntegrityError(f"malformed entry of {len(entry)} bytes")
        head, ciphertext, tag = entry[: 1 + AES_BLOCK], entry[1 + AES_BLOCK : -_TAG], entry[-_TAG:]
        padded = self._seal.open(self._bind + head, head[1:], ciphertext, tag)
        if padded is None:
            raise IntegrityError("entry failed authentication (forged, altered, or for another room or key)")
        n = padded[-1]
        if head[0] != _VERSION or not 1 <= n <= AES_BLOCK or padded[-n:] != bytes([n]) * n:
            raise IntegrityError("authenticated entry is malformed (a buggy server holds the key)")
        plain = padded[:-n]
        if len(plain) < _BODY.size:
            raise IntegrityError(f"authenticated entry of {len(plain)} bytes is too short")
        origin, seq, seen, digest, kind, member = _BODY.unpack_from(plain)
        if kind not in _KINDS:
            raise IntegrityError(f"authenticated entry has an unknown kind {kind}")
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
                " (reordered)"
            )
        back = self._applied - seen
        if back < len(self._digests) and self._digests[-1 - back] != digest:
            raise SequenceError(
                f"event {seq} of server {origin.hex()[:8]} was sealed after another order of the log (forked)"
            )
        self._expected[origin] = seq + 1
        self._applied += 1
        self._digests.append(hashlib.sha256(self._digests[-1] + tag).digest())
        return Event(origin, seq, Kind(kind), member, plain[_BODY.size :])

    def close(self) -> None:
        self._seal.close()


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
            affected = [i for i, (o, _) in self._who.items() if o == gone]
            actions = [a for i in affected for a in self._room.leave(i, "their server stopped answering")]
        elif event.kind is Kind.LEFT:
            affected = [self._ids[key]] if key in self._ids else []
            reason = event.body.decode("utf-8", "replace")
            if check_text(reason, MAX_REASON_BYTES) is not None:
                reason = "connection lost"  # its origin wrote it, so never reached; a Leave must encode
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
