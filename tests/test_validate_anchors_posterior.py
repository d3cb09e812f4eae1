"""``clustersim validate --anchors --posterior CAL`` (sim/studies/validate_anchors.py): which
wirings a calibration's draws apply to, the draws paired across the wirings of one scenario,
point mode unchanged, a tiny validation with a hand-built posterior, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.core.errors import InputError
from sim.io.posterior import choose_draws, load_posterior
from sim.io.scenario import load_scenario
from sim.studies.validate_anchors import (
    POINT_LABEL,
    SFURTI,
    _scenario,
    measure_replicate,
    parameters_line,
    posterior_plan,
)
from tests.test_validate_anchors import script, write_anchors

ROOT = Path(__file__).resolve().parents[1]
SCEN = ROOT / "scenarios"

#: hebron_stone.toml's entry_rate is 0.0083 (demography); three draws, one of them its own value
HEBRON_DRAWS = "draw,entry_rate,fixed_cost\n0,0.012,0.05\n1,0.0083,0.091\n2,0.004,0.2\n"
CFC_DRAWS = ("draw,fixed_cost,interventions.cfc.effect,interventions.cfc.grant_share\n"
             "0,0.05,0.30,0.5\n1,0.2,0.06,0.6\n")


def calibration(folder: Path, scenario: str, text: str, name: str = "cal",
                hash_: str | None = None, method: str = "npe") -> Path:
    """A calibration folder built by hand, calibrated on ``scenarios/SCENARIO``."""
    cal = folder / name
    cal.mkdir(parents=True, exist_ok=True)
    n = len(text.strip().splitlines()) - 1
    h = hash_ if hash_ is not None else load_scenario(SCEN / scenario).hash
    (cal / "calibration.json").write_text(json.dumps({
        "posterior_draws": {"file": "posterior_draws.csv", "n": n, "method": method},
        "provenance": {"scenario": {"path": str(SCEN / scenario), "hash": h},
                       "seed": 1}}))
    (cal / "posterior_draws.csv").write_text(text)
    return cal


# -- which wirings a posterior applies to ----------------------------------------------------------
def test_a_posterior_applies_to_the_wirings_of_its_scenario_paired_by_replicate(tmp_path):
    cal = calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS)
    needed = ["cfc", "hebron", "hebron_open", "tirupur"]
    plan, records = posterior_plan([cal], SCEN, needed, reps=5, seed=3)
    assert set(plan) == {"hebron", "hebron_open"}
    assert list(records) == ["hebron_stone.toml"]
    rec = records["hebron_stone.toml"]
    assert rec["experiments"] == ["hebron", "hebron_open"]
    post = load_posterior(cal)
    assert rec["sha256"] == post.sha256
    assert rec["method"] == "npe"
    # the draws are compare's: choose_draws from the validation's seed; 5 replicates > 3 draws
    chosen, reused = choose_draws(3, 5, 3)
    assert rec["draws"] == chosen.tolist()
    assert reused
    assert rec["reused"]
    for r in range(5):  # replicate r of hebron and hebron_open: one draw
        assert plan["hebron"][r] == plan["hebron_open"][r] == post.draw(int(chosen[r]))
    # another seed picks another order
    other, _ = posterior_plan([cal], SCEN, needed, reps=5, seed=4)
    assert [d["entry_rate"] for d in other["hebron"]] != [d["entry_rate"]
                                                          for d in plan["hebron"]]


def test_the_cfc_posterior_reaches_sfurti_and_the_baseline_as_the_docs_say(tmp_path):
    cal = calibration(tmp_path, "cfc.toml", CFC_DRAWS)
    plan, records = posterior_plan([cal], SCEN, ["base", "cfc", "sfurti"], reps=2, seed=0)
    assert records["cfc.toml"]["experiments"] == ["cfc", "sfurti", "base"]
    for r in range(2):
        assert plan["cfc"][r] == plan["sfurti"][r]  # the CFC's effect applies on SFURTI's terms
        assert "interventions.cfc.effect" in plan["sfurti"][r]
        # the baseline has no CFC: only the bare parameters, the same values
        assert plan["base"][r] == {"fixed_cost": plan["cfc"][r]["fixed_cost"]}
    # SFURTI's own terms win over a drawn value of the same field; the rest is the draw's
    draw = plan["sfurti"][0]
    sfurti = next(iv for iv in _scenario(SCEN, "sfurti", draw).interventions
                  if iv.name == "cfc")
    cfc = next(iv for iv in _scenario(SCEN, "cfc", draw).interventions if iv.name == "cfc")
    assert sfurti.grant_share == SFURTI["interventions.cfc.grant_share"]
    assert cfc.grant_share == draw["interventions.cfc.grant_share"]
    assert sfurti.effect == cfc.effect == draw["interventions.cfc.effect"]


def test_a_posterior_of_no_wired_scenario_is_refused(tmp_path):
    base = calibration(tmp_path, "baseline.toml", HEBRON_DRAWS, name="base")
    with pytest.raises(InputError, match="which none of these anchors' wirings runs"):
        posterior_plan([base], SCEN, ["base", "cfc", "hebron"], reps=2, seed=0)
    stale = calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS, name="stale",
                        hash_="0" * 64)
    with pytest.raises(InputError, match="changed since; recalibrate") as exc:
        posterior_plan([stale], SCEN, ["hebron"], reps=2, seed=0)
    assert exc.value.key == "provenance.scenario"
    # a calibration of a wired scenario whose anchors are not asked for
    heb = calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS, name="heb")
    with pytest.raises(InputError, match="none of these anchors' wirings"):
        posterior_plan([heb], SCEN, ["cfc"], reps=2, seed=0)


def test_two_posteriors_for_one_scenario_are_refused(tmp_path):
    a = calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS, name="a")
    b = calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS, name="b")
    with pytest.raises(InputError, match="a second posterior for hebron_stone.toml"):
        posterior_plan([a, b], SCEN, ["hebron", "hebron_open"], reps=2, seed=0)


def test_a_posterior_without_a_scenario_is_refused(tmp_path):
    cal = calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS)
    meta = json.loads((cal / "calibration.json").read_text())
    meta["provenance"] = {"seed": 1}
    (cal / "calibration.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="provenance.scenario: missing"):
        posterior_plan([cal], SCEN, ["hebron"], reps=2, seed=0)


# -- point mode unchanged; a draw changes the run ---------------------------------------------
def test_a_draw_of_the_scenarios_own_values_gives_the_point_run_to_the_bit():
    steps = {"hebron": 12}
    point = measure_replicate("hebron", 5, SCEN, steps)
    assert point == measure_replicate("hebron", 5, SCEN, steps, None)
    own = {"entry_rate": 0.0083, "fixed_cost": 0.091}  # hebron_stone.toml's values
    assert measure_replicate("hebron", 5, SCEN, steps, own) == point
    other = measure_replicate("hebron", 5, SCEN, steps, {"entry_rate": 0.012,
                                                         "fixed_cost": 0.05})
    assert other != point


def test_parameters_line():
    assert parameters_line({"a.toml": POINT_LABEL, "b.toml": POINT_LABEL}) == \
        "Parameters: point estimate (every scenario at its own values)."
    assert parameters_line({"a.toml": "posterior of x", "b.toml": POINT_LABEL}) == \
        "Parameters: a.toml: posterior of x; b.toml: point estimate."


# -- the command ---------------------------------------------------------------------------------
def test_a_tiny_validation_with_a_posterior_records_it_and_resumes(tmp_path, capsys):
    keys = ["hebron_stone_firms", "hebron_area_c_output"]
    anchors = write_anchors(tmp_path, keys)
    cal = calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS)
    common = ["validate", "--anchors", str(anchors), "--reps", "3", "--steps", "12",
              "--workers", "1", "--scenarios", str(SCEN)]
    point_out, post_out = tmp_path / "point", tmp_path / "post"
    assert main([*common, "--out", str(point_out)]) == 0
    assert "Parameters: point estimate (every scenario at its own values)." in \
        capsys.readouterr().out
    point = json.loads((point_out / "anchors.json").read_text())
    assert point["provenance"]["parameters"] == {"hebron_stone.toml": POINT_LABEL}
    assert "posteriors" not in point["provenance"]
    assert "posteriors" not in json.loads((point_out / "settings.json").read_text())

    cmd = [*common, "--posterior", str(cal), "--out", str(post_out)]
    assert main(cmd) == 0
    out = capsys.readouterr().out
    assert "Parameters: hebron_stone.toml: posterior of" in out
    data = json.loads((post_out / "anchors.json").read_text())
    rec = data["provenance"]["posteriors"]["hebron_stone.toml"]
    assert rec["sha256"] == load_posterior(cal).sha256
    assert rec["method"] == "npe"
    assert rec["file"] == "posterior_draws.csv"
    assert rec["experiments"] == ["hebron", "hebron_open"]
    assert rec["draws"] == choose_draws(3, 3, 0)[0].tolist()
    # no absolute path of this machine in the record (the calibration's is absolute)
    assert not Path(rec["calibration_provenance"]["scenario"]["path"]).is_absolute()
    assert str(ROOT) not in (post_out / "anchors.json").read_text()
    assert data["provenance"]["parameters"]["hebron_stone.toml"].startswith("posterior of ")
    # the replicates took the draws, at point mode's seeds: the replicate that drew the
    # scenario's own values (draw 1) is point mode's to the bit, the others are not
    for r, d in enumerate(rec["draws"]):
        for e in ("hebron", "hebron_open"):
            a = json.loads((point_out / "replicates" / f"{e}_{r}.json").read_text())
            b = json.loads((post_out / "replicates" / f"{e}_{r}.json").read_text())
            assert (a == b) == (d == 1), (e, r, d)
    rows = {v["key"]: v for v in data["anchors"]}
    assert rows["hebron_stone_firms"]["n"] == 3
    assert np.isfinite(rows["hebron_area_c_output"]["low"])
    # a second start runs nothing again
    stamps = {p: p.stat().st_mtime_ns for p in (post_out / "replicates").glob("*.json")}
    assert main(cmd) == 0
    assert {p: p.stat().st_mtime_ns for p in (post_out / "replicates").glob("*.json")} == stamps
    # the posterior is part of the design: point mode, or other draws, in that folder: refused
    capsys.readouterr()
    assert main([*common, "--out", str(post_out)]) == 2
    assert "posteriors" in capsys.readouterr().err
    (cal / "posterior_draws.csv").write_text(HEBRON_DRAWS.replace("0.2\n", "0.21\n"))
    assert main(cmd) == 2
    assert "holds a validation with other settings" in capsys.readouterr().err
    # the published table says which posterior each scenario used
    mod = script()
    block = mod.render(data)
    assert "Parameters: hebron_stone.toml: posterior of " in block
    assert "(npe, 3 draws" in block
    assert "own values" not in block
    both = mod.render({**data, "point_summary": point["summary"]})
    assert f"The same at every scenario's own values (point estimate, same seeds): " \
        f"{point['summary']}." in both


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--posterior", "nowhere"], "nowhere: no such file"),
    (["--posterior", "{base}"], "which none of these anchors' wirings runs"),
    (["--posterior", "{heb}", "--posterior", "{heb2}"], "a second posterior"),
])
def test_bad_posteriors_exit_2_and_write_nothing(tmp_path, capsys, extra, fragment):
    anchors = write_anchors(tmp_path, ["hebron_stone_firms"])
    cals = {"base": calibration(tmp_path, "baseline.toml", HEBRON_DRAWS, name="base"),
            "heb": calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS, name="heb"),
            "heb2": calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS, name="heb2")}
    extra = [x.format(**{k: str(v) for k, v in cals.items()}) for x in extra]
    out = tmp_path / "out"
    assert main(["validate", "--anchors", str(anchors), "--reps", "2", "--steps", "12",
                 "--scenarios", str(SCEN), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert not out.exists()


def test_posterior_without_anchors_is_refused(tmp_path, capsys):
    cal = calibration(tmp_path, "hebron_stone.toml", HEBRON_DRAWS)
    assert main(["validate", str(SCEN / "cfc.toml"), "--posterior", str(cal)]) == 2
    assert "--posterior: only with --anchors" in capsys.readouterr().err
