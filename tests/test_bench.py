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


def test_firm_steps_per_second_reports_rate_phases_and_cpu_share():
    from sim.bench.model import firm_steps_per_second

    r = firm_steps_per_second(300, steps=2, repeats=1, burn_in=1, agents=False)
    assert r["firm_steps_per_s"] > 0
    assert r["live_firms"] > 0
    assert set(r["phase_seconds_per_step"]) <= PHASES
    assert r["cpu_per_wall"] > 0


def test_paired_rates_alternate_thread_counts_and_pair_the_ratios(monkeypatch):
    import sim.bench.model as bench

    calls = []

    def fake(n, steps, repeats, seed, threads):
        calls.append((seed, threads))
        rate = {1: 100.0, 2: 180.0}[threads] * (1 + seed)  # the machine speeds up over time
        each = [1 / rate] * steps
        if threads == 2 and seed == 2:
            each[:4] = [10 / rate] * 4  # a burst of load from another tenant: 4 slow steps
        return {"firm_steps_per_s": rate, "seconds_per_step": 1 / rate, "live_firms": n,
                "phase_seconds_per_step": {}, "cpu_per_wall": float(threads),
                "step_seconds": each}

    monkeypatch.setattr(bench, "firm_steps_per_second", fake)
    one, many, ratio = bench.paired_rates(50, 2, steps=10, repeats=3)
    assert calls == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]
    # step by step every pair says 1.8, whatever the drift; the burst spoils 4 of 30 pairs
    assert ratio == pytest.approx(1.8)
    assert many["speedup_quartiles"] == pytest.approx((1.8, 1.8))
    assert one["firm_steps_per_s"] == 300.0
    assert many["firm_steps_per_s"] == 540.0


def test_firm_steps_per_second_times_each_step():
    from sim.bench.model import firm_steps_per_second

    r = firm_steps_per_second(300, steps=3, repeats=1, burn_in=1, agents=False)
    assert len(r["step_seconds"]) == 3
    assert sum(r["step_seconds"]) <= 3 * r["seconds_per_step"] * (1 + 1e-9)


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


def _timed(live, step, **phases):
    return {"live_firms": live, "seconds_per_step": step, "phase_seconds_per_step": phases}


def test_scaling_exponents_by_hand():
    from sim.bench.model import scaling_exponents

    small = _timed(1_000, 0.01, cooperation=0.004, metrics=0.006)
    # x100 firms: cooperation x100 (linear), metrics x1000 (b = 1.5), the step x10 (b = 0.5)
    large = _timed(100_000, 0.1, cooperation=0.4, metrics=6.0)
    b = scaling_exponents(small, large)
    assert b["cooperation"] == pytest.approx(1.0)
    assert b["metrics"] == pytest.approx(1.5)
    assert b["step"] == pytest.approx(0.5)


def test_targets_are_judged_from_the_figures():
    from sim.bench.model import check_targets

    res = {
        "firm_steps_per_s_threads_1": {"100000": 1.6e6},
        "firm_steps_per_s_threads_all": {"100000": 2.8e6},
        "parallel_speedup": {"100000": 1.2},
        "large_run": {"wall_s": 95.0, "peak_rss_bytes": float("nan")},
        "start": {"warm_s": 1.8, "cold_s": 17.0},
        "phases_100k_1_thread": {"data collection": 0.02, "agents": 0.002, "metrics": 0.3},
        "scaling_exponent_10k_1m": {"step": 1.02, "cooperation": 1.07, "metrics": 1.2},
        "in_process_1000x120_s": 0.2,
        "app_1000": {"updates_per_s": 9.5},
    }
    rows = {r["target"]: r for r in check_targets(res)}
    assert rows["classroom app at 1,000 firms: step + redraw of map and charts"]["met"] is False
    met = {t: r["met"] for t, r in rows.items()}
    assert met["firm-steps/s on 1 thread at 100,000 firms"] is True
    assert met["speed-up on all cores at 100,000 firms"] is False
    assert met["firm-steps/s on all cores at 100,000 firms"] is True  # 2.8 M >= 1.8 x 1.5 M
    assert met["1,000,000 firms x 100 steps: peak memory"] is None  # not measurable: no verdict
    assert met["... and of its fastest-growing phase"] is False
    assert rows["... and of its fastest-growing phase"]["measured"] == "metrics 1.20"
    assert met["data collection + Mesa agents at 100,000 firms"] is True
    assert rows["data collection + Mesa agents at 100,000 firms"]["measured"] == "2.2%"


def test_month_cost_splits_a_month_into_fixed_and_per_firm_parts():
    from sim.bench.model import month_cost

    res = month_cost(small=60, large=240, months=3, repeats=1)
    assert res["large_live_firms"] > res["live_firms"] > 0
    # the straight line goes through both sizes' costs
    for n, ms in ((res["live_firms"], res["ms_per_month"]),
                  (res["large_live_firms"], res["large_ms_per_month"])):
        fit = res["fixed_ms_per_month"] + res["per_firm_us"] * 1e-3 * n
        assert fit == pytest.approx(ms, rel=1e-9)
    assert res["firm_steps_per_s"] == pytest.approx(
        res["live_firms"] / (res["ms_per_month"] / 1e3), rel=1e-9)


