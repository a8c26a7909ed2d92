"""The parts import in one direction: social -> auth -> core, emoji -> auth -> core.

Checked on the source, so a stray import fails here before it tangles the parts.
Imports under `if TYPE_CHECKING:` are for annotations only and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "emojid"
PARTS = ("emoji", "auth", "social", "http")
# part -> the parts it may never import
FORBIDDEN = {
    "emoji": {"social"},
    "auth": {"emoji", "social"},
    "http": {"emoji", "auth", "social"},
}
CORE = ("config", "errors", "ids", "remote", "images", "db", "context", "files")


def runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emojid"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("emojid"))
    return found


def part_of(module: str) -> str | None:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[1] in PARTS else None


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_parts_import_in_one_direction(part):
    wrong = []
    for path in sorted((PACKAGE / part).rglob("*.py")):
        for module in runtime_imports(path):
            if part_of(module) in FORBIDDEN[part]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    assert wrong == []


def test_core_modules_import_no_part():
    wrong = []
    for name in CORE:
        path = PACKAGE / f"{name}.py"
        for module in runtime_imports(path):
            if part_of(module) is not None and part_of(module) != "http":
                wrong.append(f"{name}.py imports {module}")
    assert wrong == []
