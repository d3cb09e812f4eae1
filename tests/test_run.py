"""``clustersim run`` and :func:`sim.studies.simulate.simulate`: what a run writes, and what it
refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.cli import main
from sim.core.errors import InputError
from sim.io.provenance import PARQUET_KEY
from sim.studies.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "classroom_free_riding.toml"
FILES = {"timeseries.parquet", "timeseries.csv", "firms.parquet", "run.json", "summary.png",
         "burn_in.parquet", ".clustersim-output"}  # the marker --force looks for


def run_cli(*args: str) -> int:
    return main(["run", str(SCENARIO), "--steps", "6", *args])


def test_simulate_returns_series_final_firms_and_provenance():
    r = simulate(SCENARIO, steps=6, seed=3)
    assert list(r.series["step"]) == list(range(7))  # the initial state and six months
    assert r.final["firms"] == r.series["firms"].iloc[-1]
    assert len(r.firms) == r.final["firms"]
    for key in ("version", "git_commit", "scenario_hash", "seed", "params"):
        assert key in r.provenance
    assert r.provenance["seed"] == 3


def test_simulate_same_seed_same_series_and_overrides_apply():
    a = simulate(SCENARIO, steps=6, seed=5)
    b = simulate(SCENARIO, steps=6, seed=5)
    pd.testing.assert_frame_equal(a.series, b.series, check_exact=True)
    c = simulate(SCENARIO, steps=6, seed=5, overrides={"growth_sd": 0.2})
    assert c.provenance["params"]["demography"]["growth_sd"] == 0.2
    assert not c.series["employment"].equals(a.series["employment"])


def test_run_writes_every_file_with_provenance(tmp_path, capsys):
    out = tmp_path / "r"
    assert run_cli("--seed", "2", "--out", str(out)) == 0
    assert FILES == {p.name for p in out.iterdir()}
    assert f"results: {out}" in capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 2
    assert run["steps"] == 6
    assert len(run["scenario_hash"]) == 64
    assert run["final"]["firms"] > 0
    series = pd.read_parquet(out / "timeseries.parquet")
    csv = pd.read_csv(out / "timeseries.csv")
    assert list(series.columns) == list(csv.columns)
    assert len(series) == 7
    for name in ("timeseries.parquet", "firms.parquet"):  # each file carries its provenance
        meta = json.loads(pq.read_schema(out / name).metadata[PARQUET_KEY])
        assert meta["seed"] == 2
        assert meta["scenario_hash"] == run["scenario_hash"]
        assert meta["git_commit"] == run["git_commit"]


def test_run_never_replaces_different_results(tmp_path, capsys):
    out = tmp_path / "r"
    assert run_cli("--out", str(out)) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run_cli("--seed", "9", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "already holds different results" in err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched
    assert run_cli("--seed", "9", "--out", str(out), "--force") == 0
    assert json.loads((out / "run.json").read_text())["seed"] == 9
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.parametrize(("args", "fragment"), [
    (["--set", "coop_benfit=0.1"], "did you mean 'coop_benefit'"),
    (["--set", "trust_gain=2"], "allowed: a number from 0.0 to 1.0"),
    (["--steps", "-1"], "allowed: an integer from 0 to 100,000"),
    (["--threads", "0"], "--threads: got 0; allowed: an integer from 1 to "),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, fragment):
    out = tmp_path / "r"
    assert run_cli("--out", str(out), *args) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_n_firms_on_a_scenario_that_lists_its_firms_is_refused(tmp_path, capsys):
    out = tmp_path / "r"
    baseline = ROOT / "scenarios" / "baseline.toml"
    assert main(["run", str(baseline), "--set", "n_firms=300", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "clustersim run: error: --set: n_firms: the scenario lists its initial firms "
        f"([[firms]] in {baseline}), so n_firms would be ignored; allowed: change the counts "
        "in [[firms]] (or use a scenario without [[firms]])"]
    assert not out.exists()
    with pytest.raises(InputError, match="n_firms would be ignored"):
        simulate(baseline, steps=1, overrides={"n_firms": 300})


def test_threads_do_not_change_the_results(tmp_path, monkeypatch):
    import pandas as pd

    import sim.model

    monkeypatch.setattr(sim.model, "PARALLEL_MIN_FIRMS", 0)  # the parallel path, even this small
    series = []
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}"
        assert run_cli("--out", str(out), "--threads", threads) == 0
        series.append(pd.read_parquet(out / "timeseries.parquet"))
    pd.testing.assert_frame_equal(series[0], series[1], check_exact=True)


def test_missing_scenario_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "r")]) == 2
    assert "nope.toml: no such file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
