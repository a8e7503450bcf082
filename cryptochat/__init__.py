"""cryptochat: an encrypted multi-user chat over TCP with a pre-shared key.

The protocol core (:mod:`cryptochat.wire`) does no I/O; :mod:`cryptochat.server` and
:mod:`cryptochat.client` move its bytes over asyncio streams, and every cipher and MAC goes
through an engine (:mod:`cryptochat.engines`).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
