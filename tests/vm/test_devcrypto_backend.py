"""The host /dev/crypto path, for real: CI has no cryptodev-linux, so the
only real provider of its ABI here is our own driver. In one guest,
/dev/crypto is made a symlink to /dev/cryptodev0 (served by the outer QEMU),
and there (tests/vm/guest/devcrypto_check.py):

- our QEMU runs again under the qtest accelerator with the device's
  `devcrypto` backend on /dev/crypto, driven by virtio/lab/cryptodev_qtest.py:
  NIST and RFC vectors, random data against `cryptography`, a refusal by the
  node coming back as an error status, sessions freed on reset, and the work
  counted by the outer device; `backend=auto` picks the node, falls back to
  builtin without it; `backend=devcrypto` without it refuses to start;
- that device live-migrated in each mode (devcrypto to devcrypto, then to
  builtin) with sessions of every kind and requests in flight, and refused by name while a
  digest is half done inside the node;
- the cryptodev engine on /dev/crypto (directly and via `open_engine`)
  against the software engine."""

from __future__ import annotations

import re

import pytest
from migration_qtest import MODES
from sections import section, split_sections
from vmlab import GuestRun, Lab, boot, cryptodev_device

KERNEL_TROUBLE = re.compile(r"WARNING|BUG|Oops|Call Trace|general protection")

SCRIPT = "".join([
    section("load", "insmod $MODULE && ln -sf /dev/cryptodev0 /dev/crypto && ls -l /dev/crypto"),
    section("devcrypto", "cd $REPO && PYTHONPATH=$REPO:$REPO/virtio/lab:$REPO/tests/vm "
                           "$PYTHON tests/vm/guest/devcrypto_check.py"),
    section("dmesg", "dmesg"),
])


@pytest.fixture(scope="module")
def sections(lab: Lab) -> dict[str, tuple[str, int]]:
    run: GuestRun = boot(lab, SCRIPT, qemu_opts=cryptodev_device(0), timeout=900)
    found = split_sections(run.output)
    assert "dmesg" in found, run.tail()
    return found


def test_guest_gets_a_dev_crypto_served_by_our_driver(sections: dict[str, tuple[str, int]]) -> None:
    output, status = sections["load"]
    assert status == 0 and "/dev/cryptodev0" in output, output


def test_devcrypto_backend_and_engine_match_software_through_the_node(
        sections: dict[str, tuple[str, int]]) -> None:
    output, status = sections["devcrypto"]
    failures = [line for line in output.splitlines() if line.startswith("FAIL")]
    assert not failures, output[-4000:]
    assert status == 0, output[-4000:]
    # The script really ran through: the last checks of both halves are there.
    assert "ok   the outer device served the inner device's work" in output, output[-4000:]
    for mode in MODES:
        line = f"ok   migration ({mode}) devcrypto to builtin: every session works on"
        assert line in output, output[-4000:]
    assert "ok   the engines' work reached the device" in output, output[-4000:]


def test_guest_kernel_log_stays_clean(sections: dict[str, tuple[str, int]]) -> None:
    trouble = [line for line in sections["dmesg"][0].splitlines() if KERNEL_TROUBLE.search(line)]
    assert not trouble, "\n".join(trouble)
