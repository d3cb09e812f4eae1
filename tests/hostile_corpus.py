"""The hostile corpus: what a careless or hostile user gives each command that runs the model.

:func:`build` writes the input files of every case into a folder and returns the cases: for
``run``, ``compare``, ``robust``, ``sweep``, ``calibrate`` and ``validate``, every kind of input
(``file``: scenario, experiment and calibration files that are missing, folders, FIFOs, devices,
too large, nested too deep, malformed or full of terminal control characters; ``option``: months,
replicates, futures, seeds, widths and workers past their caps; ``set``: ``--set`` values nested
too deep, names that break the rules of files, values a study would override; ``out``: empty,
``.``, links, long names, read-only places, files, system folders, folders of the user's or held
by another command; ``disk``: the disk filling up mid-way; ``text``: control characters that must
reach the terminal escaped). Each case says whether it must be refused (one line, non-zero exit,
nothing lost) or accepted (exit 0), whether it needs a process of its own (a hang or a memory
blow-up must be seen from outside), and what must survive it.

``tests/test_hostile_corpus.py`` runs the cases and counts them by outcome. To look at the corpus
itself: ``python -m tests.hostile_corpus DIR`` writes it into DIR and lists the cases.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from tests.conftest import one_town_toml

__all__ = ["Case", "build", "COMMANDS", "KINDS"]

COMMANDS = ("run", "compare", "robust", "sweep", "calibrate", "validate")
KINDS = ("file", "option", "set", "out", "disk", "text")
ROOT = Path(__file__).resolve().parents[1]
#: Terminal control sequences: retitle the window, ring, clear the screen, forge a line.
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m\r\n"
#: The same, spelled as TOML escapes (a file can hold them only so).
TOML_ESCAPES = "\\u001b]0;owned\\u0007\\u001b[2J\\u001b[31m\\r\\n"


@dataclass
class Case:
    """One hostile input.

    Attributes
    ----------
    name, command, kind
        What it is, which command it is given to, which kind of input it is (:data:`KINDS`).
    argv : list of str
        The command's arguments (``clustersim`` left out).
    expect : str
        ``refused`` (one error line, a non-zero exit code) or ``accepted`` (exit code 0).
    fresh : bool
        Run in a process of its own, under a memory cap and a timeout (a read without end, a
        hang or a memory blow-up cannot be seen from inside).
    keep : tuple of Path
        Files and folders whose content must be unchanged afterwards (lost work otherwise).
    hold : Path, optional
        A results folder another command holds while this one runs.
    patch : callable, optional
        A context manager the case runs under (a disk that fills up).
    after : callable, optional
        ``after()`` returns what was lost (a string) or None.
    """

    name: str
    command: str
    kind: str
    argv: list[str]
    expect: str = "refused"
    fresh: bool = False
    keep: tuple[Path, ...] = ()
    hold: Path | None = None
    patch: Callable[[], contextlib.AbstractContextManager] | None = None
    after: Callable[[], str | None] | None = None
    cwd: Path | None = None
    notes: str = field(default="", repr=False)


ISHIGAMI = """
[experiment]
name = "{name}"
model = "ishigami"
{steps}
[design]
method = "grid"
replicates = {reps}
seed = {seed}

[[factors]]
path = "x1"
range = [-3.0, 3.0]
num = 3

