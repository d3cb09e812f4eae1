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
