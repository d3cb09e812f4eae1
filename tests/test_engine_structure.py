"""The sweep engine stands on its own: it imports none of the studies built on it."""

from __future__ import annotations

import ast
from pathlib import Path

import sim.studies.sweep

ENGINE = Path(sim.studies.sweep.__file__).parent
#: The engine's clients: they build experiments and read sweep folders; the engine never
#: reaches up into them.
CLIENTS = ("sim.studies.compare", "sim.studies.robust", "sim.studies.calibrate",
           "sim.studies.report", "sim.studies.paired", "sim.studies.costeff", "sim.cli",
           "sim.views")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return found


def test_the_engine_imports_none_of_its_clients():
    files = sorted(ENGINE.glob("*.py"))
    assert len(files) >= 8  # the engine's modules were found
    bad = [f"{p.name}:{line} imports {mod}" for p in files for line, mod in _imports(p)
           if mod.startswith(CLIENTS)]
    assert not bad, bad


def test_the_check_finds_an_upward_import(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from sim.studies.calibrate import run\n")
    assert any(mod.startswith(CLIENTS) for _, mod in _imports(p))
