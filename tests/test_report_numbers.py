"""The report's one number format: thousands separators, decimals by magnitude, intervals whose
two ends (and the estimate beside them) share their decimals, and no absolute paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.studies.report import fmt, interval, pct, shown_path, signed
from sim.studies.report.numbers import decimals, plural
from sim.studies.report.tables import estimate


@pytest.mark.parametrize(("x", "text"), [
    (4753.2, "4,753"), (1_234_567.0, "1,234,567"), (42.54, "42.5"), (2.962, "2.96"),
    (0.01234, "0.0123"), (0.5, "0.500"), (0.0, "0"), (-5.225, "-5.22"), (-0.0004, "-0.000400"),
])
def test_decimals_follow_the_magnitude(x, text):
    assert fmt(x) == text


def test_missing_numbers_are_blank_and_text_is_escaped():
    assert fmt(None) == ""
    assert fmt(float("nan")) == ""
    assert fmt(float("inf")) == ""
    assert fmt("<b>") == "&lt;b&gt;"


def test_an_interval_never_mixes_decimals():
    # the "[2.962, 4,753]": both ends now to the decimals of the larger
    assert interval(2.962, 4753.0) == "[3, 4,753]"
    assert interval(-0.46, 7.13) == "[-0.46, 7.13]"
    assert interval(float("nan"), 1.0) == ""
    top, iv = estimate(12.345, 2.1, 22.6)
    assert (top, iv) == ("+12.3", "[2.1, 22.6]")
    assert decimals(12.345, 2.1, 22.6) == 1


def test_signs_and_shares():
    assert signed(3.0) == "+3.00"
    assert signed(-3.0) == "-3.00"
    assert signed(0.0) == "0"
    assert signed(0.0001, 2) == "0"  # rounds to zero: no sign
    assert pct(0.254) == "25%"
    assert pct(float("nan")) == ""


def test_paths_are_shown_relative_or_by_name(tmp_path):
    inside = Path.cwd() / "scenarios" / "cfc.toml"
    assert shown_path(inside) == "scenarios/cfc.toml"
    elsewhere = tmp_path / "deep" / "alt.toml"
    if not str(elsewhere.resolve()).startswith(str(Path.cwd().resolve()) + os.sep):
        assert shown_path(elsewhere) == "alt.toml"
    assert shown_path(None) == ""


@pytest.mark.parametrize(("unit", "many"), [
    ("job", "jobs"), ("firm in business", "firms in business"),
    ("tonne of stone waste treated", "tonnes of stone waste treated"),
    ("firm-month of slurry treated", "firm-months of slurry treated"),
    ("million litres of effluent treated", "million litres of effluent treated"),
    ("tests", "tests"),
])
def test_a_unit_given_in_the_singular_reads_right_in_the_plural(unit, many):
    assert plural(unit) == many
