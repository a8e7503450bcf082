"""The two-VM chat survives the server's VM being live-migrated mid-conversation
(virtio/lab/chat_migration.py): everyone receives every line once, in order,
no client loses its connection, and the server's device carried the records
before and after the move."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from chat_migration import DURING, SCRIPT, SERVER, MigrationConductor
from migration_qtest import MODES as EVERY_MODE
from vmlab import REPO, Lab

# `make test` in the device's default mode, `make test-matrix` in every mode migration is tested in.
MODES = EVERY_MODE if os.environ.get("CRYPTOCHAT_EVERY_MODE") else {"main-loop": EVERY_MODE["main-loop"]}


@pytest.mark.parametrize("mode", MODES)
def test_the_chat_goes_on_while_the_server_vm_is_migrated(
        lab: Lab, tmp_path: Path, figure: Callable[[str], None], mode: str) -> None:
    # bob-vm reads the key through the shared root, whose /tmp is the guest's own.
    key_file = REPO / "build" / "demo" / f"migration-{os.getpid()}.key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    try:
        result = asyncio.run(MigrationConductor(lab, key_file, tmp_path, *MODES[mode]).run())
    finally:
        key_file.unlink()
    assert not result.problems, "\n".join(result.problems)
    before, after = result.device_requests
    assert after - before >= 2 * len(SCRIPT)
    assert any("cryptodev /dev/cryptodev0" in n for n in result.notices[SERVER])
    figure(f"chat across a migration ({mode}): {len(SCRIPT)} lines, each received once by all 3, "
           f"{result.lines_while_moving} of {len(DURING)} while the server's VM moved; "
           f"{after - before} device requests on it; migration {result.migration.total_ms:.0f} ms, "
           f"downtime {result.migration.downtime_ms:.0f} ms")
