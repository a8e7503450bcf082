"""What ``serve --cluster`` is given: the Redis address, the room's name and the lease.

Apart from :mod:`.redis_room` so that the command line can check them without importing redis, which is
the optional ``cluster`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import ConfigError

__all__ = ["DEFAULT_LEASE", "ClusterConfig", "check_cluster_url"]

DEFAULT_LEASE = 10.0


def check_cluster_url(url: str) -> str | None:
    """Why ``url`` is not a ``redis://HOST:PORT/DB`` address, or ``None``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"{url!r} is not a valid address: {exc}"
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        return f"{url!r} is not a redis://HOST:PORT/DB address"
    db = parts.path.lstrip("/")
    if port is None or (db and not (db.isdigit() and int(db) < 1 << 16)):
        return f"{url!r} needs a port and a database number: redis://HOST:PORT/DB"
    return None


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    url: str
    """``redis://HOST:PORT/DB``: the Redis that holds the room's stream and the servers' leases."""
    room: str
    """The room's name: servers with the same Redis, room and key carry one room."""
    lease: float = DEFAULT_LEASE
    """Seconds a server's lease lasts after its last renewal; a server whose lease the others have found
    missing for as long again is declared gone with its members."""

    def __post_init__(self) -> None:
        problem = check_cluster_url(self.url)
        if problem is not None:
            raise ConfigError(problem)
        if not 0 < self.lease < float("inf"):
            raise ConfigError("lease must be a positive, finite number")
