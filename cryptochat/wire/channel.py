"""The secure channel: handshake and records over frames, sans-IO.

Feed it what the socket read (``receive_data``; ``b""`` means end of stream), get back events; ask it to
``send`` or ``close``, then transmit ``data_to_send()``. It never touches a socket, a clock or a thread.

Handshake (PSK + ephemeral X25519, the idea of Noise NNpsk0 / TLS 1.3 psk_dhe_ke)::

    client -> server  ClientHello     magic | version | 0x01 | nonce_c (32) | x25519_c (32)
    server -> client  ServerHello     magic | version | 0x02 | nonce_s (32) | x25519_s (32) | confirm_s (32)
    client -> server  ClientFinished  magic | version | 0x03 | confirm_c (32)

    th      = SHA-256(ClientHello | ServerHello without confirm_s)
    keys    = HKDF-SHA256(ikm = PSK | X25519(shared), salt = th, info = "cryptochat v1 keys", 160 bytes)
            = c2s_enc | c2s_mac | s2c_enc | s2c_mac | confirm_key
    confirm = HMAC-SHA256(confirm_key, "cryptochat v1 server finished" | th)   (resp. "client finished")

docs/protocol.md is the full byte-level specification.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, auto

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..engines.base import Engine
from ..errors import (
    AuthenticationError,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    VersionMismatch,
)
from .framing import DEFAULT_MAX_FRAME, FrameDecoder, encode_header
from .records import (
    PROTOCOL_VERSION,
    RecordOpener,
    RecordSealer,
    RecordType,
    max_plaintext_for_frame,
)

__all__ = [
    "PSK_SIZE",
    "Channel",
    "CloseReceived",
    "ConnectionClosed",
    "DataReceived",
    "Event",
    "HandshakeComplete",
    "Role",
    "State",
]

PSK_SIZE = 32
MAGIC = b"CCHT"
NONCE_SIZE = 32
KEY_SHARE_SIZE = 32
CONFIRM_SIZE = 32
_HS_HEADER_SIZE = len(MAGIC) + 2
_LENGTH = struct.Struct(">I")  # a frame's length prefix (framing.py), packed directly on the record path


class _HandshakeType(Enum):
    CLIENT_HELLO = 0x01
    SERVER_HELLO = 0x02
    CLIENT_FINISHED = 0x03
    VERSION_REJECT = 0x04


_HS_BODY_SIZE = {
    _HandshakeType.CLIENT_HELLO: NONCE_SIZE + KEY_SHARE_SIZE,
    _HandshakeType.SERVER_HELLO: NONCE_SIZE + KEY_SHARE_SIZE + CONFIRM_SIZE,
    _HandshakeType.CLIENT_FINISHED: CONFIRM_SIZE,
    _HandshakeType.VERSION_REJECT: 0,
}

_KEYS_INFO = b"cryptochat v1 keys"
_SERVER_CONFIRM_LABEL = b"cryptochat v1 server finished"
_CLIENT_CONFIRM_LABEL = b"cryptochat v1 client finished"


class Role(Enum):
    CLIENT = auto()
    SERVER = auto()


class State(Enum):
    AWAIT_CLIENT_HELLO = auto()  # server, before anything arrived
    AWAIT_SERVER_HELLO = auto()  # client, ClientHello sent
    AWAIT_CLIENT_FINISHED = auto()  # server, ServerHello sent
    ESTABLISHED = auto()
    LOCAL_CLOSED = auto()  # we sent CLOSE; the peer may still send
    PEER_CLOSED = auto()  # the peer sent CLOSE; we may still send
    CLOSED = auto()  # terminal: both closed, or the stream ended
    ERROR = auto()  # terminal: a protocol error happened

    # Members are singletons: hashing by identity (in C) instead of Enum's hash of the name (in Python)
    # makes the transition table lookup, done for every record, several times cheaper.
    __hash__ = object.__hash__


class _Input(Enum):
    RECV_CLIENT_HELLO = auto()
    RECV_SERVER_HELLO = auto()
    RECV_CLIENT_FINISHED = auto()
    RECV_VERSION_REJECT = auto()
    SEND_DATA = auto()
    RECV_DATA = auto()
    SEND_CLOSE = auto()
    RECV_CLOSE = auto()
    EOF = auto()

    __hash__ = object.__hash__  # as State's


# Every legal move. Anything else is a protocol error, blamed on whoever made the move.
_TRANSITIONS: dict[tuple[State, _Input], State] = {
    (State.AWAIT_CLIENT_HELLO, _Input.RECV_CLIENT_HELLO): State.AWAIT_CLIENT_FINISHED,
    (State.AWAIT_SERVER_HELLO, _Input.RECV_SERVER_HELLO): State.ESTABLISHED,
    (State.AWAIT_CLIENT_FINISHED, _Input.RECV_CLIENT_FINISHED): State.ESTABLISHED,
    (State.ESTABLISHED, _Input.SEND_DATA): State.ESTABLISHED,
    (State.ESTABLISHED, _Input.RECV_DATA): State.ESTABLISHED,
    (State.ESTABLISHED, _Input.SEND_CLOSE): State.LOCAL_CLOSED,
    (State.ESTABLISHED, _Input.RECV_CLOSE): State.PEER_CLOSED,
    (State.ESTABLISHED, _Input.EOF): State.CLOSED,
    (State.LOCAL_CLOSED, _Input.RECV_DATA): State.LOCAL_CLOSED,
    (State.LOCAL_CLOSED, _Input.RECV_CLOSE): State.CLOSED,
    (State.LOCAL_CLOSED, _Input.EOF): State.CLOSED,
    (State.PEER_CLOSED, _Input.SEND_DATA): State.PEER_CLOSED,
    (State.PEER_CLOSED, _Input.SEND_CLOSE): State.CLOSED,
    (State.PEER_CLOSED, _Input.EOF): State.CLOSED,
    (State.CLOSED, _Input.EOF): State.CLOSED,
    (State.CLOSED, _Input.SEND_CLOSE): State.CLOSED,
}

_HANDSHAKE_INPUT = {
    _HandshakeType.CLIENT_HELLO: _Input.RECV_CLIENT_HELLO,
    _HandshakeType.SERVER_HELLO: _Input.RECV_SERVER_HELLO,
    _HandshakeType.CLIENT_FINISHED: _Input.RECV_CLIENT_FINISHED,
    # A VERSION_REJECT in our own version makes no sense: no state accepts it.
    _HandshakeType.VERSION_REJECT: _Input.RECV_VERSION_REJECT,
}

_HANDSHAKE_STATES = frozenset(
    {State.AWAIT_CLIENT_HELLO, State.AWAIT_SERVER_HELLO, State.AWAIT_CLIENT_FINISHED}
)

_LOCAL_INPUTS = frozenset({_Input.SEND_DATA, _Input.SEND_CLOSE})


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """Keys are confirmed on both sides; application data may flow."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    data: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer closed its direction with an authenticated CLOSE record."""


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The byte stream ended. ``clean`` unless it ended before the peer's CLOSE (possible truncation)."""

    clean: bool


