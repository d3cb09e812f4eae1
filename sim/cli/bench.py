"""``clustersim bench``: how fast the model and its kernels run on this machine."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark the model and its kernels",
                       description="Runs per hour of the shipped small workloads (a "
                       "calibration's run, a classroom scenario, Hebron, a compare replicate) "
                       "and the fixed cost of a month at 500 firms; firm-steps per second of "
                       "the default model at several sizes, and the speed-up of the numba "
                       "kernels over their Python twins. Medians of several repeats after a "
                       "warm-up.")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                   default=[2_000, 20_000, 200_000], help="comma-separated firm counts")
    p.add_argument("--threads", type=int, default=1, help="numba threads (default 1)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3, help="repeats (the median is reported)")
    p.add_argument("--throughput", action="store_true",
                   help="only the small-run figures: runs per hour and the cost of a month at "
                   "500 firms (about a minute)")
    p.add_argument("--against", type=Path, default=None, metavar="CHECKOUT",
                   help="before and after: this tree and another checkout of the project (the "
                   "commit before a change) measured alternately, each round in fresh "
                   "processes: a calibration run, the cost of a month at 500 firms and its "
                   "fixed part, firm-steps/s at 100,000 firms; medians and their ratios")
    p.add_argument("--rounds", type=int, default=3, help="rounds of --against (default 3)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    p.add_argument("--full", action="store_true",
                   help="the whole suite of docs/performance.md: 1,000 to 1,000,000 firms on "
                   "one thread and all cores, phase breakdown, peak memory of a 1,000,000-firm "
                   "100-step run, cold and warm start (takes several minutes)")
    p.add_argument("--large-firms", type=int, default=1_000_000, help=argparse.SUPPRESS)
    p.add_argument("--large-steps", type=int, default=100, help=argparse.SUPPRESS)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from sim.bench.model import run_benchmarks
    from sim.core.errors import InputError

    if any(n < 1 for n in args.sizes):
        raise InputError("--sizes", "", "allowed: positive integers separated by commas")
    if args.threads < 1 or args.steps < 1 or args.repeats < 1:
        raise InputError("--threads/--steps/--repeats", "", "allowed: integers >= 1")
    if args.json is not None:  # before minutes of timing, not after
        _check_json(args.json)
    say = lambda m: print(f"  timing {m} ...", file=sys.stderr)  # noqa: E731
    if args.against is not None:
        return _against(args, say)
    if args.full:
        from sim.bench.model import run_full_suite

        res = run_full_suite(progress=say, repeats=args.repeats, large_firms=args.large_firms,
                             large_steps=args.large_steps)
        _print_full(res)
        _print_throughput(res["throughput"], res["month_cost"])
        _write(args.json, res)
        return 0
    small = _small_runs(say, args.repeats)
    if args.throughput:
        from sim.bench.floor import kernel_floor

        floor = kernel_floor(repeats=max(args.repeats, 5), progress=say)
        _print_throughput(*small, floor=floor)
        _write(args.json, {"throughput": small[0], "month_cost": small[1],
                           "kernel_floor": floor})
        return 0
    res = run_benchmarks(args.sizes, threads=args.threads, steps=args.steps,
                         repeats=args.repeats,
                         progress=say)
    print(f"clustersim bench on {platform.machine()} ({res['threads']} thread(s))")
    print(f"{'firms':>10}  {'firm-steps/s':>14}  {'ms/step':>9}")
    for n, rate in res["firm_steps_per_s"].items():
        print(f"{int(n):>10,}  {rate:>14,.0f}  {1e3 * res['seconds_per_step'][n]:>9.2f}")
    print(f"numba kernels vs pure-Python twins at 2,000 firms: {res['numba_vs_python']:,.0f}x")
    for name, row in res["kernels"].items():
        print(f"  {name:<18} {row['ratio']:>8,.0f}x  ({1e6 * row['numba_s']:,.0f} us)")
    _print_app(res["app_1000"])
    _print_throughput(*small)
    res["throughput"], res["month_cost"] = small
    _write(args.json, res)
    return 0


def _small_runs(say, repeats: int) -> tuple[dict, dict]:
    from sim.bench.model import month_cost, throughput

    tp = throughput(repeats=max(repeats, 5), progress=say)
    say("the cost of a month at 500 and 5,000 firms on one thread")
    return tp, month_cost(repeats=max(repeats, 5))


def _print_throughput(tp: dict, month: dict, floor: dict | None = None) -> None:
    print(f"small runs, one warm worker per core on {tp['cores']} cores (median of "
          f"{tp['repeats']} runs each):")
    for name, row in tp["workloads"].items():
        print(f"  {name:<12} {row['runs_per_hour']:>9,.0f} runs/h  "
              f"({row['seconds_per_run']:.3f} s a run: {row['what']})")
    print(f"a month at {month['firms']:,} firms, one thread: {month['ms_per_month']:.2f} ms, of "
          f"which fixed {month['fixed_ms_per_month']:.2f} ms and "
          f"{month['per_firm_us']:.2f} us a firm; {month['firm_steps_per_s']:,.0f} firm-steps/s "
          f"({month['large_firm_steps_per_s']:,.0f} at {month['large_firms']:,} firms)")
    if floor is not None:
        print(f"a calibration run, one thread: {floor['run_s']:.3f} s, of which "
              f"{floor['kernel_s']:.3f} s ({100 * floor['kernel_share']:.0f}%) in "
              f"{floor['kernel_calls']:,.0f} kernel calls: with no Python around the kernels a "
              f"run would still take {floor['kernel_s']:.3f} s, at most "
              f"{1 / floor['kernel_share']:.1f}x faster than now")


#: What --against prints, in order: figure, label, unit, scale.
_AGAINST = (("calibration_cpu_s", "a calibration run, CPU", "s", 1.0),
            ("calibration_wall_s", "a calibration run, wall", "s", 1.0),
            ("ms_per_month_500_cpu", "a month at 500 firms, CPU", "ms", 1.0),
            ("fixed_ms_per_month_cpu", "  of which fixed", "ms", 1.0),
            ("firm_steps_per_s_100000_cpu", "firm-steps/s at 100,000 firms, CPU", "M", 1e-6))


def _against(args: argparse.Namespace, say) -> int:
    from sim.bench.against import against
    from sim.core.errors import InputError

    if args.rounds < 1:
        raise InputError("--rounds", "", "allowed: an integer >= 1")
    if not (args.against / "sim" / "model.py").is_file():
        raise InputError("--against", "", f"{args.against} is not a checkout of the model (no "
                         "sim/model.py); allowed: the folder of another checkout")
    try:
        res = against(args.against, rounds=args.rounds, repeats=max(args.repeats, 5),
                      progress=say)
    except RuntimeError as exc:
        raise InputError("--against", "", str(exc)) from None
    print(f"before ({args.against}) and after (this tree), {res['rounds']} alternating rounds, "
          "one thread; medians over rounds")
    print(f"  {'':<36} {'before':>11} {'after':>11} {'ratio':>7}")
    for key, label, unit, scale in _AGAINST:
        if key in res["after"] and key in res["before"]:
            print(f"  {label:<36} {scale * res['before'][key]:>8.3f} {unit:<2} "
                  f"{scale * res['after'][key]:>8.3f} {unit:<2} {res['ratio'][key]:>6.2f}x")
    before, after = (7200.0 / res[side]["calibration_cpu_s"] for side in ("before", "after"))
    print(f"  calibration runs per hour on 2 cores (2 x 3600 / CPU s): {before:,.0f} -> "
          f"{after:,.0f}")
    _write(args.json, {"against": res})
    return 0


def _print_app(app: dict) -> None:
    print(f"classroom app at 1,000 firms: {app['updates_per_s']:.1f} updates/s (step "
          f"{app['step_ms']:.1f} ms, map {app['map_ms']:.1f} ms, charts {app['charts_ms']:.1f} ms)")


def _write(path: Path | None, res: dict) -> None:
    from sim.io.provenance import provenance

    if path is None:
        return
    doc = {**res, "provenance": provenance(machine=platform.machine())}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    except OSError as exc:
        from sim.core.errors import InputError

        raise InputError(str(path), "", f"cannot be written ({exc.strerror or exc}); allowed: a "
                         "file in a folder you can write to") from None
    print(f"written: {path}")


def _check_json(path: Path) -> None:
    """Refuse a --json path that cannot be written: a folder, under /proc, below a file."""
    from sim.core.errors import InputError
    from sim.io.output import check_out_path

    if path.is_dir():
        raise InputError(str(path), "", "is a folder; allowed: the path of a JSON file")
    check_out_path(path)
    above = next(p for p in Path(os.path.abspath(path)).parents if p.exists())
    if not os.access(above, os.W_OK | os.X_OK):
        raise InputError(str(path), "", f"cannot be written (no permission in {above}); "
                         "allowed: a file in a folder you can write to")


def _print_full(res: dict) -> None:
    print(f"clustersim bench --full on {platform.machine()} ({res['cores']} cores)")
    print(f"{'firms':>10}  {'1 thread':>14}  {'all cores':>14}  {'speed-up':>8}  (firm-steps/s)"
          "  CPU/wall (1 thread, all)")
    one, par = res["firm_steps_per_s_threads_1"], res["firm_steps_per_s_threads_all"]
    speedup = res["parallel_speedup"]
    cpu1 = res.get("cpu_per_wall_threads_1", {})
    cpu_all = res.get("cpu_per_wall_threads_all", {})
    for n in one:
        print(f"{int(n):>10,}  {one[n]:>14,.0f}  {par[n]:>14,.0f}  {speedup[n]:>7.2f}x"
              f"  {cpu1.get(n, float('nan')):.2f}, {cpu_all.get(n, float('nan')):.2f}")
    quartiles = res.get("parallel_speedup_quartiles", {})
    if quartiles:
        print("speed-up: median over steps of (1-thread step / the same step on all cores); "
              "quartiles " + ", ".join(f"{int(n):,}: {q[0]:.2f}-{q[1]:.2f}"
                                       for n, q in quartiles.items()))
    big = res["large_run"]
    print(f"{big['firms']:,} firms x {big['steps']} steps: {big['wall_s']:.1f} s wall, peak "
          f"{big['peak_rss_bytes'] / 2**30:.2f} GiB ({big['peak_rss_bytes_per_firm']:,.0f} B/firm)")
    st = res["start"]
    print(f"1,000 firms x 200 steps, fresh interpreter: cold {st['cold_s']:.1f} s, "
          f"warm {st['warm_s']:.1f} s")
    print(f"1,000 firms x 120 steps inside a warm process: {res['in_process_1000x120_s']:.3f} s")
    ph = res["phases_100k_1_thread"]
    print(f"phases at 100,000 firms, 1 thread ({1e3 * ph['seconds_per_step']:.0f} ms/step): "
          + ", ".join(f"{k} {100 * v:.0f}%" for k, v in ph.items() if k != "seconds_per_step"))
    print(f"numba kernels vs pure-Python twins at 2,000 firms: {res['numba_vs_python']:,.0f}x")
    if "app_1000" in res:
        _print_app(res["app_1000"])
    if "scaling_exponent_10k_1m" in res:
        ex = res["scaling_exponent_10k_1m"]
        print("cost ~ firms^b from 10,000 to 1,000,000 firms: "
              + ", ".join(f"{k} {v:.2f}" for k, v in ex.items()))
    if "targets" in res:
        print("targets:")
        for row in res["targets"]:
            mark = {True: "met", False: "NOT MET", None: "not measured"}[row["met"]]
            print(f"  {mark:<12} {row['target']}: {row['measured']} (wanted {row['wanted']})")
