"""Running a sweep: sequentially in this process, on local worker processes, or on a Dask cluster.

The runs themselves are pure: :func:`execute_run` takes a
:class:`~sim.studies.sweep.experiment.RunSpec` (parameters, seed, what to keep) and returns the
run's row and series; it never touches the disk and never reads worker state, so a run gives the
same result wherever it runs. Only this process writes, through
:class:`~sim.studies.sweep.store.SweepStore`, one file per finished run, moved into place
atomically. Starting the same command again after any interruption runs exactly the runs that have
no file yet.

Small runs go to the workers in batches (:func:`batches`, :func:`execute_batch`): one task runs
several runs of one scenario in one process with the kernels and the scenario loaded once and
only the kept outcomes recorded, and each run is still stored as its own file, so a sweep resumes
at run granularity (a batch a killed worker was running is run again, to the same bits).

Parallel runs go through Dask: a ``distributed.LocalCluster`` of single-threaded worker processes
on this machine by default, or an existing cluster given by its scheduler address. A run whose
model raises is recorded as failed, with its error; a run lost with its worker is rescheduled by
Dask, and if it cannot be completed at all it is left missing (to be retried by the next start),
never recorded half-done.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.core import compiling, interrupts
from sim.core.errors import InputError, printable
from sim.io.limits import check_workers
from sim.io.output import check_out_folder
from sim.studies.sweep import models
from sim.studies.sweep.experiment import Experiment, RunSpec, load_experiment
from sim.studies.sweep.store import SweepStore

__all__ = ["SweepSummary", "execute_run", "execute_batch", "iter_batch", "batches", "run_sweep",
           "default_workers"]

#: Most runs handed to a worker at once (see :func:`batches`).
MAX_BATCH = 64
#: Batches per worker a large sweep is cut into: enough for balance and a live progress bar.
BATCHES_PER_WORKER = 16
#: Environment passed on to local worker processes when set here (numba's on-disk cache, so
#: kernels compile once per machine; thread counts).
INHERITED_ENV = ("NUMBA_CACHE_DIR", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS")


@dataclass
class SweepSummary:
    """What a call of :func:`run_sweep` did (``wall`` and ``startup`` in seconds; ``startup``
    is the time to start or reach the Dask cluster, included in ``wall``)."""

    name: str
    out: Path
    total: int
    already: int = 0
    ok: int = 0
    failed: int = 0
    lost: int = 0
    wall: float = 0.0
    startup: float = 0.0
    mode: str = "sequential"
    failures: list[str] = field(default_factory=list)
    lost_errors: list[str] = field(default_factory=list)
    failed_total: int = 0

    @property
    def ran(self) -> int:
        return self.ok + self.failed

    @property
    def nothing_to_do(self) -> bool:
        return self.ran == 0 and self.lost == 0 and self.already == self.total

    @property
    def exit_code(self) -> int:
        """0 when every run of the design is finished (ok or failed), else 1."""
        return 0 if self.already + self.ran == self.total else 1

    def __str__(self) -> str:
        if self.nothing_to_do:
            return (f"sweep {self.name!r}: nothing to do: all {self.total} runs are already in "
                    f"{self.out} ({self.failed_total} failed)")
        rate = self.ran / self.wall * 60 if self.wall > 0 else float("nan")
        lines = [
            f"sweep {self.name!r} ({self.mode}): {self.ran} runs in {self.wall:.1f} s "
            f"({rate:.1f} runs/min): {self.ok} ok, {self.failed} failed"
            + (f"; {self.already} were already done" if self.already else ""),
            f"{self.already + self.ran} of {self.total} runs are in {self.out}"
            f" ({self.failed_total} failed in all)",
        ]
        lines += [f"  failed: {msg}" for msg in self.failures[:5]]
        if len(self.failures) > 5:
            lines.append(f"  ... and {len(self.failures) - 5} more failures (see runs.parquet)")
        if self.lost:
            lines.append(f"{self.lost} runs could not be completed (lost workers?); run the "
                         "same command again to finish them")
            lines += [f"  lost: {msg}" for msg in self.lost_errors[:3]]
        return "\n".join(lines)


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# -- one run ---------------------------------------------------------------------------------------
def _thin_series(series: pd.DataFrame, spec: RunSpec) -> pd.DataFrame:
    missing = [n for n in spec.series if n not in series.columns]
    if "step" not in series.columns or missing:
        raise KeyError(f"the model's series has no column {(missing or ['step'])[0]!r}; it "
                       f"has: {', '.join(map(str, series.columns))}")
    steps = series["step"].to_numpy()
    keep = (steps % spec.every == 0) | (steps == steps.max())
    out = series.loc[keep, ["step", *spec.series]].reset_index(drop=True)
    out.insert(0, "replicate", spec.replicate)
    out.insert(0, "point", spec.point)
    out.insert(0, "run_id", spec.id)
    out["step"] = out["step"].astype(np.int64)
    for n in spec.series:
        out[n] = out[n].astype(np.float64)
    return out


def _base_row(spec: RunSpec) -> dict[str, Any]:
    return {"id": spec.id, "point": spec.point, "replicate": spec.replicate, "seed": spec.seed,
            **spec.factors}


def _shaped(spec: RunSpec, row: dict[str, Any], result) -> pd.DataFrame | None:
    """Fill ``row`` with a successful run's final outcomes; its kept series (or None)."""
    finals = {}
    for name in spec.final:
        if name not in result.final:
            raise KeyError(f"the model reported no outcome {name!r}; it reports: "
                           f"{', '.join(sorted(result.final))}")
        finals[name] = float(result.final[name])
    series = _thin_series(result.series, spec) if spec.series else None
    row.update(status="ok", error=None, traceback=None, **finals)
    return series


