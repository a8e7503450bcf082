"""The project's exceptions, split by blame.

A :class:`LocalProtocolError` means *we* were asked to do something the protocol forbids (send before the
handshake, a message over the size limit); a :class:`RemoteProtocolError` means the peer (or someone on the
path) sent something that breaks the protocol. Either one puts the connection in a terminal state.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "CryptochatError",
    "IntegrityError",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "SequenceError",
    "VersionMismatch",
]


class CryptochatError(Exception):
    """Base of every error this package raises on purpose; its message is one line for the user."""


class ConfigError(CryptochatError):
    """Bad configuration: a key file, an engine name, a limit. Reported before anything connects."""


class ProtocolError(CryptochatError):
    """The connection cannot go on; the channel that raised it is in a terminal state."""


class LocalProtocolError(ProtocolError):
    """This side broke the protocol (a bug or a misuse of the API)."""


class RemoteProtocolError(ProtocolError):
    """The peer, or the network between us, broke the protocol."""


class AuthenticationError(RemoteProtocolError):
    """The handshake's key-confirmation MAC did not verify: the peer does not hold the same key."""


class VersionMismatch(RemoteProtocolError):
    """The peer speaks another protocol version."""


class IntegrityError(RemoteProtocolError):
    """A record failed its MAC or its padding: tampered, corrupted or forged."""


class SequenceError(RemoteProtocolError):
    """A record arrived with an unexpected sequence number: replayed, reordered or one was dropped."""
