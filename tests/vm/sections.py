"""Guest scripts that run many checks in one boot print `== name` headers;
this splits their output back into named sections for the tests."""

from __future__ import annotations

__all__ = ["passed", "section", "split_sections"]


def section(name: str, commands: str) -> str:
    """A script fragment that prints its header, runs `commands`, then its status."""
    return f'echo "== {name}"\n( {commands}\n) 2>&1\necho "== {name} status=$?"\n'


def split_sections(output: str) -> dict[str, tuple[str, int]]:
    """Maps each section's name to (its output, its exit status)."""
    sections: dict[str, tuple[str, int]] = {}
    name = None
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith("== ") and name is None:
            name, lines = line[3:], []
        elif name is not None and line.startswith(f"== {name} status="):
            status = line.rsplit("=", 1)[1]
            sections[name] = ("\n".join(lines), int(status) if status.isdigit() else 255)
            name = None
        elif name is not None:
            lines.append(line)
    return sections


def passed(sections: dict[str, tuple[str, int]], name: str) -> str:
    """The output of section `name`, asserting it exited 0 and printed no FAIL line."""
    output, status = sections[name]
    failures = [line for line in output.splitlines() if line.startswith("FAIL")]
    assert status == 0 and not failures, f"{name}:\n" + "\n".join(failures or [output[-3000:]])
    return output