def _failed(spec: RunSpec, row: dict[str, Any], exc: BaseException) -> None:
    row.update({n: None for n in spec.final})
    row.update(status="failed", error=f"{type(exc).__name__}: {exc}",
               traceback="".join(traceback.format_exception(exc)))


def execute_run(spec: RunSpec) -> dict[str, Any]:
    """Run one simulation and shape its result; never raises for the model's own errors.

    Returns
    -------
    dict
        ``row``: the run's row (id, point, replicate, seed, status, error, wall_time, factor
        values, final outcomes, traceback); ``series``: a DataFrame or None.
    """
    t0 = time.perf_counter()
    row, series = _base_row(spec), None
    try:
        result = models.get(spec.model).simulate(spec.scenario, steps=spec.steps,
                                                 seed=spec.seed, overrides=spec.overrides)
        series = _shaped(spec, row, result)
    except Exception as exc:  # the run failed; the sweep goes on and records why
        series = None
        _failed(spec, row, exc)
    row["wall_time"] = time.perf_counter() - t0
    return {"row": row, "series": series}


def iter_batch(specs: list[RunSpec]) -> Iterator[dict[str, Any]]:
    """The runs of one batch (same model, scenario, months and outcomes kept) in this process,
    shaped as :func:`execute_run` shapes them and yielded as each finishes. The model runs them
    with :meth:`sim.studies.sweep.models.Model.simulate_many`: kernels and scenario loaded once,
    only what is kept recorded; every value kept is the one :func:`execute_run` would keep."""
    first = specs[0]
    runs = models.get(first.model).simulate_many(
        first.scenario, steps=first.steps, seeds=[s.seed for s in specs],
        overrides=[dict(s.overrides) for s in specs], final=first.final, series=first.series,
        every=first.every)
    t0 = time.perf_counter()
    for spec in specs:
        row, series = _base_row(spec), None
        try:
            result = next(runs)
            if isinstance(result, Exception):
                raise result
            series = _shaped(spec, row, result)
        except Exception as exc:  # the run failed; the batch goes on and records why
            series = None
            _failed(spec, row, exc)
        now = time.perf_counter()
        row["wall_time"], t0 = now - t0, now
        yield {"row": row, "series": series}


def execute_batch(specs: list[RunSpec]) -> list[dict[str, Any]]:
    """:func:`iter_batch` as a list: what a Dask worker returns for one task."""
    return list(iter_batch(specs))


def _batch_key(spec: RunSpec) -> tuple:
    return (spec.model, spec.scenario, spec.steps, spec.final, spec.series, spec.every)


