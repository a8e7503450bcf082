from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cryptochat.engines import Engine, SoftwareEngine, open_engine
from cryptochat.errors import ConfigError


def test_auto_is_the_software_engine_for_now() -> None:
    engine = open_engine("auto")
    assert engine.name == "software"
    assert engine.describe().startswith("software (cryptography ")


def test_unknown_engine_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'quantum'"):
        open_engine("quantum")


def test_capability_queries(engine: Engine) -> None:
    assert engine.cipher_supported("aes-cbc", 32)
    assert not engine.cipher_supported("aes-cbc", 20)
    assert not engine.cipher_supported("des", 8)
    assert engine.mac_supported("hmac-sha256")
    assert not engine.mac_supported("hmac-md5")


def test_aes_cbc_matches_cryptography_directly(engine: Engine) -> None:
    key, iv, data = b"k" * 32, b"i" * 16, bytes(range(64))
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    expected = enc.update(data) + enc.finalize()
    session = engine.aes_cbc(key)
    assert session.encrypt(iv, data) == expected
    assert session.decrypt(iv, expected) == data
    session.close()


def test_a_reused_cipher_session_gives_what_a_fresh_context_gives_for_every_call(engine: Engine) -> None:
    # The software session keeps one OpenSSL context per direction running across calls; each call must
    # still be exactly CBC under its own IV, whatever came before and in whichever order.
    key = os.urandom(32)
    session = engine.aes_cbc(key)
    for size in (16, 32, 16, 4096, 48, 16 * 4095, 16, 0, 80):
        iv, data = os.urandom(16), os.urandom(size)
        enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        expected = enc.update(data) + enc.finalize()
        assert session.encrypt(iv, data) == expected
        if size % 32:  # decrypt now or later: the two directions are independent
            assert session.decrypt(iv, expected) == data
        else:
            assert session.decrypt(iv, session.encrypt(iv, data)) == data
    session.close()
    with pytest.raises(ValueError):
        session.encrypt(bytes(16), bytes(16))


def test_hmac_matches_cryptography_and_the_session_is_reusable(engine: Engine) -> None:
    session = engine.hmac_sha256(b"key")
    for data in (b"one", b"two"):
        h = hmac.HMAC(b"key", hashes.SHA256())
        h.update(data)
        assert session.mac(data) == h.finalize()


@pytest.mark.parametrize(("iv", "data"), [(b"short", b"x" * 16), (b"i" * 16, b"x" * 15)])
def test_cipher_inputs_are_validated_before_the_library(iv: bytes, data: bytes) -> None:
    with pytest.raises(ValueError):
        SoftwareEngine().aes_cbc(b"k" * 32).encrypt(iv, data)


def test_bad_key_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        SoftwareEngine().aes_cbc(b"k" * 31)
    with pytest.raises(ValueError):
        SoftwareEngine().hmac_sha256(b"")