Event = HandshakeComplete | DataReceived | CloseReceived | ConnectionClosed


def _handshake_frame(kind: _HandshakeType, body: bytes = b"") -> bytes:
    return MAGIC + bytes([PROTOCOL_VERSION, kind.value]) + body


@dataclass(frozen=True, slots=True)
class _Secrets:
    c2s_enc: bytes
    c2s_mac: bytes
    s2c_enc: bytes
    s2c_mac: bytes
    confirm_key: bytes


def _derive(psk: bytes, shared: bytes, transcript_hash: bytes) -> _Secrets:
    okm = HKDF(algorithm=hashes.SHA256(), length=160, salt=transcript_hash, info=_KEYS_INFO).derive(
        psk + shared
    )
    parts = [okm[i : i + 32] for i in range(0, 160, 32)]
    return _Secrets(*parts)


class Channel:
    """One end of a cryptochat secure channel.

    A client channel queues its ClientHello at construction. ``max_frame`` must match the peer's (both
    default to :data:`~cryptochat.wire.framing.DEFAULT_MAX_FRAME`).
    """

    def __init__(
        self,
        role: Role,
        psk: bytes,
        engine: Engine,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        if len(psk) != PSK_SIZE:
            raise ValueError(f"the pre-shared key must be {PSK_SIZE} bytes")
        if not engine.cipher_supported("aes-cbc", 32) or not engine.mac_supported("hmac-sha256"):
            raise ValueError(f"engine {engine.name} lacks AES-256-CBC or HMAC-SHA256")
        self.role = role
        self._psk = psk
        self._engine = engine
        self._max_frame = max_frame
        self.max_plaintext = max_plaintext_for_frame(max_frame)
        self._decoder = FrameDecoder(max_frame)
        self._out: list[bytes] = []  # joined once in data_to_send, to copy each record only once
        self._private = X25519PrivateKey.generate()
        self._nonce = os.urandom(NONCE_SIZE)
        self._client_hello = b""
        self._expected_confirm = b""
        self._sealer: RecordSealer | None = None
        self._opener: RecordOpener | None = None
        self._peer_closed = False
        if role is Role.CLIENT:
            self.state = State.AWAIT_SERVER_HELLO
            self._client_hello = _handshake_frame(
                _HandshakeType.CLIENT_HELLO, self._nonce + self._public_bytes()
            )
            self._emit(self._client_hello)
        else:
            self.state = State.AWAIT_CLIENT_HELLO

    # ----------------------------------------------------------------- public API

    def receive_data(self, data: bytes) -> list[Event]:
        """Process bytes from the peer (``b""`` = end of stream); return the resulting events."""
        self._check_usable()
        try:
            if not data:
                return [self._on_eof()]
            events: list[Event] = []
            for frame in self._decoder.feed(data):
                event = self._on_frame(frame)
                if event is not None:
                    events.append(event)
            return events
        except ProtocolError:
            self._fail()
            raise

    def send(self, plaintext: bytes) -> None:
        """Queue ``plaintext`` as one record."""
        self.send_many((plaintext,))

    def send_many(self, plaintexts: Sequence[bytes]) -> None:
        """Queue each of ``plaintexts`` as one record, in order (one state check for all of them)."""
        self._check_usable()
        for plaintext in plaintexts:
            if len(plaintext) > self.max_plaintext:
                raise LocalProtocolError(
                    f"record of {len(plaintext)} bytes exceeds the maximum of {self.max_plaintext}"
                )
        self._advance(_Input.SEND_DATA)
        assert self._sealer is not None  # ESTABLISHED implies keys
        seal, out = self._sealer.seal, self._out
        for plaintext in plaintexts:
            body = seal(plaintext)
            # Bodies fit by construction: max_plaintext was derived from the frame maximum.
            out += (_LENGTH.pack(len(body)), body)

    def close(self) -> None:
        """Queue an authenticated CLOSE record; a no-op once closed or before keys exist."""
        if self.state in (State.CLOSED, State.ERROR, State.LOCAL_CLOSED):
            return
        if self.state in _HANDSHAKE_STATES:
            # Nothing authenticated to say yet: the transport closing is the whole message.
            self._finish()
            return
        self._advance(_Input.SEND_CLOSE)
        assert self._sealer is not None  # past the handshake and not closed implies keys
        self._emit(self._sealer.seal(b"", RecordType.CLOSE))
        self._release_if_closed()

    def data_to_send(self) -> bytes:
        """Bytes to transmit, in order; empties the buffer."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    @property
    def established(self) -> bool:
        return self.state in (State.ESTABLISHED, State.PEER_CLOSED)

    # ----------------------------------------------------------------- internals

    def _check_usable(self) -> None:
        if self.state is State.ERROR:
            raise LocalProtocolError("the channel already failed")

    def _advance(self, event: _Input) -> None:
        try:
            self.state = _TRANSITIONS[(self.state, event)]
        except KeyError:
            what = f"{event.name.lower().replace('_', ' ')} in state {self.state.name}"
            if event in _LOCAL_INPUTS:
                raise LocalProtocolError(f"cannot {what}") from None
            raise RemoteProtocolError(f"unexpected {what}") from None

    def _emit(self, body: bytes) -> None:
        self._out += (encode_header(len(body), self._max_frame), body)

    def _public_bytes(self) -> bytes:
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def _on_eof(self) -> Event:
        self._decoder.check_eof()
        if self.state in _HANDSHAKE_STATES:
            raise RemoteProtocolError("connection closed during the handshake")
        clean = self._peer_closed
        self._advance(_Input.EOF)
        self._release()
        return ConnectionClosed(clean=clean)

    def _on_frame(self, frame: bytes) -> Event | None:
        if self._opener is not None and self.state is not State.AWAIT_CLIENT_FINISHED:
            return self._on_record(frame)
        return self._on_handshake(frame)

    def _on_record(self, frame: bytes) -> Event:
        assert self._opener is not None
        if self._peer_closed:
            raise RemoteProtocolError("record after the peer's CLOSE")
        rtype, plaintext = self._opener.open(frame)
        if rtype is RecordType.CLOSE:
            self._advance(_Input.RECV_CLOSE)
            self._peer_closed = True
            self._release_if_closed()
            return CloseReceived()
        self._advance(_Input.RECV_DATA)
        return DataReceived(plaintext)

    def _parse_handshake(self, frame: bytes) -> tuple[_HandshakeType, bytes]:
        if len(frame) < _HS_HEADER_SIZE or frame[: len(MAGIC)] != MAGIC:
            raise RemoteProtocolError("the peer does not speak the cryptochat protocol")
        version, kind_byte = frame[len(MAGIC)], frame[len(MAGIC) + 1]
        if version != PROTOCOL_VERSION:
            if self.role is Role.SERVER:
                # Tell the client which version we speak, so it can say what is wrong.
                self._emit(_handshake_frame(_HandshakeType.VERSION_REJECT))
            peer = "server" if self.role is Role.CLIENT else "client"
            raise VersionMismatch(
                f"version mismatch: the {peer} speaks protocol version {version}, "
                f"this side speaks version {PROTOCOL_VERSION}"
            )
        try:
            kind = _HandshakeType(kind_byte)
        except ValueError:
            raise RemoteProtocolError(f"unknown handshake message {kind_byte:#x}") from None
        body = frame[_HS_HEADER_SIZE:]
        if len(body) != _HS_BODY_SIZE[kind]:
            raise RemoteProtocolError(f"handshake message {kind.name} has a bad length")
        return kind, body

    def _on_handshake(self, frame: bytes) -> Event | None:
        kind, body = self._parse_handshake(frame)
        self._advance(_HANDSHAKE_INPUT[kind])
        if kind is _HandshakeType.CLIENT_HELLO:
            self._server_reply(frame, body)
            return None
        if kind is _HandshakeType.SERVER_HELLO:
            self._client_finish(frame, body)
            return HandshakeComplete()
        # CLIENT_FINISHED: the only other message the table lets through.
        if not hmac.compare_digest(body, self._expected_confirm):
            raise AuthenticationError("the client does not hold the same key")
        self._expected_confirm = b""
        return HandshakeComplete()

    def _shared_secret(self, peer_public: bytes) -> bytes:
        try:
            return self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))
        except ValueError:
            # OpenSSL refuses low-order points (an all-zero shared secret): a forced, known DH output.
            raise RemoteProtocolError("the peer sent an invalid X25519 key share") from None

    def _server_reply(self, client_hello: bytes, body: bytes) -> None:
        peer_public = body[NONCE_SIZE:]
        shared = self._shared_secret(peer_public)
        server_hello = _handshake_frame(
            _HandshakeType.SERVER_HELLO, self._nonce + self._public_bytes()
        )
        th = hashlib.sha256(client_hello + server_hello).digest()
        secrets = _derive(self._psk, shared, th)
        self._install_keys(secrets)
        self._emit(server_hello + self._confirm(secrets, _SERVER_CONFIRM_LABEL, th))
        self._expected_confirm = self._confirm(secrets, _CLIENT_CONFIRM_LABEL, th)

    def _client_finish(self, frame: bytes, body: bytes) -> None:
        peer_public = body[NONCE_SIZE : NONCE_SIZE + KEY_SHARE_SIZE]
        server_hello, their_confirm = frame[:-CONFIRM_SIZE], frame[-CONFIRM_SIZE:]
        shared = self._shared_secret(peer_public)
        th = hashlib.sha256(self._client_hello + server_hello).digest()
        secrets = _derive(self._psk, shared, th)
        # Our confirmation goes out even when theirs fails, so a server with another key learns it too
        # and can report it; it reveals nothing (an HMAC under a key derived from a 256-bit PSK).
        self._emit(
            _handshake_frame(
                _HandshakeType.CLIENT_FINISHED, self._confirm(secrets, _CLIENT_CONFIRM_LABEL, th)
            )
        )
        if not hmac.compare_digest(their_confirm, self._confirm(secrets, _SERVER_CONFIRM_LABEL, th)):
            raise AuthenticationError("the server does not hold the same key")
        self._install_keys(secrets)

    def _confirm(self, secrets: _Secrets, label: bytes, th: bytes) -> bytes:
        session = self._engine.hmac_sha256(secrets.confirm_key)
        try:
            return session.mac(label + th)
        finally:
            session.close()

    def _install_keys(self, secrets: _Secrets) -> None:
        if self.role is Role.CLIENT:
            send_enc, send_mac, recv_enc, recv_mac = (
                secrets.c2s_enc, secrets.c2s_mac, secrets.s2c_enc, secrets.s2c_mac,
            )
        else:
            send_enc, send_mac, recv_enc, recv_mac = (
                secrets.s2c_enc, secrets.s2c_mac, secrets.c2s_enc, secrets.c2s_mac,
            )
        engine = self._engine
        self._sealer = RecordSealer(engine.aes_cbc_hmac_sha256(send_enc, send_mac))
        self._opener = RecordOpener(engine.aes_cbc_hmac_sha256(recv_enc, recv_mac))

    def _fail(self) -> None:
        self.state = State.ERROR
        self._release()

    def _finish(self) -> None:
        self.state = State.CLOSED
        self._release()

    def _release_if_closed(self) -> None:
        if self.state is State.CLOSED:
            self._release()

    def _release(self) -> None:
        """Drop key material and close engine sessions; the channel is done with them."""
        for part in (self._sealer, self._opener):
            if part is not None:
                part.close()
        self._sealer = self._opener = None
        self._psk = b""
        self._expected_confirm = b""
