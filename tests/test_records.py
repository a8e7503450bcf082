"""The record layer alone, with known keys: padding, sequence numbers, the engine sessions it uses."""

from __future__ import annotations

import hmac
import struct
from hashlib import sha256

import pytest
from conftest import handshake

from cryptochat.engines import CipherSession, Engine, MacSession
from cryptochat.errors import IntegrityError, SequenceError
from cryptochat.wire.records import (
    PROTOCOL_VERSION,
    RecordOpener,
    RecordSealer,
    RecordType,
    max_plaintext_for_frame,
)

ENC_KEY = b"e" * 32
MAC_KEY = b"m" * 32


def sealer(engine: Engine) -> RecordSealer:
    return RecordSealer(engine.aes_cbc_hmac_sha256(ENC_KEY, MAC_KEY))


def opener(engine: Engine) -> RecordOpener:
    return RecordOpener(engine.aes_cbc_hmac_sha256(ENC_KEY, MAC_KEY))


def forge(engine: Engine, padded: bytes, seq: int = 0) -> bytes:
    """A correctly MACed record around ``padded`` (already block-aligned) as a key holder could make."""
    iv = b"i" * 16
    body = struct.pack(">BBQ", RecordType.DATA, PROTOCOL_VERSION, seq) + iv
    body += engine.aes_cbc(ENC_KEY).encrypt(iv, padded)
    return body + hmac.new(MAC_KEY, body, sha256).digest()


def test_record_layout_is_header_seq_iv_ciphertext_tag(engine: Engine) -> None:
    rec = sealer(engine).seal(b"hello")
    assert rec[:2] == bytes([RecordType.DATA, PROTOCOL_VERSION])
    assert rec[2:10] == bytes(8)
    assert len(rec) == 2 + 8 + 16 + 16 + 32
    assert rec[-32:] == hmac.new(MAC_KEY, rec[:-32], sha256).digest()


def test_sequence_numbers_count_from_zero(engine: Engine) -> None:
    s = sealer(engine)
    assert [struct.unpack(">Q", s.seal(b"x")[2:10])[0] for _ in range(3)] == [0, 1, 2]


def test_full_block_plaintext_gets_a_whole_block_of_padding(engine: Engine) -> None:
    rec = sealer(engine).seal(b"y" * 16)
    assert len(rec) == 26 + 32 + 32
    assert opener(engine).open(rec) == (RecordType.DATA, b"y" * 16)


@pytest.mark.parametrize("padded", [b"a" * 15 + b"\x00", b"a" * 15 + b"\x11", b"a" * 14 + b"\x01\x02"])
def test_bad_padding_under_a_valid_mac_is_rejected(engine: Engine, padded: bytes) -> None:
    with pytest.raises(IntegrityError, match="invalid padding"):
        opener(engine).open(forge(engine, padded))


def test_a_valid_forged_record_opens_to_show_the_forgery_helper_is_right(engine: Engine) -> None:
    assert opener(engine).open(forge(engine, b"ok" + b"\x0e" * 14)) == (RecordType.DATA, b"ok")


def test_mac_is_checked_before_the_sequence_number(engine: Engine) -> None:
    rec = bytearray(forge(engine, b"\x10" * 16, seq=5))
    rec[-1] ^= 1
    with pytest.raises(IntegrityError):
        opener(engine).open(bytes(rec))
    with pytest.raises(SequenceError):
        opener(engine).open(forge(engine, b"\x10" * 16, seq=5))


def test_max_plaintext_for_the_default_frame() -> None:
    assert max_plaintext_for_frame(64 * 1024) == 65471
    with pytest.raises(ValueError):
        max_plaintext_for_frame(60)


def test_channel_creates_sessions_once_and_reuses_them(engine: Engine) -> None:
    """Sessions are per connection and direction, not per record (what a device engine relies on)."""
    created: list[str] = []
    original_cbc, original_mac = engine.aes_cbc, engine.hmac_sha256

    def aes_cbc(key: bytes) -> CipherSession:
        created.append("aes")
        return original_cbc(key)

    def hmac_sha256(key: bytes) -> MacSession:
        created.append("hmac")
        return original_mac(key)

    engine.aes_cbc = aes_cbc  # type: ignore[method-assign]
    engine.hmac_sha256 = hmac_sha256  # type: ignore[method-assign]
    client, server = handshake(engine)
    before = len(created)
    for _ in range(20):
        client.send(b"x")
        server.receive_data(client.data_to_send())
    assert len(created) == before
    assert created.count("aes") == 4  # one per direction per side
