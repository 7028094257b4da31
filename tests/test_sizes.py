"""The size limits of the four packages (issue 11): no module over 500 lines, no function over 80. Run by
``make lint`` beside the layer test, so a change that passes them does not land."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("warehouse", "connectors", "matching", "gridhub")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def oversized(path: Path) -> list[str]:
    """What in ``path`` passes a limit, as 'file:line what n lines'."""
    src = path.read_text(encoding="utf-8")
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    out = []
    lines = src.count("\n")
    if lines > MAX_MODULE_LINES:
        out.append(f"{rel}: module {lines} lines (max {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                out.append(f"{rel}:{node.lineno} {node.name}() {n} lines (max {MAX_FUNCTION_LINES})")
    return out


def test_the_packages_keep_their_size_limits():
    assert len(_modules()) > 100
    found = [x for p in _modules() for x in oversized(p)]
    assert not found, "split these:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("body", "what"), [("x = 1\n" * 501, "module 501"), ("def f():\n" + "    x = 1\n" * 80, "f() 81")]
)
def test_the_check_sees_a_long_module_and_a_long_function(tmp_path, body, what):
    path = tmp_path / "big.py"
    path.write_text(body, encoding="utf-8")
    assert any(what in x for x in oversized(path))
