"""The engine interface: where every AES and HMAC operation of the record layer happens.

An engine hands out *sessions* with the key fixed at creation, because a device engine (cryptodev) pays for
key setup once per session and then only per operation. The channel creates its sessions once per connection
and reuses them for every record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

__all__ = ["AES_BLOCK", "CipherSession", "Engine", "MacSession"]

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

    @abstractmethod
    def close(self) -> None:
        """Release the engine; sessions must not be used afterwards."""
