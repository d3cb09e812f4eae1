"""Hostile and careless input, concurrency and resource limits: each case gets one
clear line and exit code 2, writes nothing, overwrites nothing, and never hangs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main
from sim.io.output import claim_folder, lock_path
from tests.conftest import one_town_toml


def scenario(tmp_path: Path, name: str = "small") -> Path:
    path = tmp_path / f"{name.replace('/', '_')}.toml"
    path.write_text(one_town_toml(name, 2))
    return path


def one_error_line(capsys, command: str) -> str:
    """The command's stderr, checked to be exactly one error line (no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"clustersim {command}: error: "), err
    return lines[0]


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- silent overwrites ----------------------------------------------------------------------------
def test_a_run_into_a_folder_another_command_is_writing_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    with claim_folder(out):  # as a first `clustersim run` does while it computes
        assert main(["run", str(scenario(tmp_path)), "--out", str(out)]) == 2
    line = one_error_line(capsys, "run")
    assert f"{out}: another clustersim command is writing to it" in line
    assert not out.exists()


def test_a_compare_into_a_folder_another_command_is_writing_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    a, b = scenario(tmp_path, "a"), scenario(tmp_path, "b")
    with claim_folder(out):
        assert main(["compare", str(a), str(b), "--reps", "2", "--workers", "1", "--out",
                     str(out), "--no-progress"]) == 2
    line = one_error_line(capsys, "compare")
    assert f"{out}: another clustersim command is writing to it" in line
    assert not out.exists()


def test_a_claim_is_released_and_leaves_no_lock_file(tmp_path):
    out = tmp_path / "deep" / "out"
    assert main(["run", str(scenario(tmp_path)), "--out", str(out)]) == 0
    assert (out / "run.json").is_file()
    assert not lock_path(out).exists()
    with claim_folder(out):  # free again
        assert lock_path(out).exists()


