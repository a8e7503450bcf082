"""VM tests: real Debian kernel, our module, our QEMU. `make lab` builds them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# The harness lives with the lab (the demo uses it too); sections.py lives here.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "virtio" / "lab"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vmlab import Lab


@pytest.fixture(scope="session")
def lab() -> Lab:
    return Lab.load()


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
