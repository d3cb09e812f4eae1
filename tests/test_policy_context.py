"""Interventions see the model through a narrow context and keep their own books: credit's cover
of each firm lives with the credit interventions, not in the firm arrays (hand-built)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.core.state import FIRM_FIELDS
from sim.interventions.context import PolicyContext
from sim.interventions.credit import Credit
from sim.model import ClusterModel


def _model(make_world, make_params, *specs):
    world = make_world({("R0", "S0"): 10, ("R1", "S0"): 10})
    return ClusterModel(make_params("market"), world, specs, rng=5, agents=False)


def test_the_context_is_what_interventions_may_touch_and_no_more(make_world, make_params):
    m = _model(make_world, make_params)
    ctx = m.policy_context()
    assert {f.name for f in dataclasses.fields(PolicyContext)} == {
        "steps", "firms", "ties", "mods", "facilities", "world", "params", "rng",
        "book_public", "shared"}
    for name in ("schedules", "recorder", "books", "market", "population", "month"):
        assert not hasattr(ctx, name), name
    assert ctx.firms is m.firms
    assert ctx.rng is m.rng
    assert ctx.mods is m.mods
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.firms = None
    # booking through the context charges the public account and the intervention's budget
    m2 = _model(make_world, make_params, Credit(name="c", budget=10.0))
    m2.policy_context().book_public("c", 4.0)
    assert m2.books.public.by["c"] == 4.0
    assert m2.schedules[0].remaining_budget() == 6.0


def test_credit_cover_is_not_a_firm_array():
    assert "credit_policy" not in FIRM_FIELDS
    assert "guarantee_cover" not in FIRM_FIELDS


def test_a_leaver_s_guarantee_is_paid_once_and_its_slot_is_no_longer_covered(make_world,
                                                                             make_params):
    spec = Credit(name="c", regions=("R0",), interest_subsidy=0.0, guarantee_months=1.0,
                  guarantee_cover=0.4)
    m = _model(make_world, make_params, spec)
    m.step()  # the programme covers the firms of R0
    cover = m.policy_context().shared["credit"]
    r0 = np.flatnonzero(m.firms.alive & (m.firms.region == 0))
    assert (cover.owner[r0] == cover.code(m.schedules[0])).all()
    slot = int(r0[0])
    m.firms.capital[slot] = -10.0
    spent = m.books.public.total + m.books.public.month
    m._remove_firms(np.array([slot]))
    assert m.books.public.total + m.books.public.month - spent == pytest.approx(4.0)
    assert cover.owner[slot] == -1
    # an entrant of R1 takes the slot, runs up debts and leaves: nobody guaranteed it
    new = m.population.create(m.firms, m.ties, np.array([1]), np.array([0]), np.array([2.0]),
                              parent=np.array([-1]), t=m.steps, books=m.books)
    assert new.tolist() == [slot]
    m.firms.capital[slot] = -10.0
    spent = m.books.public.total + m.books.public.month
    m._remove_firms(np.array([slot]))
    assert m.books.public.total + m.books.public.month == spent
