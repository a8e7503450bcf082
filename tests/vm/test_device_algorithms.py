"""Every algorithm the device offers, over qtest with the builtin backend,
against `cryptography` on seeded random data: AES-CBC/CTR/ECB/XTS at every key
size the mode allows (CTR at lengths that are not whole blocks), CRYPTO_NULL,
MD5, SHA-1/224/256/384/512 and their HMACs; key sizes a mode refuses get
NOTSUPP. The known-answer vectors run through the guest driver
(virtio/tests/c/cryptodev_algs.c, in test_driver_hardening.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import cryptodev_qtest as cq
import pytest
from cryptodev_qtest import CryptodevQtest, DeviceError, Status
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from vmlab import Lab

SIZES = (16, 64, 1024, 4096)
HASHES: list[tuple[int, int, type[hashes.HashAlgorithm]]] = [
    (cq.CRYPTO_MD5, cq.CRYPTO_MD5_HMAC, hashes.MD5),
    (cq.CRYPTO_SHA1, cq.CRYPTO_SHA1_HMAC, hashes.SHA1),
    (cq.CRYPTO_SHA2_224, cq.CRYPTO_SHA2_224_HMAC, hashes.SHA224),
    (cq.CRYPTO_SHA2_256, cq.CRYPTO_SHA2_256_HMAC, hashes.SHA256),
    (cq.CRYPTO_SHA2_384, cq.CRYPTO_SHA2_384_HMAC, hashes.SHA384),
    (cq.CRYPTO_SHA2_512, cq.CRYPTO_SHA2_512_HMAC, hashes.SHA512),
]


@pytest.fixture(scope="module")
def device(lab: Lab) -> Iterator[CryptodevQtest]:
    with cq.running(lab.qemu, "backend=builtin") as dev:
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
@pytest.mark.parametrize(("alg", "name"), [(cq.CRYPTO_AES_CBC, "cbc"), (cq.CRYPTO_AES_CTR, "ctr"),
                                           (cq.CRYPTO_AES_ECB, "ecb")])
def test_aes_modes_match_cryptography_at_every_key_size(device: CryptodevQtest, alg: int, name: str,
                                                        key_len: int) -> None:
    rng = random.Random(f"{name}{key_len}")
    sizes = (*SIZES, 1, 37, 1000) if name == "ctr" else SIZES
    for size in sizes:
        key, data = rng.randbytes(key_len), rng.randbytes(size)
        iv = b"" if name == "ecb" else rng.randbytes(16)
        mode = {"cbc": modes.CBC, "ctr": modes.CTR}[name](iv) if iv else modes.ECB()
        sealed = run_cipher(device, alg, key, iv, data, cq.ENCRYPT)
        assert sealed == software(mode, key, data, decrypt=False), (name, key_len, size)
        assert run_cipher(device, alg, key, iv, sealed, cq.DECRYPT) == data


@pytest.mark.parametrize("key_len", [32, 48, 64])
def test_aes_xts_matches_cryptography_and_round_trips(device: CryptodevQtest, key_len: int) -> None:
    rng = random.Random(key_len)
    for size in SIZES:
        key, tweak, data = rng.randbytes(key_len), rng.randbytes(16), rng.randbytes(size)
        sealed = run_cipher(device, cq.CRYPTO_AES_XTS, key, tweak, data, cq.ENCRYPT)
        if key_len != 48:  # OpenSSL has no XTS-AES-192 to compare with
            assert sealed == software(modes.XTS(tweak), key, data, decrypt=False)
        assert run_cipher(device, cq.CRYPTO_AES_XTS, key, tweak, sealed, cq.DECRYPT) == data


def test_null_cipher_copies(device: CryptodevQtest) -> None:
    data = bytes(range(200))
    assert run_cipher(device, cq.CRYPTO_NULL, b"", b"", data, cq.ENCRYPT) == data


@pytest.mark.parametrize(("alg", "key_len"), [
    (cq.CRYPTO_AES_CBC, 8), (cq.CRYPTO_AES_ECB, 64), (cq.CRYPTO_AES_XTS, 16), (cq.CRYPTO_AES_XTS, 24),
    (cq.CRYPTO_NULL, 16),
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


def _digest(algorithm: type[hashes.HashAlgorithm], key: bytes | None, data: bytes) -> bytes:
    if key is None:
        plain = hashes.Hash(algorithm())
        plain.update(data)
        return plain.finalize()
    mac = hmac.HMAC(key, algorithm())
    mac.update(data)
    return mac.finalize()


def _multipart(dev: CryptodevQtest, session: int, parts: list[bytes], digest_len: int) -> bytes:
    """UPDATE for every part but the last (the first with RESET), FINAL with the last."""
    for i, part in enumerate(parts[:-1]):
        dev.crypt(session, part, out_len=0 if part else digest_len,
                  flags=cq.F_UPDATE | (cq.F_RESET if i == 0 else 0))
    return dev.crypt(session, parts[-1], out_len=digest_len, flags=cq.F_FINAL)


@pytest.mark.parametrize(("hash_alg", "hmac_alg", "algorithm"), HASHES,
                         ids=[a.name for _, _, a in HASHES])
def test_multipart_hashing_split_anywhere_gives_the_one_shot_digest(
        device: CryptodevQtest, hash_alg: int, hmac_alg: int,
        algorithm: type[hashes.HashAlgorithm]) -> None:
    rng = random.Random(f"multipart-{algorithm.name}")
    data, key = rng.randbytes(1024), rng.randbytes(40)
    digest_len = algorithm.digest_size
    # SHA-256 and its HMAC at every split of 1 KiB; the others at a spread of them.
    splits = range(1, 1024) if algorithm is hashes.SHA256 else (1, 63, 64, 65, 500, 1023)
    for alg, mac_key in ((hash_alg, None), (hmac_alg, key)):
        session = device.create_session(mac=alg, mac_key=mac_key or b"")
        want = _digest(algorithm, mac_key, data)
        for cut in splits:
            got = _multipart(device, session, [data[:cut], data[cut:]], digest_len)
            assert got == want, (algorithm.name, mac_key is not None, cut)
        # Three parts, then a one-shot on the same session starts over.
        assert _multipart(device, session, [data[:100], data[100:700], data[700:]], digest_len) == want
        assert device.crypt(session, data[:10], out_len=digest_len) == _digest(algorithm, mac_key, data[:10])
        device.destroy_session(session)


def test_a_copied_hash_state_continues_independently(device: CryptodevQtest) -> None:
    key = bytes(range(32))
    first = device.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=key)
    second = device.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=key)
    device.crypt(first, b"common prefix ", out_len=0, flags=cq.F_UPDATE | cq.F_RESET)
    device.copy_hash(second, first)
    one = device.crypt(first, b"then one", out_len=32, flags=cq.F_FINAL)
    two = device.crypt(second, b"then two", out_len=32, flags=cq.F_FINAL)
    assert one == _digest(hashes.SHA256, key, b"common prefix then one")
    assert two == _digest(hashes.SHA256, key, b"common prefix then two")
    other = device.create_session(mac=cq.CRYPTO_SHA1_HMAC, mac_key=key)
    with pytest.raises(DeviceError) as refused:
        device.copy_hash(other, first)
    assert refused.value.status == Status.BADREQ


def test_a_copied_hmac_state_finishes_with_the_destinations_own_key(device: CryptodevQtest) -> None:
    # As cryptodev-linux (Linux's hmac template): CIOCCPHASH carries the inner
    # hash only; the outer one is the destination's key's. On 5f8df50 the
    # destination took the source's key whole.
    source_key, own_key, block = b"k" * 20, b"o" * 20, 64
    source = device.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=source_key)
    destination = device.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=own_key)
    device.crypt(source, b"prefix ", out_len=0, flags=cq.F_UPDATE | cq.F_RESET)
    device.copy_hash(destination, source)
    got = device.crypt(destination, b"suffix", out_len=32, flags=cq.F_FINAL)
    inner = hashes.Hash(hashes.SHA256())
    inner.update(bytes(b ^ 0x36 for b in source_key.ljust(block, b"\0")) + b"prefix suffix")
    outer = hashes.Hash(hashes.SHA256())
    outer.update(bytes(b ^ 0x5C for b in own_key.ljust(block, b"\0")) + inner.finalize())
    assert got == outer.finalize()


def test_flags_on_a_cipher_session_are_refused(device: CryptodevQtest) -> None:
    session = device.create_session(cipher=cq.CRYPTO_AES_CBC, key=bytes(16))
    with pytest.raises(DeviceError) as refused:
        device.crypt(session, bytes(16), iv=bytes(16), flags=cq.F_UPDATE)
    assert refused.value.status == Status.BADREQ