[outputs]
final = ["y"]
"""


def _experiment(name: str = "exp", steps: str = "steps = 6", reps: str = "2",
                seed: str = "5") -> str:
    return ISHIGAMI.format(name=name, steps=steps + "\n" if steps else "", reps=reps, seed=seed)


def _calibration(**changes: tuple[str, str]) -> str:
    from tests.test_calibrate import TOY

    text = TOY.replace("samples = 240", "samples = 4")
    for old, new in changes.values():
        if old not in text:
            raise ValueError(f"{old!r} is not in the toy calibration")
        text = text.replace(old, new, 1)
    return text


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def _bad_files(root: Path, kind: str, good: str) -> dict[str, tuple[Path, bool]]:
    """Input files of ``kind`` (scenario, experiment, calibration) a command must refuse:
    name -> (path, fresh)."""
    d = root / f"bad-{kind}"
    d.mkdir()
    fifo = d / "fifo.toml"
    os.mkfifo(fifo)
    lines = good.splitlines(keepends=True)
    return {
        "missing": (d / "missing.toml", False),
        "folder": (d, False),
        "fifo": (fifo, True),
        "dev-zero": (Path("/dev/zero"), True),
        "dev-urandom": (Path("/dev/urandom"), True),
        "2MiB": (_write(d / "big.toml", good + "#" + "x" * (2 << 20) + "\n"), False),
        "nested-5000": (_write(d / "deep.toml", "x = " + "[" * 5000 + "]" * 5000 + "\n"
                               + good), False),
        "nested-40": (_write(d / "deep40.toml", good + "x = " + "[" * 40 + "]" * 40 + "\n"),
                      False),
        "malformed": (_write(d / "malformed.toml", good.replace("=", "==", 1)), False),
        "binary": (_write(d / "binary.toml", os.urandom(4096)), False),
        "latin-1": (_write(d / "latin1.toml", ("# caf\xe9\n" + good).encode("latin-1")), False),
        "empty": (_write(d / "empty.toml", ""), False),
        "truncated": (_write(d / "truncated.toml", "".join(lines[: len(lines) // 2])
                             + "[unfinished"), False),
        "unknown-key-escapes": (_write(d / "escapes.toml", good + f'\n"k{TOML_ESCAPES}" = 1\n'),
                                False),
    }


def _disk_full_after(writes: int):
    """A context manager under which the sweep store's ``writes + 1``-th run write fails with
    ENOSPC (the disk filled up mid-way)."""
    from sim.studies.sweep.store import SweepStore

    write = SweepStore.write_run
    done: list[str] = []

    def fills_up(self, row, series):
        if len(done) >= writes:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.runs_dir))
        write(self, row, series)
        done.append(row["id"])

    return mock.patch.object(SweepStore, "write_run", fills_up)


def _figure_disk_full():
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "summary.png")

    return mock.patch("sim.io.output.summary_figure", no_space)


def _runs_kept(folder: Path, n: int) -> Callable[[], str | None]:
    def check() -> str | None:
        kept = len(list(folder.glob("*.json"))) if folder.is_dir() else 0
        return None if kept == n else f"{kept} finished runs kept in {folder}, not {n}"

    return check


def _nothing_in(folder: Path, *, itself: bool = True) -> Callable[[], str | None]:
    """A check that a refused command left nothing: no ``folder`` (or, without ``itself``,
    nothing in it) and no temporary or lock file of it beside it."""
    def check() -> str | None:
        left = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        if itself and (folder.exists() or folder.is_symlink()):
            left.append(folder.name)
        if folder.parent.is_dir():
            left += [p.name for p in folder.parent.glob(f".{folder.name}.*")]
        return f"left {left} in or beside {folder}" if left else None

    return check


def build(root: str | Path) -> list[Case]:
    """Write the corpus's files into ``root`` (an empty folder) and return its cases."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    a = _write(root / "a.toml", one_town_toml("a", 2))
    b = _write(root / "b.toml", one_town_toml("b", 2))
    cfc = ROOT / "scenarios" / "cfc.toml"
    exp = _write(root / "exp.toml", _experiment())
    cal = _write(root / "cal.toml", _calibration())
    unicode_name = _write(root / "unicode.toml", one_town_toml("Hébron – 東京 ✓", 2))
    escaped_name = _write(root / "escaped.toml", one_town_toml(f"ev{TOML_ESCAPES}il", 2))
    user = root / "thesis"
    _write(user / "thesis.tex", "three years of work\n")
    ro = root / "read-only"
    ro.mkdir()
    out = root / "out"
    out.mkdir()
    cases: list[Case] = []

    def add(name, command, kind, argv, **kw):
        cases.append(Case(f"{command}/{kind}/{name}", command, kind, [command, *argv], **kw))

    quick = {  # the smallest study of each command
        "run": [str(a)],
        "compare": [str(a), str(b), "--reps", "2", "--workers", "1", "--no-progress"],
        "robust": [str(a), str(b), "--futures", "2", "--reps", "1", "--workers", "1",
                   "--no-progress"],
        "sweep": [str(exp), "--workers", "1", "--no-progress"],
        "calibrate": [str(cal), "--workers", "1", "--no-progress"],
    }
    runs_of = {"compare": "runs", "robust": "runs", "sweep": "runs", "calibrate": "sweep/runs"}

    def o(name: str) -> str:
        return str(out / name)

    # -- files ------------------------------------------------------------------------------
    scen_bad = _bad_files(root, "scenario", a.read_text())
    for what, (path, fresh) in scen_bad.items():
        # an empty scenario file is the default scenario: every key has a default
        legit = "accepted" if what == "empty" else "refused"
        add(what, "validate", "file", [str(path)], fresh=fresh, expect=legit)
        add(what, "run", "file", [str(path), "--steps", "2", "--out", o(f"run-file-{what}")],
            fresh=fresh, expect=legit, after=None if what == "empty" else _nothing_in(
                out / f"run-file-{what}"))
        add(what, "compare", "file", [str(a), str(path), *quick["compare"][2:], "--out",
                                      o(f"cmp-file-{what}")], fresh=fresh)
        add(what, "robust", "file", [str(path), str(b), *quick["robust"][2:], "--out",
                                     o(f"rob-file-{what}")], fresh=fresh)
    for what, (path, fresh) in _bad_files(root, "experiment", exp.read_text()).items():
        add(what, "sweep", "file", [str(path), "--workers", "1", "--out", o(f"sw-file-{what}")],
            fresh=fresh)
    for what, (path, fresh) in _bad_files(root, "calibration", cal.read_text()).items():
        add(what, "calibrate", "file", [str(path), "--workers", "1", "--out",
                                        o(f"cal-file-{what}")], fresh=fresh)
    cal_bad = {
        "value+tolerance-overflow": {"v": ("value = ", "value = 1e308 #"),
                                     "t": ("tolerance = 0.3", "tolerance = 1e308")},
        "tolerance-lost-in-rounding": {"v": ("value = ", "value = 1e11 #"),
                                       "t": ("tolerance = 0.3", "tolerance = 1e-9")},
        "value-nan": {"v": ("value = ", "value = nan #")},
        "tolerance-inf": {"t": ("tolerance = 0.3", "tolerance = inf")},
        "name-dotdot": {"n": ('name = "toy"', 'name = ".."')},
        "name-slash": {"n": ('name = "toy"', 'name = "../../etc"')},
        "name-escapes": {"n": ('name = "toy"', f'name = "t{TOML_ESCAPES}"')},
        "target-key-escapes": {"k": ("[targets.y]", f'[targets."y{TOML_ESCAPES}"]')},
        "refine-2000000": {"r": ("[acceptance]", "[refine]\nreplicates = 2000000\n\n"
                                                 "[acceptance]")},
        "samples-1e9": {"s": ("samples = 4", "samples = 1000000000")},
        "replicates-1e9": {"s": ("samples = 4", "samples = 4\nreplicates = 1000000000")},
        "seed-negative": {"s": ("seed = 3", "seed = -1")},
        "seed-2^70": {"s": ("seed = 3", f"seed = {2**70}")},
        "weight-inf": {"w": ('fit = ["y"]', 'fit = ["y"]\nweights = {y = inf}')},
        "weight-1e308": {"w": ('fit = ["y"]', 'fit = ["y"]\nweights = {y = 1e308}')},
        "range-overflow": {"r": ("range = [0.0, 1.5]", "range = [-1e308, 1e308]")},
        "range-nan": {"r": ("range = [0.0, 1.5]", "range = [nan, 1.5]")},
        "quantile-2": {"q": ('rule = "both"\nquantile = 0.1', 'rule = "both"\nquantile = 2')},
    }
    for what, changes in cal_bad.items():
        path = _write(root / "cal-bad" / f"{what}.toml", _calibration(**changes))
        add(what, "calibrate", "file", [str(path), "--workers", "1", "--out",
                                        o(f"cal-{what}")])
    exp_bad = {
        "steps-1e9": _experiment(steps="steps = 1000000000"),
        "replicates-1e9": _experiment(reps="1000000000"),
        "seed-negative": _experiment(seed="-1"),
        "seed-2^70": _experiment(seed=str(2**70)),
        "name-escapes": _experiment(name=f"e{TOML_ESCAPES}"),
    }
    cluster = ('[experiment]\nmodel = "cluster"\nscenario = "../a.toml"\n\n[design]\n'
               'method = "grid"\nseed = 1\n\n{rest}\n[outputs]\nfinal = ["firms"]\n')
    exp_bad["factor-steps-1e9"] = cluster.format(
        rest='[[factors]]\npath = "steps"\nlevels = [2, 1000000000]\n')
    exp_bad["override-steps-1e9"] = cluster.format(
        rest='[overrides]\nsteps = 1000000000\n\n[[factors]]\npath = "coop_benefit"\n'
             'levels = [0.01, 0.02]\n')
    for what, text in exp_bad.items():
        path = _write(root / "exp-bad" / f"{what}.toml", text)
        add(what, "sweep", "file", [str(path), "--workers", "1", "--no-progress", "--out",
                                    o(f"sw-{what}")], fresh=what == "replicates-1e9",
            expect="accepted" if what == "name-escapes" else "refused")
    scen_numbers = {
        "steps-1e9": one_town_toml("s", 1_000_000_000),
        "steps-100001": one_town_toml("s", 100_001),
        "firms-1e12": one_town_toml("s", 2, count=10**12),
        "param-nan": one_town_toml("s", 2) + "\n[params.cooperation]\ncoop_benefit = nan\n",
        "param-inf": one_town_toml("s", 2) + "\n[params.cooperation]\ncoop_benefit = inf\n",
    }
    for what, text in scen_numbers.items():
        path = _write(root / "scen-bad" / f"{what}.toml", text)
        add(what, "validate", "file", [str(path)])
        add(what, "run", "file", [str(path), "--out", o(f"run-{what}")], fresh=True)

    # -- options ----------------------------------------------------------------------------
    options = {
        "run": [["--steps", "100001"], ["--steps", "-1"], ["--steps", "1000000000"],
                ["--seed", "-1"], ["--seed", str(2**70)], ["--threads", "0"],
                ["--threads", "1000000"]],
        "compare": [["--reps", "1"], ["--reps", "0"], ["--reps", "1000000000"],
                    ["--reps", "many"], ["--reps", "auto"], ["--reps", "auto", "--width", "inf"],
                    ["--reps", "auto", "--width", "nan"], ["--reps", "auto", "--width", "0"],
                    ["--reps", "auto", "--width", "-1"], ["--reps", "auto", "--width", "5",
                                                          "--max-reps", "1000000000"],
                    ["--width", "5"], ["--steps", "1000000000"], ["--steps", "0"],
                    ["--seed", "-1"], ["--seed", str(2**70)], ["--workers", "0"],
                    ["--workers", "1000000"], ["--target", "jobz"],
                    ["--scheduler", "nowhere"], ["--reps", "9000", "--steps", "100000"]],
        "robust": [["--futures", "1"], ["--futures", "1000000000"], ["--futures", "1000000"],
                   ["--reps", "0"], ["--reps", "1000000000"], ["--seed", "-1"],
                   ["--seed", str(2**70)], ["--steps", "1000000000"], ["--steps", "0"],
                   ["--peel-alpha", "nan"], ["--peel-alpha", "0.7"], ["--workers", "0"],
                   ["--workers", "1000000"], ["--uncertain", "trust_gian"],
                   ["--uncertain", "coop_benefit=1:0"], ["--uncertain", "coop_benefit=nan:1"],
                   ["--uncertain", "coop_benefit=-inf:inf"], ["--target", "jobz"]],
        "sweep": [["--workers", "0"], ["--workers", "1000000"], ["--scheduler", "nowhere"],
                  ["--scheduler", "tcp://127.0.0.1:1"]],
        "calibrate": [["--workers", "0"], ["--workers", "1000000"],
                      ["--scheduler", "nowhere"]],
    }
    for command, variants in options.items():
        for i, extra in enumerate(variants):
            base = _without_option(quick[command], extra)
            add(f"{i:02d}{''.join(extra)[:40]}", command, "option",
                [*base, *extra, "--out", o(f"{command}-opt-{i}")],
                fresh=any(v in extra for v in ("1000000000", "1000000", "9000")),
                after=_nothing_in(out / f"{command}-opt-{i}"))

    # -- --set ------------------------------------------------------------------------------
    sets = [("nested-5000", "coop_benefit=" + "[" * 5000 + "]" * 5000, "refused"),
            ("table-nested-40", "coop_benefit=" + "{a=" * 40 + "1" + "}" * 40, "refused"),
            ("name-dotdot", 'interventions.cfc.name="../x"', "refused"),
            ("name-escapes", f'interventions.cfc.name="c{TOML_ESCAPES}"', "refused"),
            ("name-taken", 'interventions.cfc.name="cfc"', "accepted"),
            ("name-ok", 'interventions.cfc.name="centre"', "accepted"),
            ("unknown-key", "coop_benefitt=0.1", "refused"),
            ("key-escapes", f"x{ESCAPES}=1", "refused"),
            ("steps-1e9", "steps=1000000000", "refused"),
            ("value-nan", "coop_benefit=nan", "refused"),
            ("value-inf", "coop_benefit=inf", "refused"),
            ("no-equals", "coop_benefit", "refused"),
            ("empty-key", "=1", "refused"),
            ("bare-word", "coop_benefit=lots", "refused")]
    for what, item, expect in sets:
        add(what, "run", "set", [str(cfc), "--steps", "2", "--set", item, "--out",
                                 o(f"run-set-{what}")], expect=expect)
        add(what, "compare", "set", [str(cfc), str(cfc), "--steps", "2",
                                     *quick["compare"][2:], "--set", item, "--out",
                                     o(f"cmp-set-{what}")], expect=expect)
        add(what, "robust", "set", [str(cfc), str(cfc), "--steps", "2", *quick["robust"][2:],
                                    "--set", item, "--out", o(f"rob-set-{what}")],
            expect=expect)
    add("varied-also", "robust", "set", [*quick["robust"], "--set", "coop_benefit=0.03",
                                         "--out", o("rob-set-varied")])
    add("varied-also-group", "robust", "set", [*quick["robust"], "--set",
                                               "cooperation.coop_benefit=0.03", "--out",
                                               o("rob-set-varied-group")])
    add("fixed-not-varied", "robust", "set", [*quick["robust"], "--set", "coop_benefit=0.03",
                                              "--uncertain", "trust_gain", "--out",
                                              o("rob-set-fixed")], expect="accepted")

    # -- output folders ---------------------------------------------------------------------
    link_dir = root / "link-to-dir"
    link_dir.symlink_to(out)
    dangling = root / "dangling"
    dangling.symlink_to(root / "nowhere")
    link_parent = root / "link-parent"
    link_parent.symlink_to(out)
    a_file = a
    for command in ("run", "compare", "robust", "sweep", "calibrate"):
        base = quick[command]
        outs = {"empty": "", "dot": ".", "dotdot": "..", "link-to-folder": str(link_dir),
                "link-dangling": str(dangling), "name-300": str(out / ("x" * 300)),
                "path-5000": str(out / "/".join(["y" * 200] * 25)),
                "under-a-file": str(a_file / "out"), "under-proc": "/proc/clustersim/out",
                "read-only": str(ro / "out"), "read-only-itself": str(ro),
                "escapes": str(out / f"{command}{ESCAPES}".replace("\n", "").replace("\r", ""))}
        for what, path in outs.items():
            expect = "accepted" if what == "escapes" else "refused"
            add(what, command, "out", [*base, "--out", path], expect=expect,
                keep=(a, link_dir, dangling, out / "keep.txt"), cwd=root / "cwd-empty",
                after=None if expect == "accepted" else _nothing_in(root / "cwd-empty",
                                                                    itself=False))
        add("under-a-link-parent", command, "out",
            [*base, "--out", str(link_parent / f"{command}-via-link")], expect="accepted")
        held = out / f"{command}-held"
        add("held-by-another", command, "out", [*base, "--out", str(held)], hold=held)
        if command in ("run", "compare", "robust"):
            add("force-on-users-folder", command, "out", [*base, "--out", str(user), "--force"],
                keep=(user,))
            add("force-on-a-file", command, "out", [*base, "--out", str(user / "thesis.tex"),
                                                    "--force"], keep=(user,))
            ours = out / f"{command}-ours"
            add("first", command, "out", [*base, "--out", str(ours)], expect="accepted")
            add("force-on-own-results", command, "out", [*base, "--seed", "1", "--out",
                                                         str(ours), "--force"],
                expect="accepted")
            add("force-while-held", command, "out", [*base, "--seed", "2", "--out", str(ours),
                                                     "--force"], hold=ours, keep=(ours,))
        else:
            add("users-folder", command, "out", [*base, "--out", str(user)], keep=(user,))
    (out / "keep.txt").write_text("kept\n")
    (root / "cwd-empty").mkdir()

    # -- a full disk ------------------------------------------------------------------------
    add("enospc-figure", "run", "disk", [*quick["run"], "--out", o("run-disk")],
        patch=_figure_disk_full, after=_nothing_in(out / "run-disk"))
    for command in ("compare", "robust", "sweep", "calibrate"):
        folder = out / f"{command}-disk"
        add("enospc-after-2-runs", command, "disk", [*quick[command], "--out", str(folder)],
            patch=lambda: _disk_full_after(2), after=_runs_kept(folder / runs_of[command], 2))
        add("resume-after-enospc", command, "disk", [*quick[command], "--out", str(folder)],
            expect="accepted")

    # -- text that reaches the terminal -----------------------------------------------------
    add("escaped-name", "validate", "text", [str(escaped_name)], expect="accepted")
    add("escaped-name", "run", "text", [str(escaped_name), "--out", o("run-esc")],
        expect="accepted")
    add("escaped-name", "compare", "text", [str(escaped_name), str(a), *quick["compare"][2:],
                                            "--out", o("cmp-esc")], expect="accepted")
    add("escaped-name", "robust", "text", [str(escaped_name), str(a), *quick["robust"][2:],
                                           "--out", o("rob-esc")], expect="accepted")
    add("unicode-name", "run", "text", [str(unicode_name), "--out", o("run-uni")],
        expect="accepted")
    add("unicode-name", "validate", "text", [str(unicode_name)], expect="accepted")
    add("unicode-name", "compare", "text", [str(unicode_name), str(a), *quick["compare"][2:],
                                            "--out", o("cmp-uni")], expect="accepted")
    add("escaped-path", "validate", "text", [str(root / f"no{ESCAPES}such.toml")])
    add("escaped-path", "sweep", "text", [str(root / f"no{ESCAPES}such.toml"), "--out",
                                          o("sw-esc")])
    add("escaped-path", "calibrate", "text", [str(root / f"no{ESCAPES}such.toml"), "--out",
                                              o("cal-esc")])
    for command in ("run", "compare", "robust", "sweep", "calibrate"):
        add("plain", command, "text", [*quick[command], "--out", o(f"{command}-plain")],
            expect="accepted")
    add("plain", "validate", "text", [str(a), str(cfc)], expect="accepted")
    return cases


def _without_option(base: list[str], extra: list[str]) -> list[str]:
    """``base`` without the options ``extra`` gives again (and their values)."""
    given = {x for x in extra if x.startswith("--")}
    kept, skip = [], False
    for x in base:
        if skip:
            skip = False
            continue
        if x in given:
            skip = x != "--no-progress"
            continue
        kept.append(x)
    return kept


if __name__ == "__main__":  # pragma: no cover - a look at the corpus
    for case in build(sys.argv[1]):
        print(f"{case.name:60s} {case.expect:9s} {'fresh' if case.fresh else ''}")
