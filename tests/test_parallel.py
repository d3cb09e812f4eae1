"""Parallel kernels (:mod:`sim.core.parallel`): each call runs the build that matches numba's thread
count, both builds agree, and a model on one thread never touches a parallel build (so it never
compiles one, and never starts OpenMP's threads, which would spin on the other core)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numba
import numpy as np

from sim.core.parallel import ParallelKernel, num_threads, parallel_kernel, set_threads


@parallel_kernel
def _square_into(x, out):
    for i in numba.prange(x.shape[0]):
        out[i] = x[i] * x[i]


def test_a_call_runs_the_build_for_the_thread_count(monkeypatch):
    calls = []
    kernel = ParallelKernel(_square_into.py_func)
    monkeypatch.setattr(kernel, "parallel", lambda *a: calls.append("parallel"))
    monkeypatch.setattr(kernel, "serial", lambda *a: calls.append("serial"))
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        kernel(np.ones(3), np.zeros(3))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        kernel(np.ones(3), np.zeros(3))
    finally:
        numba.set_num_threads(old)
    expected = ["serial", "parallel" if numba.config.NUMBA_NUM_THREADS > 1 else "serial"]
    assert calls == expected


def test_set_threads_chooses_the_build_without_a_look_up_per_call(monkeypatch):
    # in a thread of its own, so that the choice it records does not outlive the test
    calls, seen = [], {}
    kernel = ParallelKernel(_square_into.py_func)
    monkeypatch.setattr(kernel, "parallel", lambda *a: calls.append("parallel"))
    monkeypatch.setattr(kernel, "serial", lambda *a: calls.append("serial"))
    many = numba.config.NUMBA_NUM_THREADS

    def work():
        before = set_threads(1)
        seen["one"] = num_threads()
        kernel(np.ones(3), np.zeros(3))
        seen["restored"] = set_threads(many)
        kernel(np.ones(3), np.zeros(3))
        # no look-up per call: numba's own setting, changed behind its back, is not read
        monkeypatch.setattr(numba, "get_num_threads", lambda: 1 / 0)
        monkeypatch.setattr("sim.core.parallel._lookup", [lambda: 1 / 0])
        kernel(np.ones(3), np.zeros(3))
        monkeypatch.undo()
        set_threads(before)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    par = "parallel" if many > 1 else "serial"
    assert calls == ["serial", par, par]
    assert seen == {"one": 1, "restored": 1}


def test_both_builds_and_the_python_function_agree():
    x = np.arange(10.0)
    outs = [np.zeros(10) for _ in range(3)]
    _square_into.parallel(x, outs[0])
    _square_into.serial(x, outs[1])
    _square_into.py_func(x, outs[2])
    for out in outs:
        np.testing.assert_array_equal(out, x * x)
    assert _square_into.__name__ == "_square_into"
    assert "ParallelKernel" in repr(_square_into)


def test_a_one_thread_model_uses_no_parallel_build():
    # a fresh interpreter: parallel builds that other tests compiled are not loaded there
    code = textwrap.dedent("""
        import importlib, pkgutil, threading
        import sim
        from sim.model import ClusterModel
        from sim.core.parallel import ParallelKernel
        m = ClusterModel(n_firms=300, rng=1, agents=False, threads=1)
        for _ in range(3):
            m.step()
        used = []
        for info in pkgutil.walk_packages(sim.__path__, "sim."):
            if ".cli" in info.name or info.name.endswith("__main__"):
                continue
            mod = importlib.import_module(info.name)
            for name, obj in vars(mod).items():
                if isinstance(obj, ParallelKernel) and obj.parallel.signatures:
                    used.append(info.name + "." + name)
                elif (hasattr(obj, "targetoptions") and obj.targetoptions.get("parallel")
                      and obj.signatures):
                    used.append(info.name + "." + name)
        print(sorted(set(used)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ.copy(), check=True, timeout=600)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_restoring_the_setting_lets_numba_decide_again(monkeypatch):
    # a model sets the threads for its steps and restores them; afterwards the kernels follow
    # numba's own setting again, as they did before it ran (in a thread of its own, fresh)
    calls = []
    kernel = ParallelKernel(_square_into.py_func)
    monkeypatch.setattr(kernel, "parallel", lambda *a: calls.append("parallel"))
    monkeypatch.setattr(kernel, "serial", lambda *a: calls.append("serial"))
    many = numba.config.NUMBA_NUM_THREADS

    def work():
        numba.set_num_threads(1)
        before = set_threads(many)
        kernel(np.ones(3), np.zeros(3))
        set_threads(before)
        kernel(np.ones(3), np.zeros(3))  # numba says 1: serial
        numba.set_num_threads(many)
        kernel(np.ones(3), np.zeros(3))  # numba says many: parallel (when many > 1)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    par = "parallel" if many > 1 else "serial"
    assert calls == [par, "serial", par]
