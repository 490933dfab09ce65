"""The code stays in small pieces: no module over 600 lines, no function over 80.

The limits cover the application package and the first-party plugins' packages (not
their tests, whose scenarios read best in one piece). A piece that must be longer is
listed below with the reason; the list is meant to stay short.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE_MAX = 600
FUNCTION_MAX = 80

# "path" or "path:function" -> why it is longer than the limit.
LONGER_ON_PURPOSE: dict[str, str] = {}


def source_files() -> list[Path]:
    """The package's and the first-party plugins' modules, migrations excepted."""
    roots = [ROOT / "pichr_appliance", *sorted((ROOT / "plugins").glob("*/pichr_*"))]
    files = []
    for root in roots:
        for path in root.rglob("*.py"):
            if "migrations" not in path.parts and "tests" not in path.parts:
                files.append(path)
    return files


def test_source_files_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in source_files()}
    assert "pichr_appliance/runtime.py" in names
    assert any(n.startswith("plugins/pichr-s3/pichr_s3/") for n in names)


def test_no_module_is_too_long():
    long = {}
    for path in source_files():
        name = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text().splitlines())
        if lines > MODULE_MAX and name not in LONGER_ON_PURPOSE:
            long[name] = lines
    assert long == {}, f"modules over {MODULE_MAX} lines: split them, or say why here"


def test_no_function_is_too_long():
    long = {}
    for path in source_files():
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                key = f"{name}:{node.name}"
                if lines > FUNCTION_MAX and key not in LONGER_ON_PURPOSE:
                    long[key] = lines
    assert long == {}, f"functions over {FUNCTION_MAX} lines: split them, or say why here"


def test_every_exception_is_still_needed():
    """A stale entry would let the next long piece in unnoticed."""
    for key in LONGER_ON_PURPOSE:
        path = ROOT / key.split(":")[0]
        assert path.exists(), key
