"""No file of the repository cites a file (or a section of one) that is not in the repository.

Scenario sources, docs and docstrings point readers to ``docs/sources.md#section``,
``scenarios/x.toml``, ``experiments/y.py`` and so on. A reader who follows such a pointer must
find it: every path under one of the project's folders must exist, every ``#anchor`` into a
Markdown file must be one of its headings (GitHub's slugs), and a bare ``NAME.md`` must be a file
of the repository (the briefs the project grew from live outside it and may not be cited).
Placeholders in examples (``experiments/x.toml``, ``calibration_NAME.json``, ``#ANCHOR``) are
not citations. Markdown links (``[text](../experiments/x.toml)``) are resolved from the file
that holds them. Scanned: every tracked text file (``.md``, ``.toml``, ``.py``, ``.cff``,
``.txt``, ``.json``, ``.cfg``, ``Makefile``), the tests included except the few that build bad
references on purpose (:data:`SKIP`).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("docs", "scenarios", "experiments", "sim", "tests", ".ci")
PATH_RE = re.compile(r"(?<![\w/.-])((?:" + "|".join(re.escape(f) for f in FOLDERS)
                     + r")/[\w./-]*\w\.(?:md|toml|py|json|png|csv|gif|cff))(#[\w-]+)?")
BARE_MD_RE = re.compile(r"(?<![\w/.-])([A-Z][A-Z0-9_-]*\.md)\b")
#: a relative Markdown link: ``[text](path)`` or ``[text](path#anchor)``, not a URL or ``#x``
MD_LINK_RE = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#|/)([^)\s#]+)(#[\w-]+)?\)")
TEXT_SUFFIXES = {".md", ".toml", ".py", ".txt", ".cff", ".json", ".cfg"}
TEXT_NAMES = {"Makefile"}
#: paths that name what a command will write or a user's own file, not a file of the repository
GENERATED = ("results/",)
#: files that cite missing files on purpose (tests of refusals and of this checker)
SKIP = ("tests/test_references.py", "tests/hostile_corpus.py", "tests/data/")


def tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    return [ROOT / f for f in out.split()
            if (Path(f).suffix in TEXT_SUFFIXES or Path(f).name in TEXT_NAMES)
            and not f.startswith(SKIP)]


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


def cited(files: list[Path], root: Path = ROOT) -> list[tuple[Path, str, str | None]]:
    """(citing file, cited path relative to ``root``, anchor or None) for every reference."""
    found = []
    for f in files:
        text = f.read_text(errors="replace")
        for m in PATH_RE.finditer(text):
            found.append((f, m.group(1), m.group(2)[1:] if m.group(2) else None))
        for m in BARE_MD_RE.finditer(text):
            found.append((f, m.group(1), None))
        if f.suffix == ".md":
            for m in MD_LINK_RE.finditer(text):
                # relative to the root ("../x" for a link out of it, never in the repository)
                rel = Path(os.path.relpath((f.parent / m.group(1)).resolve(),
                                           root.resolve())).as_posix()
                found.append((f, rel, m.group(2)[1:] if m.group(2) else None))
    return found


def missing_references(files: list[Path], root: Path = ROOT) -> list[str]:
    """``"citing: cited"`` for every reference in ``files`` to a file or Markdown section that
    is not under ``root`` (placeholders and generated outputs excepted)."""
    names = {f.name for f in files} | {p.name for p in root.glob("*")}
    missing = []
    for src, path, anchor in cited(files, root):
        where = src.relative_to(root).as_posix()
        if path.startswith(GENERATED) or placeholder(path, anchor):
            continue
        if "/" not in path and not (root / path).exists():  # a bare NAME.md
            if path not in names:
                missing.append(f"{where}: {path}")
            continue
        target = root / path
        if path.startswith("../") or not target.exists():
            missing.append(f"{where}: {path}")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            missing.append(f"{where}: {path}#{anchor}")
    return sorted(set(missing))


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
    missing = missing_references(tracked_text_files())
    assert not missing, "cited but not in the repository:\n" + "\n".join(missing)


def test_the_checker_reports_a_hand_built_bad_repository(tmp_path):
    """A small repository with one good and one bad reference of every kind: exactly the bad
    ones are reported, and the placeholders, URLs and generated outputs are not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "docs" / "sources.md").write_text("# Sources\n\n## Tirupur\n")
    (tmp_path / "scenarios" / "base.toml").write_text(
        '# docs/sources.md#tirupur and docs/sources.md#hebron\n'
        'sources = ["FACTS.md", "docs/missing.md", "experiments/run_me.py"]\n')
    (tmp_path / "Makefile").write_text("run:\n\tpython experiments/gone.py scenarios/base.toml\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/sources.md#tirupur) [bad](docs/nowhere.md) [anchor](docs/sources.md#nope)\n"
        "[web](https://example.org/x.md) [here](#sources) [out](../outside.md)\n"
        "placeholders: experiments/x.toml docs/a.md#ANCHOR results/run/summary.csv\n")
    (tmp_path / "docs" / "guide.md").write_text("[up](../scenarios/base.toml) "
                                                 "[gone](../scenarios/gone.toml)\n")
    files = [tmp_path / f for f in ("scenarios/base.toml", "Makefile", "README.md",
                                    "docs/guide.md", "docs/sources.md")]
    assert missing_references(files, tmp_path) == [
        "Makefile: experiments/gone.py",
        "README.md: ../outside.md",
        "README.md: docs/nowhere.md",
        "README.md: docs/sources.md#nope",
        "docs/guide.md: scenarios/gone.toml",
        "scenarios/base.toml: FACTS.md",
        "scenarios/base.toml: docs/missing.md",
        "scenarios/base.toml: docs/sources.md#hebron",
        "scenarios/base.toml: experiments/run_me.py",
    ]
