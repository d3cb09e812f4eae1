"""The documentation stays in step with the code.

- every parameter of :func:`sim.core.params.param_table` is described in the prose of docs/ODD.md;
- docs/params.md, and the parameter table embedded in docs/ODD.md, equal the current output of
  ``clustersim params --markdown`` (so a changed parameter forces regenerating them);
- every intervention kind in :data:`sim.interventions.KINDS`, and every field of each kind, is
  described in docs/ODD.md;
- ``clustersim params`` exits 0 and prints every parameter, in each of its formats.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.cli import params as params_cli
from sim.core.params import Params, param_table
from sim.interventions import KINDS, Intervention

DOCS = Path(__file__).resolve().parent.parent / "docs"
ODD = DOCS / "ODD.md"
PARAMS_MD = DOCS / "params.md"

#: The markers around the generated parameter table inside docs/ODD.md.
BEGIN = "<!-- BEGIN generated: clustersim params --markdown -->"
END = "<!-- END generated -->"

REGENERATE = "clustersim params --markdown > docs/params.md"


def _odd_text() -> str:
    return ODD.read_text(encoding="utf-8")


def _split_odd() -> tuple[str, str]:
    """(prose, embedded table): docs/ODD.md without the generated block, and the block."""
    text = _odd_text()
    for marker in (BEGIN, END):
        assert text.count(marker) == 1, (
            f"docs/ODD.md must hold the generated parameter table once, between {BEGIN!r} "
            f"and {END!r}")
    head, _, rest = text.partition(BEGIN)
    block, _, tail = rest.partition(END)
    return head + tail, block.strip("\n")


def _table_rows(markdown: str) -> list[str]:
    """The lines of the Markdown table (header, rule and rows) in ``markdown``."""
    return [line for line in markdown.splitlines() if line.startswith("|")]


def _code_spans(text: str) -> list[str]:
    """The code in ``text``: fenced blocks (possibly indented) and inline `spans`."""
    fence = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
    blocks = fence.findall(text)
    return blocks + re.findall(r"`([^`\n]+)`", fence.sub("", text))


def _mentioned(text: str, name: str) -> bool:
    """``name`` written as code: a word inside an inline code span (`name`, `group.name`,
    `name = 1`, an equation) or inside a fenced code block."""
    word = re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")
    return any(word.search(code) for code in _code_spans(text))


def _run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    out = capsys.readouterr().out
    return code, out


# -- parameters ----------------------------------------------------------------------------------
def test_every_parameter_is_described_in_the_odd():
    prose, _ = _split_odd()
    missing = [r["name"] for r in param_table() if not _mentioned(prose, r["name"])]
    assert not missing, (f"parameters not described in the text of docs/ODD.md (write them as "
                         f"`name` where the mechanism that uses them is described): {missing}")


def test_params_md_is_current(capsys):
    code, out = _run_cli(["params", "--markdown"], capsys)
    assert code == 0
    assert PARAMS_MD.exists(), f"docs/params.md is missing; run `{REGENERATE}`"
    assert PARAMS_MD.read_text(encoding="utf-8") == out, (
        f"docs/params.md differs from the current parameter table; run `{REGENERATE}` "
        "(and update the copy in docs/ODD.md)")


def test_params_md_says_it_is_generated():
    first = PARAMS_MD.read_text(encoding="utf-8").splitlines()[0]
    assert "generated" in first.lower()
    assert "clustersim params --markdown" in first


def test_odd_parameter_table_is_current(capsys):
    _, block = _split_odd()
    code, out = _run_cli(["params", "--markdown"], capsys)
    assert code == 0
    assert _table_rows(block) == _table_rows(out), (
        "the parameter table in docs/ODD.md differs from `clustersim params --markdown`: "
        f"replace the table between the markers {BEGIN!r} and {END!r} with the table lines of "
        f"that command's output, and run `{REGENERATE}`")


# -- interventions -------------------------------------------------------------------------------
def test_every_intervention_kind_is_described():
    prose, _ = _split_odd()
    missing = [kind for kind in KINDS if f'kind = "{kind}"' not in prose]
    assert not missing, (f"intervention kinds without a subsection in docs/ODD.md (each is "
                         f'introduced by `kind = "KIND"`): {missing}')


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_intervention_field_is_described(kind):
    prose, _ = _split_odd()
    names = [f.name for f in dataclasses.fields(KINDS[kind])]
    missing = [n for n in names if not _mentioned(prose, n)]
    assert not missing, f"fields of intervention kind {kind!r} not in docs/ODD.md: {missing}"


def test_shared_intervention_fields_exist():
    # the ODD describes these schedule and targeting fields for every kind
    shared = {f.name for f in dataclasses.fields(Intervention)}
    assert {"start", "end", "duration", "after", "when_metric", "when_at_least", "budget",
            "regions", "sectors", "size_classes"} <= shared


def test_every_name_has_one_declaration():
    """``--set NAME=...`` must mean one thing. A model parameter's name appears elsewhere only
    as a field that stands for that parameter: an intervention field listed in its kind's
    ``from_params`` (default -1 = the parameter's value, same unit and range), or a firm
    group's ``size_tail`` (unset = the parameter). Fields of different kinds that share a name
    share a unit."""
    from sim.core.world import FirmGroup
    from sim.io import scenario

    params = Params.names()
    field_info = {row["name"]: row for row in param_table()}
    clashes = []
    for kind, cls in KINDS.items():
        for name, f in cls.fields_info().items():
            stands_for = cls.from_params.get(name)
            if stands_for is not None:
                group, bare = Params.resolve(stands_for)
                assert bare == name, f"{kind}.{name} stands for a parameter of another name"
                assert f.default == -1, f"{kind}.{name}: the default must be -1 (the parameter)"
                assert f.metadata["unit"] == field_info[name]["unit"], (
                    f"{kind}.{name}: not the unit of {stands_for}")
            elif name in params:
                clashes.append(f"interventions kind {kind!r} field {name!r} and parameter "
                               f"{params[name]}.{name}")
    tables = {"scenario": scenario.META_FIELDS, "regions": scenario.REGION_FIELDS,
              "sectors": scenario.SECTOR_FIELDS, "firms": scenario.FIRM_FIELDS}
    for table, fields_ in tables.items():
        for name in fields_:
            if (table, name) == ("firms", "size_tail"):
                assert FirmGroup("r", "s", 1).size_tail is None  # unset: the parameter's value
            elif name in params:
                clashes.append(f"[{table}] key {name!r} and parameter {params[name]}.{name}")
    assert not clashes, "names declared twice with different meanings: " + "; ".join(clashes)
    common = Intervention.fields_info()
    units: dict[str, set[str]] = {}
    for cls in KINDS.values():
        for name, f in cls.fields_info().items():
            if name not in common:
                units.setdefault(name, set()).add(f.metadata["unit"])
    assert all(len(u) == 1 for u in units.values()), {n: u for n, u in units.items()
                                                      if len(u) > 1}


# -- the command ---------------------------------------------------------------------------------
def test_params_command_prints_every_name(capsys):
    code, out = _run_cli(["params"], capsys)
    assert code == 0
    header, rule, *rows = out.splitlines()
    assert set(rule) == {"-", " "}
    assert [line.split()[1] for line in rows] == [r["name"] for r in param_table()]
    # every row's name and default start under their headings
    for col in ("name", "default"):
        at = header.index(col)
        assert all(line[at - 2:at] == "  " and line[at] != " " for line in rows), col


def test_params_markdown_has_one_row_per_parameter(capsys):
    code, out = _run_cli(["params", "--markdown"], capsys)
    assert code == 0
    rows = _table_rows(out)[2:]
    assert [r.split("|")[2].strip().strip("`") for r in rows] == [
        r["name"] for r in param_table()]
    assert all(r.count("|") - r.count("\\|") == 8 for r in rows), "a cell splits a row"
    assert out.splitlines()[0] == params_cli.MARKDOWN_HEADER


def test_params_json_is_the_table(capsys):
    code, out = _run_cli(["params", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == json.loads(json.dumps(param_table()))


def test_params_formats_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["params", "--markdown", "--json"])
    assert exc.value.code == 2
    assert "not allowed" in capsys.readouterr().err


def test_markdown_escapes_pipes():
    row = {"group": "g", "name": "n", "default": 1.0, "allowed": "a", "unit": "u",
           "doc": "x | y", "source": "s"}
    line = _table_rows(params_cli.format_markdown([row]))[-1]
    assert "x \\| y" in line
