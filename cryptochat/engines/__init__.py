"""Crypto engines. ``open_engine`` picks one by name."""

from __future__ import annotations

from ..errors import ConfigError
from .base import CipherSession, Engine, MacSession
from .software import SoftwareEngine

__all__ = ["ENGINE_NAMES", "CipherSession", "Engine", "MacSession", "SoftwareEngine", "open_engine"]

ENGINE_NAMES = ("auto", "software")


def open_engine(name: str, device: str | None = None) -> Engine:
    """Open the engine called ``name``; ``device`` is for device engines and ignored by software.

    ``auto`` is the software engine until a device engine exists.
    """
    if name in ("auto", "software"):
        return SoftwareEngine()
    raise ConfigError(f"unknown engine {name!r} (choose from: {', '.join(ENGINE_NAMES)})")
