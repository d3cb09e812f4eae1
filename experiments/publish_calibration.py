"""Copy a calibration's result into docs/validation/, with paths relative to the repository.

    python experiments/publish_calibration.py results/calibrate/calibrate_default default --figures
    python experiments/publish_calibration.py results/calibrate/calibrate_hebron hebron

writes ``docs/validation/calibration_NAME.json`` (and, with ``--figures``, the pattern and
parameter figures), replacing the absolute paths the calibration recorded on this machine by
paths relative to the repository, so that the published file names no machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "validation"


def _relative(value):
    """Every string that is an absolute path inside the repository, made relative to it."""
    if isinstance(value, dict):
        return {k: _relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v) for v in value]
    if isinstance(value, str) and value.startswith(str(ROOT) + "/"):
        return value[len(str(ROOT)) + 1:]
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result", type=Path, help="the calibration's output directory")
    ap.add_argument("name", help="written as docs/validation/calibration_NAME.json")
    ap.add_argument("--figures", action="store_true",
                    help="also copy pattern_*.png, and parameters.png as "
                    "calibration_parameters.png")
    args = ap.parse_args(argv)
    data = json.loads((args.result / "calibration.json").read_text(encoding="utf-8"))
    out = DOCS / f"calibration_{args.name}.json"
    out.write_text(json.dumps(_relative(data), indent=2) + "\n", encoding="utf-8")
    print(f"written: {out.relative_to(ROOT)}")
    if args.figures:
        for fig in sorted(args.result.glob("pattern_*.png")):
            shutil.copyfile(fig, DOCS / fig.name)
        shutil.copyfile(args.result / "parameters.png", DOCS / "calibration_parameters.png")
        print(f"copied the figures to {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
