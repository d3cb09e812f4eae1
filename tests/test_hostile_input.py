"""Hostile and careless input, concurrency and resource limits: each case gets one
clear line and exit code 2, writes nothing, overwrites nothing, and never hangs."""

from __future__ import annotations

import errno
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
    assert "--seed: got -1; allowed: an integer from 0 to " in one_error_line(capsys, "run")
    assert main(["compare", str(a), str(b), "--seed", "-1", "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 2
    assert "--seed: got -1; allowed: an integer from 0 to " in one_error_line(capsys, "compare")
    assert not (tmp_path / "out").exists()


def test_run_steps_on_the_command_line_have_the_files_cap(tmp_path, capsys):
    from sim.io.scenario import META_FIELDS

    cap = META_FIELDS["steps"].metadata["hi"]
    assert main(["run", str(scenario(tmp_path)), "--steps", str(cap + 1), "--out",
                 str(tmp_path / "out")]) == 2
    assert f"--steps: got {cap + 1}; allowed: an integer from 0 to {cap:,}" in \
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


# -- results folders: links, --force, long names, read-only places, full disks --------------------
COMPARE = ["--reps", "2", "--steps", "2", "--workers", "1", "--no-progress"]


def compare_args(tmp_path: Path, out: Path | str, *extra: str) -> list[str]:
    a, b = scenario(tmp_path, "a"), scenario(tmp_path, "b")
    return ["compare", str(a), str(b), *COMPARE, "--out", str(out), *extra]


@pytest.mark.parametrize("target", ["folder", "file", "dangling"])
def test_a_symbolic_link_as_out_is_refused_and_left_alone(tmp_path, capsys, target):
    real = tmp_path / "real"
    if target == "folder":
        real.mkdir()
    elif target == "file":
        real.write_text("mine")
    link = tmp_path / "link"
    link.symlink_to(real)
    before = tree(tmp_path)
    assert main(["run", str(scenario(tmp_path)), "--out", str(link), "--force"]) == 2
    assert f"{link}: is a symbolic link (to {real})" in one_error_line(capsys, "run")
    assert main(compare_args(tmp_path, link, "--force")) == 2
    assert "is a symbolic link" in one_error_line(capsys, "compare")
    assert link.is_symlink()
    assert tree(tmp_path) == sorted({*before, "small.toml", "a.toml", "b.toml"})  # no strays


@pytest.mark.parametrize("out", ["", ".", "..", "x" * 300])
def test_an_out_that_names_no_new_folder_is_refused_before_anything_runs(tmp_path, capsys,
                                                                         monkeypatch, out):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    a = scenario(tmp_path, "a")
    assert main(["run", str(a), "--out", out]) == 2
    one_error_line(capsys, "run")
    assert main(compare_args(tmp_path, out)) == 2
    one_error_line(capsys, "compare")
    assert main(["sweep", str(a), "--out", out]) == 2
    one_error_line(capsys, "sweep")
    assert main(["calibrate", str(a), "--out", out]) == 2
    one_error_line(capsys, "calibrate")
    assert list(work.iterdir()) == []


def test_force_never_removes_a_folder_that_is_not_clustersim_output(tmp_path, capsys):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.tex").write_text("three years of work")
    assert main(compare_args(tmp_path, mine, "--force")) == 2
    assert "--force refused: it is not a clustersim results folder" in \
        one_error_line(capsys, "compare")
    assert main(["run", str(scenario(tmp_path)), "--out", str(mine), "--force"]) == 2
    assert "--force refused" in one_error_line(capsys, "run")
    assert (mine / "thesis.tex").read_text() == "three years of work"
    # clustersim's own results are replaced
    out = tmp_path / "out"
    assert main(["run", str(scenario(tmp_path)), "--out", str(out)]) == 0
    assert main(["run", str(scenario(tmp_path)), "--out", str(out), "--seed", "1",
                 "--force"]) == 0
    assert json.loads((out / "run.json").read_text())["seed"] == 1
    assert not [p for p in tmp_path.iterdir() if ".old-" in p.name or ".tmp-" in p.name]


def test_force_never_removes_a_folder_another_command_holds(tmp_path):
    from sim.core.errors import InputError
    from sim.io.output import remove_ours, write_marker

    out = tmp_path / "out"
    out.mkdir()
    write_marker(out, "sweep")
    with claim_folder(out), pytest.raises(InputError, match="another clustersim command"):
        remove_ours(out)
    assert out.is_dir()


CLI = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())"]


def test_a_second_compare_force_during_the_first_ones_report_is_refused(tmp_path, capsys,
                                                                        monkeypatch):
    """The race that lost a comparison: a second ``compare --force`` into the folder while the
    first writes its report. The first keeps its lock to the last file: the second is refused
    and the first comparison is whole."""
    import pandas as pd

    from sim.studies import report

    out = tmp_path / "cmp"
    second = {}
    render = report.render_html

    def second_command_meanwhile(*args, **kwargs):
        assert (out / "summary.csv").is_file()  # the report phase has begun
        second["run"] = subprocess.run(
            [*CLI, *compare_args(tmp_path, out, "--force"), "--seed", "7"],
            capture_output=True, text=True, timeout=300)
        return render(*args, **kwargs)

    monkeypatch.setattr(report, "render_html", second_command_meanwhile)
    assert main(compare_args(tmp_path, out)) == 0
    lost = second["run"]
    assert lost.returncode == 2, lost.stderr
    assert lost.stderr.strip().splitlines() == [
        f"clustersim compare: error: {out}: another clustersim command is writing to it; "
        "wait for it to finish, or give another --out"]
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 4
    assert set(runs["status"]) == {"ok"}
    assert len(list((out / "runs").glob("*.json"))) == 4
    assert (out / "report.html").is_file()
    assert json.loads((out / "comparison.json").read_text())["seed"] == 0


@pytest.fixture
def read_only(tmp_path):
    """An empty folder nobody may write to: a read-only mount (as root) or mode 555."""
    place = tmp_path / "ro"
    place.mkdir()
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs",
                                  str(place)], capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("root without mount: nothing is read-only to it")
    else:
        place.chmod(0o555)
    yield place
    if mounted:
        subprocess.run(["umount", str(place)], check=True)
    else:
        place.chmod(0o755)


