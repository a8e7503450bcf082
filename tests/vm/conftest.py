"""VM tests: real Debian kernel, our module, our QEMU. `make lab` builds them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The harness lives with the lab (the demo uses it too); sections.py lives here.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "virtio" / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vmlab import REPO, Lab


@pytest.fixture(scope="session")
def lab() -> Lab:
    return Lab.load()


@pytest.fixture
def chat_key() -> Iterator[Path]:
    """A fresh 32-byte key in a file the guests can read: under build/, since a guest sees the host's
    root but has a /tmp of its own. Deleted after the test."""
    key_file = REPO / "build" / "demo" / f"test-{os.getpid()}.key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    yield key_file
    key_file.unlink()


_FIGURES: list[str] = []


@pytest.fixture
def figure() -> Callable[[str], None]:
    """Records a measured figure (one line) for the summary at the end of the run."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
