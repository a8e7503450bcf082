"""The software engine: AES-CBC and HMAC-SHA256 from ``cryptography`` (OpenSSL)."""

from __future__ import annotations

import cryptography
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .base import AES_BLOCK, CipherSession, Engine, MacSession

__all__ = ["SoftwareEngine"]

_AES_KEY_SIZES = frozenset({16, 24, 32})


def _check_blocks(iv: bytes, data: bytes) -> None:
    if len(iv) != AES_BLOCK:
        raise ValueError(f"IV must be {AES_BLOCK} bytes, not {len(iv)}")
    if len(data) % AES_BLOCK:
        raise ValueError(f"data length {len(data)} is not a multiple of {AES_BLOCK}")


class _SoftwareCipher:
    __slots__ = ("_algorithm",)

    def __init__(self, key: bytes) -> None:
        if len(key) not in _AES_KEY_SIZES:
            raise ValueError(f"AES key must be 16, 24 or 32 bytes, not {len(key)}")
        # The expanded key lives in this object; each record only pays for a CBC context with its own IV.
        self._algorithm = algorithms.AES(key)

    def encrypt(self, iv: bytes, data: bytes) -> bytes:
        _check_blocks(iv, data)
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return encryptor.update(data) + encryptor.finalize()

    def decrypt(self, iv: bytes, data: bytes) -> bytes:
        _check_blocks(iv, data)
        decryptor = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        return decryptor.update(data) + decryptor.finalize()

    def close(self) -> None:
        """Nothing to release: OpenSSL contexts are per call."""


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
