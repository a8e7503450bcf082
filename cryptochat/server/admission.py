"""Which new connections may start a handshake, sans-IO: a per-address cap and random early drop.

A connection in its handshake holds a descriptor and a slot before anyone knows whether it has the key, so
this is where someone without the key can try to lock everyone out. Three rules:

- **Per source address** at most ``per_source`` connections are in their handshake. A new one from an
  address at its cap always gets in, and replaces that address's *oldest* one: a real client finishes its
  handshake in a round trip, so the oldest is the likeliest to be idle. Someone holding connections from
  an address (a shared NAT, or loopback) therefore cannot keep a newcomer from it out, even by reopening
  each as soon as it is cut: every reopening replaces one of their own oldest, and a newcomer, the
  youngest, is replaced only once ``per_source`` newer connections have come from its address before it
  finished. Refusing at the cap instead (to spare the young) lets whoever retries fastest take every
  slot that frees.
- **Random early drop**, as OpenSSH's ``MaxStartups start:rate:full``: from ``start`` connections in their
  handshake, a new one is refused with probability ``rate``, rising linearly to 1 at ``full``. A flood from
  many addresses then still lets a fraction of newcomers through, and they are served within a round trip.
- At ``full`` everything new is refused.

Connections are identified by an integer the caller chooses; sources by a string (the peer's address).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Admission", "Admitted", "Refused"]

EARLY_DROP_RATE = 0.3
"""Probability of refusal at ``start`` connections in their handshake (OpenSSH's default is 30 %)."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """Go ahead; first close connection ``evict`` (``None``: nobody) to stay within the source's cap."""

    evict: int | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


class Admission:
    def __init__(
        self,
        full: int,
        per_source: int,
        start: int | None = None,
        chance: Callable[[], float] = random.random,
    ) -> None:
        if full < 1 or per_source < 1:
            raise ValueError("handshake limits must be at least 1")
        self.full = full
        self.per_source = per_source
        self.start = min(full, start if start is not None else max(1, full // 4))
        self._chance = chance
        self._sources: dict[str, dict[int, None]] = {}  # each source's connections, oldest first
        self._source_of: dict[int, str] = {}

    def __len__(self) -> int:
        """Connections in their handshake."""
        return len(self._source_of)

    def admit(self, connection: int, source: str) -> Admitted | Refused:
        """A new connection from ``source`` wants to start its handshake."""
        mine = self._sources.get(source)
        evict = None
        if mine is not None and len(mine) >= self.per_source:
            # Replacing one of the source's own connections does not add to the total: no early drop.
            evict = next(iter(mine))
            self.done(evict)
        else:
            refusal = self._early_drop()
            if refusal is not None:
                return refusal
        self._sources.setdefault(source, {})[connection] = None
        self._source_of[connection] = source
        return Admitted(evict)

    def done(self, connection: int) -> None:
        """``connection`` finished its handshake, failed, or was evicted; a no-op if not tracked."""
        source = self._source_of.pop(connection, None)
        if source is None:
            return
        mine = self._sources[source]
        del mine[connection]
        if not mine:
            del self._sources[source]

    def _early_drop(self) -> Refused | None:
        n = len(self._source_of)
        if n >= self.full:
            return Refused(f"too many connections in their handshake ({n})")
        if n < self.start:
            return None
        span = self.full - self.start
        probability = EARLY_DROP_RATE + (1 - EARLY_DROP_RATE) * (n - self.start) / span
        if self._chance() < probability:
            return Refused(f"early drop, {n} connections in their handshake")
        return None
