"""experiments/publish_calibration.py: a calibration with posterior draws is published as a
folder that ``--posterior`` reads, with no path of the machine it ran on; draws the reader
refuses publish nothing; and the published Hebron and Tirupur posteriors are readable and are
the ones docs/figures.json says the Hebron comparison drew from."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from sim.io.posterior import load_posterior

ROOT = Path(__file__).resolve().parents[1]
DRAWS = "draw,entry_rate,growth_sensitivity\n0,0.004,0.02\n1,0.005,0.03\n2,0.006,0.01\n"


def script():
    spec = importlib.util.spec_from_file_location(
        "publish_calibration", ROOT / "experiments" / "publish_calibration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def result(folder: Path, draws: str | None = DRAWS) -> Path:
    """A calibration's output folder built by hand, recording paths inside the repository."""
    folder.mkdir(parents=True)
    meta = {"provenance": {"calibration_file": str(ROOT / "experiments" / "x.toml")},
            "figures": [str(ROOT / "results" / "calibrate" / "x" / "posterior.png")],
            "posterior_draws": ({"file": "posterior_draws.csv", "n": 3, "method": "npe"}
                                if draws is not None else
                                {"file": None, "n": 0, "method": "rejection",
                                 "note": "no point accepted"})}
    (folder / "calibration.json").write_text(json.dumps(meta))
    if draws is not None:
        (folder / "posterior_draws.csv").write_text(draws)
        (folder / "posterior.png").write_bytes(b"png")
    return folder


def test_a_posterior_is_published_as_a_folder_the_reader_accepts(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    code = script().main([str(result(tmp_path / "res")), "x", "--docs", str(docs)])
    assert code == 0
    flat = json.loads((docs / "calibration_x.json").read_text())
    folder = docs / "calibration_x"
    assert json.loads((folder / "calibration.json").read_text()) == flat
    assert flat["provenance"]["calibration_file"] == "experiments/x.toml"  # no machine path
    assert flat["figures"] == ["results/calibrate/x/posterior.png"]
    post = load_posterior(folder)
    assert post.names == ("entry_rate", "growth_sensitivity")
    assert post.n == 3
    np.testing.assert_array_equal(post.values[:, 0], [0.004, 0.005, 0.006])
    assert (folder / "posterior.png").read_bytes() == b"png"
    assert not (folder / "sbc_ranks.png").exists()  # copied only where the calibration drew it


def test_a_calibration_without_draws_publishes_only_its_json(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    assert script().main([str(result(tmp_path / "res", draws=None)), "x", "--docs",
                          str(docs)]) == 0
    assert sorted(p.name for p in docs.iterdir()) == ["calibration_x.json"]


@pytest.mark.parametrize(("draws", "says"), [
    (DRAWS.replace("0.005", "2.5"), "entry_rate (draw 1)"),  # outside the table's 0-1
    (DRAWS.replace("entry_rate", "no_such_parameter"), "no_such_parameter"),
])
def test_draws_the_reader_refuses_publish_nothing(tmp_path, capsys, draws, says):
    docs = tmp_path / "docs"
    docs.mkdir()
    code = script().main([str(result(tmp_path / "res", draws)), "x", "--docs", str(docs)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert says in err
    assert "Traceback" not in err
    assert list(docs.iterdir()) == []


def test_a_missing_result_is_one_line(tmp_path, capsys):
    code = script().main([str(tmp_path / "nowhere"), "x", "--docs", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "calibration.json" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("name", "free"), [
    ("hebron", {"demand_level", "demand_growth", "growth_sensitivity", "entry_rate"}),
    ("tirupur", {"demand_level", "demand_growth", "entry_rate", "pledge_threshold_mean",
                 "waste_cost"}),
])
def test_the_published_scenario_posteriors_are_readable(name, free):
    folder = ROOT / "docs" / "validation" / f"calibration_{name}"
    post = load_posterior(folder)
    assert set(post.names) == free
    assert post.method == "npe"
    cal = json.loads((folder / "calibration.json").read_text())
    assert cal == json.loads((ROOT / "docs" / "validation" / f"calibration_{name}.json")
                             .read_text())
    assert str(ROOT) not in json.dumps(cal)
    for p in post.names:  # the draws' quantiles are the ones the calibration reports
        q = np.quantile(post.values[:, post.names.index(p)], [0.05, 0.5, 0.95])
        entry = cal["posterior"][p]
        np.testing.assert_allclose(q, [entry["q05"], entry["median"], entry["q95"]],
                                   rtol=1e-12)


def test_the_hebron_comparison_drew_from_the_published_posterior():
    figures = json.loads((ROOT / "docs" / "figures.json").read_text())
    post = figures["hebron"]["posterior"]
    assert post["calibration"] == "docs/validation/calibration_hebron/calibration.json"
    draws = ROOT / "docs" / "validation" / "calibration_hebron" / "posterior_draws.csv"
    assert post["sha256"] == hashlib.sha256(draws.read_bytes()).hexdigest()
    assert post["n"] == load_posterior(draws.parent).n
