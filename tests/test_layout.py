"""The package's rooms and the one-way arrows between them (docs/architecture.md)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "cryptochat"

# What each room may import from the package. The command line sits on top and may use everything.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "engines": {"errors"},
    "wire": {"errors", "engines"},
    "server": {"errors", "engines", "wire"},
    "client": {"errors", "engines", "wire"},
}


def _imports(path: Path) -> set[str]:
    """The rooms of the package that ``path`` imports."""
    here = path.relative_to(PACKAGE).with_suffix("").parts
    package = here[:-1]
    rooms: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = (*base, *(node.module.split(".") if node.module else ()))
            elif node.module and node.module.split(".")[0] == "cryptochat":
                target = tuple(node.module.split(".")[1:])
            else:
                continue
            names = [alias.name for alias in node.names] if not target else [target[0]]
            rooms.update(names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "cryptochat" and len(parts) > 1:
                    rooms.add(parts[1])
    return rooms


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_a_room_imports_only_the_rooms_below_it(room: str) -> None:
    paths = [PACKAGE / f"{room}.py"] if (PACKAGE / f"{room}.py").exists() else (PACKAGE / room).rglob("*.py")
    for path in paths:
        upward = {name for name in _imports(path) if name != room} - ALLOWED[room]
        assert not upward, f"{path.relative_to(PACKAGE)} imports {sorted(upward)}"


def test_every_module_lives_in_a_room() -> None:
    top = {path.stem for path in PACKAGE.glob("*.py")}
    rooms = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert top == {"__init__", "__main__", "cli", "errors"}
    assert rooms == {"client", "engines", "server", "wire"}


def test_redis_is_imported_only_by_the_room_on_redis() -> None:
    users = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(
            isinstance(node, ast.Import | ast.ImportFrom)
            and any(
                (getattr(node, "module", None) or alias.name).split(".")[0] == "redis" for alias in node.names
            )
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert users == ["server/redis_room.py"]


def test_redis_is_an_extra_not_a_dependency() -> None:
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if dep.startswith("redis")]
    assert project["optional-dependencies"]["cluster"] == ["redis>=5.0"]
