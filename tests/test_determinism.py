"""Reproducibility: one seed, one result, whatever the number of numba threads.

Two runs with the same seed must be bit-identical (series compared with ``check_exact=True``,
firm tables and every state array, dead slots included); different seeds must differ; and a run
in a fresh interpreter with ``NUMBA_NUM_THREADS=1`` must hash the same as one with ``=2``. Also
the keyword-override constructor (``ClusterModel(n_firms=200, rng=1)``) and its errors.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.core.params import ParameterError, Params
from sim.interventions.cfc import CommonFacilityCentre
from sim.interventions.trust import TrustBuilding
from sim.model import ClusterModel

ROOT = Path(__file__).resolve().parents[1]
POLICIES = (CommonFacilityCentre(name="cfc", region="Core", start=2, project_cost=200.0,
                                 spv_min_members=5),
            TrustBuilding(name="cda", start=0, participants=50))


def _run(seed, steps=36, **kw):
    model = ClusterModel(rng=seed, n_firms=kw.pop("n_firms", 250), interventions=POLICIES, **kw)
    for _ in range(steps):
        model.step()
    return model


def _state_arrays(model) -> dict[str, np.ndarray]:
    arrays = {f"firms.{k}": v for k, v in vars(model.firms).items()}
    arrays.update({f"ties.{k}": v for k, v in vars(model.ties).items()})
    arrays.update({f"suppliers.{f.name}": getattr(model.suppliers, f.name)
                   for f in dataclasses.fields(model.suppliers)})
    return arrays


def test_same_seed_is_bit_identical():
    a, b = _run(42), _run(42)
    pd.testing.assert_frame_equal(a.series(), b.series(), check_exact=True)
    pd.testing.assert_frame_equal(a.firm_table(), b.firm_table(), check_exact=True)
    sa, sb = _state_arrays(a), _state_arrays(b)
    assert sa.keys() == sb.keys()
    for name in sa:  # every slot, dead ones included: no uninitialised memory in the state
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name, strict=True)
    _assert_same_facilities(a, b)
    assert dict(a.books.public.by) == dict(b.books.public.by)


def _assert_same_facilities(a, b) -> None:
    for f in dataclasses.fields(a.facilities):
        va, vb = getattr(a.facilities, f.name), getattr(b.facilities, f.name)
        if f.name == "sectors":
            assert len(va) == len(vb)
            assert all(np.array_equal(x, y) for x, y in zip(va, vb, strict=True))
        else:
            assert va == vb, f.name


def test_different_seeds_differ():
    a, b = _run(1, steps=12), _run(2, steps=12)
    assert not a.series().equals(b.series())
    assert not np.array_equal(a.firms.x, b.firms.x)


def test_same_seed_same_result_with_and_without_agent_views():
    # the Mesa views draw no random numbers: they must not change the simulation
    a = _run(3, steps=24)
    b = _run(3, steps=24, agents=False)
    pd.testing.assert_frame_equal(a.series(), b.series(), check_exact=True)


_HASH_RUN = textwrap.dedent("""
    import hashlib

    import numba
    import pandas as pd

    import sim.model
    from sim.interventions.cfc import CommonFacilityCentre
    from sim.model import ClusterModel

    sim.model.PARALLEL_MIN_FIRMS = 0  # run the parallel kernels on every thread, even this small
    cfc = CommonFacilityCentre(name="cfc", region="Core", start=2, project_cost=200.0,
                               spv_min_members=5)
    model = ClusterModel(rng=2024, n_firms=400, interventions=[cfc],
                         threads=numba.config.NUMBA_NUM_THREADS)
    for _ in range(36):
        model.step()
    h = hashlib.sha256()
    for df in (model.series(), model.firm_table()):
        h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    h.update(model.ties.trust.tobytes())
    h.update(model.ties.partner.tobytes())
    print(numba.config.NUMBA_NUM_THREADS, h.hexdigest())
""")


def _hash_in_subprocess(threads: int) -> str:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", _HASH_RUN], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    n, digest = out.stdout.split()
    assert int(n) == threads, "the subprocess did not get the thread count asked for"
    return digest


def test_identical_results_with_one_and_two_numba_threads():
    assert _hash_in_subprocess(1) == _hash_in_subprocess(2)


# --------------------------------------------------------------------------- keyword overrides


def test_keyword_overrides():
    model = ClusterModel(n_firms=200, rng=1, burn_in=0)
    assert model.params.world.n_firms == 200
    assert model.firms.n_alive == 200
    model = ClusterModel(rng=1, **{"cooperation.meet_prob": 0.2, "growth_sd": 0.0})
    assert model.params.cooperation.meet_prob == 0.2
    assert model.params.demography.growth_sd == 0.0
    # overrides apply on top of a Params object given too
    base = Params().replace(n_firms=50, wage=0.3)
    model = ClusterModel(base, rng=1, wage=0.5)
    assert (model.params.world.n_firms, model.params.market.wage) == (50, 0.5)


def test_same_seed_by_keyword_and_by_params_object():
    a = ClusterModel(n_firms=120, rng=9)
    b = ClusterModel(Params().replace(n_firms=120), rng=9)
    for _ in range(6):
        a.step()
        b.step()
    pd.testing.assert_frame_equal(a.series(), b.series(), check_exact=True)


def test_bad_keyword_names_the_key_and_suggests():
    with pytest.raises(ParameterError, match=r"n_firm\b.*did you mean 'n_firms'") as err:
        ClusterModel(n_firm=200, rng=1)
    assert err.value.key == "n_firm"
    with pytest.raises(ParameterError, match=r"cooperation\.meet_prb.*did you mean 'meet_prob'"):
        ClusterModel(rng=1, **{"cooperation.meet_prb": 0.1})


def test_bad_value_names_the_key_and_the_allowed_range():
    with pytest.raises(ParameterError,
                       match=r"cooperation\.meet_prob: got 2\.0.*from 0\.0 to 1\.0"):
        ClusterModel(meet_prob=2.0, rng=1)
    with pytest.raises(ParameterError, match=r"entry_mode.*did you mean 'copy'"):
        ClusterModel(entry_mode="cpy", rng=1)
