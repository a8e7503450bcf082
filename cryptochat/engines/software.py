"""The software engine: AES-CBC and HMAC-SHA256 from ``cryptography`` (OpenSSL)."""

from __future__ import annotations

import cryptography
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from .base import AES_BLOCK, CipherSession, Engine, MacSession

__all__ = ["SoftwareEngine"]

_AES_KEY_SIZES = frozenset({16, 24, 32})


def _check_blocks(iv: bytes, data: bytes) -> None:
    if len(iv) != AES_BLOCK:
        raise ValueError(f"IV must be {AES_BLOCK} bytes, not {len(iv)}")
    if len(data) % AES_BLOCK:
        raise ValueError(f"data length {len(data)} is not a multiple of {AES_BLOCK}")


class _SoftwareCipher:
    """AES-CBC on two long-lived OpenSSL contexts, one per direction, instead of one context per call.

    Building a CBC context is most of the cost of a small record (~5 of ~6 us). A context that keeps
    running continues the chain from the last ciphertext block it saw; folding ``iv XOR last`` into the
    first block turns that into exactly CBC under ``iv``: encryption feeds ``P1 ^ iv ^ last`` so the
    context computes ``E(P1 ^ iv)``; decryption gets ``D(C1) ^ last`` and XORs ``last ^ iv`` back in.
    The output is bit for bit what a fresh context with ``iv`` gives (tests/test_engines.py checks it).
    """

    __slots__ = ("_dec_last", "_decryptor", "_enc_last", "_encryptor")  # the last blocks as integers

    def __init__(self, key: bytes) -> None:
        if len(key) not in _AES_KEY_SIZES:
            raise ValueError(f"AES key must be 16, 24 or 32 bytes, not {len(key)}")
        algorithm = algorithms.AES(key)
        zero = bytes(AES_BLOCK)
        self._encryptor: CipherContext | None = Cipher(algorithm, modes.CBC(zero)).encryptor()
        self._decryptor: CipherContext | None = Cipher(algorithm, modes.CBC(zero)).decryptor()
        self._enc_last = self._dec_last = 0

    def encrypt(self, iv: bytes, data: bytes) -> bytes:
        _check_blocks(iv, data)
        if self._encryptor is None:
            raise ValueError("the cipher session is closed")
        if not data:
            return b""
        first = int.from_bytes(data[:AES_BLOCK]) ^ int.from_bytes(iv) ^ self._enc_last
        out = self._encryptor.update(first.to_bytes(AES_BLOCK) + data[AES_BLOCK:])
        self._enc_last = int.from_bytes(out[-AES_BLOCK:])
        return out

    def decrypt(self, iv: bytes, data: bytes) -> bytes:
        _check_blocks(iv, data)
        if self._decryptor is None:
            raise ValueError("the cipher session is closed")
        if not data:
            return b""
        out = self._decryptor.update(data)
        first = int.from_bytes(out[:AES_BLOCK]) ^ int.from_bytes(iv) ^ self._dec_last
        self._dec_last = int.from_bytes(data[-AES_BLOCK:])
        return first.to_bytes(AES_BLOCK) + out[AES_BLOCK:]

    def close(self) -> None:
        """Drop the contexts (and with them the expanded key)."""
        self._encryptor = self._decryptor = None


class _SoftwareMac:
    __slots__ = ("_base",)

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("HMAC key must not be empty")
        # HMAC's keyed inner/outer state is computed once here and copied per message.
        self._base = hmac.HMAC(key, hashes.SHA256())

    def mac(self, data: bytes) -> bytes:
        h = self._base.copy()
        h.update(data)
        return h.finalize()

    def close(self) -> None:
        """Nothing to release."""


class SoftwareEngine(Engine):
    name = "software"

    def __init__(self, fallback_reason: str | None = None) -> None:
        # Why ``auto`` settled for software although a device may exist, for the one ``engine:`` line.
        self.fallback_reason = fallback_reason

    def describe(self) -> str:
        described = f"software (cryptography {cryptography.__version__})"
        return f"{described}; {self.fallback_reason}" if self.fallback_reason else described

    def cipher_supported(self, algorithm: str, key_size: int) -> bool:
        return algorithm == "aes-cbc" and key_size in _AES_KEY_SIZES

    def mac_supported(self, algorithm: str) -> bool:
        return algorithm == "hmac-sha256"

    def aes_cbc(self, key: bytes) -> CipherSession:
        return _SoftwareCipher(key)

    def hmac_sha256(self, key: bytes) -> MacSession:
        return _SoftwareMac(key)

    def close(self) -> None:
        """The software engine holds no resources."""
