"""One numba cache folder for every entry point, and a cold cache that says it is compiling."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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


def test_package_sets_the_cache_dir_before_numba(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", "import os, sim, numba; "
                          "print(os.environ['NUMBA_CACHE_DIR']); print(numba.config.CACHE_DIR)"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert out.stdout.split() == [str(ROOT / ".cache" / "numba")] * 2
    assert list(tmp_path.iterdir()) == []  # importing sim wrote nothing


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
