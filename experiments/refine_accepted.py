"""Run a calibration's accepted points again at fresh seeds, and rank them.

    python experiments/refine_accepted.py experiments/calibrate_default.toml [--seeds 8]
    python experiments/refine_accepted.py experiments/calibrate_tirupur.toml --out results/cal2

An accepted point of an ABC design is judged on a few replicates, so where a pattern is noisy
(a pledge cascade that gathers a sector or not; a firm count that drifts) the design's best
point may be a lucky one, and another run of the same command with other noise would crown
another. This runs every accepted point of the finished calibration in ``--out`` (default:
the calibration's own output folder) at ``--seeds`` fresh seeds (10,000, 10,001, ...), with
the calibration's scenario, steps, overrides and measurement settings, averages each pattern
over them and ranks the points by the calibration's own distance (the weighted root mean
square of the fitted patterns' z-scores). It prints the best eight, with their fitted and
held-out patterns and their parameters; the first line is the point a scenario or the
defaults take (docs/validation.md), and ``refined.csv`` in the output folder holds them all.
"""

from __future__ import annotations

import argparse
import csv
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from sim.studies.calibrate import abc
from sim.studies.calibrate.run import default_out, load_calibration
from sim.studies.sweep import patterns as pmodel


def _one(job):
    scenario, steps, overrides, seed = job
    return pmodel.simulate(scenario, steps=steps, seed=seed, overrides=overrides).final


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("calibration", type=Path, help="the calibration file")
    ap.add_argument("--out", type=Path, default=None,
                    help="the calibration's output folder (default: its own)")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    cal = load_calibration(args.calibration)
    out = args.out or default_out(cal)
    rows = list(csv.DictReader((out / "patterns.csv").open()))
    accepted = [r for r in rows if r["accepted"] in ("True", "true", "1")]
    settings = {pmodel.PREFIX + k: v for k, v in cal.settings.items()}
    points = []
    for r in accepted:
        values = {p.name: (int(round(float(r[p.column]))) if p.integer else float(r[p.column]))
                  for p in cal.parameters}
        points.append((r["point"], values))
    jobs = [(cal.scenario, cal.steps, {**cal.overrides, **values, **settings}, 10_000 + s)
            for _, values in points for s in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as ex:
        finals = list(ex.map(_one, jobs))
    means = pd.DataFrame([pd.DataFrame(finals[i * args.seeds:(i + 1) * args.seeds]).mean()
                          for i in range(len(points))])
    means["distance"] = abc.distances(means, cal.fit, cal.weights)
    means["within_all"] = abc.within(means, cal.fit)
    means.insert(0, "point", [p for p, _ in points])
    for p in cal.parameters:
        means[p.name] = [v[p.name] for _, v in points]
    means = means.sort_values("distance", kind="stable").reset_index(drop=True)
    means.to_csv(out / "refined.csv", index=False)
    print(f"{len(points)} accepted points x {args.seeds} fresh seeds; best first "
          f"(written: {out / 'refined.csv'})")
    shown = [t.pattern for t in (*cal.fit, *cal.hold_out)]
    for r in means.head(8).itertuples(index=False):
        r = r._asdict()
        pats = ", ".join(f"{k} {r[k]:.3g}" for k in dict.fromkeys(shown))
        vals = ", ".join(f"{p.name} {r[p.name]:.4g}" for p in cal.parameters)
        print(f"point {r['point']}: distance {r['distance']:.3f}"
              f"{'' if r['within_all'] else ' (not all fitted patterns inside)'}; {pats}; {vals}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
