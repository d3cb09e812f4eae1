"""The package's shape, pinned: wings that import only downwards, no import cycles, no module a
reader cannot hold in mind, a small public API at the root, and nothing done at import.

The wings, bottom to top (each may import the ones below it, never above):
core < mechanisms < measure < interventions < model/agents < io < studies < views < bench < cli.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "sim"
LAYERS = ["core", "mechanisms", "measure", "interventions", "model", "io", "studies", "views",
          "bench", "cli"]
#: modules at the package root and the layer they belong to
ROOT_MODULES = {"model": "model", "agents": "model", "__init__": "cli"}
MAX_LINES = 800


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "sim" or len(parts) == 1:
        return None
    head = parts[1]
    if head in ROOT_MODULES:
        return ROOT_MODULES[head]
    return head if head in LAYERS else None


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """Every sim module ``path`` imports: (module, line, inside a function)."""
    tree = ast.parse(path.read_text())
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            fn = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = package.split(".")
                    base = ".".join(pkg[:len(pkg) - child.level + 1] + ([base] if base else []))
                for a in child.names:  # `from sim.core import params` imports sim.core.params
                    sub = f"{base}.{a.name}"
                    target = sub if (SIM.parent / (sub.replace(".", "/") + ".py")).exists() \
                        or (SIM.parent / sub.replace(".", "/")).is_dir() else base
                    found.append((target, child.lineno, in_function))
            visit(child, fn)

    visit(tree, False)
    return [(m, line, fn) for m, line, fn in found if m == "sim" or m.startswith("sim.")]


def sim_files() -> list[Path]:
    return sorted(p for p in SIM.rglob("*.py") if "__pycache__" not in p.parts)


def test_wings_import_only_downwards():
    wrong = []
    for path in sim_files():
        mine = layer(module_name(path))
        if mine is None:
            continue
        for target, line, _ in imports(path):
            theirs = layer(target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({mine}) imports {target} "
                             f"({theirs})")
    assert not wrong, "upward imports:\n" + "\n".join(wrong)


def test_no_import_cycles_between_modules():
    graph: dict[str, set[str]] = {}
    for path in sim_files():
        me = module_name(path)
        graph.setdefault(me, set()).update(
            t for t, _, in_function in imports(path) if not in_function and t != me
            and not me.startswith(t + "."))  # a module's own package is not a cycle
    cycles, state = [], {}

    def walk(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_is_longer_than_a_reader_can_hold():
    long = {str(p.relative_to(ROOT)): n for p in sim_files()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_checks_catch_what_they_should(tmp_path):
    assert layer("sim.core.params") == "core"
    assert layer("sim.model") == "model"
    assert layer("sim.views.app") == "views"
    assert layer("numpy") is None
    assert LAYERS.index(layer("sim.studies.compare")) > LAYERS.index(layer("sim.io.scenario"))
    found = imports(SIM / "model.py")
    assert any(t == "sim.core.params" for t, _, _ in found)
    assert any(t == "sim.mechanisms.cooperation" for t, _, _ in found)


def test_importing_the_package_sets_no_environment_and_starts_nothing():
    code = ("import os, sys; before = dict(os.environ); import sim; "
            "assert dict(os.environ) == before, set(os.environ) ^ set(before); "
            "assert 'numba' not in sys.modules, 'import sim imported numba'")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120, env=env)
    assert out.returncode == 0, out.stderr


ROOT_API = ["ClusterModel", "load_scenario", "simulate", "simulate_many", "Params", "World",
            "InputError", "__version__"]


def test_the_public_api_at_the_package_root_is_exactly_this():
    import sim

    assert sorted(sim.__all__) == sorted(ROOT_API)


@pytest.mark.parametrize("name", ROOT_API)
def test_each_root_name_is_the_object_its_module_defines(name):
    import sim

    value = getattr(sim, name)
    if name != "__version__":
        assert getattr(import_module(value.__module__), name) is value
