"""cryptochat: an encrypted multi-user chat over TCP with a pre-shared key.

The protocol core (:mod:`~cryptochat.framing`, :mod:`~cryptochat.records`, :mod:`~cryptochat.channel`,
:mod:`~cryptochat.messages`, :mod:`~cryptochat.room`) does no I/O; :mod:`~cryptochat.server` and
:mod:`~cryptochat.client` move its bytes over asyncio streams.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
