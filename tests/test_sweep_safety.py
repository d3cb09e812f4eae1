"""Sweeps under concurrency, interruption and hostile input, and the security of their Dask
clusters."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sim.cli import main
from sim.studies.sweep import SweepStore, run_sweep
from sim.studies.sweep import runner as sweep_runner

GRID = """
[experiment]
model = "ishigami"
steps = 6

[design]
method = "grid"
replicates = {reps}
seed = 5

[overrides]
cost_ms = {cost}

[[factors]]
path = "x1"
range = [-3.0, 3.0]
num = 3

[outputs]
final = ["y"]
"""


def experiment(tmp_path: Path, reps: int = 2, cost: float = 0.0) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(GRID.format(reps=reps, cost=cost))
    return path


def one_error_line(capsys, command: str = "sweep") -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"clustersim {command}: error: "), err
    return lines[0]


# -- two sweeps, one folder -----------------------------------------------------------------------
def test_the_losing_sweep_is_told_another_sweep_is_writing(tmp_path, capsys):
    exp, out = experiment(tmp_path), tmp_path / "out"
    with SweepStore(out).lock():
        # what the winner's folder may look like to the loser at any moment
        for name in ("runs", "series"):
            (tmp_path / name).mkdir()
        out.mkdir()
        (out / "runs").mkdir()
        assert main(["sweep", str(exp), "--out", str(out), "--workers", "1",
                     "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert f"{out}: another sweep is writing to this directory" in line
    assert "not a sweep directory" not in line


def test_a_sweep_killed_while_preparing_its_folder_starts_again(tmp_path, capsys):
    exp, out = experiment(tmp_path), tmp_path / "out"
    # the process dies (as with kill -9: no clean-up runs) in the middle of the preparation
    code = textwrap.dedent(f"""
        import os, shutil
        import sim.studies.sweep.store as store
        from sim.studies.sweep import run_sweep

        def die(*args, **kwargs):
            os._exit(9)

        store.shutil.copyfile = die
        run_sweep({str(exp)!r}, {str(out)!r}, workers=1, progress=False)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 9, done.stderr
    assert not out.exists()  # nothing half-made under the sweep's name
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    assert "6 of 6 runs are in" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml", "out"]  # no leftovers


# -- bad --out and --scheduler: refused before anything is written ---------------------------------
@pytest.mark.parametrize("where", ["proc", "file"])
def test_sweep_refuses_an_out_under_proc_or_a_file(tmp_path, capsys, where):
    exp = experiment(tmp_path)
    out = Path("/proc/clustersim-test/out") if where == "proc" else exp / "out"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"clustersim sweep: error: {out}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]


