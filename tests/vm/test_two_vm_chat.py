"""The two-VM chat (what `make demo` shows): a server in one guest, a client
in another, both on their own virtio-cryptodev device, and a software-engine
client on the host; everyone receives everything, in one order, and each
guest's device counted the records."""

from __future__ import annotations

import asyncio
from pathlib import Path

from two_vm_demo import SCRIPT, Conductor, DemoResult
from vmlab import Lab

from demo.conductor import expected_receipts


def test_two_guests_and_the_host_chat_through_the_devices(lab: Lab, chat_key: Path) -> None:
    result: DemoResult = asyncio.run(Conductor(lab, chat_key).run())
    assert not result.problems, "\n".join(result.problems)
    assert result.received == expected_receipts(SCRIPT, list(result.received))
    for guest in ("alice-vm", "bob-vm"):
        engine = next(n for n in result.notices[guest] if n.startswith("engine: "))
        assert "cryptodev /dev/cryptodev0 (virtio-cryptodev0" in engine
        assert result.device_requests[guest] >= 2 * len(SCRIPT)
    assert any("software" in n for n in result.notices["carol-host"])
