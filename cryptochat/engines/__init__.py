"""Crypto engines. ``open_engine`` picks one by name."""

from __future__ import annotations

from ..errors import ConfigError
from .base import CipherSession, Engine, MacSession
from .cryptodev import CryptodevEngine, candidate_devices
from .software import SoftwareEngine

__all__ = [
    "ENGINE_NAMES",
    "CipherSession",
    "CryptodevEngine",
    "Engine",
    "MacSession",
    "SoftwareEngine",
    "open_engine",
]

ENGINE_NAMES = ("auto", "software", "cryptodev")


def _open_cryptodev(path: str) -> CryptodevEngine:
    try:
        return CryptodevEngine(path)
    except OSError as exc:
        raise ConfigError(f"cannot use cryptodev device {path}: {exc.strerror or exc}") from None


def open_engine(name: str, device: str | None = None) -> Engine:
    """Open the engine called ``name``.

    ``cryptodev`` uses ``device``, or the first of :func:`candidate_devices` that exists; a device that
    cannot be had is an error, never a silent fallback. ``auto`` tries the same devices (the guest's
    virtio-cryptodev, then ``/dev/crypto``) and falls back to software only when none exists.
    """
    if name == "software":
        return SoftwareEngine()
    if name not in ENGINE_NAMES:
        raise ConfigError(f"unknown engine {name!r} (choose from: {', '.join(ENGINE_NAMES)})")
    if device is not None:
        return _open_cryptodev(device)
    for path in candidate_devices():
        try:
            return CryptodevEngine(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if name == "cryptodev":
                raise ConfigError(f"cannot use cryptodev device {path}: {exc.strerror or exc}") from None
            continue
    if name == "cryptodev":
        raise ConfigError("no cryptodev device: none of " + ", ".join(candidate_devices()) + " exists")
    return SoftwareEngine()