@pytest.mark.parametrize(("address", "fragment"), [
    ("not-an-address", "got 'not-an-address'; allowed: tcp://HOST:PORT or tls://HOST:PORT"),
    ("tcp://127.0.0.1:notaport", "allowed: tcp://HOST:PORT or tls://HOST:PORT"),
    ("http://127.0.0.1:8786", "allowed: tcp://HOST:PORT or tls://HOST:PORT"),
    ("tls://127.0.0.1:1", "a TLS address, but the Dask configuration has no "
                          "distributed.comm.tls.ca-file"),
])
def test_a_bad_scheduler_address_is_refused_before_anything_is_written(tmp_path, capsys,
                                                                       address, fragment):
    exp, out = experiment(tmp_path), tmp_path / "out"
    assert main(["sweep", str(exp), "--out", str(out), "--scheduler", address,
                 "--no-progress"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("clustersim sweep: error: --scheduler: ")
    assert fragment in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.toml"]


# -- a scheduler without workers ----------------------------------------------------------------
class _NoWorkersYet:
    """A Dask client whose cluster gets its first worker only after the first wait."""

    def __init__(self):
        self.waits = []

    def wait_for_workers(self, n, timeout=None):
        self.waits.append(timeout)
        if len(self.waits) == 1:
            raise TimeoutError("no workers")


def test_a_scheduler_without_workers_gets_a_warning_not_silence(capsys):
    client = _NoWorkersYet()
    sweep_runner.wait_for_a_worker(client, "tcp://somewhere:8786", timeout=5)
    assert client.waits == [5, None]  # warned once, then waited on
    err = capsys.readouterr().err
    assert err == ("clustersim sweep: warning: no Dask worker has joined the scheduler at "
                   "tcp://somewhere:8786 after 5 s; still waiting (start workers with `dask "
                   "worker tcp://somewhere:8786`, or press Ctrl-C)\n")


def test_a_connected_scheduler_is_asked_for_workers(monkeypatch, tmp_path):
    asked = []

    def fake_wait(client, address, timeout=None):
        asked.append(address)
        raise KeyboardInterrupt  # stop there: there is nothing to run on

    monkeypatch.setattr(sweep_runner, "wait_for_a_worker", fake_wait)
    sched_file = tmp_path / "scheduler.json"
    proc = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
                             "--port", "0", "--no-dashboard", "--scheduler-file",
                             str(sched_file)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole, but give it a moment
        address = json.loads(sched_file.read_text())["address"]
        with pytest.raises(KeyboardInterrupt):
            run_sweep(experiment(tmp_path), tmp_path / "out", scheduler=address,
                      progress=False)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert asked == [address]


# -- the local cluster ----------------------------------------------------------------------------
@contextlib.contextmanager
def occupied(port: int):
    """Hold ``port`` on 127.0.0.1 if it is free (if it is not, someone else holds it)."""
    sock = socket.socket()
    try:
        with contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            sock.listen()
        yield
    finally:
        sock.close()


def test_the_local_cluster_is_private_and_needs_no_port_8787(tmp_path):
    with occupied(8787), sweep_runner._dask_client(2, None) as (client, mode):
        assert mode == "2 local worker processes"
        scheduler = client.cluster.scheduler
        assert scheduler.address.startswith("tls://127.0.0.1:")
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        assert all(w.startswith("tls://127.0.0.1:") for w in workers)
        # Dask starts an HTTP server even without a dashboard: on a random port of
        # 127.0.0.1, with nothing to serve (no dashboard, no address to read)
        http = scheduler.http_server
        assert http.address == "127.0.0.1"
        assert http.port != 8787
        base = f"http://127.0.0.1:{http.port}"
        for page in ("info/main/workers.html", "json/identity.json", "health", "metrics"):
            with pytest.raises(urllib.error.HTTPError, match="404"):
                urllib.request.urlopen(f"{base}/{page}", timeout=10)
        with urllib.request.urlopen(f"{base}/sitemap.json", timeout=10) as r:
            pages = json.loads(r.read())["paths"]
        for page in pages:  # what is left ("install bokeh for a dashboard") tells nothing
            with urllib.request.urlopen(base + page, timeout=10) as r:
                assert port_of(scheduler.address) not in r.read().decode()
        assert port_of(scheduler.address) != "8786"  # a random port, not Dask's default
        # a process without the cluster's certificate cannot talk to the scheduler
        host, port = scheduler.address.removeprefix("tls://").rsplit(":", 1)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _talk_tls_without_a_certificate(host, int(port))


def port_of(address: str) -> str:
    return address.rsplit(":", 1)[1]


def _talk_tls_without_a_certificate(host: str, port: int) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        tls.sendall(b"\0" * 64)
        if tls.recv(1) == b"":  # closed on us
            raise ConnectionError("closed")


def test_a_local_sweep_runs_while_port_8787_is_taken(tmp_path):
    with occupied(8787):
        summary = run_sweep(experiment(tmp_path), tmp_path / "out", workers=2, progress=False)
    assert summary.ok == 6


@pytest.mark.slow
def test_ctrl_c_prints_one_line(tmp_path):
    exp, out = experiment(tmp_path, reps=10, cost=300.0), tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(exp), "--out",
                             str(out), "--workers", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "runs").glob("*.json"))) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130
    assert err == "clustersim sweep: interrupted; finished work is kept\n"


