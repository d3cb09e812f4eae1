"""The scenario loader: format, ``extends`` merging, overrides, ``--set`` parsing, hashing.

Broken files, one per kind of mistake, are in ``test_validate_corpus.py``.
"""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from sim.core.errors import InputError
from sim.core.params import Params
from sim.core.world import default_world
from sim.interventions.cfc import CommonFacilityCentre
from sim.interventions.trust import TrustBuilding
from sim.io.scenario import (
    Scenario,
    known_outputs,
    load_scenario,
    parse_set,
    reference_markdown,
)
from sim.model import ClusterModel

ROOT = Path(__file__).resolve().parents[1]

PARENT = """
[scenario]
name = "parent"
description = "the parent"
sources = ["a source"]
currency = "thousand USD"
steps = 36

[[regions]]
name = "A"
x = 10.0
y = 10.0

[[regions]]
name = "B"
x = 30.0
y = 30.0
land_cost = 0.02

[[sectors]]
name = "metal"
input = "steel"

[[sectors]]
name = "food"
input = "grain"

[[firms]]
region = "A"
sector = "metal"
count = 20

[[firms]]
region = "B"
sector = "food"
count = 10

[params]
coop_benefit = 0.03

[params.cooperation]
trust_gain = 0.2
trust_loss = 0.3

[[interventions]]
kind = "trust_building"
name = "trust"
regions = ["A"]
duration = 12
participants = 15

[[interventions]]
kind = "cfc"
name = "cfc"
region = "A"
grant_share = 0.8
after = "trust"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def parent(tmp_path) -> Path:
    return write(tmp_path, "parent.toml", PARENT)


# -- the format -----------------------------------------------------------------------------------
def test_loads_every_part(parent):
    sc = load_scenario(parent)
    assert isinstance(sc, Scenario)
    assert (sc.name, sc.description, sc.steps, sc.path) == ("parent", "the parent", 36, parent)
    assert sc.meta["sources"] == ["a source"]
    assert sc.meta["currency"] == "thousand USD"
    assert [r.name for r in sc.world.regions] == ["A", "B"]
    assert sc.world.regions[1].land_cost == 0.02
    assert sc.world.regions[0].land_cost == 0.03  # Region's default
    assert sc.world.inputs == ("steel", "grain")
    assert [(g.region, g.sector, g.count) for g in sc.world.firms] == [("A", "metal", 20),
                                                                      ("B", "food", 10)]
    assert sc.params.cooperation.coop_benefit == 0.03
    assert sc.params.cooperation.trust_gain == 0.2
    assert sc.params.cooperation.trust_loss == 0.3
    assert sc.params.market == Params().market
    trust, cfc = sc.interventions
    assert isinstance(trust, TrustBuilding)
    assert isinstance(cfc, CommonFacilityCentre)
    assert trust.regions == ("A",)
    assert trust.duration == 12
    assert trust.participants == 15
    assert (cfc.region, cfc.grant_share, cfc.after) == ("A", 0.8, "trust")


def test_defaults_when_world_and_metadata_are_omitted(tmp_path):
    sc = load_scenario(write(tmp_path, "empty.toml", ""))
    assert sc.name == "empty"  # the file's stem
    assert sc.steps == 120
    assert sc.params == Params()
    assert sc.world == default_world()
    assert sc.interventions == ()


def test_bare_and_group_names_are_the_same(tmp_path):
    a = load_scenario(write(tmp_path, "a.toml", "[params]\ntrust_gain = 0.2\n"))
    b = load_scenario(write(tmp_path, "b.toml", "[params.cooperation]\ntrust_gain = 0.2\n"))
    assert a.params == b.params
    assert a.params.cooperation.trust_gain == 0.2


def test_switch_by_bare_name_and_integers_for_floats(tmp_path):
    sc = load_scenario(write(tmp_path, "s.toml", """
        [params]
        cooperation = false
        wage = 1
        [params.switches]
        entry = false
        """))
    assert sc.params.switches.cooperation is False
    assert sc.params.switches.entry is False
    assert sc.params.market.wage == 1.0
    assert isinstance(sc.params.market.wage, float)


def test_intervention_name_defaults_to_kind(tmp_path):
    sc = load_scenario(write(tmp_path, "t.toml", """
        [[interventions]]
        kind = "training"
        sectors = ["metal"]
        size_classes = ["micro", "small"]
        """))
    (iv,) = sc.interventions
    assert iv.name == "training"
    assert iv.sectors == ("metal",)
    assert iv.size_classes == ("micro", "small")


def test_when_metric_accepts_world_specific_outputs(tmp_path):
    sc = load_scenario(write(tmp_path, "m.toml", """
        [[interventions]]
        kind = "training"
        when_metric = "eg_gamma_stone"
        when_at_least = 0.01
        """))
    assert sc.interventions[0].when_metric == "eg_gamma_stone"
    names = known_outputs(default_world())
    for name in ("cooperation_rate", "mean_trust", "firms", "facilities_operating",
                 "eg_gamma_metal", "lq_stone_Remote", "public_spending_total", "entries"):
        assert name in names


def test_build_gives_the_model(parent):
    sc = load_scenario(parent)
    model = sc.build(rng=3, agents=False)
    assert isinstance(model, ClusterModel)
    assert model.params is sc.params
    assert model.world is sc.world
    assert [s.spec for s in model.schedules] == list(sc.interventions)
    model.step()
    assert model.steps == 1
    again = sc.build(rng=3, agents=False)
    again.step()
    assert again.series().equals(model.series())


def test_scenario_is_hashable_and_compares_by_content(parent, tmp_path):
    a, b = load_scenario(parent), load_scenario(parent)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != a.with_overrides({"steps": 12})


def test_scenario_pickles(parent):
    sc = load_scenario(parent)
    back = pickle.loads(pickle.dumps(sc))
    assert back.hash == sc.hash
    assert back.interventions == sc.interventions


# -- hashing and texts ----------------------------------------------------------------------------
def test_hash_is_semantic(tmp_path, parent):
    sc = load_scenario(parent)
    assert load_scenario(parent).hash == sc.hash
    assert len(sc.hash) == 64
    # comments and explicit defaults do not change the scenario
    same = write(tmp_path, "same.toml", "# a comment\n" + PARENT.replace(
        'name = "A"\nx = 10.0', 'name = "A"\nx = 10.0\nland_cost = 0.03'))
    assert load_scenario(same).hash == load_scenario(parent).hash
    other = write(tmp_path, "other.toml", PARENT.replace("trust_loss = 0.3", "trust_loss = 0.31"))
    assert load_scenario(other).hash != sc.hash


def test_text_holds_the_sources(parent):
    assert load_scenario(parent).text.count("[[interventions]]") == 2


# -- extends ---------------------------------------------------------------------------------------
def test_extends_merge_rule(tmp_path, parent):
    child = write(tmp_path, "child.toml", """
        extends = "parent.toml"

        [scenario]
        sources = ["another source"]

        [params.cooperation]
        trust_gain = 0.25

        [[regions]]
        name = "A"
        x = 12.0
        y = 12.0

        [[firms]]
        region = "A"
        sector = "metal"
        count = 5

        [[interventions]]
        name = "cfc"
        grant_share = 0.7

        [[interventions]]
        kind = "credit"
        name = "credit"
        """)
    sc = load_scenario(child)
    # name and description are the child's own (stem, empty), not inherited
    assert sc.name == "child"
    assert sc.description == ""
    # tables merge key by key
    assert sc.steps == 36
    assert sc.meta["currency"] == "thousand USD"
    assert sc.meta["sources"] == ["another source"]
    assert sc.params.cooperation.trust_gain == 0.25
    assert sc.params.cooperation.trust_loss == 0.3
    assert sc.params.cooperation.coop_benefit == 0.03
    # arrays replace wholesale
    assert [r.name for r in sc.world.regions] == ["A"]
    assert [s.name for s in sc.world.sectors] == ["metal", "food"]
    assert [(g.region, g.count) for g in sc.world.firms] == [("A", 5)]
    # interventions merge by name, new ones appended
    assert [iv.name for iv in sc.interventions] == ["trust", "cfc", "credit"]
    cfc = sc.interventions[1]
    assert (cfc.grant_share, cfc.after, cfc.region) == (0.7, "trust", "A")
    assert sc.meta["files"] == (str(parent), str(child))
    assert "# ---- " + str(parent) in sc.text
    assert "# ---- " + str(child) in sc.text


def test_extends_kind_change_replaces_the_entry(tmp_path, parent):
    child = write(tmp_path, "child.toml", """
        extends = "parent.toml"
        [[interventions]]
        kind = "training"
        name = "cfc"
        """)
    iv = load_scenario(child).interventions[1]
    assert iv.kind == "training"
    assert iv.name == "cfc"
    assert iv.after == ""  # nothing of the old cfc entry survives


def test_extends_chain_and_hash_covers_parents(tmp_path, parent):
    write(tmp_path, "child.toml", 'extends = "parent.toml"\n[params]\nwage = 0.5\n')
    (tmp_path / "sub").mkdir()
    grandchild = write(tmp_path / "sub", "grandchild.toml",
                       'extends = "../child.toml"\n[scenario]\nname = "gc"\n')
    sc = load_scenario(grandchild)
    assert sc.name == "gc"
    assert sc.params.market.wage == 0.5
    assert sc.params.cooperation.trust_gain == 0.2
    assert len(sc.meta["files"]) == 3
    before = sc.hash
    parent.write_text(PARENT.replace("coop_benefit = 0.03", "coop_benefit = 0.04"))
    assert load_scenario(grandchild).hash != before


@pytest.mark.parametrize(("kind", "field", "value"), [
    ("joint_purchasing", "regions", '["Core"]'),
    ("demand_shock", "regions", '["Core"]'),
    ("movement_restriction", "size_classes", '["micro"]'),
    ("cfc", "size_classes", '["micro"]'),
])
def test_targeting_a_kind_does_not_use_is_refused(tmp_path, kind, field, value):
    extra = 'region = "Core"\n' if kind == "cfc" else ""
    path = write(tmp_path, "s.toml", f'[[interventions]]\nkind = "{kind}"\n{extra}'
                 f"{field} = {value}\n")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert info.value.key == f"interventions[0].{field}"
    assert f"kind {kind!r} does not target by {field}" in info.value.message


def test_extends_missing_target(tmp_path):
    path = write(tmp_path, "c.toml", 'extends = "nope.toml"\n')
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert info.value.source == str(path)
    assert info.value.key == "extends"
    assert "no such file" in info.value.message


def test_extends_itself_is_a_cycle(tmp_path):
    path = write(tmp_path, "self.toml", 'extends = "self.toml"\n')
    with pytest.raises(InputError, match=r"extends: cycle: self.toml -> self.toml"):
        load_scenario(path)


def test_extends_cycle_names_the_closing_file(tmp_path):
    a = write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "c.toml"\n')
    write(tmp_path, "c.toml", 'extends = "a.toml"\n')
    with pytest.raises(InputError) as info:
        load_scenario(a)
    assert info.value.source == str(tmp_path / "c.toml")
    assert info.value.message.startswith("cycle: a.toml -> b.toml -> c.toml -> a.toml")


def test_error_in_merged_entry_names_the_file_that_wrote_it(tmp_path, parent):
    # the parent's cfc refers to region A; the child removes region A
    child = write(tmp_path, "child.toml", """
        extends = "parent.toml"
        [[regions]]
        name = "B"
        x = 30.0
        y = 30.0
        """)
    with pytest.raises(InputError) as info:
        load_scenario(child)
    assert info.value.source == str(parent)
    assert info.value.key == "firms[0].region"


# -- overrides --------------------------------------------------------------------------------
def test_with_overrides(parent):
    sc = load_scenario(parent)
    new = sc.with_overrides({"coop_benefit": 0.05, "cooperation.trust_loss": 0.4,
                             "params.market.wage": 0.5, "interventions.cfc.grant_share": 0.75,
                             "interventions.trust.regions": ["A", "B"], "steps": 60})
    assert new is not sc
    assert new.params.cooperation.coop_benefit == 0.05
    assert new.params.cooperation.trust_loss == 0.4
    assert new.params.market.wage == 0.5
    assert new.params.cooperation.trust_gain == 0.2  # untouched
    assert new.interventions[1].grant_share == 0.75
    assert new.interventions[0].regions == ("A", "B")
    assert new.steps == 60
    assert new.hash != sc.hash
    assert "# --set" in new.text
    assert "interventions.cfc.grant_share = 0.75" in new.text
    # the original is unchanged
    assert sc.params.cooperation.coop_benefit == 0.03
    assert sc.steps == 36
    assert sc.interventions[1].grant_share == 0.8
    assert sc.with_overrides({}) is sc


@pytest.mark.parametrize(("overrides", "key", "fragment"), [
    ({"coop_benfit": 0.1}, "coop_benfit", "unknown key (did you mean 'coop_benefit'?)"),
    ({"stesp": 10}, "stesp", "(did you mean 'steps'?)"),
    ({"cooperation.trust_gian": 0.1}, "cooperation.trust_gian",
     "(did you mean 'cooperation.trust_gain'?)"),
    ({"coop_benefit": 2.0}, "coop_benefit", "got 2.0; allowed: a number from 0.0 to 1.0"),
    ({"coop_benefit": "high"}, "coop_benefit", "got 'high'; allowed: a number"),
    ({"interventions.cfx.grant_share": 0.8}, "interventions.cfx.grant_share",
     "no intervention named 'cfx'; allowed: 'trust', 'cfc' (did you mean 'cfc'?)"),
    ({"interventions.cfc.grant_shar": 0.8}, "interventions.cfc.grant_shar",
     "unknown key for kind 'cfc' (did you mean 'grant_share'?)"),
    ({"interventions.cfc.grant_share": 1.5}, "interventions.cfc.grant_share",
     "got 1.5; allowed: a number from -1.0 to 1.0"),
    ({"interventions.cfc.region": "C"}, "interventions.cfc.region",
     "got 'C'; allowed: one of 'A', 'B'"),
    ({"interventions.cfc": 1}, "interventions.cfc", "allowed: interventions.NAME.FIELD"),
    ({"steps": 0}, "steps", "got 0; allowed: an integer from 1 to 100000"),
    ({"interventions.trust.end": 0}, "interventions.trust.end", "not after start"),
])
def test_bad_overrides_name_set(parent, overrides, key, fragment):
    with pytest.raises(InputError) as info:
        load_scenario(parent).with_overrides(overrides)
    assert info.value.source == "--set"
    assert info.value.key == key
    assert fragment in info.value.message
    assert str(info.value).startswith(f"--set: {key}: ")


@pytest.mark.parametrize("key", ["n_firms", "world.n_firms", "params.world.n_firms"])
def test_n_firms_is_refused_when_the_scenario_lists_its_firms(parent, key):
    # the parent lists 30 firms in [[firms]]: n_firms would change nothing, yet be recorded
    with pytest.raises(InputError) as info:
        load_scenario(parent).with_overrides({key: 300})
    assert info.value.source == "--set"
    assert info.value.key == key
    assert f"[[firms]] in {parent}" in info.value.message
    assert "n_firms would be ignored" in info.value.message


def test_n_firms_in_a_file_that_lists_firms_is_refused_naming_that_file(parent, tmp_path):
    child = tmp_path / "child.toml"
    child.write_text(f'extends = "{parent.name}"\n[params]\nn_firms = 300\n')
    with pytest.raises(InputError) as info:
        load_scenario(child)
    assert (info.value.source, info.value.key) == (str(child), "params.n_firms")


def test_n_firms_applies_to_a_scenario_without_firms(tmp_path):
    plain = tmp_path / "plain.toml"
    plain.write_text("[scenario]\nsteps = 3\n")
    sc = load_scenario(plain).with_overrides({"n_firms": 40, "burn_in": 0})
    assert sc.params.world.n_firms == 40
    assert sc.build(rng=0, agents=False).firms.n_alive == 40  # the set-up, before any month


def test_parse_set_values():
    got = parse_set(["a=0.3", "b = 2", "c=true", 'd="text with spaces"', 'e=["x", "y"]',
                     "f=Hebron", "g=-1", "h=1e3", "interventions.cfc.grant_share=0.8"])
    assert got == {"a": 0.3, "b": 2, "c": True, "d": "text with spaces", "e": ["x", "y"],
                   "f": "Hebron", "g": -1, "h": 1000.0, "interventions.cfc.grant_share": 0.8}
    assert isinstance(got["b"], int)
    assert isinstance(got["a"], float)
    assert parse_set([]) == {}
    assert parse_set(None) == {}


@pytest.mark.parametrize(("items", "key", "fragment"), [
    (["coop_benefit"], "coop_benefit", "allowed: KEY=VALUE"),
    (["=3"], "=3", "allowed: KEY=VALUE"),
    (["a=1", "a=2"], "a", "given twice"),
    (["a=[1, "], "a", "allowed: a TOML value"),
    (["a=0.3.4"], "a", "allowed: a TOML value"),
])
def test_parse_set_errors(items, key, fragment):
    with pytest.raises(InputError) as info:
        parse_set(items)
    assert info.value.source == "--set"
    assert info.value.key == key
    assert fragment in info.value.message


def test_set_then_override_end_to_end(parent):
    sc = load_scenario(parent).with_overrides(parse_set(["trust_gain=0.5",
                                                         "interventions.trust.participants=3"]))
    assert sc.params.cooperation.trust_gain == 0.5
    assert sc.interventions[0].participants == 3


# -- documentation ------------------------------------------------------------------------------
def test_docs_hold_the_generated_reference():
    doc = (ROOT / "docs" / "scenarios.md").read_text()
    assert reference_markdown() in doc, (
        "docs/scenarios.md is out of date: paste sim.io.scenario.reference_markdown() into it")


def test_reference_lists_every_kind_and_field():
    ref = reference_markdown()
    from sim.interventions import KINDS

    for kind, cls in KINDS.items():
        assert f'`kind = "{kind}"`' in ref
        for name in cls.fields_info():
            assert f"| `{name}` |" in ref


# -- enabled = false -------------------------------------------------------------------------------
def test_enabled_false_drops_an_inherited_intervention(tmp_path):
    from sim.io.scenario import load_scenario

    parent = Path(__file__).resolve().parents[1] / "scenarios" / "hebron_stone.toml"
    child = tmp_path / "no_cfc.toml"
    child.write_text(f'extends = "{parent}"\n[scenario]\nname = "no_cfc"\n'
                     '[[interventions]]\nname = "slurry_cfc"\nenabled = false\n')
    full = load_scenario(parent)
    dropped = load_scenario(child)
    assert "slurry_cfc" in [iv.name for iv in full.interventions]
    assert [iv.name for iv in dropped.interventions] == [
        iv.name for iv in full.interventions if iv.name != "slurry_cfc"]
    # the same through --set
    same = full.with_overrides({"interventions.slurry_cfc.enabled": False})
    assert [iv.name for iv in same.interventions] == [iv.name for iv in dropped.interventions]
    # enabled = true keeps it
    kept = full.with_overrides({"interventions.slurry_cfc.enabled": True})
    assert [iv.name for iv in kept.interventions] == [iv.name for iv in full.interventions]


def test_enabled_must_be_true_or_false(tmp_path):
    from sim.core.errors import InputError
    from sim.io.scenario import load_scenario

    parent = Path(__file__).resolve().parents[1] / "scenarios" / "hebron_stone.toml"
    child = tmp_path / "bad.toml"
    child.write_text(f'extends = "{parent}"\n[[interventions]]\nname = "slurry_cfc"\n'
                     'enabled = "no"\n')
    with pytest.raises(InputError, match=r"bad\.toml: interventions\[0\]\.enabled: got 'no'; "
                       "allowed: true or false"):
        load_scenario(child)
