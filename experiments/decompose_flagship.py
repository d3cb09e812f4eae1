"""Explain the flagship comparison by mechanism: what a Common Facility Centre (cfc.toml), trust
building alone (trust_only.toml) and trust building followed by the same CFC (trust_then_cfc.toml)
do to a cluster, and which of the model's mechanisms carries each effect.

Each policy is compared with the baseline in paired runs (replicate r of every arm uses seed r,
so differences are not seed noise); the trust-only arm splits the chained policy into what
trust building does alone and what the CFC adds after it ("cfc after trust": trust_then_cfc
against trust_only, paired). This is done first with the full model and then with one mechanism
at a time replaced by its textbook limit:

- closed market: ``outside_price = 0`` (the cluster sells only into its own, fixed demand);
- no agglomeration or congestion: localisation, wage and rent elasticities 0;
- no learning: ``learning_rate = 0`` (willingness moves only by imitation);
- unfinanced growth: ``hire_cost = 0`` (a firm hires as fast as its labour gap says);
- unlimited supplier capacity: ``supplier_capacity`` 10^6 (input prices never rise with volume);
- owners know their talent: ``talent_uncertainty = 0`` (no learning, no selection by it);
- smooth adjustment: ``adjustment_band = 0`` (employment follows the desired size monthly).

A mechanism carries an effect when removing it changes the effect by more than the interval.

    python experiments/decompose_flagship.py [--reps 8] [--steps 120] [--only "full model"]
        [--out results/decomposition]

Stocks (jobs, firms, facilities, trust) are taken at the horizon; monthly flows (output, value
added and its split into wages, land rents, owners' profit and suppliers' margin, the input
price index and the import share) as their mean over the last year.

Writes ``effects.csv`` (one row per variant, policy and outcome: mean paired difference and a
95% t interval) and ``provenance.json`` (version, git commit, scenario hash, seeds), and prints
the table in Markdown; docs/validation.md quotes it.
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
from sim.studies.why import LIMITS

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {name: ROOT / "scenarios" / f"{name}.toml"
             for name in ("baseline", "cfc", "trust_only", "trust_then_cfc")}
#: Paired contrasts: (policy label, the arm, the arm it is compared with).
CONTRASTS = (("cfc", "cfc", "baseline"), ("trust only", "trust_only", "baseline"),
             ("trust then cfc", "trust_then_cfc", "baseline"),
             ("cfc after trust", "trust_then_cfc", "trust_only"))
#: The full model, then one mechanism at a time at its textbook limit (the same limits as
#: ``clustersim compare --why``).
VARIANTS = {"full model": {}, **LIMITS}
OUTCOMES = ("employment", "firms", "survival", "public_facilities_built", "mean_trust",
            "cooperation_rate", "public_spending_total", "output", "mean_productivity",
            "mean_degree", "jp_share", "supplier_concentration", "private_facilities",
            "exits_total", "entries_total", "value_added", "wages", "land_rents", "profit",
            "supplier_margin", "input_price_index", "import_share")
#: Monthly flows, measured as their mean over the last year (a single month is noisy).
FLOWS = ("value_added", "wages", "land_rents", "profit", "supplier_margin", "output",
         "input_price_index", "import_share")


def run_variant(overrides: dict, reps: int, steps: int) -> pd.DataFrame:
    """One row per (scenario, replicate) with the final outcomes."""
    rows = []
    for name, path in SCENARIOS.items():
        scenario = load_scenario(path)
        for rep in range(reps):
            result = simulate(scenario, steps=steps, seed=rep, overrides=overrides,
                              firms=False)
            final = dict(result.final)
            final.update(result.series.iloc[-12:][list(FLOWS)].mean())
            final["private_facilities"] = (final["facilities_built"]
                                           - final["public_facilities_built"])
            rows.append({"scenario": name, "rep": rep, **{k: final[k] for k in OUTCOMES}})
    return pd.DataFrame(rows)


def paired_effects(df: pd.DataFrame) -> pd.DataFrame:
    """Mean paired difference of each contrast of :data:`CONTRASTS`, with a 95% t interval."""
    out = []
    for policy, arm, against in CONTRASTS:
        base = df[df["scenario"] == against].set_index("rep")
        alt = df[df["scenario"] == arm].set_index("rep")
        for k in OUTCOMES:
            d = (alt[k] - base[k]).to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            mean = float(d.mean()) if d.size else float("nan")
            half = (float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
                    if d.size > 1 else float("nan"))
            out.append({"policy": policy, "outcome": k, "effect": mean, "low": mean - half,
                        "high": mean + half, "n": int(d.size)})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "decomposition")
    ap.add_argument("--only", action="append", choices=list(VARIANTS),
                    help="run only this variant (repeatable; default all)")
    args = ap.parse_args(argv)
    frames, raw = [], []
    variants = {k: v for k, v in VARIANTS.items() if not args.only or k in args.only}
    for variant, overrides in variants.items():
        df = run_variant(overrides, args.reps, args.steps)
        raw.append(df.assign(variant=variant))
        eff = paired_effects(df)
        eff.insert(0, "variant", variant)
        frames.append(eff)
        print(f"{variant}: done", file=sys.stderr)
    table = pd.concat(frames, ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    prov = provenance(scenario=load_scenario(SCENARIOS["cfc"]), seed=0, steps=args.steps,
                      seeds=list(range(args.reps)), variants=variants)
    table.to_csv(args.out / "effects.csv", index=False)
    runs = pd.concat(raw, ignore_index=True)
    runs.to_csv(args.out / "runs.csv", index=False)
    (args.out / "provenance.json").write_text(json.dumps(prov, indent=2, default=str) + "\n")
    show = table[table["outcome"].isin(["employment", "firms", "public_facilities_built",
                                        "mean_trust"])]
    print("| variant | policy | outcome | effect | 95% interval |")
    print("|---|---|---|---|---|")
    for r in show.itertuples():
        print(f"| {r.variant} | {r.policy} | {r.outcome} | {r.effect:+.3g} | "
              f"{r.low:+.3g} .. {r.high:+.3g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