# -- results, analyze, bench ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def a_sweep(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("sweep")
    exp = tmp / "exp.toml"
    exp.write_text(GRID.format(reps=2, cost=0.0).replace('final = ["y"]',
                                                        'final = ["y"]\nseries = ["y"]'))
    run_sweep(exp, tmp / "out", workers=1, progress=False)
    return tmp / "out"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("sql", [
    "copy runs to '{out}/runs.parquet' (format parquet)",
    "copy (select 1 as x) to '{out}/runs.parquet' (format parquet)",
    "copy (select 1 as x) to '{tmp}/elsewhere.csv'",
    "attach '{tmp}/new.db' as other",
    "attach '{out}/new.db' as other",
    "export database '{tmp}/exported'",
    "select * from read_csv('/etc/passwd')",
    "set enable_external_access = true",
    "install httpfs",
])
def test_results_sql_is_read_only(a_sweep, tmp_path, capsys, sql):
    before = snapshot(a_sweep)
    assert main(["results", str(a_sweep), "--sql", sql.format(out=a_sweep,
                                                               tmp=tmp_path)]) == 2
    line = one_error_line(capsys, "results")
    assert line.startswith("clustersim results: error: --sql: ")
    assert snapshot(a_sweep) == before
    assert list(tmp_path.iterdir()) == []


def test_results_sql_still_reads_every_view(a_sweep, capsys):
    assert main(["results", str(a_sweep), "--sql", "select (select count(*) from runs) as r, "
                 "(select count(*) from design) as d, (select count(distinct run_id) from "
                 "series) as s"]) == 0
    assert capsys.readouterr().out.split() == ["r", "d", "s", "6", "6", "6"]


def test_results_csv_is_not_overwritten_without_force(a_sweep, tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    csv.write_text("precious\n")
    assert main(["results", str(a_sweep), "--csv", str(csv)]) == 2
    assert f"{csv}: already exists; allowed: a new file, or --force to replace it" in \
        one_error_line(capsys, "results")
    assert csv.read_text() == "precious\n"
    assert main(["results", str(a_sweep), "--csv", str(csv), "--force"]) == 0
    assert csv.read_text().startswith("id,point,replicate,seed,status")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.csv"]  # no temporary left


@pytest.mark.parametrize("where", ["missing-folder", "proc", "under-a-file", "a-folder"])
def test_results_csv_to_a_bad_path_is_one_line(a_sweep, tmp_path, capsys, where):
    (tmp_path / "file").write_text("x")
    csv = {"missing-folder": tmp_path / "nowhere" / "r.csv",
           "proc": Path("/proc/r.csv"),
           "under-a-file": tmp_path / "file" / "r.csv",
           "a-folder": tmp_path}[where]
    assert main(["results", str(a_sweep), "--csv", str(csv)]) == 2
    assert one_error_line(capsys, "results").startswith(f"clustersim results: error: {csv}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize("resamples", ["0", "-5", "1", "100001"])
def test_analyze_refuses_a_resample_count_it_cannot_use(a_sweep, capsys, resamples):
    assert main(["analyze", str(a_sweep), "--resamples", resamples, "--no-figures"]) == 2
    assert f"--resamples: got {resamples}; allowed: an integer from 2 to 100,000" in \
        one_error_line(capsys, "analyze")
    assert not (a_sweep / "analysis").exists()


@pytest.mark.parametrize("where", ["proc", "under-a-file", "a-folder"])
def test_bench_json_to_a_bad_path_is_one_line_before_any_timing(tmp_path, capsys, where,
                                                                monkeypatch):
    import sim.bench.model

    def never(*args, **kwargs):  # pragma: no cover - reached only if the path is not checked
        raise AssertionError("the benchmark ran before its --json path was checked")

    monkeypatch.setattr(sim.bench.model, "run_benchmarks", never)
    (tmp_path / "file").write_text("x")
    path = {"proc": Path("/proc/bench/b.json"), "under-a-file": tmp_path / "file" / "b.json",
            "a-folder": tmp_path}[where]
    assert main(["bench", "--sizes", "100", "--json", str(path)]) == 2
    assert one_error_line(capsys, "bench").startswith(f"clustersim bench: error: {path}: ")


def test_bench_json_write_failure_is_one_line(tmp_path, capsys):
    from sim.cli.bench import _write
    from sim.core.errors import InputError

    path = tmp_path / "b.json"
    path.mkdir()  # appears after the check: writing fails
    with pytest.raises(InputError, match="cannot be written"):
        _write(path, {"x": 1.0})
