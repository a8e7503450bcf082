"""AUTH_CRYPT (CIOCAUTHCRYPT on the device) over qtest with the builtin backend,
against `cryptography` on seeded random data: AES-GCM at every key size, tag
length and AAD length; cryptodev-linux's TLS (MAC-then-encrypt, TLS padding)
and SRTP (encrypt-then-MAC around the data) composites; ETM, our SRTP layout
with AES-CBC. Forgeries are BADMSG with nothing written; what a session cannot
do is BADREQ. The known answers through the guest driver are in
virtio/tests/c/cryptodev_aead.c (test_datapath.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import cryptodev_qtest as cq
import pytest
from cryptodev_qtest import AuthMode, CryptodevQtest, Status
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from vmlab import Lab

DECRYPT, ENCRYPT = cq.DECRYPT, cq.ENCRYPT


@pytest.fixture(scope="module")
def device(lab: Lab) -> Iterator[CryptodevQtest]:
    with cq.running(lab.qemu, "backend=builtin") as dev:
        yield dev
        assert dev.qt.alive(), dev.qt.stderr


def _cipher(mode: modes.Mode, key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    c = Cipher(algorithms.AES(key), mode)
    ctx = c.decryptor() if decrypt else c.encryptor()
    return ctx.update(data) + ctx.finalize()


def _hmac(algorithm: hashes.HashAlgorithm, key: bytes, *parts: bytes) -> bytes:
    h = hmac.HMAC(key, algorithm)
    for part in parts:
        h.update(part)
    return h.finalize()


@pytest.mark.parametrize("key_len", [16, 24, 32])
def test_gcm_matches_cryptography_at_every_tag_and_length(device: CryptodevQtest, key_len: int) -> None:
    rng = random.Random(key_len)
    key = rng.randbytes(key_len)
    session = device.create_session(cipher=cq.CRYPTO_AES_GCM, key=key)
    for size, aad_len, tag_len in [(0, 0, 16), (1, 20, 16), (60, 20, 12), (4096, 4096, 16),
                                   (33, 0, 8), (16, 7, 4), (1000, 13, 15)]:
        iv, aad, plain = rng.randbytes(12), rng.randbytes(aad_len), rng.randbytes(size)
        sealed = AESGCM(key).encrypt(iv, plain, aad or None)
        want = sealed[:size] + sealed[size:size + tag_len]
        reply = device.auth_crypt(session, AuthMode.AEAD, plain, iv=iv, auth=aad, tag_len=tag_len)
        assert (reply.status, reply.output, reply.result_len) == (Status.OK, want, size + tag_len)

        reply = device.auth_crypt(session, AuthMode.AEAD, want[:size], op=DECRYPT, iv=iv, auth=aad,
                                  tag=want[size:], tag_len=tag_len)
        assert (reply.status, reply.output, reply.result_len) == (Status.OK, plain, size)

        forged = bytes([want[-1] ^ 1])
        reply = device.auth_crypt(session, AuthMode.AEAD, want[:size], op=DECRYPT, iv=iv, auth=aad,
                                  tag=want[size:-1] + forged, tag_len=tag_len)
        assert (reply.status, reply.out_len) == (Status.BADMSG, 0)
    device.destroy_session(session)


@pytest.mark.parametrize(("mac", "algorithm", "key_len"), [
    (cq.CRYPTO_SHA1_HMAC, hashes.SHA1(), 16),
    (cq.CRYPTO_SHA2_256_HMAC, hashes.SHA256(), 32),
])
def test_tls_record_is_cbc_of_plaintext_mac_and_padding(device: CryptodevQtest, mac: int,
                                                         algorithm: hashes.HashAlgorithm,
                                                         key_len: int) -> None:
    rng = random.Random(mac)
    key, mac_key = rng.randbytes(key_len), rng.randbytes(20)
    digest_len = algorithm.digest_size
    session = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=key, mac=mac, mac_key=mac_key)
    for size in (0, 1, 15, 16, 50, 1000):
        iv, aad, plain = rng.randbytes(16), rng.randbytes(13), rng.randbytes(size)
        record = plain + _hmac(algorithm, mac_key, aad, plain)
        pad = 16 - len(record) % 16
        record += bytes([pad - 1]) * pad
        want = _cipher(modes.CBC(iv), key, record)
        reply = device.auth_crypt(session, AuthMode.TLS, plain, iv=iv, auth=aad, tag_len=digest_len,
                                  out_len=size + digest_len + pad)
        assert (reply.status, reply.output, reply.result_len) == (Status.OK, want, len(want))

        reply = device.auth_crypt(session, AuthMode.TLS, want, op=DECRYPT, iv=iv, auth=aad,
                                  tag_len=digest_len)
        assert (reply.status, reply.output, reply.result_len) == (Status.OK, record, size)

        reply = device.auth_crypt(session, AuthMode.TLS, want, op=DECRYPT, iv=iv, auth=aad[::-1],
                                  tag_len=digest_len)
        assert (reply.status, reply.out_len) == (Status.BADMSG, 0)

        # A valid MAC under padding bytes that disagree.
        bad = bytearray(record)
        bad[-2] ^= 0x40
        reply = device.auth_crypt(session, AuthMode.TLS, _cipher(modes.CBC(iv), key, bytes(bad)),
                                  op=DECRYPT, iv=iv, auth=aad, tag_len=digest_len)
        assert reply.status == Status.BADMSG
    device.destroy_session(session)


@pytest.mark.parametrize(("mode", "cipher", "make_mode"), [
    (AuthMode.SRTP, cq.CRYPTO_AES_CTR, modes.CTR),
    (AuthMode.ETM, cq.CRYPTO_AES_CBC, modes.CBC),
    (AuthMode.ETM, cq.CRYPTO_AES_CTR, modes.CTR),
])
def test_srtp_and_etm_authenticate_the_ciphertext_in_place(device: CryptodevQtest, mode: AuthMode,
                                                           cipher: int,
                                                           make_mode: type[modes.CBC] | type[modes.CTR]
                                                           ) -> None:
    rng = random.Random(int(mode) * 100 + cipher)
    key, mac_key = rng.randbytes(16), rng.randbytes(16)
    session = device.create_session(cipher=cipher, key=key, mac=cq.CRYPTO_SHA1_HMAC, mac_key=mac_key)
    block = 16 if make_mode is modes.CBC else 1
    for prefix, size, suffix, tag_len in [(12, 29 * block, 4, 10), (26, 48, 0, 20), (256, 16, 100, 1)]:
        iv, head, plain, tail = rng.randbytes(16), rng.randbytes(prefix), rng.randbytes(size), \
            rng.randbytes(suffix)
        cipher_text = _cipher(make_mode(iv), key, plain)
        tag = _hmac(hashes.SHA1(), mac_key, head, cipher_text, tail)[:tag_len]
        reply = device.auth_crypt(session, mode, plain, iv=iv, auth=head + tail, data_off=prefix,
                                  tag_len=tag_len)
        assert (reply.status, reply.output, reply.result_len) == (Status.OK, cipher_text + tag, size)

        reply = device.auth_crypt(session, mode, cipher_text, op=DECRYPT, iv=iv, auth=head + tail,
                                  data_off=prefix, tag=tag, tag_len=tag_len)
        assert (reply.status, reply.output) == (Status.OK, plain)

        reply = device.auth_crypt(session, mode, cipher_text, op=DECRYPT, iv=iv, auth=head + tail,
                                  data_off=prefix - 1, tag=tag, tag_len=tag_len)
        assert (reply.status, reply.out_len) == (Status.BADMSG, 0)
    device.destroy_session(session)


def test_auth_crypt_refuses_what_the_session_cannot_do(device: CryptodevQtest) -> None:
    key = bytes(16)
    gcm = device.create_session(cipher=cq.CRYPTO_AES_GCM, key=key)
    cbc_hmac = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=key, mac=cq.CRYPTO_SHA1_HMAC,
                                     mac_key=key)
    ctr = device.create_session(cipher=cq.CRYPTO_AES_CTR, key=key)
    iv12, iv16 = bytes(12), bytes(16)
    refused = [
        device.auth_crypt(cbc_hmac, AuthMode.AEAD, bytes(16), iv=iv16),          # GCM on CBC
        device.auth_crypt(gcm, AuthMode.TLS, bytes(16), iv=iv12),                # TLS on GCM
        device.auth_crypt(cbc_hmac, AuthMode.SRTP, bytes(16), iv=iv16, tag_len=20),  # SRTP on CBC
        device.auth_crypt(gcm, AuthMode.AEAD, bytes(16), iv=iv12, auth=bytes(4097)),
        device.auth_crypt(gcm, AuthMode.AEAD, bytes(16), iv=iv12, tag_len=5),
        device.auth_crypt(gcm, AuthMode.AEAD, bytes(16), iv=iv16),               # IV length
        device.auth_crypt(cbc_hmac, AuthMode.ETM, bytes(16), iv=iv16, tag_len=21),
        device.auth_crypt(cbc_hmac, AuthMode.ETM, bytes(16), iv=iv16, tag_len=0),
        device.auth_crypt(cbc_hmac, AuthMode.ETM, bytes(15), iv=iv16, tag_len=20),
        device.auth_crypt(cbc_hmac, AuthMode.ETM, bytes(16), iv=iv16, auth=bytes(8), data_off=9,
                          tag_len=20),
        device.auth_crypt(ctr, AuthMode.SRTP, bytes(16), iv=iv16, tag_len=4),    # a tag, no MAC
        device.auth_crypt(gcm, AuthMode.AEAD, bytes(16), iv=iv12, out_len=31),   # no room
        device.auth_crypt(gcm, AuthMode.AEAD, bytes(16), op=7, iv=iv12),
        device.auth_crypt(cbc_hmac, AuthMode.ETM, bytes(16), iv=iv16, auth=bytes(300), data_off=257,
                          tag_len=20),
        device.auth_crypt(gcm, 9, bytes(16), iv=iv12),  # type: ignore[arg-type]
    ]
    assert [r.status for r in refused] == [Status.BADREQ] * len(refused)
    with pytest.raises(cq.DeviceError):
        device.crypt(gcm, bytes(16), iv=iv16)
    with pytest.raises(cq.DeviceError):
        device.create_session(cipher=cq.CRYPTO_AES_GCM, key=key, mac=cq.CRYPTO_SHA1_HMAC, mac_key=key)
    for session in (gcm, cbc_hmac, ctr):
        device.destroy_session(session)
