"""The hostile corpus (tests/hostile_corpus.py) on every command: each case is refused cleanly or
legitimately accepted; none is a traceback, a hang, a memory blow-up, a silent acceptance or lost
work.

Outcomes, by how a case ends:

- **refused**: a refusal expected, a non-zero exit code and exactly one line on stderr,
  ``clustersim COMMAND: error: ...``;
- **accepted**: an acceptance expected and exit code 0;
- **traceback**: anything else on stderr than that one line (a traceback, a warning, two lines),
  an exception out of the command, or a refusal where an acceptance was expected;
- **hang**: no end within the timeout (cases run in a process of their own);
- **memory**: the process ran out of the memory it was allowed (4 GiB);
- **silent**: exit code 0 where a refusal was expected, or a terminal control character that
  reached the terminal;
- **lost**: a file that had to survive changed or vanished, finished runs were not kept, or a
  refused command left files behind.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import io
import os
import resource
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from sim.cli import main
from sim.io.output import claim_folder
from tests.hostile_corpus import COMMANDS, KINDS, Case, build

CATEGORIES = ("refused", "accepted", "traceback", "hang", "memory", "silent", "lost")
BAD = CATEGORIES[2:]
#: Seconds a case in a process of its own may take (importing and a tiny study take ~10 s).
TIMEOUT = 120
#: Memory a case in a process of its own may take.
MEMORY = 4 << 30
#: What must not reach a terminal raw (a progress bar's own carriage returns may).
RAW = ("\x1b", "\x07")


def snapshot(paths) -> dict[str, object]:
    """What must survive: each link as its target, each file's bytes, each folder's files."""
    shot: dict[str, object] = {}
    for p in paths:
        if p.is_symlink():
            shot[str(p)] = ("link", os.readlink(p))
        elif p.is_file():
            shot[str(p)] = p.read_bytes()
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not f.is_symlink():
                    shot[str(f)] = f.read_bytes()
        else:
            shot[str(p)] = None
    return shot


def classify(case: Case, code: int | None, out: str, err: str, problem: str | None) -> str:
    """The outcome of one case (see the module docstring)."""
    if code is None:
        return "hang"
    if "MemoryError" in err or code == -signal.SIGKILL:
        return "memory"
    if problem:
        return "lost"
    if any(c in out + err for c in RAW):
        return "silent"
    lines = err.strip().splitlines()
    if code == 0:
        return "accepted" if case.expect == "accepted" else "silent"
    one_line = len(lines) == 1 and lines[0].startswith(f"clustersim {case.command}: error: ")
    return "refused" if one_line and case.expect == "refused" else "traceback"


def _limits() -> None:  # in the child, before it runs the command
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    os.setsid()


def run_fresh(case: Case) -> tuple[int | None, str, str]:
    """A case in a process of its own, under the memory cap and the timeout."""
    cmd = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main())",
           *case.argv]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, cwd=case.cwd, preexec_fn=_limits)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, "", ""
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def run_here(case: Case) -> tuple[int, str, str]:
    """A case in this process (its stdout and stderr captured)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        if case.cwd is not None:
            stack.enter_context(contextlib.chdir(case.cwd))
        if case.hold is not None:
            stack.enter_context(claim_folder(case.hold))
        if case.patch is not None:
            stack.enter_context(case.patch())
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = main(case.argv)
        except BaseException:  # noqa: BLE001 - whatever escapes the command is the finding
            code = 99
            err.write(traceback.format_exc())
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def read_only(place: Path):
    """``place`` (an empty folder) made read-only: mounted read-only as root, mode 555
    otherwise. Yields False when it cannot be made so."""
    if os.geteuid() == 0:
        made = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs",
                               str(place)], capture_output=True).returncode == 0
        try:
            yield made
        finally:
            if made:
                subprocess.run(["umount", str(place)], check=True)
        return
    place.chmod(0o555)
    try:
        yield True
    finally:
        place.chmod(0o755)