def test_a_refused_claim_leaves_nothing_behind(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "out"
    assert main(["run", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2
    one_error_line(capsys, "run")
    assert tree(tmp_path) == []
    a = scenario(tmp_path, "a")
    assert main(["compare", str(a), str(tmp_path / "missing.toml"), "--reps", "2", "--out",
                 str(out), "--no-progress"]) == 2
    one_error_line(capsys, "compare")
    assert tree(tmp_path) == ["a.toml"]


# -- bad output paths -----------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["proc", "file"])
def test_run_and_compare_refuse_an_out_under_proc_or_a_file(tmp_path, capsys, where):
    a, b = scenario(tmp_path, "a"), scenario(tmp_path, "b")
    before = tree(tmp_path)
    out = Path("/proc/clustersim-test/out") if where == "proc" else a / "out"
    assert main(["run", str(a), "--out", str(out)]) == 2
    line = one_error_line(capsys, "run")
    assert line.startswith(f"clustersim run: error: {out}: ")
    assert main(["compare", str(a), str(b), "--reps", "2", "--out", str(out),
                 "--no-progress"]) == 2
    line = one_error_line(capsys, "compare")
    assert ("a system pseudo-filesystem" if where == "proc" else "is a file, not a folder") \
        in line
    assert tree(tmp_path) == before


# -- command-line values --------------------------------------------------------------------------
def test_a_negative_seed_is_refused(tmp_path, capsys):
    a, b = scenario(tmp_path, "a"), scenario(tmp_path, "b")
    assert main(["run", str(a), "--seed", "-1", "--out", str(tmp_path / "out")]) == 2
    assert "--seed: got -1; allowed: an integer >= 0" in one_error_line(capsys, "run")
    assert main(["compare", str(a), str(b), "--seed", "-1", "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 2
    assert "--seed: got -1; allowed: an integer >= 0" in one_error_line(capsys, "compare")
    assert not (tmp_path / "out").exists()


def test_run_steps_on_the_command_line_have_the_files_cap(tmp_path, capsys):
    from sim.io.scenario import META_FIELDS

    cap = META_FIELDS["steps"].metadata["hi"]
    assert main(["run", str(scenario(tmp_path)), "--steps", str(cap + 1), "--out",
                 str(tmp_path / "out")]) == 2
    assert f"--steps: got {cap + 1}; allowed: an integer >= 0 and at most {cap:,}" in \
        one_error_line(capsys, "run")
    # the same cap as the file's and --set's
    assert main(["run", str(scenario(tmp_path)), "--set", f"steps={cap + 1}", "--out",
                 str(tmp_path / "out")]) == 2
    one_error_line(capsys, "run")
    assert not (tmp_path / "out").exists()


# -- default output paths -------------------------------------------------------------------------
def test_a_scenario_name_cannot_lead_the_default_output_out_of_results(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    path = scenario(tmp_path, "../../../escaped")
    assert main(["run", str(path)]) == 0
    made = [p for p in tmp_path.rglob("run.json")]
    assert len(made) == 1
    assert made[0].parent.parent == work / "results"
    assert json.loads(made[0].read_text())["scenario"] == "../../../escaped"


# -- input files that are not small regular files -------------------------------------------------
def validate_in_a_subprocess(path: Path) -> subprocess.CompletedProcess:
    """``clustersim validate PATH`` in its own process, so that a hang or a read without end
    fails the test (by its timeout) instead of stopping the suite."""
    return subprocess.run([sys.executable, "-m", "sim.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_not_a_scenario(device):
    done = validate_in_a_subprocess(Path(device))
    assert done.returncode == 2
    assert done.stderr == (f"clustersim validate: error: {device}: is not a regular file (a "
                           "device, FIFO or socket); allowed: a scenario file (TOML)\n")


def test_a_fifo_is_not_a_scenario_and_does_not_hang(tmp_path):
    fifo = tmp_path / "scenario.toml"
    os.mkfifo(fifo)
    done = validate_in_a_subprocess(fifo)
    assert done.returncode == 2
    assert "is not a regular file (a device, FIFO or socket)" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_an_oversized_scenario_is_refused(tmp_path, capsys):
    from sim.io.inputs import MAX_INPUT_BYTES

    big = tmp_path / "big.toml"
    big.write_text(one_town_toml("big", 2) + "# padding\n" * (MAX_INPUT_BYTES // 10))
    assert main(["validate", str(big)]) == 2
    assert f"{big}: larger than 1,024 KiB; allowed: a scenario file (TOML) of at most " \
        "1,024 KiB" in capsys.readouterr().err
    ok = tmp_path / "ok.toml"  # just under the cap is fine
    text = one_town_toml("ok", 2)
    ok.write_text(text + "#" * (MAX_INPUT_BYTES - len(text.encode()) - 1) + "\n")
    assert main(["validate", str(ok)]) == 0


def test_device_and_oversized_experiment_files_are_refused(tmp_path, capsys):
    from sim.io.inputs import MAX_INPUT_BYTES

    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_INPUT_BYTES + 1))
    for path in (Path("/dev/zero"), big):
        assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
        line = one_error_line(capsys, "sweep")
        assert f"{path}: cannot read the experiment file: " in line
    assert not (tmp_path / "out").exists()


def test_a_long_extends_chain_is_one_line(tmp_path, capsys):
    from sim.io.scenario import MAX_EXTENDS

    n = 990  # the length that exhausted the recursion
    (tmp_path / f"s{n}.toml").write_text(one_town_toml("root", 2))
    for i in range(n):
        (tmp_path / f"s{i}.toml").write_text(f'extends = "s{i + 1}.toml"\n')
    assert main(["validate", str(tmp_path / "s0.toml")]) == 2
    line = one_error_line(capsys, "validate")
    assert f"extends: a chain of more than {MAX_EXTENDS} extends" in line
    # the cap itself is allowed
    start = n - MAX_EXTENDS
    assert main(["validate", str(tmp_path / f"s{start}.toml")]) == 0


@pytest.mark.parametrize("depth", [33, 100, 5000])
def test_deeply_nested_toml_is_one_line(tmp_path, capsys, depth):
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * depth + "]" * depth + "\n")
    assert main(["validate", str(deep)]) == 2
    assert f"{deep}: tables and arrays nested more than 32 levels deep; allowed: at most 32" in \
        one_error_line(capsys, "validate")
    exp = tmp_path / "exp.toml"
    exp.write_text(deep.read_text())
    assert main(["sweep", str(exp), "--out", str(tmp_path / "out")]) == 2
    assert "nested more than 32 levels deep" in one_error_line(capsys, "sweep")


# -- sizes that cannot run ----------------------------------------------------------------------
EXPERIMENT = """
[experiment]
model = "ishigami"
steps = 2

[design]
{design}
seed = 1

[[factors]]
path = "x1"
{factor1}

[[factors]]
path = "x2"
{factor2}

[outputs]
final = ["y"]
"""
RANGE = "range = [0.0, 1.0]"


@pytest.mark.parametrize(("design", "factors", "fragment"), [
    ('method = "sobol"\nsamples = 1073741824', (RANGE, RANGE),
     "design.samples: got 1073741824; allowed: an integer from 2 to 1,000,000"),
    ('method = "sobol"\nsamples = 262144\nsecond_order = true', (RANGE, RANGE),
     "design: 1,572,864 points x 1 replicates = 1,572,864 runs; allowed: at most 1,000,000"),
    ('method = "lhs"\nsamples = 100000000', (RANGE, RANGE),
     "design.samples: got 100000000; allowed: an integer from 2 to 1,000,000"),
    ('method = "lhs"\nsamples = 1000\nreplicates = 1000000000', (RANGE, RANGE),
     "design.replicates: got 1000000000; allowed: an integer from 1 to 1,000,000"),
    ('method = "lhs"\nsamples = 1000\nreplicates = 1001', (RANGE, RANGE),
     "design: 1,000 points x 1,001 replicates = 1,001,000 runs; allowed: at most 1,000,000"),
    ('method = "grid"', (RANGE + "\nnum = 1000000000000", "levels = [1.0, 2.0]"),
     "factors[0].num: got 1000000000000; allowed: an integer from 2 to 1,000,000"),
    ('method = "grid"', (RANGE + "\nnum = 10000", RANGE + "\nnum = 10000"),
     "design: 100,000,000 points x 1 replicates = 100,000,000 runs; allowed: at most"),
    ('method = "morris"\ntrajectories = 1000000000', (RANGE, RANGE),
     "design.trajectories: got 1000000000; allowed: an integer from 2 to 1,000,000"),
])
def test_designs_too_large_to_run_are_refused_before_they_are_laid_out(tmp_path, capsys, design,
                                                                      factors, fragment):
    exp = tmp_path / "exp.toml"
    exp.write_text(EXPERIMENT.format(design=design, factor1=factors[0], factor2=factors[1]))
    assert main(["sweep", str(exp), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    assert fragment in one_error_line(capsys, "sweep")
    assert not (tmp_path / "out").exists()


def test_compare_replicates_are_capped(tmp_path, capsys):
    a, b = scenario(tmp_path, "a"), scenario(tmp_path, "b")
    assert main(["compare", str(a), str(b), "--reps", "1000000000", "--out",
                 str(tmp_path / "out"), "--no-progress"]) == 2
    assert "--reps: got 1000000000; allowed: an integer from 2 to 10,000" in \
        one_error_line(capsys, "compare")
    assert not (tmp_path / "out").exists()


def test_the_documented_firm_maximum_is_one_this_machine_can_hold(tmp_path, capsys):
    from sim.core.params import MAX_FIRMS, ParameterError, Params

    # 10,000,000 firms x 120 months peaked near 6 GiB on a 24 GiB machine (docs/performance.md)
    assert MAX_FIRMS == 10_000_000
    with pytest.raises(ParameterError, match="allowed: an integer from 0 to 10000000"):
        Params().replace(n_firms=10_000_001)
    Params().replace(n_firms=MAX_FIRMS)
    path = scenario(tmp_path)
    assert main(["run", str(path), "--set", "n_firms=20000000", "--out",
                 str(tmp_path / "out")]) == 2
    assert "allowed: an integer from 0 to 10000000" in one_error_line(capsys, "run")
    # counts of the [[firms]] groups are capped in all, not only one by one
    two = tmp_path / "two.toml"
    two.write_text(one_town_toml("two", 2, count=6_000_000)
                   + '\n[[firms]]\nregion = "A"\nsector = "metal"\ncount = 6000000\n')
    assert main(["validate", str(two)]) == 2
    assert "firms: 12,000,000 firms in all; allowed: at most 10,000,000" in \
        one_error_line(capsys, "validate")
    assert not (tmp_path / "out").exists()
