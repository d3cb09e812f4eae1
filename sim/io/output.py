"""Writing a run's results: series, firm table, provenance and a summary figure.

Results are first written to a temporary folder beside the destination and moved into place
in one rename, so an interrupted run leaves nothing half-written; an existing destination is
never replaced by different content unless the caller asks for it. A command that writes a
results folder first claims it (:func:`claim_folder`): a second command aimed at the same folder
while the first runs is refused instead of silently overwriting it. Single files are written the
same way, to a temporary name beside them and moved into place (:func:`atomic_write`); every
command writes its files through it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.errors import InputError, printable
from sim.io.provenance import write_parquet

__all__ = ["atomic_write", "write_run", "summary_figure", "check_destination", "move_into_place",
           "new_temp_dir", "SAME_RUN_KEYS", "claim_folder", "check_out_path", "check_out_folder",
           "lock_path", "safe_component", "MARKER", "write_marker", "is_ours", "remove_ours",
           "holds_folder", "held_elsewhere", "claims_out", "MAX_NAME"]

#: A destination holding a run with these provenance values is the same run.
SAME_RUN_KEYS = ("version", "git_commit", "scenario_hash", "seed", "steps", "overrides")

FIGURE_PANELS = (
    ("firms", "Firms"),
    ("employment", "Employment (workers)"),
    ("mean_productivity", "Mean productivity"),
    ("cooperation_rate", "Cooperation rate"),
    ("mean_trust", "Mean trust"),
    ("jp_share", "Joint-purchasing share"),
    ("facilities_operating", "Facilities operating"),
    ("eg_gamma_mean", "Ellison-Glaeser gamma (mean)"),
    ("public_spending_total", "Public spending (cumulative)"),
)


#: Pseudo-filesystems where results cannot be written (their files are the kernel's).
PSEUDO_FS = (Path("/proc"), Path("/sys"))


def safe_component(text: str) -> str:
    """``text`` as one file-name component: anything but letters, digits, ``_``, ``-`` and
    ``.`` becomes ``_``, so that a name (a scenario's, say) with ``/`` or ``..`` in it cannot
    lead a default output path out of its folder. Prefix it (``run-``) before use: on its own
    it may still be ``..``."""
    return re.sub(r"[^\w.-]", "_", text, flags=re.ASCII) or "_"


def check_out_path(out: str | Path) -> Path:
    """Refuse an output path that cannot be written: empty, naming the current or parent
    folder, too long, under ``/proc`` or ``/sys``, below a path component that is a file, or in
    a place this process may not write to. Writes nothing; returns ``out`` as a Path.

    Raises
    ------
    InputError
        Naming ``out`` and what is allowed.
    """
    if str(out) == "":
        raise InputError("--out", "", "got ''; allowed: a folder or file name")
    text = str(out)
    if Path(text).name in ("", ".", "..") or text.endswith(("/.", "/..")) or text in (".", ".."):
        raise InputError(text, "", "names an existing folder itself (the current, parent or "
                         "root folder); allowed: a new folder's name, such as results/NAME")
    out = Path(out)
    absolute = Path(os.path.abspath(out))
    _check_length(text, absolute)
    for pseudo in PSEUDO_FS:
        if absolute == pseudo or pseudo in absolute.parents:
            raise InputError(str(out), "", f"is under {pseudo}, a system pseudo-filesystem; "
                             "allowed: a folder on a disk you can write to")
    for above in absolute.parents:
        if above.exists() or above.is_symlink():
            if not above.is_dir():
                raise InputError(str(out), "", f"{above} is a file, not a folder; allowed: "
                                 "a folder path whose parents are folders")
            if not os.access(above, os.W_OK | os.X_OK):
                raise InputError(str(out), "", f"{above} cannot be written to (read-only or "
                                 "not yours); allowed: a place you can write to")
            break
    if absolute.is_dir() and not os.access(absolute, os.W_OK | os.X_OK):
        raise InputError(str(out), "", "cannot be written to (read-only or not yours); "
                         "allowed: a folder you can write to")
    return out


#: Longest name (bytes) of an output folder or file: the system's 255 less room for the
#: temporary and lock names made beside it (``.NAME.tmp-XXXXXXXX``, ``.NAME.old-PID``).
MAX_NAME = 200


def _check_length(text: str, absolute: Path) -> None:
    limit = MAX_NAME
    try:
        path_max = os.pathconf("/", "PC_PATH_MAX")
    except (OSError, ValueError):  # pragma: no cover - not POSIX
        path_max = 4096
    name = os.fsencode(absolute.name)
    if len(name) > limit or any(len(os.fsencode(c)) > 255 for c in absolute.parts):
        raise InputError(text[:60] + "...", "", f"a name of {len(name):,} bytes; allowed: "
                         f"names of at most {limit} bytes")
    if len(os.fsencode(str(absolute))) > path_max - 2 * limit:
        raise InputError(text[:60] + "...", "", f"a path of {len(str(absolute)):,} characters; "
                         f"allowed: at most {path_max - 2 * limit:,}")


def check_out_folder(out: str | Path) -> Path:
    """:func:`check_out_path` for a results folder, which also may not be a symbolic link
    (results replace the folder whole, and ``--force`` removes it: the link's target is not
    the command's to replace). Writes nothing.

    Raises
    ------
    InputError
        Naming ``out``, and for a link where it points, so that the user can give that.
    """
    out = check_out_path(out)
    if os.path.islink(out):
        target = os.readlink(out)
        raise InputError(str(out), "", f"is a symbolic link (to {target}); allowed: a real "
                         "folder: give the folder it points to, or a new name")
    return out


#: The file every results folder holds, so that ``--force`` removes only the project's own
#: output (never a folder of the user's that happens to be given as ``--out``).
MARKER = ".clustersim-output"


def write_marker(folder: str | Path, kind: str) -> None:
    """Mark ``folder`` as results of clustersim (``kind``: run, sweep, calibration)."""
    atomic_write(Path(folder) / MARKER, json.dumps({"format": "clustersim-output/1",
                                                    "kind": kind}) + "\n")


def is_ours(folder: str | Path) -> bool:
    """Does ``folder`` hold this project's results (a :data:`MARKER` file)?"""
    folder = Path(folder)
    return folder.is_dir() and not folder.is_symlink() and (folder / MARKER).is_file()


def remove_ours(out: str | Path) -> None:
    """Remove the results folder ``out`` for ``--force``: only a folder of this project's
    results (:func:`is_ours`) that no other command holds.

    Raises
    ------
    InputError
        ``out`` is held by another command, is a link or a file, or holds anything but
        clustersim's results.
    """
    out = Path(out)
    if not holds_folder(out) and held_elsewhere(out):
        raise InputError(str(out), "", "another clustersim command is writing to it; wait "
                         "for it to finish, or give another --out")
    if not is_ours(out):
        raise InputError(str(out), "", f"--force refused: it is not a clustersim results "
                         f"folder (no {MARKER} file), so it may hold files of yours; allowed: "
                         "another --out, or remove it yourself")
    shutil.rmtree(out)


def atomic_write(path: str | Path, data: str | bytes | Callable[[Path], object]) -> None:
    """Write ``path`` whole or not at all: to a temporary file beside it, then ``os.replace``.

    ``data`` is the text (UTF-8), the bytes, or a function that writes the file it is given
    (a Parquet or CSV writer). The temporary file is named ``.NAME.PID.RANDOM.tmp``, so that a
    folder's leftovers of a killed writer can be found (``.*.tmp``) and removed.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        elif isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            data(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def lock_path(out: str | Path) -> Path:
    """The lock file of results folder ``out``: ``.NAME.lock`` beside it (not inside, since a
    finished folder is moved into place whole)."""
    absolute = Path(os.path.abspath(out))
    return absolute.with_name(f".{absolute.name}.lock")


@contextlib.contextmanager
def claim_folder(out: str | Path, busy: str = "another clustersim command is writing to "
                 "it", *, shared: bool = False) -> Iterator[Path]:
    """Hold results folder ``out`` for this process until the block ends.

    Takes an exclusive ``flock`` on :func:`lock_path` (creating ``out``'s parent folders if
    needed); a second claim of the same folder, from any process, fails at once. The lock is
    the system's: it goes with the process, even after ``kill -9``. On leaving, the lock file is
    removed, and so are the parent folders made for it if the block failed and left them empty:
    a refused command leaves nothing behind.

    With ``shared``, claims of the same folder nested in this block, in this process, share
    the lock (a study holds its folder from start to end, and its sweep claims it again);
    without it they are refused like another process's.

    Raises
    ------
    InputError
        ``out`` cannot be made (:func:`check_out_path`, or no permission), or another process
        holds it (the message says ``busy``).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        yield Path(out)
        return
    out = check_out_folder(out)
    lock = lock_path(out)
    if str(lock) in _HELD:
        if not _HELD[str(lock)]:
            raise InputError(str(out), "", f"{busy}; wait for it to finish, or give another "
                             "--out")
        yield out  # this process holds it, shared: a study around its own sweep
        return
    made = [d for d in (lock.parent, *lock.parent.parents) if not d.exists()]
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            fh = open(lock, "a+")  # noqa: SIM115 - closed below
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                raise InputError(str(out), "", f"{busy}; wait for it to finish, or give "
                                 "another --out") from None
            # the holder before us may have removed the file after we opened it: then our lock
            # is on a file nobody else will see; take the lock of the file that is there now
            try:
                if os.stat(lock).st_ino == os.fstat(fh.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            fh.close()
        else:  # pragma: no cover - three other commands came and went in between
            raise InputError(str(out), "", f"{busy}; wait for it to finish, or give another "
                             "--out")
    except OSError as exc:
        _remove_empty(made)
        raise InputError(str(out), "", f"cannot be created ({exc.strerror or exc}); allowed: "
                         "a folder in a place you can write to") from None
    except InputError:
        _remove_empty(made)
        raise
    ok = False
    _HELD[str(lock)] = shared
    try:
        yield out
        ok = True
    finally:
        del _HELD[str(lock)]
        with contextlib.suppress(OSError):
            lock.unlink()  # while still holding it: see the inode check above
        fh.close()
        if not ok:
            _remove_empty(made)


#: Lock files this process holds, and whether claims nested in the holder's may share them.
_HELD: dict[str, bool] = {}


def holds_folder(out: str | Path) -> bool:
    """Does this process hold results folder ``out`` for a study whose own steps (its sweep,
    its report) share the claim (:func:`claim_folder` with ``shared``)?"""
    return _HELD.get(str(lock_path(out)), False)


def held_elsewhere(out: str | Path) -> bool:
    """Does another process hold ``out``'s lock (:func:`claim_folder`)?"""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        return False
    try:
        fh = open(lock_path(out))  # noqa: SIM115 - closed below
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def claims_out(func: Callable) -> Callable:
    """Make ``func`` hold its ``out`` argument's folder (:func:`claim_folder`) from its first
    line to its last: a study's runs, report and figures are written under one lock, so a
    second command (``--force`` or not) cannot touch the folder until every file is written."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def held(*args, **kwargs):
        out = signature.bind(*args, **kwargs).arguments.get("out")
        if out is None:
            return func(*args, **kwargs)
        with claim_folder(out, shared=True):
            return func(*args, **kwargs)

    return held


def _remove_empty(folders: list[Path]) -> None:
    """Remove these folders (deepest first) if they are empty."""
    for d in folders:
        try:
            d.rmdir()
        except OSError:
            return


def check_destination(out: Path, prov: dict[str, Any], force: bool) -> bool:
    """Decide whether a run may be written to ``out``.

    Returns False if ``out`` already holds this very run (nothing to do), True if it may be
    written; raises InputError if ``out`` holds something else and ``force`` is not set.
    """
    if not out.exists():
        return True
    if out.is_file():
        raise InputError(str(out), "", "exists and is a file; allowed: a new or empty folder")
    if not any(out.iterdir()):
        return True
    old_file = out / "run.json"
    if old_file.is_file():
        try:
            old = json.loads(old_file.read_text())
        except (OSError, ValueError):
            old = {}
        same = all(_json_norm(old.get(k)) == _json_norm(prov.get(k)) for k in SAME_RUN_KEYS)
        if same and not str(prov.get("git_commit", "")).endswith("+dirty"):
            return False
    if force:
        if not is_ours(out):
            raise InputError(str(out), "", f"--force refused: it is not a clustersim results "
                             f"folder (no {MARKER} file), so it may hold files of yours; "
                             "allowed: another --out, or remove it yourself")
        return True
    raise InputError(str(out), "", "already holds different results; allowed: a new folder, "
                     "or --force to replace it")


def _json_norm(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def write_run(result, out: str | Path, force: bool = False) -> tuple[Path, bool]:
    """Write ``result`` (a :class:`sim.studies.simulate.RunResult`) into folder ``out``.

    Returns (folder, written); written is False when ``out`` already held this exact run.
    """
    out = Path(out)
    if not check_destination(out, result.provenance, force):
        return out, False
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temp_dir(out)
    try:
        prov = {k: v for k, v in result.provenance.items() if k != "params"}
        write_parquet(result.series, tmp / "timeseries.parquet", prov)
        result.series.to_csv(tmp / "timeseries.csv", index=False)
        write_parquet(result.firms, tmp / "firms.parquet", prov)
        if result.burn_in is not None and len(result.burn_in):  # recorded, apart and flagged
            write_parquet(result.burn_in, tmp / "burn_in.parquet", prov)
        run = dict(result.provenance)
        run["final"] = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                        for k, v in result.final.items()}
        (tmp / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
        summary_figure(result.series, tmp / "summary.png",
                       title=f"{run.get('scenario', '')} (seed {run.get('seed')})")
        write_marker(tmp, "run")
        move_into_place(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out, True


def new_temp_dir(out: Path) -> Path:
    """A temporary folder beside ``out`` with the permissions a new folder would get (mkdtemp
    makes private ones), to be filled and then moved into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    tmp.chmod(0o777 & ~mask)
    return tmp


def move_into_place(tmp: Path, out: Path) -> None:
    """Make the finished folder ``tmp`` (a sibling of ``out``) become ``out``, replacing any old
    ``out`` only once the new one is complete."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def summary_figure(series, path: str | Path, title: str = "") -> None:
    """A 3 x 3 grid of the headline series of one run, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(12, 8.5), sharex=True)
    for ax, (col, label) in zip(axes.flat, FIGURE_PANELS, strict=True):
        if col in series:
            ax.plot(series["step"], series[col], color="#1f5f8b", lw=1.6)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("month")
    if title:
        fig.suptitle(printable(title))  # a scenario's name: shown, not obeyed
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
