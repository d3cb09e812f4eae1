"""Mesa's own tools on ClusterModel: batch_run (1 and 2 processes), seed=, DataCollector."""

from __future__ import annotations

import inspect

import mesa
import pandas as pd
import pytest

from sim.measure.collect import MESA_SERIES
from sim.model import ClusterModel

PARAMS = {"n_firms": [60, 90], "coop_benefit": 0.03, "seed": [1, 2]}


def _run(processes: int) -> pd.DataFrame:
    rows = mesa.batch_run(ClusterModel, parameters=PARAMS, iterations=1, max_steps=6,
                          number_processes=processes, data_collection_period=1,
                          display_progress=False)
    df = pd.DataFrame(rows)
    return df.sort_values(["n_firms", "seed", "Step"]).reset_index(drop=True)


def test_batch_run_one_process_matches_direct_runs():
    df = _run(1)
    assert set(MESA_SERIES) <= set(df.columns)
    assert len(df) == 4 * 7  # four runs, steps 0..6 (batch_run steps while steps <= max_steps)
    for (n, seed), rows in df.groupby(["n_firms", "seed"]):
        model = ClusterModel(n_firms=n, coop_benefit=0.03, rng=seed)
        for _ in range(7):
            model.step()
        series = model.series()
        assert rows["firms"].tolist() == series["firms"].tolist()[:7]
        assert rows["employment"].tolist() == series["employment"].tolist()[:7]


def test_batch_run_is_reproducible():
    assert _run(1).equals(_run(1))


@pytest.mark.slow
def test_batch_run_two_processes_equals_one():
    pd.testing.assert_frame_equal(_run(2).drop(columns="RunId"), _run(1).drop(columns="RunId"))


def test_seed_is_rng():
    a = ClusterModel(n_firms=80, seed=7)
    b = ClusterModel(n_firms=80, rng=7)
    for _ in range(4):
        a.step()
        b.step()
    pd.testing.assert_frame_equal(a.series(), b.series())
    with pytest.raises(ValueError, match="rng or seed"):
        ClusterModel(n_firms=10, seed=1, rng=1)


def test_datacollector_follows_the_recorder():
    model = ClusterModel(n_firms=80, rng=3)
    for _ in range(3):
        model.step()
    dc = model.datacollector.get_model_vars_dataframe()
    series = model.series()
    assert len(dc) == len(series) == 4
    for key in MESA_SERIES[:-2]:
        assert dc[key].tolist() == series[key].tolist(), key


def test_catch_all_is_kwargs_for_solaraviz():
    params = inspect.signature(ClusterModel.__init__).parameters
    assert "kwargs" in params
    assert params["kwargs"].kind is inspect.Parameter.VAR_KEYWORD
    from mesa.visualization.solara_viz import _check_model_params

    _check_model_params(ClusterModel.__init__, {"n_firms": 100, "seed": 1})  # does not raise
