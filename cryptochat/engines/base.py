"""The engine interface: where every AES and HMAC operation of the record layer happens.

An engine hands out *sessions* with the key fixed at creation, because a device engine (cryptodev) pays for
key setup once per session and then only per operation. The channel creates its sessions once per connection
and reuses them for every record.
"""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod
from typing import Protocol

__all__ = ["AES_BLOCK", "CipherSession", "ComposedSealSession", "Engine", "MacSession", "SealSession"]

AES_BLOCK = 16


class CipherSession(Protocol):
    """AES-CBC with a fixed key. No padding inside: ``len(data) % 16 == 0`` and ``len(iv) == 16``."""

    def encrypt(self, iv: bytes, data: bytes) -> bytes: ...

    def decrypt(self, iv: bytes, data: bytes) -> bytes: ...

    def close(self) -> None: ...


class MacSession(Protocol):
    """HMAC-SHA256 with a fixed key; ``mac`` returns the 32-byte tag."""

    def mac(self, data: bytes) -> bytes: ...

    def close(self) -> None: ...


class SealSession(Protocol):
    """Encrypt-then-MAC under fixed keys: AES-CBC, then HMAC-SHA256 over a prefix and the ciphertext.

    The record layer's whole work on one record, so an engine that can do it in one operation (the
    cryptodev engine, in one device request) saves the second.
    """

    def seal(self, prefix: bytes, iv: bytes, data: bytes) -> bytes:
        """``ciphertext || HMAC(prefix || ciphertext)``; ``data`` is whole blocks."""

    def open(self, prefix: bytes, iv: bytes, ciphertext: bytes, tag: bytes) -> bytes | None:
        """The plaintext, or None when the tag does not verify (then nothing is decrypted)."""

    def close(self) -> None: ...


class ComposedSealSession:
    """Encrypt-then-MAC from a cipher session and a MAC session: two operations per record."""

    __slots__ = ("_cipher", "_mac")

    def __init__(self, cipher: CipherSession, mac: MacSession) -> None:
        self._cipher = cipher
        self._mac = mac

    def seal(self, prefix: bytes, iv: bytes, data: bytes) -> bytes:
        ciphertext = self._cipher.encrypt(iv, data)
        return ciphertext + self._mac.mac(prefix + ciphertext)

    def open(self, prefix: bytes, iv: bytes, ciphertext: bytes, tag: bytes) -> bytes | None:
        if not hmac.compare_digest(self._mac.mac(prefix + ciphertext), tag):
            return None
        return self._cipher.decrypt(iv, ciphertext)

    def close(self) -> None:
        self._cipher.close()
        self._mac.close()


class Engine(ABC):
    """A provider of cipher and MAC sessions that answers capability questions up front."""

    name: str

    @abstractmethod
    def describe(self) -> str:
        """One line for the start-up message, e.g. ``software (cryptography 48.0.0)``."""

    @abstractmethod
    def cipher_supported(self, algorithm: str, key_size: int) -> bool:
        """Whether ``algorithm`` (``"aes-cbc"``) with a key of ``key_size`` bytes is available."""

    @abstractmethod
    def mac_supported(self, algorithm: str) -> bool:
        """Whether ``algorithm`` (``"hmac-sha256"``) is available."""

    @abstractmethod
    def aes_cbc(self, key: bytes) -> CipherSession:
        """A new AES-CBC session for ``key`` (16, 24 or 32 bytes)."""

    @abstractmethod
    def hmac_sha256(self, key: bytes) -> MacSession:
        """A new HMAC-SHA256 session for ``key``."""

    def aes_cbc_hmac_sha256(self, key: bytes, mac_key: bytes) -> SealSession:
        """A new encrypt-then-MAC session; this one composes :meth:`aes_cbc` and :meth:`hmac_sha256`."""
        cipher = self.aes_cbc(key)
        try:
            return ComposedSealSession(cipher, self.hmac_sha256(mac_key))
        except BaseException:
            cipher.close()
            raise

    @abstractmethod
    def close(self) -> None:
        """Release the engine; sessions must not be used afterwards."""