def run_corpus(cases: list[Case]) -> dict[str, tuple[str, str]]:
    """Run ``cases`` (those needing a process of their own four at a time, the others in
    this process, in order); each case's outcome and what it said."""
    results: dict[str, tuple[str, str]] = {}
    fresh = [c for c in cases if c.fresh]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        ran = dict(zip([c.name for c in fresh], pool.map(run_fresh, fresh), strict=True))
    for case in cases:
        before = snapshot(case.keep)
        code, out, err = ran[case.name] if case.fresh else run_here(case)
        problem = case.after() if case.after is not None and code is not None else None
        if problem is None and snapshot(case.keep) != before:
            problem = "a file that had to survive changed"
        results[case.name] = (classify(case, code, out, err, problem),
                              (problem or err.strip() or out.strip())[-300:])
    return results


def report(results: dict[str, tuple[str, str]]) -> None:
    """Print the counts by command and outcome; fail on any outcome worse than refused or
    accepted, listing each."""
    table = collections.Counter((name.split("/")[0], outcome)
                                for name, (outcome, _) in results.items())
    print(f"\n{'command':10s}" + "".join(f"{c:>10s}" for c in CATEGORIES))
    for command in COMMANDS:
        print(f"{command:10s}" + "".join(f"{table[(command, c)]:10d}" for c in CATEGORIES))
    print(f"{'all':10s}" + "".join(
        f"{sum(table[(m, c)] for m in COMMANDS):10d}" for c in CATEGORIES))
    worse = {name: r for name, r in results.items() if r[0] in BAD}
    assert not worse, "\n".join(f"{name}: {outcome}: {detail}"
                                for name, (outcome, detail) in worse.items())


@pytest.mark.slow  # about 25 s: every in-process case (CI runs it; make test-fast does not)
def test_the_corpus_in_this_process_is_refused_or_accepted_never_worse(tmp_path):
    cases = [c for c in build(tmp_path / "corpus") if not c.fresh]
    with read_only(tmp_path / "corpus" / "read-only") as possible:
        if not possible:
            cases = [c for c in cases if "read-only" not in c.name]
        results = run_corpus(cases)
    report(results)
    assert len(results) >= 250


@pytest.mark.slow  # about a minute: 38 processes of their own
def test_the_corpus_in_processes_of_their_own_never_hangs_or_exhausts_memory(tmp_path):
    """Devices, FIFOs and sizes past the caps, each in a process of its own under a memory cap
    and a timeout (about a minute on two cores)."""
    cases = [c for c in build(tmp_path / "corpus") if c.fresh]
    results = run_corpus(cases)
    report(results)
    assert len(results) >= 30


@pytest.mark.parametrize("kind", KINDS)
def test_the_corpus_covers_every_command_with_every_kind_of_input(tmp_path, kind):
    cases = build(tmp_path)
    commands = {c.command for c in cases if c.kind == kind}
    needs = {"file": set(COMMANDS), "option": set(COMMANDS) - {"validate"},
             "set": {"run", "compare", "robust"}, "out": set(COMMANDS) - {"validate"},
             "disk": set(COMMANDS) - {"validate"}, "text": set(COMMANDS)}[kind]
    assert needs <= commands


def test_the_apps_sliders_at_their_ends_build_a_model_or_say_why_in_one_line():
    """The classroom app's Reset with each slider at either end, on every shipped scenario for
    ``n_firms`` (the slider that replaced the page with a traceback): a model, or the one-line
    InputError or ValueError the page shows in place of the model; never another exception."""
    from sim.core.errors import InputError
    from sim.views.app import SLIDERS, Run, Settings, scenario_files

    tried: collections.Counter = collections.Counter()
    messages = []
    settings = [Settings(name, moved=(("n_firms", end),)) for name in scenario_files()
                for end in (SLIDERS["n_firms"].lo, SLIDERS["n_firms"].hi)]
    first = next(iter(scenario_files()))
    settings += [Settings(first, moved=((slider, getattr(spec, end)),))
                 for slider, spec in SLIDERS.items() for end in ("lo", "hi")]
    for s in settings:
        try:
            Run(s)
            tried["accepted"] += 1
        except (InputError, ValueError) as exc:
            messages.append(str(exc))
            tried["refused"] += 1
    print(dict(tried))
    assert tried["accepted"] > 0
    assert not [m for m in messages if "\n" in m]  # one line each