@pytest.mark.parametrize("inside", [False, True])
def test_a_read_only_place_is_refused_with_one_line(tmp_path, capsys, read_only, inside):
    out = read_only / "out" if inside else read_only
    assert main(["run", str(scenario(tmp_path)), "--out", str(out)]) == 2
    assert "cannot be written to" in one_error_line(capsys, "run")
    assert main(compare_args(tmp_path, out)) == 2
    assert "cannot be written to" in one_error_line(capsys, "compare")
    assert list(read_only.iterdir()) == []


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "somewhere/file.parquet")


def test_a_full_disk_during_a_run_is_one_line_and_leaves_no_half_folder(tmp_path, capsys,
                                                                         monkeypatch):
    from sim.io import output

    monkeypatch.setattr(output, "summary_figure", no_space)
    out = tmp_path / "out"
    assert main(["run", str(scenario(tmp_path)), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "No space left on device" in err[0]
    assert tree(tmp_path) == ["small.toml"]


def test_a_full_disk_during_a_comparison_keeps_the_finished_runs_to_resume(tmp_path, capsys,
                                                                           monkeypatch):
    from sim.studies.sweep.store import SweepStore

    write = SweepStore.write_run
    written = []

    def fills_up(self, row, series):
        if len(written) == 2:
            no_space()
        write(self, row, series)
        written.append(row["id"])

    monkeypatch.setattr(SweepStore, "write_run", fills_up)
    out = tmp_path / "cmp"
    assert main(compare_args(tmp_path, out)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "the disk or your quota is full" in err[0]
    assert "run the same command again to resume" in err[0]
    assert sorted(p.stem for p in (out / "runs").glob("*.json")) == sorted(written)
    monkeypatch.setattr(SweepStore, "write_run", write)
    assert main(compare_args(tmp_path, out)) == 0
    assert "2 runs now, 2 already done" in capsys.readouterr().out


# -- one input path: calibration files and --set held to the rules of scenario files ------------
def calibration(tmp_path: Path, text: str | None = None, name: str = "cal") -> Path:
    from tests.test_calibrate import TOY

    path = tmp_path / f"{name}.toml"
    path.write_text(TOY.replace("samples = 240", "samples = 4") if text is None else text)
    return path


def toy_with(**changes: str) -> str:
    from tests.test_calibrate import TOY

    text = TOY.replace("samples = 240", "samples = 4")
    for old, new in changes.values():
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "fifo", "folder"])
def test_a_calibration_file_is_read_as_safely_as_a_scenario(tmp_path, capsys, device):
    path = Path(device)
    if device == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif device == "folder":
        path = tmp_path
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "allowed: a calibration file (TOML)" in one_error_line(capsys, "calibrate")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("text", "fragment"), [
    (toy_with(big=("[design]", "#" + "x" * (1 << 20) + "\n[design]")), "larger than 1,024 KiB"),
    (toy_with(deep=("[design]", "x = " + "[" * 5000 + "]" * 5000 + "\n[design]")),
     "nested more than 32 levels"),
    (toy_with(name=('name = "toy"', 'name = ".."')), "calibration.name: got '..'"),
    (toy_with(value=("value = ", "value = 1e308 #"), tol=("tolerance = 0.3", "tolerance = 1e308")),
     "targets.y.value: got 1e+308; allowed: a number within +-1e+12"),
    (toy_with(tol=("tolerance = 0.3", "tolerance = 1e-300")),
     "targets.y.tolerance: got 1e-300 around value"),
    (toy_with(refine=("[acceptance]", "[refine]\nreplicates = 2000000\n\n[acceptance]")),
     "refine.replicates: got 2000000; allowed: an integer from 0 to 10,000"),
    (toy_with(weight=('fit = ["y"]', 'fit = ["y"]\nweights = {y = inf}')),
     "patterns.weights.y: got inf"),
    (toy_with(range=("range = [0.0, 1.5]", "range = [-1e308, 1e308]")),
     "whose width high - low overflows"),
])
def test_calibration_numbers_are_checked_after_arithmetic_before_any_run(tmp_path, capsys, text,
                                                                         fragment):
    path = calibration(tmp_path, text)
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys, "calibrate")
    assert line.startswith(f"clustersim calibrate: error: {path}: ")  # the user's file
    assert fragment in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("item", "fragment"), [
    ("coop_benefit=" + "[" * 5000 + "]" * 5000, "nested more than 32 levels"),
    ('interventions.cfc.name="../x"', "allowed: a non-empty name of letters, digits"),
])
def test_set_values_follow_the_rules_of_files(tmp_path, capsys, item, fragment):
    cfc = Path(__file__).parents[1] / "scenarios" / "cfc.toml"
    assert main(["run", str(cfc), "--set", item, "--out", str(tmp_path / "out")]) == 2
    assert fragment in one_error_line(capsys, "run")
    assert not (tmp_path / "out").exists()


