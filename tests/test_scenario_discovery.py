"""Scenario discovery (sim.studies.robust.discovery): the box reported is EMA Workbench's PRIM
box on the same data (peeling, pasting, quasi-p values), a known box is recovered, and a box
that chance explains or that barely restricts its parameters is "no clear condition"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.studies.robust.discovery import (
    MIN_RESTRICTION,
    SIGNIFICANCE,
    discover,
    ema_prim,
    quiet_ema,
)

RANGES = [("a", 0.0, 1.0), ("b", 0.0, 1.0), ("c", 0.0, 1.0)]


def uniform(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.uniform(0.0, 1.0, size=(n, 3)), columns=["a", "b", "c"])


def test_the_reported_box_is_ema_workbenchs_box():
    x = uniform(400, seed=7)
    y = ((x["a"] > 0.6) & (x["b"] < 0.4)).to_numpy()
    ours = discover(x, y, RANGES, "q", peel_alpha=0.05, min_coverage=0.8)
    prim = ema_prim()
    assert prim is not None
    with quiet_ema():
        box = prim.Prim(x, y.astype(int), threshold=0.5, peel_alpha=0.05).find_box()
    traj = box.peeling_trajectory
    # the same peeling and pasting trajectory
    pd.testing.assert_frame_equal(ours.trajectory.iloc[:len(traj)], traj)
    # the box chosen on it: the densest that covers at least 80% of the cases
    eligible = traj[traj["coverage"] >= 0.8]
    i = eligible.index[eligible["density"] == eligible["density"].max()][0]
    assert ours.selected == i
    assert ours.status == "box"
    assert ours.box_index == i  # both restrictions are significant and wide: none dropped
    lims = box.box_lims[i]
    for b in ours.limits:
        name = b["parameter"]
        q_low, q_high = box.qp[i][name]
        assert b["low"] == (lims.loc[0, name] if q_low >= 0 else None)
        assert b["high"] == (lims.loc[1, name] if q_high >= 0 else None)
        assert b["qp"] == max(q for q in (q_low, q_high) if q >= 0)
    assert {b["parameter"] for b in ours.limits} == set(box.qp[i])
    assert ours.stat("coverage") == traj.loc[i, "coverage"]
    assert ours.stat("density") == traj.loc[i, "density"]


def test_a_known_box_is_recovered():
    x = uniform(1000, seed=3)
    y = ((x["a"] > 0.6) & (x["b"] < 0.4)).to_numpy()
    d = discover(x, y, RANGES, "q", min_coverage=0.8)
    assert d.status == "box"
    assert d.stat("coverage") >= 0.8
    assert d.stat("density") >= 0.9
    limits = {b["parameter"]: b for b in d.limits}
    assert set(limits) == {"a", "b"}  # c does not matter
    assert limits["a"]["low"] == pytest.approx(0.6, abs=0.05)
    assert limits["a"]["high"] is None  # a is not restricted from above
    assert limits["b"]["high"] == pytest.approx(0.4, abs=0.05)
    assert all(b["qp"] < SIGNIFICANCE and b["restricts"] >= MIN_RESTRICTION for b in d.limits)


def test_cases_that_chance_explains_give_no_clear_condition():
    x = uniform(300, seed=11)
    y = np.random.default_rng(12).uniform(size=300) < 0.4  # unrelated to x
    d = discover(x, y, RANGES, "q")
    assert d.status == "no clear condition"
    assert d.limits == []


def test_a_box_that_barely_restricts_its_range_gives_no_clear_condition():
    # the cases are the futures with a above 0.05: PRIM's box is dense and significant, but
    # it only trims a sliver off a's range
    x = uniform(600, seed=5)
    y = (x["a"] > 0.05).to_numpy()
    d = discover(x, y, RANGES, "q", min_coverage=0.8)
    assert d.status == "no clear condition"
    assert d.stat("density", d.selected) == 1.0
    assert [r["parameter"] for r in d.dropped] == ["a"]
    assert d.dropped[0]["why"].startswith("slight")
    assert d.limits == []


def test_no_case_or_every_case_needs_no_prim():
    x = uniform(20, seed=1)
    assert discover(x, np.zeros(20, bool), RANGES, "q").status == "none"
    assert discover(x, np.ones(20, bool), RANGES, "q").status == "all"


def test_without_ema_workbench_discovery_says_it_was_skipped(monkeypatch):
    import sim.studies.robust.discovery as discovery

    monkeypatch.setattr(discovery, "ema_prim", lambda: None)
    x = uniform(50, seed=2)
    d = discovery.discover(x, (x["a"] > 0.5).to_numpy(), RANGES, "q")
    assert d.status == "unavailable"
    assert d.limits == []
