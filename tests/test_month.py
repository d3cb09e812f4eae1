"""The month's typed hand-overs and books (sim.core.month) and the market's state: every field is
declared, so a misspelt name is an error, not a silent zero; each phase hands the next what the
model description says (hand-built)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.month import Books, Month, PrivateAccount, PublicAccount
from sim.core.state import FirmState
from sim.mechanisms import market
from sim.model import ClusterModel


def test_a_misspelt_book_is_an_error_when_read_written_or_recorded():
    books = Books()
    with pytest.raises(AttributeError):
        _ = books.private.proft
    with pytest.raises(AttributeError):
        books.private.proft = 1.0
    with pytest.raises(AttributeError, match="no book 'proft'"):
        books.private.record({"profit": 1.0, "proft": 2.0})
    with pytest.raises(AttributeError):
        _ = books.public.totl
    with pytest.raises(AttributeError):
        _ = Month().labour_gp


def test_a_mechanism_s_books_are_recorded_by_name():
    private = PrivateAccount()
    private.record({"ties_formed": 3, "coop_played": 4, "coop_kept": 2.0})
    assert (private.ties_formed, private.coop_played, private.coop_kept) == (3, 4, 2.0)
    assert private.profit is None  # not booked yet: the market books it


def test_public_account_books_by_account_and_closes_each_month_into_the_total():
    public = PublicAccount()
    public.book("cfc", 60.0)
    public.book("credit", 2.5)
    public.book("cfc", 1.5)
    assert public.month == 64.0
    assert dict(public.by) == {"cfc": 61.5, "credit": 2.5}
    assert public.total == 0.0
    public.close_month()
    assert public.total == 64.0


def test_opening_a_month_keeps_the_public_books_and_starts_fresh_private_ones():
    books = Books()
    books.public.book("cfc", 10.0)
    books.public.close_month()
    books.private.exit_capital = 7.0
    books.open_month(opening_capital=123.0)
    assert books.public.month == 0.0
    assert books.public.total == 10.0
    assert books.public.by["cfc"] == 10.0
    assert books.private.exit_capital == 0.0
    assert books.private.opening_capital == 123.0
    books.open_month()  # a start: no month booked
    assert books.private.opening_capital is None


def test_a_new_month_carries_over_only_last_month_s_bills():
    month = Month(unit_input_cost=np.ones(3), labour_gap=np.full(3, 0.5),
                  input_cost=np.array([1.0, 2.0, 3.0]), waste_cost=np.array([0.0, 1.0, 0.0]),
                  facility_fee=np.full(3, 0.25))
    after = month.next()
    np.testing.assert_array_equal(after.last_input_cost, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(after.last_waste_cost, [0.0, 1.0, 0.0])
    assert after.unit_input_cost is None
    assert after.labour_gap.size == after.facility_fee.size == after.input_cost.size == 0


def test_the_month_hands_each_phase_what_the_last_computed(make_world, make_params):
    world = make_world({("R0", "S0"): 40, ("R1", "S0"): 20})
    m = ClusterModel(make_params("suppliers", "market", "growth"), world, rng=3, agents=False)
    m.step()
    n = m.firms.capacity
    assert m.month.unit_input_cost.shape == (n,)  # suppliers -> market
    assert m.month.labour_gap.shape == (n,)  # market -> growth
    assert np.all(np.abs(m.month.labour_gap) <= 1.0)
    bills = m.month.input_cost
    m.step()
    assert m.month.last_input_cost is bills  # last month's bills, for the facilities
    # the recorder's row is the month's books
    row = m.recorder.latest
    assert row["profit"] == m.books.private.profit
    assert row["investment"] == m.books.private.investment
    assert row["capital_change"] == pytest.approx(row["capital"]
                                                  - m.books.private.opening_capital)


def test_market_state_at_the_start_by_hand():
    # two sectors, two regions; live firms: sector 0 in region 0 (10 workers) and region 1 (30),
    # sector 1 nowhere: its reference employment is floored at a quarter of an even spread
    firms = FirmState.empty(4)
    firms.alive[:3] = True
    firms.sector[:3] = (0, 0, 0)
    firms.region[:3] = (0, 1, 1)
    firms.employees[:3] = (10.0, 20.0, 10.0)
    wa = {"sector_weight": np.array([0.5, 0.5]), "sector_price": np.array([1.0, 2.0])}
    q = np.array([6.0, 0.0])
    state = market.MarketState.at_start(firms, q, wa, 2, 2)
    floor = 0.25 * 40.0 / 4
    np.testing.assert_allclose(state.emp0, [[10.0, 30.0], [floor, floor]])
    np.testing.assert_allclose(state.emp0_region, [10.0, 30.0])
    # demand at the base price: the sector's output, or the mean output per firm times its
    # weight where it makes nothing
    np.testing.assert_allclose(state.demand0, [6.0, 6.0 / 3 * 0.5])
    np.testing.assert_array_equal(state.sector_price, [1.0, 2.0])
    assert state.sector_price is not wa["sector_price"]  # the market's prices move alone
    np.testing.assert_array_equal(state.localisation, np.ones((2, 2)))


def test_the_market_owns_its_state_and_no_loose_market_attribute_is_left_on_the_model():
    m = ClusterModel(n_firms=100, rng=1, burn_in=0, agents=False)
    for name in ("emp0", "emp0_region", "localisation", "wage_mult", "rent_mult", "demand0",
                 "sector_price", "dartboard_probs", "tmp", "public_total", "public_by",
                 "public_step", "capital_before"):
        assert not hasattr(m, name), name
    m.step()
    # this month's prices are the ones firms sold at (revenue = price * output * access)
    f, access = m.firms, m.world_arrays["market_access"]
    live = np.flatnonzero(f.alive & (f.output > 0))[:20]
    np.testing.assert_allclose(f.revenue[live], m.market.sector_price[f.sector[live]]
                               * f.output[live] * access[f.region[live]], rtol=1e-12)
