"""The benchmark's book-keeping: phase timings that account for the step, and the quick suite
end to end (smoke tests: the figures themselves are the benchmark's business, never a test's)."""

from __future__ import annotations

import json
import time

import pytest

from sim.cli import main
from sim.model import ClusterModel

PHASES = {"policy", "cooperation", "suppliers", "facilities", "market", "demography", "metrics",
          "data collection", "agents"}


def test_phase_timings_account_for_the_step():
    model = ClusterModel(rng=2, n_firms=600)
    model.step()
    assert model.timings is None  # off unless asked for
    model.timings = {}
    t0 = time.perf_counter()
    for _ in range(5):
        model.step()
    assert len(model.agents) > 0  # reading them makes the entrants' views: charged to "agents"
    wall = time.perf_counter() - t0
    assert set(model.timings) == PHASES
    assert all(v >= 0.0 for v in model.timings.values())
    # each phase is charged once: together they cannot exceed the wall time around them
    assert sum(model.timings.values()) <= wall


def test_timings_do_not_change_results():
    a, b = ClusterModel(rng=4, n_firms=300), ClusterModel(rng=4, n_firms=300)
    b.timings = {}
    for _ in range(6):
        a.step()
        b.step()
    assert a.series().equals(b.series())


@pytest.mark.slow
def test_quick_bench_writes_its_figures(tmp_path, capsys):
    path = tmp_path / "bench" / "quick.json"
    assert main(["bench", "--sizes", "400", "--steps", "2", "--repeats", "1",
                 "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["threads"] == 1
    assert data["firm_steps_per_s"]["400"] > 0
    assert data["numba_vs_python"] > 1
    assert set(data["kernels"]) >= {"decide", "outcomes", "choose_supplier", "accounts"}
    assert data["provenance"]["version"]
    assert f"written: {path}" in capsys.readouterr().out
