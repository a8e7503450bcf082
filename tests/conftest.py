"""Shared fixtures: an engine, keys, and two in-memory channel peers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from processes import reap

from cryptochat.engines import Engine, open_engine
from cryptochat.wire.channel import Channel, Role

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    yield
    reap()


@pytest.fixture
def engine() -> Iterator[Engine]:
    eng = open_engine("software")
    yield eng
    eng.close()


def handshake(engine: Engine, client_key: bytes = KEY, server_key: bytes = KEY) -> tuple[Channel, Channel]:
    """A client and a server channel with the handshake run over an in-memory link."""
    client = Channel(Role.CLIENT, client_key, engine)
    server = Channel(Role.SERVER, server_key, engine)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    return client, server


@pytest.fixture
def pair(engine: Engine) -> tuple[Channel, Channel]:
    return handshake(engine)


@pytest.fixture
def key_file(tmp_path: os.PathLike[str]) -> str:
    path = os.path.join(tmp_path, "chat.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    return path
