"""A corpus of broken scenario files, one per kind of mistake, each with its exact message.

Every file in ``tests/data/broken_scenarios/`` starts with ``# expect: MESSAGE``, the exact
error (file paths relative to the corpus folder). Loading must raise that one
:class:`sim.core.errors.InputError`; ``clustersim validate`` must print it as one line on stderr,
with exit code 2, no traceback, and write nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.core.errors import InputError
from sim.io.scenario import load_scenario

CORPUS = Path(__file__).parent / "data" / "broken_scenarios"
FILES = sorted(CORPUS.glob("*.toml"))
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith("# expect: "), f"{path.name} lacks its '# expect:' line"
    return first.removeprefix("# expect: ")


def relative(message: str) -> str:
    return message.replace(str(CORPUS) + os.sep, "")


def test_corpus_is_large_enough():
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_exact_message(path):
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert relative(str(info.value)) == expected(path)
    # the message is one line and names a file
    assert "\n" not in str(info.value)
    assert info.value.source.endswith(".toml")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_validate_command_exit_2(path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert relative(lines[0]) == f"clustersim validate: error: {expected(path)}"
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_validate_mixed_good_and_bad(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    good = SCENARIOS / "baseline.toml"
    bad = CORPUS / "11_grant_share_above_one.toml"
    code = main(["validate", str(good), str(bad), str(good)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines() == [f"ok: {good} (baseline, 0 interventions)"] * 2
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_validate_all_good(capsys):
    files = sorted(SCENARIOS.glob("*.toml"))
    assert main(["validate", *map(str, files)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert len(out.splitlines()) == len(files)
    assert all(re.fullmatch(r"ok: \S+ \(\w+, (1 intervention|\d+ interventions)\)", line)
               for line in out.splitlines())


def test_missing_file(tmp_path, capsys):
    code = main(["validate", str(tmp_path / "nothere.toml")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"clustersim validate: error: {tmp_path / 'nothere.toml'}: no such file")


def test_folder_is_not_a_scenario(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
