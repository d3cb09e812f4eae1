"""The model against the policy anchors (``clustersim validate --anchors``,
sim/studies/validate_anchors.py): the verdict on hand-built replicates, the command's refusal of
bad input, a short real run, and the table of docs/validation.md against its data file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.io.anchors import load_anchors, parse_anchors
from sim.studies.validate_anchors import WIRING, judge, summary_line

ROOT = Path(__file__).resolve().parents[1]

TEXT = dict(unit="u", source="s", source_estimator="e", model_quantity="q", why="w")


def fake(**rows) -> dict:
    """Anchors from {key: {figure, interval or sign, role, estimator}}."""
    return parse_anchors({k: {**TEXT, "estimator": "path_ratio", "role": "hold_out", **v}
                          for k, v in rows.items()}, "fake.toml")


ANCHORS = fake(band={"figure": 1.0, "interval": [0.9, 1.1], "role": "fit"},
               neg={"sign": "negative", "estimator": "spillover_did"},
               share={"figure": 0.43, "interval": [0.30, 0.55],
                      "estimator": "completion_share"},
               gone={"figure": 1.0, "interval": [0.5, 1.5], "expressible": False})


# -- the verdict ---------------------------------------------------------------------------------
def test_a_band_is_covered_when_the_models_90_percent_interval_overlaps_it():
    a = ANCHORS["band"]
    inside = judge(a, np.linspace(0.8, 1.0, 101))  # 5%-95%: 0.81-0.99, overlaps 0.9-1.1
    assert inside.covered
    assert inside.n == 101
    assert inside.low == pytest.approx(0.81)
    assert inside.high == pytest.approx(0.99)
    below = judge(a, np.linspace(0.5, 0.9, 101))  # 95% quantile 0.88 < 0.9
    assert below.covered is False
    assert below.high == pytest.approx(0.88)
    above = judge(a, np.linspace(1.12, 2.0, 11))
    assert above.covered is False
    # NaN replicates (nothing measured) are left out, and counted
    some = judge(a, np.array([np.nan, 1.0, 1.0, np.nan]))
    assert some.covered
    assert some.n == 2
    none = judge(a, np.array([np.nan, np.nan]))
    assert none.covered is None
    assert none.n == 0


def test_a_sign_is_right_when_most_replicates_give_it_significantly():
    a = ANCHORS["neg"]
    right = judge(a, np.array([-1, -1, -1, 0, 1]), kind="sign")
    assert right.covered
    assert right.low == pytest.approx(0.6)
    assert right.high == pytest.approx(0.2)
    weak = judge(a, np.array([-1, -1, 0, 0, 0]), kind="sign")  # not significant mostly: missed
    assert weak.covered is False
    wrong = judge(a, np.array([1, 1, 1, -1]), kind="sign")
    assert wrong.covered is False
    assert wrong.high == pytest.approx(0.75)


def test_a_sign_the_placebo_shows_too_is_not_a_spillover():
    a = ANCHORS["neg"]
    # every replicate has the sign; in three of four the placebo a year earlier has it too
    v = judge(a, np.array([-1, -1, -1, -1]), kind="sign", placebo=np.array([-1, -1, -1, 0]))
    assert v.covered is False
    assert v.low == pytest.approx(0.25)
    assert "100% with the sign, 75% with it in the placebo" in v.note
    clean = judge(a, np.array([-1, -1, -1, 0]), kind="sign", placebo=np.array([0, 1, 0, 0]))
    assert clean.covered
    assert clean.low == pytest.approx(0.75)


def test_a_completion_share_is_judged_as_a_share_of_the_sources_projects():
    a = ANCHORS["share"]
    # 9 of 20 offers complete: the share of 227 projects lies around 0.45, inside 0.30-0.55
    v = judge(a, np.r_[np.ones(9), np.zeros(11)], kind="share", projects=227)
    assert v.covered
    assert v.low < 0.45 < v.high
    assert v.median == pytest.approx(0.45)
    # 20 of 20: the Jeffreys posterior keeps the share high, above the band
    full = judge(a, np.ones(20), kind="share", projects=227)
    assert full.covered is False
    assert full.low > 0.55
    # replicates with several offers count each offer: 3 of 4 and 0 of 2 are 3 of 6
    two = judge(a, np.array([0.75, 0.0]), kind="share", offers=np.array([4, 2]), projects=498)
    assert two.median == pytest.approx(0.5)
    assert "3 of 6 offers" in two.note


def test_an_inexpressible_anchor_is_listed_and_not_judged():
    v = judge(ANCHORS["gone"], np.ones(5))
    assert v.covered is None
    assert v.model == "not expressible"


def test_the_summary_counts_fitted_and_held_out_apart():
    verdicts = [judge(ANCHORS["band"], np.ones(5)),                   # fitted, covered
                judge(ANCHORS["neg"], np.array([-1, -1, 1]), kind="sign"),  # held out, right
                judge(ANCHORS["share"], np.ones(20), kind="share", projects=227),  # missed
                judge(ANCHORS["gone"], np.ones(5))]
    assert summary_line(verdicts) == ("fitted: 1 of 1 covered; held out: 1 of 2 covered; "
                                      "signs: 1 of 1 right (every sign right); not judged: "
                                      "gone")


def test_every_expressible_shipped_anchor_is_wired():
    anchors = load_anchors()
    assert {k for k, a in anchors.items() if a.expressible} == set(WIRING)
    assert not anchors["relocation_productivity"].expressible


# -- the command ---------------------------------------------------------------------------------
def write_anchors(tmp_path: Path, keys: list[str]) -> Path:
    """A copy of the shipped anchors with only ``keys``."""
    shipped = load_anchors()
    lines = []
    for k in keys:
        d = shipped[k].to_dict()
        d.pop("key")
        lines.append(f"[anchors.{k}]")
        lines += [f"{f} = {json.dumps(v).lower() if isinstance(v, bool) else json.dumps(v)}"
                  for f, v in d.items()]
    path = tmp_path / "anchors.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("args", "fragment"), [
    (["--reps", "1"], "--reps: got 1"),
    (["--workers", "0"], "--workers: got 0"),
    (["--steps", "0"], "--steps: got 0"),
    (["--seed", "-1"], "--seed: got -1"),
    (["--scenarios", "nowhere"], "nowhere: --scenarios: not a folder"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, fragment):
    out = tmp_path / "out"
    assert main(["validate", "--anchors", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert not out.exists()


def test_scenario_files_and_anchors_together_are_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["validate", str(ROOT / "scenarios" / "cfc.toml"), "--anchors", "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err
    assert "FILE: scenario files and --anchors together" in err
    assert not out.exists()


def test_a_bad_anchors_file_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[anchors.x]\nfigure = 1.0\n")
    out = tmp_path / "out"
    assert main(["validate", "--anchors", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_a_folder_of_other_results_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["validate", "--anchors", "--out", str(out)]) == 2
    assert "not a validation folder" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_scenario_files_are_still_checked_without_anchors(capsys):
    assert main(["validate", str(ROOT / "scenarios" / "cfc.toml")]) == 0
    assert "ok:" in capsys.readouterr().out
    assert main(["validate"]) == 2


def test_a_short_real_validation_gives_a_finite_table_and_resumes(tmp_path, capsys):
    keys = ["hebron_stone_firms", "tirupur_exports_year_1", "cfc_completion",
            "pmegp_cost_per_job"]
    anchors = write_anchors(tmp_path, keys)
    out = tmp_path / "out"
    cmd = ["validate", "--anchors", str(anchors), "--reps", "2", "--steps", "40",
           "--scenarios", str(ROOT / "scenarios"), "--out", str(out)]
    assert main(cmd) == 0
    text = capsys.readouterr().out
    assert "fitted: " in text
    assert "held out: " in text
    table = pd.read_csv(out / "anchors.csv")
    assert list(table["key"]) == keys
    measured = table[table["n"] > 0]  # seeds 0-1: at least one builds the CFC by month 40
    assert len(measured) == len(keys)
    assert (table.loc[table["key"] != "pmegp_cost_per_job", "n"] == 2).all()
    assert np.isfinite(measured[["low", "high"]].to_numpy()).all()
    assert (measured["low"] <= measured["high"]).all()
    assert "against baseline.toml" in table.set_index("key").loc["pmegp_cost_per_job", "note"]
    data = json.loads((out / "anchors.json").read_text())
    prov = data["provenance"]
    assert prov["seeds"] == [0, 1]
    assert prov["version"]
    assert prov["git_commit"]
    assert set(prov["scenarios"]) == {"cfc", "base", "tirupur", "hebron"}
    assert all(len(s["hash"]) == 64 for s in prov["scenarios"].values())
    assert len(list((out / "replicates").glob("*.json"))) == 8
    # a second start runs nothing again and gives the same table
    stamps = {p: p.stat().st_mtime_ns for p in (out / "replicates").glob("*.json")}
    assert main(cmd) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "replicates").glob("*.json")} == stamps
    assert pd.read_csv(out / "anchors.csv").equals(table)
    # other settings in the same folder are refused, and nothing is replaced
    assert main([*cmd[:-2], "--reps", "3", "--out", str(out)]) == 2
    assert "holds a validation with other settings" in capsys.readouterr().err
    assert pd.read_csv(out / "anchors.csv").equals(table)


# -- the doc -------------------------------------------------------------------------------------
def script():
    spec = importlib.util.spec_from_file_location(
        "validate_anchors_script", ROOT / "experiments" / "validate_anchors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_doc_shows_what_the_data_file_holds():
    mod = script()
    data = json.loads((ROOT / "docs" / "validation" / "policy_anchors.json").read_text())
    assert mod.doc_block((ROOT / "docs" / "validation.md").read_text()) == mod.render(data)
    # every shipped anchor has its row, in the file's order
    assert [row["key"] for row in data["anchors"]] == list(load_anchors())
    assert data["provenance"]["reps"] == mod.REPS
    assert data["provenance"]["seed"] == mod.SEED
    changed = json.loads(json.dumps(data))
    changed["anchors"][0]["model"] = "0 to 1"
    assert mod.render(changed) != mod.render(data)


def test_workers_give_the_same_table_as_one_process(tmp_path):
    anchors = write_anchors(tmp_path, ["hebron_stone_firms"])
    tables = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        assert main(["validate", "--anchors", str(anchors), "--reps", "2", "--steps", "12",
                     "--workers", workers, "--scenarios", str(ROOT / "scenarios"),
                     "--out", str(out)]) == 0
        tables.append(pd.read_csv(out / "anchors.csv"))
    assert tables[0].equals(tables[1])
