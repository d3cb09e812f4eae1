"""One numba cache folder for every entry point, and a cold cache that says it is compiling."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sim.core import compiling

ROOT = Path(__file__).resolve().parents[1]

KERNEL = """
import sim.core.parallel  # installs the notice, as every model import does
import numba

@numba.njit(cache=True)
def add_one(x):
    return x + 1

print(add_one(1))
"""


def test_cache_dir_is_the_makefiles():
    assert compiling.cache_dir({"NUMBA_CACHE_DIR": "/somewhere"}) == Path("/somewhere")
    # from a source tree: the project's .cache/numba, the folder the Makefile exports
    assert compiling.cache_dir({}) == ROOT / ".cache" / "numba"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"NUMBA_CACHE_DIR \?= \$\(CURDIR\)/\.cache/numba", makefile)


def test_importing_sim_sets_no_environment_and_caches_in_the_one_folder(tmp_path):
    # no NUMBA_CACHE_DIR: the package's kernels still go to the project's folder, by their own
    # cache locator; a kernel of some other file is left where numba puts it
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "GOMP_SPINCOUNT")}
    script = tmp_path / "elsewhere.py"
    script.write_text(KERNEL + textwrap.dedent("""
        import os, sys
        before = dict(os.environ)
        import sim, sim.model
        from sim.core import compiling, streams
        print(dict(os.environ) == before)
        print(streams.philox._cache._cache_path)
        print(add_one._cache._cache_path)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, check=True)
    _, unchanged, ours, theirs = out.stdout.split()
    assert unchanged == "True"
    assert Path(ours).parent == ROOT / ".cache" / "numba"
    assert not Path(theirs).is_relative_to(ROOT / ".cache")
    # importing sim wrote nothing here (the other file's kernel went to its own __pycache__)
    assert {p.name for p in tmp_path.iterdir()} <= {"elsewhere.py", "__pycache__"}


def test_configure_sets_the_spin_count_and_keeps_the_users():
    env: dict[str, str] = {}
    compiling.configure(env)
    assert env == {"GOMP_SPINCOUNT": compiling.SPIN_COUNT}
    env = {"GOMP_SPINCOUNT": "7"}
    compiling.configure(env)
    assert env == {"GOMP_SPINCOUNT": "7"}
    assert os.environ.get("GOMP_SPINCOUNT")  # conftest, an entry point, configured pytest


def test_cold_cache_says_compiling_once_and_warm_cache_is_silent(tmp_path):
    script = tmp_path / "kernel.py"
    script.write_text(KERNEL)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    cold = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, check=True)
    assert cold.stdout.strip() == "2"
    assert cold.stderr.count(compiling.MESSAGE) == 1
    warm = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, check=True)
    assert compiling.MESSAGE not in warm.stderr


WARM = """
import sys
from sim.core import compiling
from sim.model import ClusterModel

def run():
    model = ClusterModel(n_firms=60, rng=1, agents=False, threads=1, burn_in=2)
    for _ in range(3):
        model.step()

if sys.argv[1] == "parent":
    print(int(compiling.ahead(run)["compilations"]))
else:
    run()
    print(compiling.compilations())
"""


@pytest.mark.slow
def test_a_worker_started_after_the_warm_up_compiles_nothing(tmp_path):
    script = tmp_path / "warm.py"
    script.write_text(WARM)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run(role):
        return subprocess.run([sys.executable, str(script), role], capture_output=True,
                              text=True, env=env, check=True)

    parent = run("parent")
    assert int(parent.stdout) > 0
    assert parent.stderr.count(compiling.MESSAGE) == 1
    worker = run("worker")
    assert worker.stdout.strip() == "0"
    assert compiling.MESSAGE not in worker.stderr
