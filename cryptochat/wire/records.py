"""The record layer: AES-256-CBC + PKCS#7 + HMAC-SHA256, encrypt-then-MAC, strict sequence numbers.

One :class:`RecordSealer` and one :class:`RecordOpener` per direction of a connection, each owning the engine
sessions for that direction's keys. Record layout (the body of one frame)::

    type (1) | version (1) | seq (8, big-endian) | iv (16) | ciphertext (16*n, n >= 1) | tag (32)

    tag = HMAC-SHA256(mac_key, type | version | seq | iv | ciphertext)

The tag is verified (constant time) before anything else in the record is believed or decrypted, so neither
the padding check nor the sequence check can be used as an oracle by someone who does not hold the MAC key.
Sealing and opening go through one :class:`~cryptochat.engines.base.SealSession`, which an engine may do in
one operation (the cryptodev engine: one device request per record).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from enum import IntEnum

from ..engines.base import AES_BLOCK, SealSession
from ..errors import IntegrityError, LocalProtocolError, RemoteProtocolError, SequenceError

__all__ = [
    "PROTOCOL_VERSION",
    "RECORD_OVERHEAD",
    "RecordOpener",
    "RecordSealer",
    "RecordType",
    "max_plaintext_for_frame",
]

PROTOCOL_VERSION = 1

_HEADER = struct.Struct(">BBQ")  # type, version, sequence number
TAG_SIZE = 32
IV_SIZE = AES_BLOCK
_PREFIX = _HEADER.size + IV_SIZE  # bytes before the ciphertext
RECORD_OVERHEAD = _PREFIX + TAG_SIZE
"""Fixed bytes of a record around its ciphertext (the ciphertext adds 1..16 bytes of padding)."""
_MAX_SEQ = 2**64 - 1
_IV_BATCH = 256


class RecordType(IntEnum):
    DATA = 0x17
    CLOSE = 0x15


_RECORD_TYPES = {int(t): t for t in RecordType}  # a dict lookup, cheaper per record than RecordType(x)


def max_plaintext_for_frame(max_frame: int) -> int:
    """Largest plaintext whose record fits in a frame body of ``max_frame`` bytes."""
    blocks = (max_frame - RECORD_OVERHEAD) // AES_BLOCK
    if blocks < 1:
        raise ValueError(f"a frame maximum of {max_frame} bytes cannot hold a record")
    # PKCS#7 always adds at least one byte, so a full last block means one byte less of plaintext.
    return blocks * AES_BLOCK - 1


def _pad(data: bytes) -> bytes:
    n = AES_BLOCK - len(data) % AES_BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    n = data[-1]
    # Only reached after the MAC verified, so a bad pad is a buggy or malicious key holder, not an oracle.
    if not 1 <= n <= AES_BLOCK or data[-n:] != bytes([n]) * n:
        raise IntegrityError("record has invalid padding")
    return data[:-n]


class RecordSealer:
    """Protects outgoing records for one direction."""

    __slots__ = ("_ivs", "_random", "_seal", "_seq")

    def __init__(self, seal: SealSession, random: Callable[[int], bytes] = os.urandom) -> None:
        self._seal = seal
        self._random = random
        self._ivs: list[bytes] = []
        self._seq = 0

    def seal(self, plaintext: bytes, record_type: RecordType = RecordType.DATA) -> bytes:
        if self._seq > _MAX_SEQ:
            raise LocalProtocolError("sequence numbers exhausted; the connection must be renewed")
        # A fresh unpredictable IV per record: CBC with a predictable IV leaks (BEAST), a fixed one
        # makes equal lines encrypt equally (seed defect 3).
        if not self._ivs:
            # IVs are drawn from the CSPRNG in batches (one system call per 256 records instead of one
            # per record); each stays secret in this process until its record is sent, so it is as
            # unpredictable to a network attacker as one drawn at that moment.
            pool = self._random(IV_SIZE * _IV_BATCH)
            self._ivs = [pool[i : i + IV_SIZE] for i in range(len(pool) - IV_SIZE, -1, -IV_SIZE)]
        iv = self._ivs.pop()
        head = _HEADER.pack(record_type, PROTOCOL_VERSION, self._seq) + iv
        sealed = self._seal.seal(head, iv, _pad(plaintext))
        self._seq += 1
        return head + sealed

    def close(self) -> None:
        self._seal.close()


class RecordOpener:
    """Verifies and decrypts incoming records for one direction."""

    __slots__ = ("_seal", "_seq")

    def __init__(self, seal: SealSession) -> None:
        self._seal = seal
        self._seq = 0

    def open(self, record: bytes) -> tuple[RecordType, bytes]:
        ct_len = len(record) - RECORD_OVERHEAD
        if ct_len < AES_BLOCK or ct_len % AES_BLOCK:
            raise RemoteProtocolError(f"malformed record of {len(record)} bytes")
        iv = record[_HEADER.size : _PREFIX]
        padded = self._seal.open(record[:_PREFIX], iv, record[_PREFIX:-TAG_SIZE], record[-TAG_SIZE:])
        if padded is None:
            raise IntegrityError("record failed authentication (tampered or forged)")
        rtype, version, seq = _HEADER.unpack_from(record)
        if seq != self._seq:
            what = "replayed or reordered" if seq < self._seq else "missing (dropped)"
            raise SequenceError(f"record {seq} out of sequence, expected {self._seq}: {what}")
        record_type = _RECORD_TYPES.get(rtype)
        if version != PROTOCOL_VERSION or record_type is None:
            raise RemoteProtocolError(f"unknown record type {rtype:#x} version {version}")
        self._seq += 1
        return record_type, _unpad(padded)

    def close(self) -> None:
        self._seal.close()
