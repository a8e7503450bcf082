"""Every algorithm the device offers, over qtest with the builtin backend,
against `cryptography` on seeded random data: AES-CBC/CTR/ECB/XTS at every key
size the mode allows (CTR at lengths that are not whole blocks), CRYPTO_NULL,
MD5, SHA-1/224/256/384/512 and their HMACs; key sizes a mode refuses get
NOTSUPP. The known-answer vectors run through the guest driver
(virtio/tests/c/cryptodev_algs.c, in test_driver_hardening.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import qtest_virtio as qv
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from qtest_virtio import CryptodevQtest, DeviceError, Status
from vmlab import Lab

SIZES = (16, 64, 1024, 4096)
HASHES: list[tuple[int, int, type[hashes.HashAlgorithm]]] = [
    (qv.CRYPTO_MD5, qv.CRYPTO_MD5_HMAC, hashes.MD5),
    (qv.CRYPTO_SHA1, qv.CRYPTO_SHA1_HMAC, hashes.SHA1),
    (qv.CRYPTO_SHA2_224, qv.CRYPTO_SHA2_224_HMAC, hashes.SHA224),
    (qv.CRYPTO_SHA2_256, qv.CRYPTO_SHA2_256_HMAC, hashes.SHA256),
    (qv.CRYPTO_SHA2_384, qv.CRYPTO_SHA2_384_HMAC, hashes.SHA384),
    (qv.CRYPTO_SHA2_512, qv.CRYPTO_SHA2_512_HMAC, hashes.SHA512),
]


@pytest.fixture(scope="module")
def device(lab: Lab) -> Iterator[CryptodevQtest]:
    with qv.running(lab.qemu, "backend=builtin") as dev:
        yield dev
        assert dev.qt.alive(), dev.qt.stderr


def software(mode: modes.Mode | None, key: bytes, data: bytes, *, decrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), mode)
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def run_cipher(dev: CryptodevQtest, alg: int, key: bytes, iv: bytes, data: bytes, op: int) -> bytes:
    session = dev.create_session(cipher=alg, key=key)
    try:
        return dev.crypt(session, data, op=op, iv=iv)
    finally:
        dev.destroy_session(session)


@pytest.mark.parametrize("key_len", [16, 24, 32])
@pytest.mark.parametrize(("alg", "name"), [(qv.CRYPTO_AES_CBC, "cbc"), (qv.CRYPTO_AES_CTR, "ctr"),
                                           (qv.CRYPTO_AES_ECB, "ecb")])
def test_aes_modes_match_cryptography_at_every_key_size(device: CryptodevQtest, alg: int, name: str,
                                                        key_len: int) -> None:
    rng = random.Random(f"{name}{key_len}")
    sizes = (*SIZES, 1, 37, 1000) if name == "ctr" else SIZES
    for size in sizes:
        key, data = rng.randbytes(key_len), rng.randbytes(size)
        iv = b"" if name == "ecb" else rng.randbytes(16)
        mode = {"cbc": modes.CBC, "ctr": modes.CTR}[name](iv) if iv else modes.ECB()
        sealed = run_cipher(device, alg, key, iv, data, qv.ENCRYPT)
        assert sealed == software(mode, key, data, decrypt=False), (name, key_len, size)
        assert run_cipher(device, alg, key, iv, sealed, qv.DECRYPT) == data


@pytest.mark.parametrize("key_len", [32, 48, 64])
def test_aes_xts_matches_cryptography_and_round_trips(device: CryptodevQtest, key_len: int) -> None:
    rng = random.Random(key_len)
    for size in SIZES:
        key, tweak, data = rng.randbytes(key_len), rng.randbytes(16), rng.randbytes(size)
        sealed = run_cipher(device, qv.CRYPTO_AES_XTS, key, tweak, data, qv.ENCRYPT)
        if key_len != 48:  # OpenSSL has no XTS-AES-192 to compare with
            assert sealed == software(modes.XTS(tweak), key, data, decrypt=False)
        assert run_cipher(device, qv.CRYPTO_AES_XTS, key, tweak, sealed, qv.DECRYPT) == data


def test_null_cipher_copies(device: CryptodevQtest) -> None:
    data = bytes(range(200))
    assert run_cipher(device, qv.CRYPTO_NULL, b"", b"", data, qv.ENCRYPT) == data


@pytest.mark.parametrize(("alg", "key_len"), [
    (qv.CRYPTO_AES_CBC, 8), (qv.CRYPTO_AES_ECB, 64), (qv.CRYPTO_AES_XTS, 16), (qv.CRYPTO_AES_XTS, 24),
    (qv.CRYPTO_NULL, 16),
])
def test_a_key_size_the_mode_refuses_is_not_supported(device: CryptodevQtest, alg: int,
                                                      key_len: int) -> None:
    with pytest.raises(DeviceError) as refused:
        device.create_session(cipher=alg, key=bytes(key_len))
    assert refused.value.status == Status.NOTSUPP


@pytest.mark.parametrize(("hash_alg", "hmac_alg", "algorithm"), HASHES,
                         ids=[a.name for _, _, a in HASHES])
def test_hashes_and_hmacs_match_cryptography(device: CryptodevQtest, hash_alg: int, hmac_alg: int,
                                             algorithm: type[hashes.HashAlgorithm]) -> None:
    rng = random.Random(algorithm.name)
    digest_len = algorithm.digest_size
    plain = device.create_session(mac=hash_alg)
    for size in (0, 1, 64, 1000, 4096):
        data, key = rng.randbytes(size), rng.randbytes(rng.choice((16, 64, 200)))
        digest = hashes.Hash(algorithm())
        digest.update(data)
        assert device.crypt(plain, data, out_len=digest_len) == digest.finalize()
        keyed = device.create_session(mac=hmac_alg, mac_key=key)
        mac = hmac.HMAC(key, algorithm())
        mac.update(data)
        assert device.crypt(keyed, data, out_len=digest_len) == mac.finalize()
        device.destroy_session(keyed)
    device.destroy_session(plain)
