"""Output names declared in one place (sim.measure.outputs): they match what a model records,
loading a scenario builds no model, and the breakdowns and directions are right on constructed
data."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd

from sim.core.params import Params
from sim.core.world import FirmGroup, Region, Sector, World
from sim.measure import outputs


def test_declared_series_are_what_a_model_records():
    from sim.model import ClusterModel

    world = World(regions=(Region("R1", 5.0, 5.0), Region("R2", 8.0, 8.0)),
                  sectors=(Sector("s1", "in1"), Sector("s2", "in2")),
                  firms=(FirmGroup("R1", "s1", 3), FirmGroup("R2", "s2", 3)))
    model = ClusterModel(Params().replace(world_size=10.0), world, (), rng=0, agents=False)
    model.step()
    recorded = tuple(model.recorder.latest)
    assert sorted(recorded) == sorted(outputs.series_names(world))
    assert len(set(recorded)) == len(recorded)
    final = model.final_outcomes()
    expected = set(outputs.series_names(world)) | set(outputs.FINAL_EXTRA)
    assert set(final) == expected


def test_loading_a_when_metric_scenario_builds_no_model(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent("""
        [scenario]
        name = "s"
        [[regions]]
        name = "A"
        x = 10.0
        y = 10.0
        [[sectors]]
        name = "metal"
        input = "steel"
        [[firms]]
        region = "A"
        sector = "metal"
        count = 10
        [[interventions]]
        kind = "training"
        name = "training"
        firms_per_month = 1
        when_metric = "lq_metal_A"
        when_at_least = 0.5
    """))
    code = ("import sys; from sim.io.scenario import load_scenario; "
            f"load_scenario({str(path)!r}); "
            "print(sorted(m for m in sys.modules if m in ('sim.model', 'sim.measure.collect')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_breakdown_by_sector_and_town():
    firms = pd.DataFrame({"sector": ["a", "a", "b", "b", "b"],
                          "region": ["X", "Y", "X", "X", "X"],
                          "employees": [1, 2, 3, 4, 5]})
    got = outputs.breakdown(firms, ["a", "b", "c"], ["X", "Y", "Z"])
    assert got == {"employment_sector_a": 3.0, "firms_sector_a": 2.0,
                   "employment_sector_b": 12.0, "firms_sector_b": 3.0,
                   "employment_sector_c": 0.0, "firms_sector_c": 0.0,
                   "employment_town_X": 13.0, "firms_town_X": 4.0,
                   "employment_town_Y": 2.0, "firms_town_Y": 1.0,
                   "employment_town_Z": 0.0, "firms_town_Z": 0.0}
    # the totals agree with the table's
    assert sum(v for k, v in got.items() if k.startswith("employment_sector_")) == 15.0
    assert sum(v for k, v in got.items() if k.startswith("firms_town_")) == 5.0
    empty = outputs.breakdown(firms.iloc[:0], ["a"], ["X"])
    assert empty == {"employment_sector_a": 0.0, "firms_sector_a": 0.0,
                     "employment_town_X": 0.0, "firms_town_X": 0.0}


def test_directions_and_labels():
    assert outputs.direction("employment") == 1
    assert outputs.direction("exits_total") == -1
    assert outputs.direction("public_spending_total") == -1
    assert outputs.direction("eg_gamma_mean") == 0
    assert outputs.direction("employment_sector_stone") == 1
    assert outputs.direction("firms_town_Hebron") == 1
    assert outputs.direction("no_such_output") == 0
    assert outputs.label("employment_town_Hebron") == "Employment in Hebron"
    assert outputs.label("firms_sector_stone") == "Firms in stone"
    assert outputs.label("no_such_output") == "no_such_output"
    assert np.all([outputs.direction(n) in (-1, 0, 1) for n in outputs.DESIRABLE])
