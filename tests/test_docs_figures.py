"""The figures docs/scenarios.md quotes are produced by experiments/docs_figures.py: the block
in the doc is rendered from docs/figures.json, and (slow) rerunning the comparisons as stated
gives docs/figures.json."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def script():
    spec = importlib.util.spec_from_file_location("docs_figures",
                                                  ROOT / "experiments" / "docs_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_doc_shows_what_the_data_file_holds():
    mod = script()
    data = json.loads((ROOT / "docs" / "figures.json").read_text())
    assert mod.doc_block((ROOT / "docs" / "scenarios.md").read_text()) == mod.render(data)
    # the data file holds every comparison the script runs, as the script runs it
    assert list(data) == list(mod.COMPARISONS)
    for name, (files, reps, seed) in mod.COMPARISONS.items():
        assert (data[name]["files"], data[name]["reps"], data[name]["seed"]) == (
            list(files), reps, seed)
        # drawn from the posterior the script draws it from (a published calibration), or none
        post = mod.POSTERIORS.get(name)
        assert data[name].get("posterior", {}).get("calibration") == (
            None if post is None else str((post / "calibration.json").relative_to(ROOT)))


def test_render_fails_on_a_changed_figure():
    mod = script()
    data = json.loads((ROOT / "docs" / "figures.json").read_text())
    first = next(iter(data.values()))
    first["rows"][0]["employment"] += 1.0
    assert mod.doc_block((ROOT / "docs" / "scenarios.md").read_text()) != mod.render(data)


@pytest.mark.slow
def test_rerunning_the_comparisons_gives_the_data_file(tmp_path, capsys):
    """After a change to the model or the scenarios this fails until
    `python experiments/docs_figures.py` is run and its output committed."""
    code = script().main(["--check", "--out", str(tmp_path), "--workers", "1"])
    assert code == 0, capsys.readouterr().out


def inline_inputs(mod):
    return json.loads(mod.RUN_DATA.read_text()), mod.published()


def test_validation_prose_shows_what_the_run_data_and_calibration_hold():
    """Every run figure docs/validation.md quotes in its prose is an inline figure rendered from
    docs/validation_figures.json or the published calibrations, and every one is used."""
    mod = script()
    runs, calibration = inline_inputs(mod)
    text = mod.VALIDATION_DOC.read_text()
    assert mod.render_inline(text, runs, calibration) == text
    used = {m.group(1) for m in mod.INLINE_RE.finditer(text)}
    assert used == set(mod.INLINE)
    # the data file holds every run set the script runs, as the script runs it
    assert list(runs) == list(mod.RUNS)
    for name, (file, sector, seeds, steps) in mod.RUNS.items():
        d = runs[name]
        assert (d["scenario"], d["sector"], d["seeds"], d["steps"]) == (file, sector, seeds,
                                                                        steps)
        assert [row["seed"] for row in d["rows"]] == list(range(seeds))


def test_inline_figures_follow_a_changed_run():
    mod = script()
    runs, calibration = inline_inputs(mod)
    text = mod.VALIDATION_DOC.read_text()
    runs["tirupur"]["rows"][0]["firms"] = 10_000  # one run with many more dyeing units
    assert "<!-- figure:tirupur.dyeing_units -->" in text
    changed = mod.render_inline(text, runs, calibration)
    assert changed != text
    assert "10,000<!-- /figure --> dyeing units" in changed
    calibration["accepted"] += 1
    assert (f"{calibration['accepted']} of the {calibration['runs']['points']}<!-- /figure -->"
            in mod.render_inline(text, runs, calibration))


def test_inline_counts_read_as_words():
    mod = script()
    assert mod._count(4, 8) == "four of the eight"
    assert mod._count(8, 8) == "every run"
    assert mod._count(0, 8) == "no run"
    assert mod._span([22_849.0, 26_879.0], -2) == "22,800-26,900"
    assert mod._span([0.812, 0.951], 2) == "0.81-0.95"


def test_refined_figures_are_the_best_rows_of_the_published_refinements():
    mod = script()
    best = mod.published()["refined"]
    assert set(best) == {"default", "hebron", "tirupur"}
    for name, row in best.items():
        # the least distance of the file, whatever its order
        with mod.REFINED[name].open() as fh:
            distances = [float(line.split(",")[list(row).index("distance")])
                         for line in fh.read().splitlines()[1:]]
        assert row["distance"] == min(distances)


def test_comparisons_can_be_rerun_one_group_at_a_time():
    """``--comparisons`` names the comparisons to rerun; the others keep their figures and the
    data file keeps the script's order; an unknown name is refused."""
    mod = script()
    assert mod.comparison_names(None) == list(mod.COMPARISONS)
    assert mod.comparison_names("classroom, generic") == ["generic", "classroom"]
    with pytest.raises(SystemExit, match="unknown nowhere"):
        mod.comparison_names("generic,nowhere")
    old = {name: {"rows": [name]} for name in mod.COMPARISONS}
    new = {"classroom": {"rows": ["rerun"]}}
    out = mod.merged(old, new)
    assert list(out) == list(mod.COMPARISONS)
    assert out["classroom"] == {"rows": ["rerun"]}
    assert all(out[n] == old[n] for n in mod.COMPARISONS if n != "classroom")