def test_throughput_counts_runs_per_hour_on_the_cores():
    from sim.bench.model import WORKLOADS, throughput

    classroom = [w for w in WORKLOADS if w[0] == "classroom"]
    res = throughput(repeats=1, cores=2, workloads=classroom)
    row = res["workloads"]["classroom"]
    assert row["seconds_per_run"] > 0
    assert row["runs_per_hour"] == pytest.approx(2 * 3600 / row["seconds_per_run"])
    assert {w[0] for w in WORKLOADS} == {"calibration", "classroom", "hebron", "compare"}


def test_figures_against_a_checkout_by_hand():
    from sim.bench.against import _figures

    side = {"calibration_cpu_s": [0.3, 0.1, 0.2], "calibration_wall_s": [0.4, 0.5, 0.6],
            "month": {"500": {"cpu_s": 0.001, "wall_s": 0.002, "live": 500.0},
                      "5000": {"cpu_s": 0.0055, "wall_s": 0.006, "live": 5000.0},
                      "100000": {"cpu_s": 0.05, "wall_s": 0.06, "live": 100_000.0}}}
    got = _figures(side)
    assert got["calibration_cpu_s"] == 0.2
    assert got["calibration_wall_s"] == 0.5
    assert got["ms_per_month_500_cpu"] == pytest.approx(1.0)
    # 1 us a firm: 4.5 ms more for 4,500 more firms; 1 ms - 0.5 ms at 500 firms
    assert got["fixed_ms_per_month_cpu"] == pytest.approx(0.5)
    assert got["firm_steps_per_s_100000_cpu"] == pytest.approx(2e6)


def test_against_something_that_is_not_a_checkout_is_an_input_error(tmp_path, capsys):
    from sim.cli import main

    assert main(["bench", "--throughput", "--against", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--against" in err
    assert "no sim/model.py" in err
    assert main(["bench", "--against", str(tmp_path), "--rounds", "0"]) == 2


def test_kernel_floor_charges_kernel_calls_and_puts_the_kernels_back():
    import sim.mechanisms.demography as demography
    from sim.bench import floor

    grow = demography._grow
    short = ("baseline.toml", 24, {"talent_sd": 0.0, "patterns.growth_window": 12})
    res = floor.kernel_floor(repeats=1, run=short)
    assert demography._grow is grow  # every module holds its kernel again
    assert not any(isinstance(obj, floor._Timed) for obj in vars(demography).values())
    assert 0.0 < res["kernel_s"] < res["run_s"] * 3  # proxies add their own time to the run
    assert res["kernel_share"] == pytest.approx(res["kernel_s"] / res["run_s"])
    assert res["python_s"] == pytest.approx(res["run_s"] - res["kernel_s"])
    # a kernel call a month at least: growth runs every month of the run and its burn-in
    assert res["kernel_calls"] >= 24
    assert "sim.mechanisms.demography._grow" in floor._kernel_names(floor._kernels())


def test_kernel_floor_proxies_do_not_change_a_run():
    from sim.bench import floor
    from sim.studies.sweep.patterns import simulate

    args = dict(steps=24, seed=3, overrides={"talent_sd": 0.0, "patterns.growth_window": 12})
    plain = simulate("scenarios/baseline.toml", **args)
    proxies = {k: floor._Timed(obj) for k, obj in floor._kernels().items()}
    undo = floor._patched(proxies)
    try:
        timed = simulate("scenarios/baseline.toml", **args)
    finally:
        for space, attr, obj in undo:
            space[attr] = obj
    assert sum(p.calls for p in proxies.values()) > 0
    assert plain.final.keys() == timed.final.keys()
    for k, v in plain.final.items():
        assert v == timed.final[k] or (v != v and timed.final[k] != timed.final[k]), k


def test_throughput_report_states_the_kernel_floor(capsys):
    from sim.cli.bench import _print_throughput

    tp = {"cores": 2, "repeats": 5, "workloads": {"calibration": {
        "what": "a run", "seconds_per_run": 0.25, "runs_per_hour": 28_800.0}}}
    month = {"firms": 500, "ms_per_month": 1.2, "fixed_ms_per_month": 0.8, "per_firm_us": 0.9,
             "firm_steps_per_s": 400_000.0, "large_firm_steps_per_s": 900_000.0,
             "large_firms": 5_000}
    floor = {"run_s": 0.25, "kernel_s": 0.1, "kernel_share": 0.4, "kernel_calls": 10_946.0}
    _print_throughput(tp, month, floor=floor)
    out = capsys.readouterr().out
    assert "0.100 s (40%) in 10,946 kernel calls" in out
    assert "at most 2.5x faster than now" in out
