"""The packages form layers that point one way (docs/architecture.md, "Layers").

    dags/, plugins/          the Airflow wiring: import only gridhub (and Airflow)
    gridhub/                 the application: config, workspace, pipeline, CLI, portal, sample district
    matching/                normalisation, addresses, grids, entity resolution
    connectors/              department feeds in
    warehouse/               the canonical schema, validation, publishing; the shared leaves
                             (errors, files, checkchars, settings)

A package imports only packages below it, never one above, so no two packages can form a cycle. Every import
counts: at module level, inside a function, and under ``TYPE_CHECKING`` alike (a lazy import is still a
dependency a reader has to know about).
"""

from __future__ import annotations

import ast
import functools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Lower rank = lower layer. A package may import itself and packages of a lower rank.
RANK = {"warehouse": 0, "connectors": 1, "matching": 2, "gridhub": 3, "dags": 4, "plugins": 4}
#: What the Airflow wiring may import of the project: the application only.
WIRING = {"dags", "plugins"}


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: imports {self.imported}: {self.why}"


@functools.cache
def _imported_modules(source: str) -> tuple[tuple[int, str], ...]:
    """(line, imported module) for every absolute import in a module's source, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return tuple(found)


def layer_violations(root: Path) -> list[Violation]:
    """Every import under ``root`` that points up a layer or out of the wiring's reach."""
    out = []
    for package in RANK:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            for line, module in _imported_modules(path.read_text(encoding="utf-8")):
                top = module.split(".")[0]
                if top not in RANK or top == package:
                    continue
                if package in WIRING:
                    if top != "gridhub":
                        out.append(Violation(rel, line, module, f"{package}/ imports only gridhub"))
                elif RANK[top] >= RANK[package]:
                    out.append(Violation(rel, line, module, f"{top} is not below {package}"))
    return out


def test_the_real_tree_has_no_upward_import():
    violations = layer_violations(ROOT)
    assert not violations, "imports that point up a layer:\n" + "\n".join(map(str, violations))


def test_every_package_is_ranked():
    """A new top-level package must be given its place in the layers before it can hold code."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= set(RANK), f"packages without a layer: {sorted(packages - set(RANK))}"


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the real packages, to add a bad import to."""
    for package in RANK:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.parametrize(
    ("module", "source", "why"),
    [
        ("warehouse/_probe.py", "from gridhub.config import load_config\n", "gridhub is not below warehouse"),
        ("connectors/_probe.py", "import matching.text\n", "matching is not below connectors"),
        (
            "matching/_probe.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gridhub.workspace import Workspace\n",
            "gridhub is not below matching",
        ),
        (
            "warehouse/_probe.py",
            "def f():\n    from connectors import ingest_feed\n    return ingest_feed\n",
            "connectors is not below warehouse",
        ),
        ("dags/_probe.py", "from warehouse import read_table\n", "dags/ imports only gridhub"),
    ],
)
def test_an_upward_import_fails_the_check(tree_copy: Path, module: str, source: str, why: str):
    """The check is not vacuous: one upward import added to a copy of the real tree is reported."""
    assert layer_violations(tree_copy) == []
    (tree_copy / module).write_text(source, encoding="utf-8")
    violations = layer_violations(tree_copy)
    assert [(v.file, v.why) for v in violations] == [(module, why)]