def batches(specs: list[RunSpec], workers: int) -> list[list[RunSpec]]:
    """Consecutive runs that share a model, scenario, months and kept outcomes, in batches of
    about ``len(specs) / (workers * BATCHES_PER_WORKER)`` runs (at most :data:`MAX_BATCH`):
    a large sweep of small runs pays a worker's hand-over once a batch instead of once a run,
    while every worker still gets many batches (balance, progress) and a batch lost to a
    killed worker costs little to run again. A small sweep runs one run a batch."""
    size = max(1, min(MAX_BATCH, len(specs) // max(1, workers * BATCHES_PER_WORKER)))
    out: list[list[RunSpec]] = []
    for spec in specs:
        if out and len(out[-1]) < size and _batch_key(out[-1][0]) == _batch_key(spec):
            out[-1].append(spec)
        else:
            out.append([spec])
    return out


# -- executors -------------------------------------------------------------------------------------
def _sequential(specs: list[RunSpec]) -> Iterator[tuple[dict | None, str | None]]:
    for batch in batches(specs, 1):
        for result in iter_batch(batch):  # each run is stored as soon as it finishes
            yield result, None


def _on_dask(client, specs: list[RunSpec],
             workers: int) -> Iterator[tuple[dict | None, str | None]]:
    from distributed import as_completed

    groups = batches(specs, workers)
    keys = [f"clustersim-runs-{g[0].id}-{len(g)}" for g in groups]
    size = dict(zip(keys, map(len, groups), strict=True))
    futures = client.map(execute_batch, groups, key=keys)
    # results are fetched by the client's event loop as they finish; errors come back as values
    pending = as_completed(futures, with_results=True, raise_errors=False)
    del futures  # as_completed holds each future until it is yielded; then it can be freed
    try:
        for fut, result in pending:
            if fut.status == "finished":
                for one in result:
                    yield one, None
            else:  # lost worker (KilledWorker), cancelled, ...
                exc = result[1] if isinstance(result, tuple) else result
                for _ in range(size[fut.key]):
                    yield None, f"{type(exc).__name__}: {exc}"
            fut.release()
    finally:
        pending.clear()


def _worker_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    # one core per worker process: no numba thread pool competing with the other workers
    env.setdefault("NUMBA_NUM_THREADS", "1")
    return env


def _probe(address: str) -> None:
    """Fail fast (OSError) when nothing listens at a ``tcp://host:port`` address; Dask's own
    client would keep retrying until its timeout."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme in ("tcp", "tls") and parts.hostname and parts.port:
        socket.create_connection((parts.hostname, parts.port), timeout=10).close()


#: Schemes of a scheduler address that --scheduler accepts.
SCHEMES = ("tcp", "tls")
_ADDRESS = "tcp://HOST:PORT or tls://HOST:PORT"


def check_scheduler(address: str) -> str:
    """Check a ``--scheduler`` address before anything is written: its form, TLS settings for a
    ``tls://`` address, and that something listens there. Returns the address with its scheme.

    Raises
    ------
    InputError
        Naming ``--scheduler`` and what is allowed.
    """
    full = address if "://" in address else f"tcp://{address}"
    try:
        parts = urlsplit(full)
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if parts is None or parts.scheme not in SCHEMES or not parts.hostname or not port \
            or parts.path not in ("", "/"):
        raise InputError("--scheduler", "", f"got {address!r}; allowed: {_ADDRESS}, the "
                         "address a running Dask scheduler prints")
    if parts.scheme == "tls":
        import dask

        missing = [k for k in ("ca-file", "client.cert") if not dask.config.get(
            f"distributed.comm.tls.{k}", None)]
        if missing:
            raise InputError("--scheduler", "", f"got {address!r}, a TLS address, but the Dask "
                             "configuration has no " + " and no ".join(
                                 f"distributed.comm.tls.{k}" for k in missing)
                             + "; allowed: a tls:// address with the client's certificate set "
                             "in the Dask configuration (see docs/sweeps.md)")
    try:
        _probe(full)
    except OSError as exc:
        raise InputError("--scheduler", "", f"cannot reach the Dask scheduler at "
                         f"{address}: {exc}") from None
    return full


#: Seconds to wait for a first worker on a --scheduler cluster before warning (and waiting on).
NO_WORKERS_WARNING_S = 60.0


def wait_for_a_worker(client, address: str, timeout: float | None = None) -> None:
    """Return once the cluster has a worker; after ``timeout`` seconds without one, say so on
    stderr (once) and keep waiting: a scheduler without workers would otherwise wait silently
    forever."""
    timeout = NO_WORKERS_WARNING_S if timeout is None else timeout
    try:
        client.wait_for_workers(1, timeout=timeout)
        return
    except TimeoutError:
        print(f"clustersim sweep: warning: no Dask worker has joined the scheduler at {address} "
              f"after {timeout:g} s; still waiting (start workers with `dask worker "
              f"{address}`, or press Ctrl-C)", file=sys.stderr, flush=True)
    client.wait_for_workers(1)


@contextlib.contextmanager
def _quiet_interrupts():
    """Local worker processes started in this block ignore SIGINT: a Ctrl-C in the terminal
    (sent to the whole process group) stops this process, which shuts the cluster down,
    instead of making every worker print its own traceback."""
    try:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals are not ours to change
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def _dask_client(workers: int | None, scheduler: str | None):
    from distributed import Client, LocalCluster
    from distributed.security import Security

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise InputError("--scheduler", "", f"cannot reach the Dask scheduler at "
                             f"{scheduler}: {exc}") from None
        with _restore_logging(), client, _quiet_shutdown():
            wait_for_a_worker(client, scheduler)
            yield client, f"Dask cluster at {scheduler}"
        return
    # The local cluster talks TLS with a certificate made for it and held in memory, on random
    # ports of 127.0.0.1, and serves no dashboard: another user of this machine can neither
    # find it nor run code in its workers. The scheduler's HTTP server (which Dask starts even
    # without a dashboard) gets a random port and no routes.
    import dask

    with (dask.config.set({"distributed.scheduler.http.routes": []}), _quiet_interrupts()):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               protocol="tls://", security=Security.temporary(),
                               host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
                               silence_logs=logging.CRITICAL, env=_worker_env())
    # (a run's own errors are recorded with the run, and a lost worker's in the summary)
    with (_restore_logging(), cluster, Client(cluster, security=cluster.security) as client,
          _quiet_shutdown()):
        yield client, f"{workers} local worker processes"


@contextlib.contextmanager
def _quiet_shutdown():
    """On Ctrl-C, silence the logs of the shutdown that follows: the connections the closing
    cluster breaks are expected then, and the command says in one line what it kept."""
    try:
        yield
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)
        raise


@contextlib.contextmanager
def _restore_logging():
    """Put back, once the cluster is closed, what :func:`_quiet_shutdown` silenced."""
    before = logging.root.manager.disable
    try:
        yield
    finally:
        logging.disable(before)


def _warm_up() -> bool:
    """Import what a run needs, once per worker, before the first run starts (and fail early,
    with a clear message, on workers where clustersim is not installed)."""
    import sim.studies.sweep.runner  # noqa: F401 - the import is the point

    return True


# -- the sweep -------------------------------------------------------------------------------------
def run_sweep(experiment: str | Path, out: str | Path, *, workers: int | None = None,
              scheduler: str | None = None, retry_failed: bool = False,
              progress: bool = True, replicates: int | None = None) -> SweepSummary:
    """Run every run of an experiment that ``out`` does not hold yet.

    Parameters
    ----------
    experiment : str, Path or Experiment
        The experiment file (validated first; nothing is written if it is wrong), or an
        experiment made in code (a comparison, :func:`sim.studies.compare.comparison_of`).
    out : str or Path
        The sweep directory; created, or resumed if it holds the same design.
    workers : int, optional
        Local worker processes; default: this machine's cores. ``1`` runs in this process,
        one run after the other.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``) to submit the runs to.
    retry_failed : bool
        Run again the runs recorded as failed.
    progress : bool
        Show a progress bar on stderr.
    replicates : int, optional
        Run only the replicates below this number (the rest of the design stays to do);
        ``clustersim compare --reps auto`` adds replicates this way.

    Returns
    -------
    SweepSummary

    Raises
    ------
    InputError
        A bad experiment file, a directory holding another design, or an unreachable scheduler.
    """
    check_out_folder(out)  # before anything is read there: '', a link, a read-only place
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    design = exp.design
    store = SweepStore(out)
    store.check(exp)  # refuse a foreign or different directory before writing anything
    if scheduler is not None and workers is not None:
        raise InputError("--workers", "", "not used with --scheduler (the cluster has its own "
                         "workers); give one or the other")
    check_workers(workers)
    n_workers = workers or default_workers()
    if scheduler is not None:  # fail before writing anything
        scheduler = check_scheduler(scheduler)

    with store.lock():
        store.prepare(exp, design)
        done = set(store.run_files())
        failed_before = store.failed_ids() if done else set()
        if retry_failed:
            done -= failed_before
        wanted = [r for r in design.runs if replicates is None or r.replicate < replicates]
        todo = [r for r in wanted if r.id not in done]
        summary = SweepSummary(name=exp.name, out=store.out, total=len(wanted),
                               already=len(wanted) - len(todo))
        if not todo:
            store.consolidate()
            summary.failed_total = len(failed_before)
            return summary

        t0 = time.perf_counter()
        bar = _progress(progress, exp.name, summary)
        try:
            if scheduler is None and n_workers == 1:
                summary.mode = "sequential, in this process"
                _collect(_sequential(todo), store, summary, bar)
            else:
                if scheduler is None:
                    # the first run of each scenario here, before the local workers start: a
                    # cold machine compiles the kernels once, in this process (a scenario's
                    # policies may call kernels another's do not), and the workers load them
                    # from the cache (a remote cluster's machines keep caches of their own)
                    summary.mode = "in this process (the only runs)"
                    first = _first_of_each_scenario(todo)
                    compiling.ahead(lambda: _collect(_sequential(first), store, summary, bar))
                    done_here = {r.id for r in first}
                    todo = [r for r in todo if r.id not in done_here]
                if todo:
                    with _dask_client(n_workers, scheduler) as (client, mode):
                        summary.mode = mode
                        try:
                            client.run(_warm_up)
                        except ImportError as exc:
                            raise InputError("--scheduler", "", f"the Dask workers cannot "
                                             f"import clustersim ({exc}); install "
                                             "msme-clustersim, the same version, where the "
                                             "workers run") from None
                        summary.startup = time.perf_counter() - t0
                        _collect(_on_dask(client, todo, n_workers), store, summary, bar)
        finally:
            bar.close()
            summary.wall = time.perf_counter() - t0
            store.consolidate()
        summary.failed_total = len(store.failed_ids())
    return summary


#: Most runs made in the sweep's own process before its local workers start (one a scenario).
AHEAD_MAX = 8


def _first_of_each_scenario(specs: list[RunSpec]) -> list[RunSpec]:
    """The first run of each model and scenario, in order (at most :data:`AHEAD_MAX`)."""
    seen: dict[tuple, RunSpec] = {}
    for spec in specs:
        seen.setdefault((spec.model, spec.scenario), spec)
    return list(seen.values())[:AHEAD_MAX]


def _progress(enabled: bool, name: str, summary: SweepSummary):
    return tqdm(total=summary.total, initial=summary.already, desc=printable(name), unit="run",
                disable=not enabled, file=sys.stderr, dynamic_ncols=True, smoothing=0.05)


def _collect(results: Iterable[tuple[dict | None, str | None]], store: SweepStore,
             summary: SweepSummary, bar) -> None:
    for result, lost in results:
        if result is None:
            summary.lost += 1
            summary.lost_errors.append(lost)
            continue
        if interrupts.requested():  # a run cut short by Ctrl-C is not a result: keep it out
            raise KeyboardInterrupt
        row = result["row"]
        store.write_run(row, result["series"])
        if row["status"] == "ok":
            summary.ok += 1
        else:
            summary.failed += 1
            summary.failures.append(f"run {row['id']} (point {row['point']}, replicate "
                                    f"{row['replicate']}): {row['error']}")
        bar.update(1)
        bar.set_postfix_str(f"ok={summary.ok} failed={summary.failed}", refresh=False)