# -- terminal safety ------------------------------------------------------------------------------
ESCAPES = "\x1b]0;owned\x07\x1b[2J\r\n"


def test_control_characters_in_names_and_keys_are_shown_not_obeyed(tmp_path, capsys):
    evil = ESCAPES.encode("unicode_escape").decode().replace("\\x", "\\u00")  # TOML escapes
    named = tmp_path / "named.toml"
    named.write_text(one_town_toml(evil, 2))
    keyed = tmp_path / "keyed.toml"
    keyed.write_text(one_town_toml("k", 2) + f'\n[params.cooperation]\n"x{evil}" = 1\n')
    assert main(["validate", str(named), str(keyed)]) == 2
    shown = capsys.readouterr()
    assert "\\x1b]0;owned\\x07\\x1b[2J\\r\\n" in shown.out
    assert "\\x1b]0;owned" in shown.err
    assert main(["run", str(named), "--out", str(tmp_path / "out")]) == 0
    assert main([*compare_args(tmp_path, tmp_path / "cmp"), "--set", f"x{ESCAPES}=1"]) == 2
    shown = capsys.readouterr()
    for text in (shown.out, shown.err):
        assert not any(c in text for c in "\x1b\x07\r"), text
    assert shown.err.count("\n") == 1  # one error line, none forged
