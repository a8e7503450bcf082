"""The two-VM chat (what `make demo` shows): a server in one guest, a client
in another, both on their own virtio-cryptodev device, and a software-engine
client on the host; everyone receives everything, in one order, and each
guest's device counted the records."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from two_vm_demo import SCRIPT, Conductor, DemoResult
from vmlab import Lab

from demo.conductor import expected_receipts


def test_two_guests_and_the_host_chat_through_the_devices(lab: Lab, tmp_path: Path) -> None:
    key_dir = Path(__file__).resolve().parents[2] / "build" / "demo"
    key_dir.mkdir(parents=True, exist_ok=True)
    key_file = key_dir / f"test-{os.getpid()}.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    try:
        result: DemoResult = asyncio.run(Conductor(lab, key_file).run())
    finally:
        key_file.unlink()
    assert not result.problems, "\n".join(result.problems)
    assert result.received == expected_receipts(SCRIPT, list(result.received))
    for guest in ("alice-vm", "bob-vm"):
        engine = next(n for n in result.notices[guest] if n.startswith("engine: "))
        assert "cryptodev /dev/cryptodev0 (virtio-cryptodev0" in engine
        assert result.device_requests[guest] >= 2 * len(SCRIPT)
    assert any("software" in n for n in result.notices["carol-host"])
