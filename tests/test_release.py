"""Release hygiene for researchers who cite the model: one version, printed by ``clustersim
--version`` and recorded by every result file; a valid ``CITATION.cff``; a changelog entry for
the version."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

import sim
from sim.cli import main
from sim.io.provenance import PARQUET_KEY
from tests.conftest import one_town_toml

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


SWEEP = """
[experiment]
model = "ishigami"
steps = 2

[design]
method = "grid"
seed = 1

[[factors]]
path = "x1"
levels = [0.0, 1.0]

[outputs]
final = ["y"]
series = ["y"]
"""


def versions(doc) -> list[str]:
    """Every value of a key naming the package version, anywhere in a JSON document."""
    found = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in ("version", "package_version") and isinstance(v, str):
                found.append(v)
            else:
                found += versions(v)
    elif isinstance(doc, list):
        for v in doc:
            found += versions(v)
    return found


def parquet_versions(path: Path) -> list[str]:
    meta = pq.read_schema(path).metadata
    return versions(json.loads(meta[PARQUET_KEY]))


def test_the_package_version_is_the_one_in_pyproject():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert sim.__version__ == VERSION


def test_clustersim_version_prints_it(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"clustersim {VERSION}"


def test_citation_file_is_valid_cff_1_2_0():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    # the keys CFF 1.2.0 requires, and the types it gives them
    assert cff["cff-version"] == "1.2.0"
    assert isinstance(cff["message"], str)
    assert cff["message"].strip()
    assert isinstance(cff["title"], str)
    assert cff["title"].strip()
    assert cff["authors"] == [{"name": "The clustersim developers"}]
    assert str(cff["version"]) == VERSION
    assert cff["type"] == "software"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(cff["date-released"]))
    assert cff["license"] == "MIT"
    assert "doi" not in cff
    assert "identifiers" not in cff


def test_changelog_has_an_entry_for_this_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\S+)", text, flags=re.M)
    assert headings[0] == VERSION
    assert "0.1.0" in headings


def test_every_result_records_the_version(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text(one_town_toml(name, 3))
    assert main(["run", "a.toml", "--out", "run"]) == 0
    assert set(versions(json.loads((tmp_path / "run" / "run.json").read_text()))) == {VERSION}
    for f in ("timeseries.parquet", "firms.parquet"):
        assert set(parquet_versions(tmp_path / "run" / f)) == {VERSION}

    assert main(["compare", "a.toml", "b.toml", "--reps", "2", "--workers", "1", "--out",
                 "cmp", "--no-progress"]) == 0
    # a comparison is a sweep directory (issue 13): its description and its tables
    assert set(versions(json.loads((tmp_path / "cmp" / "comparison.json").read_text()))) == {
        VERSION}
    for f in ("runs.parquet", "design.parquet"):
        assert set(parquet_versions(tmp_path / "cmp" / f)) == {VERSION}

    (tmp_path / "exp.toml").write_text(SWEEP)
    assert main(["sweep", "exp.toml", "--out", "sweep", "--workers", "1",
                 "--no-progress"]) == 0
    meta = json.loads((tmp_path / "sweep" / "experiment.json").read_text())
    assert set(versions(meta)) == {VERSION}
    assert set(parquet_versions(tmp_path / "sweep" / "runs.parquet")) == {VERSION}
    for f in (tmp_path / "sweep" / "series").glob("*.parquet"):
        assert set(parquet_versions(f)) == {VERSION}
