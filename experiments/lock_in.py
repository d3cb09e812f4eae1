"""Do clusters form, and lock in, at localisation elasticities inside the empirical range?

From an even start (three identical towns, the same number of firms of every sector in each:
any cluster is made by the model, not the map), each seed is run with agglomeration forces at
a given localisation elasticity and, over the same seeds, without them (the null:
localisation economies off and entrants not drawn to their sector's firms, suppliers or
facilities; congestion, spin-offs near their parents and everything else unchanged).

- Formation: the rise of the mean Ellison-Glaeser gamma from month 0 to the end, and the share
  of seeds where it rises by at least 0.02.
- Lock-in: among (seed, sector) pairs with a town leading by 1.5 times at mid-run, the share
  still leading at the end, with the forces minus without them (:func:`sim.measure.lockin.
  lock_in`: a paired bootstrap over seeds). It passes when the interval lies above zero.
- Scale: formation at several numbers of firms per (town, sector) at one elasticity, with the
  rise of gamma over the null's on the same seeds (paired, 95% t interval).

    python experiments/lock_in.py [--seeds 10] [--months 240] [--elasticities 0.05 0.08 0.15]
        [--per-cell 25] [--scale 25 100 400] [--out results/lock_in]

Writes ``lock_in.csv``, ``scale.csv`` and ``provenance.json``, and prints both tables in
Markdown; docs/validation.md (section 6.5) quotes them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.core.world import FirmGroup, Region, Sector, World
from sim.io.provenance import provenance
from sim.measure.lockin import kept_leads, lock_in
from sim.mechanisms import market
from sim.model import ClusterModel

ROOT = Path(__file__).resolve().parents[1]
#: The null: no agglomeration forces (localisation economies, entrants' pull to their own
#: sector, its suppliers and its facilities).
NULL = {"localisation_elasticity": 0.0, "beta_sector": 0.0, "beta_supplier": 0.0,
        "beta_facility": 0.0}


def symmetric_world(per_cell: int = 25, n_regions: int = 3, n_sectors: int = 4) -> World:
    """Identical towns, an even start (as in tests/test_emergence.py)."""
    centres = [(15.0, 20.0), (45.0, 20.0), (30.0, 46.0)]
    regions = tuple(Region(f"T{r}", *centres[r], radius=3.0) for r in range(n_regions))
    sectors = tuple(Sector(f"S{s}", f"I{s}") for s in range(n_sectors))
    firms = tuple(FirmGroup(r.name, s.name, per_cell) for r in regions for s in sectors)
    return World(regions=regions, sectors=sectors, firms=firms)


def one_run(seed: int, months: int, per_cell: int, overrides: dict) -> dict:
    """Gamma at month 0 and at the end; clear leaders at mid-run and those kept at the end."""
    m = ClusterModel(world=symmetric_world(per_cell), rng=seed, **overrides)
    n_s, n_r = len(m.world.sectors), len(m.world.regions)
    for _ in range(months // 2):
        m.step()
    mid = market.employment_by(m.firms, n_s, n_r)
    for _ in range(months - months // 2):
        m.step()
    end = market.employment_by(m.firms, n_s, n_r)
    clear, kept = kept_leads(mid, end)
    gamma = m.series().set_index("step")["eg_gamma_mean"]
    return {"seed": seed, "gamma_start": float(gamma.loc[0]), "gamma_end": float(gamma.loc[months]),
            "rise": float(gamma.loc[months] - gamma.loc[0]), "clear": clear, "kept": kept,
            "firms": int(m.firms.n_alive)}


def arm(seeds, months, per_cell, overrides) -> pd.DataFrame:
    return pd.DataFrame([one_run(s, months, per_cell, overrides) for s in seeds])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--months", type=int, default=240)
    ap.add_argument("--elasticities", type=float, nargs="*", default=[0.05, 0.08, 0.15])
    ap.add_argument("--per-cell", type=int, default=25)
    ap.add_argument("--scale", type=int, nargs="*", default=[25, 100, 400])
    ap.add_argument("--scale-elasticity", type=float, default=None,
                    help="elasticity of the scale table (default: the model's default)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "lock_in")
    args = ap.parse_args(argv)
    seeds = list(range(1, args.seeds + 1))
    null = arm(seeds, args.months, args.per_cell, NULL)
    rows = [{"arm": "null (no agglomeration forces)", "elasticity": 0.0,
             "formed": float((null["rise"] >= 0.02).mean()), "rise": null["rise"].mean(),
             "clear": int(null["clear"].sum()), "kept": int(null["kept"].sum())}]
    for e in args.elasticities:
        agg = arm(seeds, args.months, args.per_cell, {"localisation_elasticity": e})
        li = lock_in(agg["clear"], agg["kept"], null["clear"], null["kept"])
        rows.append({"arm": "agglomeration", "elasticity": e,
                     "formed": float((agg["rise"] >= 0.02).mean()), "rise": agg["rise"].mean(),
                     "clear": int(agg["clear"].sum()), "kept": int(agg["kept"].sum()), **li})
        print(f"elasticity {e}: done", file=sys.stderr)
    table = pd.DataFrame(rows)
    scale_rows = []
    over = ({} if args.scale_elasticity is None
            else {"localisation_elasticity": args.scale_elasticity})
    for per_cell in args.scale:
        runs = arm(seeds, args.months, per_cell, over)
        base = arm(seeds, args.months, per_cell, {**over, **NULL})
        d = runs["rise"].to_numpy() - base["rise"].to_numpy()  # paired: the same seeds
        half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
        scale_rows.append({"firms_at_start": per_cell * 12, "firms_at_end": runs["firms"].mean(),
                           "formed": float((runs["rise"] >= 0.02).mean()),
                           "rise": runs["rise"].mean(), "rise_sd": runs["rise"].std(ddof=1),
                           "formed_null": float((base["rise"] >= 0.02).mean()),
                           "rise_null": base["rise"].mean(), "rise_over_null": float(d.mean()),
                           "ci_low": float(d.mean()) - half, "ci_high": float(d.mean()) + half})
        print(f"{per_cell * 12} firms: done", file=sys.stderr)
    scale = pd.DataFrame(scale_rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "lock_in.csv", index=False)
    scale.to_csv(args.out / "scale.csv", index=False)
    prov = provenance(scenario=None, seed=seeds[0], steps=args.months, seeds=seeds,
                      null=NULL, elasticities=args.elasticities, scale=args.scale)
    (args.out / "provenance.json").write_text(json.dumps(prov, indent=2, default=str) + "\n")
    print("| arm | elasticity | gamma rises >= 0.02 | mean rise | clear leaders | kept | "
          "persistence | lock-in (95% CI) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in table.itertuples():
        li = ("" if r.arm.startswith("null") else
              f"{r.lock_in:+.2f} ({r.ci_low:+.2f}..{r.ci_high:+.2f}) "
              f"{'passes' if r.passes else 'fails'}")
        pers = r.kept / r.clear if r.clear else float("nan")
        print(f"| {r.arm} | {r.elasticity:g} | {r.formed:.0%} | {r.rise:+.3f} | {r.clear} | "
              f"{r.kept} | {pers:.2f} | {li} |")
    print()
    print("| firms at start | firms at end | gamma rises >= 0.02 (null) | mean rise (sd) | "
          "null's rise | rise over the null (95% CI) |")
    print("|---|---|---|---|---|---|")
    for r in scale.itertuples():
        print(f"| {r.firms_at_start} | {r.firms_at_end:.0f} | {r.formed:.0%} "
              f"({r.formed_null:.0%}) | {r.rise:+.3f} ({r.rise_sd:.3f}) | {r.rise_null:+.3f} | "
              f"{r.rise_over_null:+.3f} ({r.ci_low:+.3f}..{r.ci_high:+.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
