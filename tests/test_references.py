"""No file of the repository cites a file (or a section of one) that is not in the repository.

Scenario sources, docs and docstrings point readers to ``docs/sources.md#section``,
``scenarios/x.toml``, ``experiments/y.py`` and so on. A reader who follows such a pointer must
find it: every path under one of the project's folders must exist, every ``#anchor`` into a
Markdown file must be one of its headings (GitHub's slugs), and a bare ``NAME.md`` must be a file
of the repository (the briefs the project grew from live outside it and may not be cited).
Placeholders in examples (``experiments/x.toml``, ``calibration_NAME.json``, ``#ANCHOR``) are
not citations; the tests themselves, which build bad references on purpose, are not scanned.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("docs", "scenarios", "experiments", "sim", "tests", ".ci")
PATH_RE = re.compile(r"(?<![\w/.-])((?:" + "|".join(re.escape(f) for f in FOLDERS)
                     + r")/[\w./-]*\w\.(?:md|toml|py|json|png|csv|gif|cff))(#[\w-]+)?")
BARE_MD_RE = re.compile(r"(?<![\w/.-])([A-Z][A-Z0-9_-]*\.md)\b")
TEXT_SUFFIXES = {".md", ".toml", ".py", ".txt", ".cff", ".json", ".cfg"}
#: paths that name what a command will write or a user's own file, not a file of the repository
GENERATED = ("results/",)


def tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    return [ROOT / f for f in out.split() if Path(f).suffix in TEXT_SUFFIXES
            and not f.startswith("tests/")]


def placeholder(path: str, anchor: str | None) -> bool:
    """An example in prose, not a citation: a one-letter name or an upper-case stand-in."""
    if "/" not in path:  # a bare NAME.md is always a citation
        return False
    stem = Path(path).stem
    return (len(stem) == 1 or bool(re.search(r"(^|_)[A-Z]{3,}$", stem))
            or (anchor is not None and (len(anchor) == 1 or anchor.isupper())))


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(md: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", md.read_text(),
                                                   re.M)}


def cited(files: list[Path]) -> list[tuple[Path, str, str | None]]:
    found = []
    for f in files:
        text = f.read_text(errors="replace")
        for m in PATH_RE.finditer(text):
            found.append((f, m.group(1), m.group(2)[1:] if m.group(2) else None))
        for m in BARE_MD_RE.finditer(text):
            found.append((f, m.group(1), None))
    return found


def test_the_pattern_finds_paths_anchors_and_bare_names():
    here = ROOT / "README.md"
    refs = {(p, a) for _, p, a in cited([here])}
    assert ("docs/ODD.md", None) in refs
    text = "see docs/sources.md#mse-cdp-rules and FACTS.md, not xdocs/a.md"
    got = [(m.group(1), m.group(2)) for m in PATH_RE.finditer(text)]
    assert got == [("docs/sources.md", "#mse-cdp-rules")]
    assert BARE_MD_RE.findall(text) == ["FACTS.md"]
    assert slug("MSE-CDP rules") == "mse-cdp-rules"
    assert placeholder("experiments/x.toml", None)
    assert placeholder("docs/a.md", "ANCHOR")
    assert not placeholder("docs/sources.md", "tirupur")
    assert not placeholder("FACTS.md", None)
    assert slug("Hebron shoes and leather, Nablus") == "hebron-shoes-and-leather-nablus"


def test_every_cited_file_and_section_exists():
    files = tracked_text_files()
    names = {f.name for f in files} | {p.name for p in ROOT.glob("*")}
    missing = []
    for src, path, anchor in cited(files):
        where = src.relative_to(ROOT)
        if path.startswith(GENERATED) or placeholder(path, anchor):
            continue
        if "/" not in path:  # a bare NAME.md
            if path not in names:
                missing.append(f"{where}: {path}")
            continue
        target = ROOT / path
        if not target.exists():
            missing.append(f"{where}: {path}")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            missing.append(f"{where}: {path}#{anchor}")
    assert not missing, "cited but not in the repository:\n" + "\n".join(sorted(set(missing)))
