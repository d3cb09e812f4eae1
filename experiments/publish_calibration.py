"""Copy a calibration's result into docs/validation/, with paths relative to the repository.

    python experiments/publish_calibration.py results/calibrate/calibrate_default default --figures
    python experiments/publish_calibration.py results/calibrate/calibrate_hebron hebron

writes ``docs/validation/calibration_NAME.json`` (and, with ``--figures``, the pattern and
parameter figures), replacing the absolute paths the calibration recorded on this machine by
paths relative to the repository, so that the published file names no machine.

When the calibration wrote posterior draws (``posterior_draws`` in its ``calibration.json``),
it also writes the folder ``docs/validation/calibration_NAME/``: the same ``calibration.json``,
its ``posterior_draws.csv`` and, where the calibration drew them, ``posterior.png`` and
``sbc_ranks.png``. That folder is what ``clustersim compare --posterior`` and ``clustersim
robust --posterior`` read (``sim/io/posterior.py``):

    clustersim compare ... --posterior docs/validation/calibration_hebron

The draws are read with the same reader before anything is written, so a result whose draws
the reader would refuse publishes nothing (one line naming the file, exit code 2).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "validation"
#: the posterior's figures copied into the published folder when the calibration drew them
POSTERIOR_FIGURES = ("posterior.png", "sbc_ranks.png")


def _relative(value):
    """Every string that is an absolute path inside the repository, made relative to it."""
    if isinstance(value, dict):
        return {k: _relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative(v) for v in value]
    if isinstance(value, str) and value.startswith(str(ROOT) + "/"):
        return value[len(str(ROOT)) + 1:]
    return value


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def publish(result: Path, name: str, docs: Path = DOCS, figures: bool = False) -> list[Path]:
    """Publish the calibration in ``result`` as ``docs/calibration_NAME.json`` (and its
    posterior folder ``docs/calibration_NAME/`` when it has draws); the files written.

    Raises
    ------
    InputError
        ``result`` has no readable ``calibration.json``, or its posterior draws are named but
        the reader refuses them (nothing is written then).
    """
    from sim.core.errors import InputError
    from sim.io.posterior import load_posterior

    cal = result / "calibration.json"
    if not cal.is_file():
        raise InputError(str(cal), "", "no such file; allowed: the output folder of "
                         "`clustersim calibrate`")
    try:
        data = json.loads(cal.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(str(cal), "", f"not readable as JSON ({exc})") from None
    draws = data.get("posterior_draws") if isinstance(data, dict) else None
    has_draws = isinstance(draws, dict) and bool(draws.get("file"))
    if has_draws:
        load_posterior(result)  # refuses what `--posterior` would refuse, before any write
    text = json.dumps(_relative(data), indent=2) + "\n"
    written = []
    out = docs / f"calibration_{name}.json"
    out.write_text(text, encoding="utf-8")
    written.append(out)
    if has_draws:
        folder = docs / f"calibration_{name}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "calibration.json").write_text(text, encoding="utf-8")
        shutil.copyfile(result / draws["file"], folder / draws["file"])
        written += [folder / "calibration.json", folder / draws["file"]]
        for fig in POSTERIOR_FIGURES:
            if (result / fig).is_file():
                shutil.copyfile(result / fig, folder / fig)
                written.append(folder / fig)
    if figures:
        for fig in sorted(result.glob("pattern_*.png")):
            shutil.copyfile(fig, docs / fig.name)
            written.append(docs / fig.name)
        shutil.copyfile(result / "parameters.png", docs / "calibration_parameters.png")
        written.append(docs / "calibration_parameters.png")
    return written


def main(argv: list[str] | None = None) -> int:
    from sim.core.errors import InputError

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result", type=Path, help="the calibration's output directory")
    ap.add_argument("name", help="written as docs/validation/calibration_NAME.json (and the "
                    "posterior folder docs/validation/calibration_NAME/)")
    ap.add_argument("--figures", action="store_true",
                    help="also copy pattern_*.png, and parameters.png as "
                    "calibration_parameters.png")
    ap.add_argument("--docs", type=Path, default=DOCS,
                    help="where to publish (default docs/validation)")
    args = ap.parse_args(argv)
    try:
        written = publish(args.result, args.name, args.docs, args.figures)
    except InputError as exc:
        print(f"publish_calibration: error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"written: {_shown(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
