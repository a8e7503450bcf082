"""What the scripts that run inside guests report: one line per check
(`ok   what` or `FAIL what`) and a closing count; the VM tests read them."""

from __future__ import annotations

__all__ = ["Checklist"]


class Checklist:
    def __init__(self, name: str) -> None:
        self.name = name
        self.failures = 0

    def check(self, ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        self.failures += not ok

    def finish(self) -> int:
        """Prints the count; the script's exit status."""
        print(f"{self.name}: {self.failures} failed", flush=True)
        return 1 if self.failures else 0
