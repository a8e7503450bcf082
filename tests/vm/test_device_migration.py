"""Live migration of the device over qtest (no guest OS, real QEMU processes,
a unix socket between them): sessions of every kind keep their ids and keys,
requests in flight when the source stops are all answered exactly once on the
destination, in every mode; a state no backend can carry (a digest in
progress), another set of properties or a destination without the device
refuses the migration by name, and the source runs on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cryptodev_qtest as cq
import pytest
from cryptodev_qtest import CryptodevQtest
from migration_qtest import IV, KEY, MAC_KEY, Host, Sessions, cbc, hmac_sha256, in_flight, mismatches
from migration_qtest import MODES as EVERY_MODE
from vmlab import Lab

# mode: (device properties, QEMU options)
MODES = {mode: (f"backend=builtin,{device}", extra) for mode, (device, extra) in EVERY_MODE.items()}


@pytest.fixture
def hosts(lab: Lab, tmp_path: Path) -> Iterator[list[Host]]:
    started: list[Host] = []
    yield started
    for host in started:
        host.qt.close()


def start(lab: Lab, tmp_path: Path, hosts: list[Host], device: str | None, extra: Sequence[str],
          *, incoming: bool = False) -> Host:
    host = Host(lab.qemu, tmp_path, f"q{len(hosts)}", device, extra, incoming)
    hosts.append(host)
    return host


@pytest.mark.parametrize("mode", MODES)
def test_sessions_and_requests_in_flight_survive_two_migrations(
        lab: Lab, tmp_path: Path, hosts: list[Host], mode: str) -> None:
    device, extra = MODES[mode]
    a = start(lab, tmp_path, hosts, device, extra)
    dev = CryptodevQtest(a.qt)
    sessions = Sessions(dev)
    data = bytes(range(256)) * 16
    assert sessions.check(dev, data) == []

    b = start(lab, tmp_path, hosts, device, extra, incoming=True)
    posted = in_flight(dev, sessions.cbc, 1)
    assert a.migrate_to(b) == ("completed", "")
    assert a.status() == "postmigrate"
    dev = dev.moved_to(b.qt)
    assert mismatches(dev, posted) == 0
    assert sessions.check(dev, data) == []

    c = start(lab, tmp_path, hosts, device, extra, incoming=True)
    posted = in_flight(dev, sessions.cbc, 2)
    assert b.migrate_to(c) == ("completed", "")
    dev = dev.moved_to(c.qt)
    assert mismatches(dev, posted) == 0
    assert sessions.check(dev, data) == []
    # Ids go on from where the source was: a new session never reuses one.
    assert dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY) == sessions.gcm + 1
    assert c.qt.alive() and not dev.broken, c.qt.stderr


def test_a_digest_in_progress_refuses_the_migration_by_name_and_the_source_runs_on(
        lab: Lab, tmp_path: Path, hosts: list[Host]) -> None:
    device, extra = MODES["main-loop"]
    a = start(lab, tmp_path, hosts, device, extra)
    dev = CryptodevQtest(a.qt)
    session = dev.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=MAC_KEY)
    dev.crypt(session, b"first half ", out_len=0, flags=cq.F_UPDATE)
    b = start(lab, tmp_path, hosts, device, extra, incoming=True)
    status, _ = a.migrate_to(b)
    assert status == "failed"
    assert a.status() == "running"
    assert f"session {session} holds a hmac(sha256) digest in progress" in a.qt.stderr
    # The source's device goes on where it was.
    assert dev.crypt(session, b"second half", out_len=32, flags=cq.F_FINAL) == hmac_sha256(
        b"first half second half")


@pytest.mark.parametrize(("what", "destination"), [
    ("num-queues", "backend=builtin,num-queues=1"),
    ("max-sessions", "backend=builtin,num-queues=2,max-sessions=16"),
    ("the device", None),
])
def test_a_destination_that_cannot_take_the_device_refuses_and_the_source_runs_on(
        lab: Lab, tmp_path: Path, hosts: list[Host], what: str, destination: str | None) -> None:
    device, extra = MODES["main-loop"]
    a = start(lab, tmp_path, hosts, device, extra)
    dev = CryptodevQtest(a.qt)
    session = dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=KEY)
    b = start(lab, tmp_path, hosts, destination, extra, incoming=True)
    status, _ = a.migrate_to(b)
    assert status == "failed", what
    assert a.status() == "running"
    assert dev.crypt(session, bytes(64), iv=IV) == cbc(bytes(64))
