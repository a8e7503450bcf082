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
from vmlab import Lab

# `make test` in the device's default mode, `make test-matrix` in every mode migration is tested in.
MODES = EVERY_MODE if os.environ.get("CRYPTOCHAT_EVERY_MODE") else {"main-loop": EVERY_MODE["main-loop"]}


@pytest.mark.parametrize("mode", MODES)
def test_the_chat_goes_on_while_the_server_vm_is_migrated(
        lab: Lab, chat_key: Path, tmp_path: Path, figure: Callable[[str], None], mode: str) -> None:
    result = asyncio.run(MigrationConductor(lab, chat_key, tmp_path, *MODES[mode]).run())
    assert not result.problems, "\n".join(result.problems)
    before, after = result.device_requests
    assert after - before >= 2 * len(SCRIPT)
    assert any("cryptodev /dev/cryptodev0" in n for n in result.notices[SERVER])
    figure(f"chat across a migration ({mode}): {len(SCRIPT)} lines, each received once by all 3, "
           f"{result.lines_while_moving} of {len(DURING)} while the server's VM moved; "
           f"{after - before} device requests on it; migration {result.migration.total_ms:.0f} ms, "
           f"downtime {result.migration.downtime_ms:.0f} ms")
