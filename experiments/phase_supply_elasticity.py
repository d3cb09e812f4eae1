"""The Common Facility Centre's effect as a function of the elasticity of local input supply.

The CFC (scenarios/cfc.toml) against the baseline in paired runs (replicate r of both arms uses
seed r), at several values of ``supply_elasticity`` (the long-run price elasticity of local
input supply, an uncertain parameter: docs/validation.md, section 5). For each elasticity it
reports the paired effect at the horizon on jobs, firms, value added, wages, owners' profit and
suppliers' margins, and on the input price index and the share of inputs bought from outside
(mean over the last year of each run, paired difference and 95% t interval), with the
baseline's level of each. The plausible region (0.5-2, an assumption) is marked.

    python experiments/phase_supply_elasticity.py [--reps 8] [--steps 120]
        [--elasticities 0.25,0.5,1,2,8] [--out results/phase_supply_elasticity] [--publish]

Writes ``effects.csv``, ``phase.png`` and ``provenance.json``, and prints the table in
Markdown; with ``--publish`` copies them to ``docs/validation/supply_elasticity_*``, which
docs/validation.md quotes (section 5). About five minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.io.provenance import provenance
from sim.io.scenario import load_scenario
from sim.studies.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent
OUTCOMES = ("employment", "firms", "value_added", "wages", "profit", "supplier_margin",
            "input_price_index", "import_share", "public_facilities_operating")
PLAUSIBLE = (0.5, 2.0)


def run(elasticities, reps: int, steps: int) -> tuple[pd.DataFrame, dict]:
    base = load_scenario(ROOT / "scenarios" / "baseline.toml")
    cfc = load_scenario(ROOT / "scenarios" / "cfc.toml")
    rows = []
    for eps in elasticities:
        finals = {}
        for name, sc in (("baseline", base), ("cfc", cfc)):
            sc = sc.with_overrides({"supply_elasticity": eps})
            finals[name] = []
            for seed in range(reps):
                r = simulate(sc, steps=steps, seed=seed, firms=False)
                last = r.series.iloc[-12:]  # the last year's mean: a month is noisy
                out = {k: float(last[k].mean()) for k in OUTCOMES}
                finals[name].append(out)
        for k in OUTCOMES:
            d = np.array([c[k] - b[k] for b, c in zip(finals["baseline"], finals["cfc"],
                                                      strict=True)])
            half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
            rows.append({"supply_elasticity": eps, "outcome": k, "baseline": np.mean(
                [b[k] for b in finals["baseline"]]), "effect": d.mean(),
                "ci_low": d.mean() - half, "ci_high": d.mean() + half,
                "plausible": PLAUSIBLE[0] <= eps <= PLAUSIBLE[1]})
        print(f"elasticity {eps}: done", file=sys.stderr, flush=True)
    prov = provenance(scenario=cfc, seed=0, params=cfc.params, steps=steps, overrides={},
                      wall_time_s=0.0)
    return pd.DataFrame(rows), prov


def figure(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ("employment", "value_added", "supplier_margin")
    fig, axes = plt.subplots(1, len(names), figsize=(11, 3.4))
    for ax, name in zip(axes, names, strict=True):
        d = df[df["outcome"] == name].sort_values("supply_elasticity")
        x = d["supply_elasticity"].to_numpy()
        ax.axvspan(*PLAUSIBLE, color="#d5f5e3", label="plausible (assumed)")
        ax.axhline(0, color="grey", lw=0.8)
        ax.errorbar(x, d["effect"], yerr=[d["effect"] - d["ci_low"], d["ci_high"] - d["effect"]],
                    fmt="o-", capsize=3)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.set_xlabel("supply elasticity of local inputs")
        ax.set_title(f"CFC effect on {name.replace('_', ' ')}")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--elasticities", default="0.25,0.5,1,2,8")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "phase_supply_elasticity")
    ap.add_argument("--publish", action="store_true",
                    help="copy the results to docs/validation/ for docs/validation.md")
    a = ap.parse_args(argv)
    eps = [float(x) for x in a.elasticities.split(",")]
    df, prov = run(eps, a.reps, a.steps)
    a.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(a.out / "effects.csv", index=False)
    (a.out / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))
    figure(df, a.out / "phase.png")
    if a.publish:
        target = ROOT / "docs" / "validation"
        for name in ("effects.csv", "phase.png", "provenance.json"):
            shutil.copyfile(a.out / name, target / f"supply_elasticity_{name}")
    print(markdown(df))
    return 0


def markdown(df: pd.DataFrame) -> str:
    """The effects as a Markdown table: one row per elasticity, effect (interval) per outcome."""
    shown = ("employment", "firms", "value_added", "wages", "profit", "supplier_margin",
             "input_price_index", "public_facilities_operating")
    lines = ["| supply elasticity | " + " | ".join(shown) + " |",
             "|---" * (len(shown) + 1) + "|"]
    for eps, d in df.groupby("supply_elasticity"):
        d = d.set_index("outcome")
        cells = [f"{d.loc[k, 'effect']:+.3g} "
                 f"({d.loc[k, 'ci_low']:+.3g}..{d.loc[k, 'ci_high']:+.3g})" for k in shown]
        mark = " (plausible)" if d["plausible"].iloc[0] else ""
        lines.append(f"| {eps:g}{mark} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| supply elasticity | baseline employment | baseline input price index | "
                 "baseline import share |")
    lines.append("|---|---|---|---|")
    for eps, d in df.groupby("supply_elasticity"):
        d = d.set_index("outcome")
        lines.append(f"| {eps:g} | {d.loc['employment', 'baseline']:.0f} | "
                     f"{d.loc['input_price_index', 'baseline']:.2f} | "
                     f"{d.loc['import_share', 'baseline']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
