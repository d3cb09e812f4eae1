"""Trace, month by month, how trust building alone (trust_only.toml) changes the cluster.

Replicate r of both arms uses seed r, so the paired difference (trust only minus baseline) at
each month is the programme's effect on that path, not seed noise. The outcomes follow the
chain a trust programme can start: trust and ties, cooperation and its spillovers, purchasing
groups and suppliers, private shared facilities, and then prices, profits, entry, exit, firms
and jobs. docs/validation.md (section 6.6) quotes the table.

    python experiments/trace_trust_only.py [--reps 40] [--steps 120] [--out results/trace_trust]

Writes ``trace.csv`` (month, outcome, mean paired difference, 95% t interval, n) and
``provenance.json``, and prints the table in Markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.io.provenance import provenance
from sim.io.scenario import load_scenario
from sim.studies.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
ARMS = {"baseline": ROOT / "scenarios" / "baseline.toml",
        "trust_only": ROOT / "scenarios" / "trust_only.toml"}
#: Per-month outcomes, in the order of the chain they trace; cumulative entries and exits are
#: added from the monthly counts.
OUTCOMES = ("mean_trust", "mean_degree", "cooperation_rate", "mean_productivity", "jp_share",
            "supplier_concentration", "facilities_built", "capital", "profit", "output",
            "entries_cum", "exits_cum", "firms", "employment")
MONTHS = (6, 12, 18, 24, 36, 60, 90, 120)


def run_arm(path: Path, reps: int, steps: int) -> pd.DataFrame:
    """Every replicate's series (months 0..steps), with the cumulative entries and exits."""
    scenario = load_scenario(path)
    frames = []
    for rep in range(reps):
        s = simulate(scenario, steps=steps, seed=rep).series
        s = s[s["step"] >= 0].copy()
        s["entries_cum"] = s["entries"].cumsum()
        s["exits_cum"] = s["exits"].cumsum()
        s["rep"] = rep
        frames.append(s[["rep", "step", *OUTCOMES]])
    return pd.concat(frames, ignore_index=True)


def paired_trace(base: pd.DataFrame, alt: pd.DataFrame, months=MONTHS) -> pd.DataFrame:
    """Mean paired difference (alt - base) of each outcome at each month, 95% t interval."""
    rows = []
    b = base.set_index(["step", "rep"])
    a = alt.set_index(["step", "rep"])
    for month in months:
        for k in OUTCOMES:
            d = (a.loc[month, k] - b.loc[month, k]).to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            mean = float(d.mean())
            half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
            rows.append({"month": month, "outcome": k, "effect": mean, "low": mean - half,
                         "high": mean + half, "n": int(d.size)})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "trace_trust")
    args = ap.parse_args(argv)
    base = run_arm(ARMS["baseline"], args.reps, args.steps)
    alt = run_arm(ARMS["trust_only"], args.reps, args.steps)
    table = paired_trace(base, alt, [m for m in MONTHS if m <= args.steps])
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "trace.csv", index=False)
    prov = provenance(scenario=load_scenario(ARMS["trust_only"]), seed=0, steps=args.steps,
                      seeds=list(range(args.reps)))
    (args.out / "provenance.json").write_text(json.dumps(prov, indent=2, default=str) + "\n")
    wide = table.assign(cell=[f"{e:+.3g} ({lo:+.3g}..{hi:+.3g})" for e, lo, hi in
                              zip(table["effect"], table["low"], table["high"], strict=True)])
    wide = wide.pivot(index="outcome", columns="month", values="cell").reindex(OUTCOMES)
    print("| outcome | " + " | ".join(f"month {m}" for m in wide.columns) + " |")
    print("|---|" + "---|" * len(wide.columns))
    for name, row in wide.iterrows():
        print(f"| {name} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
