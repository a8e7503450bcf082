"""Crypto engines. ``open_engine`` picks one by name.

The cryptodev engine needs the cffi extension built by ``pip install``; a source checkout used without it
still runs on the software engine, so the cryptodev module is imported only when a device is wanted.
"""

from __future__ import annotations

import glob

from ..errors import ConfigError
from .base import CipherSession, Engine, MacSession
from .software import SoftwareEngine

__all__ = [
    "ENGINE_NAMES",
    "CipherSession",
    "Engine",
    "MacSession",
    "SoftwareEngine",
    "candidate_devices",
    "open_engine",
]

ENGINE_NAMES = ("auto", "software", "cryptodev")
NOT_BUILT = "the cryptodev engine is not built: install the package (pip install .)"


def candidate_devices() -> list[str]:
    """Device nodes ``auto`` tries, in order: the guest's virtio-cryptodev devices, then ``/dev/crypto``."""
    guest = sorted(glob.glob("/dev/cryptodev[0-9]*"), key=lambda p: int(p.removeprefix("/dev/cryptodev")))
    return [*guest, "/dev/crypto"]


def _open_device(path: str) -> Engine:
    """The cryptodev engine on ``path``; OSError when the device can't be had."""
    try:
        from .cryptodev import CryptodevEngine  # noqa: PLC0415 - needs the cffi extension
    except ImportError:
        raise ConfigError(NOT_BUILT) from None
    return CryptodevEngine(path)


def _open_cryptodev(path: str) -> Engine:
    try:
        return _open_device(path)
    except OSError as exc:
        raise ConfigError(f"cannot use cryptodev device {path}: {exc.strerror or exc}") from None


def open_engine(name: str, device: str | None = None) -> Engine:
    """Open the engine called ``name``.

    ``cryptodev`` uses ``device``, or the first of :func:`candidate_devices` that exists; a device that
    cannot be had (or an engine that is not built) is an error, never a silent fallback. ``auto`` tries the
    same devices (the guest's virtio-cryptodev, then ``/dev/crypto``) and falls back to software when none
    exists, or with the reason in its description when the cryptodev engine is not built.
    """
    if name == "software":
        return SoftwareEngine()
    if name not in ENGINE_NAMES:
        raise ConfigError(f"unknown engine {name!r} (choose from: {', '.join(ENGINE_NAMES)})")
    if device is not None:
        return _open_cryptodev(device)
    for path in candidate_devices():
        try:
            return _open_device(path)
        except FileNotFoundError:
            continue
        except ConfigError as exc:
            if name == "cryptodev":
                raise
            return SoftwareEngine(fallback_reason=str(exc))
        except OSError as exc:
            if name == "cryptodev":
                raise ConfigError(f"cannot use cryptodev device {path}: {exc.strerror or exc}") from None
            continue
    if name == "cryptodev":
        raise ConfigError("no cryptodev device: none of " + ", ".join(candidate_devices()) + " exists")
    return SoftwareEngine()
