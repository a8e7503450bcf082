"""Rate limits, sans-IO: a token bucket for what one member may send, a throttle for log lines.

Both take the time as an argument (``now``, seconds on any monotonic clock), so they are tested without
sleeping and the server decides which clock to use.
"""

from __future__ import annotations

__all__ = ["LogThrottle", "TokenBucket"]


class TokenBucket:
    """``rate`` units per second on average, with bursts of up to ``burst`` units.

    :meth:`take` always succeeds and may leave the bucket in debt; the caller then waits the returned delay
    before taking more. Debt instead of refusal because what is taken has already arrived (messages read
    from a socket): the limit is applied by not reading the next ones.
    """

    __slots__ = ("_burst", "_level", "_rate", "_stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, not {rate} and {burst}")
        self._rate = rate
        self._burst = burst
        self._level = burst
        self._stamp = now

    def take(self, amount: float, now: float) -> float:
        """Spend ``amount``; return the seconds to wait before the bucket is out of debt (0 if it is not)."""
        self._level = min(self._burst, self._level + (now - self._stamp) * self._rate) - amount
        self._stamp = now
        return 0.0 if self._level >= 0 else -self._level / self._rate


class LogThrottle:
    """At most one line per key per ``interval``; a line that is let through says how many were held back."""

    __slots__ = ("_held", "_interval", "_last")

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def check(self, key: str, now: float) -> int | None:
        """``None``: stay silent. Otherwise log now, adding that this many similar lines were held back."""
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        self._forget_before(now - self._interval)
        return self._held.pop(key, 0)

    def _forget_before(self, cutoff: float) -> None:
        # Keys seen from many sources must not grow without bound; a key quiet for an interval is
        # forgotten. Its held-back count is dropped too: it was below one line per interval anyway.
        if len(self._last) > 1024:
            for key in [k for k, t in self._last.items() if t < cutoff]:
                del self._last[key]
                self._held.pop(key, None)
