"""Neural posterior estimation with ``sbi`` (Tejero-Cantero et al. 2020), and its checks.

Each run is one pair (theta, x): theta the free parameters scaled to the unit box of their
prior (log-uniform ones on the log scale), x the run's fitted patterns. A masked autoregressive
flow (Papamakarios, Pavlakou & Murray 2017), on the logit of the unit box, is trained on the
pairs to approximate p(theta | x) directly (neural posterior estimation: Papamakarios & Murray
2016; Greenberg, Nonnenmacher & Macke 2019), with a uniform prior on the box (sbi's
``BoxUniform``). The posterior is then sampled at the observed x.

Measurement error: every training x (and every held-out x) gets Gaussian noise with the
standard deviation given per pattern (the calibration uses a quarter of the target's interval:
the interval is +-2 sd), so the posterior accounts for the observed figure's own uncertainty.

Checks on held-out pairs (whole design points kept out of training): for each held-out truth
the posterior is sampled at its x, and

- coverage: the share of truths inside the central 50% and 90% posterior intervals (nominal
  0.5 and 0.9);
- simulation-based calibration (Talts et al. 2018): the rank of each truth among its posterior
  draws (``sbi.diagnostics.run_sbc``), uniform when the posterior is calibrated; the p-value of
  a Kolmogorov-Smirnov test of uniformity per parameter;
- recovery: R^2 of the posterior median against the truth, on the unit scale, with a verdict:
  ``identified`` when R^2 >= 0.5, ``weakly identified`` when 0.2 <= R^2 < 0.5, ``not
  identified`` below.

``torch`` and ``sbi`` are imported only when :func:`infer` runs. Training and sampling are
seeded (``torch.manual_seed``) and use one thread: the same pairs and seed give the same draws
on the same machine. Torch's global random state and thread count are restored afterwards.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["NETWORK", "TRAINING", "CHECK_DRAWS", "EDGE", "IDENTIFIED", "WEAKLY", "NPEResult",
           "infer", "split_points", "verdict", "at_prior_edge", "coverage", "r_squared"]

#: The density estimator: a masked autoregressive flow (sbi's ``zuko_maf``), small enough that
#: 4,000 pairs train in well under two minutes on one core, fitted on the logit of the unit box
#: (sbi's ``transform_to_unconstrained`` from the prior's support): a flow fitted on the box
#: itself puts too little mass near its edges, so the posterior of a parameter the patterns do
#: not inform comes out narrower than its flat prior (90% intervals covering 0.80 of held-out
#: truths in a test of this project).
NETWORK = {"model": "zuko_maf", "hidden_features": 32, "num_transforms": 3,
           "z_score_theta": "transform_to_unconstrained"}
#: Training settings of sbi's NPE (``train``): early stopping on a 10% validation split.
TRAINING = {"training_batch_size": 128, "learning_rate": 5e-4, "validation_fraction": 0.1,
            "stop_after_epochs": 20, "max_num_epochs": 1000}
#: Posterior draws per held-out truth for coverage, SBC and recovery.
CHECK_DRAWS = 300
#: A posterior quantile (5% or 95%) within this share of the prior's width of an edge.
EDGE = 0.02
#: Recovery R^2 at or above which a parameter is identified; at or above WEAKLY, weakly.
IDENTIFIED = 0.5
WEAKLY = 0.2
#: Central posterior intervals whose coverage is measured.
LEVELS = (0.5, 0.9)


@dataclass
class NPEResult:
    """What :func:`infer` returns: draws at the observation (unit scale, n x d) and checks."""

    draws: np.ndarray
    checks: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)


class _NoTracker:
    """sbi's tracker protocol, logging nothing (its default writes TensorBoard files to the
    working directory)."""

    log_dir = None

    def log_metric(self, name, value, step=None):
        pass

    def log_metrics(self, metrics, step=None):
        pass

    def log_params(self, params):
        pass

    def add_figure(self, name, figure, step=None):
        pass

    def flush(self):
        pass


def split_points(groups: np.ndarray, holdout: float, seed: int) -> np.ndarray:
    """True for the rows of the design points kept out of training: ``round(holdout x
    points)`` points (at least one when ``holdout > 0`` and there are two or more), drawn with
    ``seed``."""
    groups = np.asarray(groups)
    points = np.unique(groups)
    n = int(round(holdout * points.size))
    if holdout > 0 and points.size >= 2:
        n = min(max(n, 1), points.size - 1)
    else:
        n = 0
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    held = rng.choice(points, size=n, replace=False) if n else points[:0]
    return np.isin(groups, held)


def verdict(r2: float | None) -> str | None:
    """``identified`` (R^2 >= 0.5), ``weakly identified`` (>= 0.2) or ``not identified``."""
    if r2 is None or not np.isfinite(r2):
        return None
    if r2 >= IDENTIFIED:
        return "identified"
    return "weakly identified" if r2 >= WEAKLY else "not identified"


def at_prior_edge(q05: float, q95: float) -> bool:
    """On the unit scale of the prior: the 5% quantile within :data:`EDGE` of the lower edge or
    the 95% quantile within it of the upper one (a quantile near the far edge implies the
    other is near it too)."""
    return bool(q05 <= EDGE or q95 >= 1.0 - EDGE)


def coverage(samples: np.ndarray, truth: np.ndarray, level: float) -> np.ndarray:
    """Per parameter, the share of truths inside the central ``level`` interval of their
    draws. ``samples``: (draws, truths, d); ``truth``: (truths, d)."""
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return ((truth >= lo) & (truth <= hi)).mean(axis=0)


def r_squared(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per column, ``1 - SS_res / SS_tot`` of the estimate against the truth."""
    res = ((estimate - truth) ** 2).sum(axis=0)
    tot = ((truth - truth.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tot > 0, 1.0 - res / tot, np.nan)


def _tensor(a):
    import torch

    return torch.as_tensor(np.ascontiguousarray(a, dtype=np.float32))


def _train(theta: np.ndarray, x: np.ndarray):
    """Train sbi's NPE on the pairs; returns the posterior and training facts."""
    import torch
    from sbi.inference import NPE
    from sbi.neural_nets import posterior_nn
    from sbi.utils import BoxUniform

    d = theta.shape[1]
    prior = BoxUniform(low=torch.zeros(d), high=torch.ones(d))
    inference = NPE(prior=prior, density_estimator=posterior_nn(**NETWORK, x_dist=prior),
                    show_progress_bars=False, tracker=_NoTracker())
    inference.append_simulations(_tensor(theta), _tensor(x))
    with contextlib.redirect_stdout(io.StringIO()):  # sbi prints "converged after N epochs"
        estimator = inference.train(**TRAINING)
    summary = inference.summary
    facts = {"pairs": int(theta.shape[0]),
             "epochs": int(summary["epochs_trained"][-1]),
             "best_validation_log_prob": float(-summary["best_validation_loss"][-1])}
    return inference.build_posterior(estimator), facts


def _batch(rows: int) -> int:
    return max(1, min(10_000, 100_000 // rows))


def _sample(posterior, x: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws at each row of ``x``: (n, rows, d)."""
    rows = x.shape[0]
    # sbi caps the rejection batch at 100,000 / rows with a warning: ask for that cap
    s = posterior.sample_batched((n,), x=_tensor(x), show_progress_bars=False,
                                 max_sampling_batch_size=_batch(rows))
    return s.numpy().astype(np.float64)


def _checks(posterior, theta: np.ndarray, x: np.ndarray, n_draws: int) -> dict[str, Any]:
    """Coverage, SBC ranks and recovery on held-out pairs (unit scale)."""
    from sbi.diagnostics import run_sbc
    from sbi.diagnostics.sbc import check_uniformity_frequentist

    samples = _sample(posterior, x, n_draws)
    median = np.median(samples, axis=0)
    cov = {f"{level:g}": coverage(samples, theta, level) for level in LEVELS}
    r2 = r_squared(median, theta)
    with warnings.catch_warnings():
        # sbi warns below 100 truths; the report says how many there were
        warnings.filterwarnings("ignore", message="Number of SBC samples", category=UserWarning)
        # run_sbc samples with sbi's default batch, which sbi then caps, saying so
        warnings.filterwarnings("ignore", message="Capping max_sampling_batch_size",
                                category=UserWarning)
        ranks, _ = run_sbc(_tensor(theta), _tensor(x), posterior, num_posterior_samples=n_draws,
                           show_progress_bar=False)
    ks = check_uniformity_frequentist(ranks, n_draws).numpy().astype(np.float64)
    return {"truths": int(theta.shape[0]), "draws_per_truth": int(n_draws),
            "coverage": cov, "ks_pvalue": ks, "ranks": ranks.numpy().astype(np.int64),
            "r2": r2, "median": median}


def infer(theta: np.ndarray, x: np.ndarray, groups: np.ndarray, x_obs: np.ndarray,
          noise_sd: np.ndarray, *, draws: int, holdout: float, seed: int,
          check_draws: int = CHECK_DRAWS) -> NPEResult:
    """Train NPE on the pairs not held out, sample ``draws`` at ``x_obs`` and check on the
    held-out ones.

    Parameters
    ----------
    theta : (n, d) float
        Parameters on the unit scale of the prior (in [0, 1]).
    x : (n, k) float
        Patterns of each run, finite.
    groups : (n,)
        The design point of each run: a held-out point keeps all its runs out.
    x_obs : (k,) float
        The observed patterns.
    noise_sd : (k,) float
        Standard deviation of the measurement noise added to every training and held-out x.
    draws, holdout, seed
        Posterior draws at ``x_obs``; the share of design points held out; the seed of the
        split, the noise, training and sampling.
    """
    import torch

    theta = np.asarray(theta, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if not (np.isfinite(theta).all() and np.isfinite(x).all()):
        raise ValueError("theta and x must be finite")
    held = split_points(groups, holdout, seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    x_noisy = x + rng.normal(0.0, 1.0, x.shape) * np.asarray(noise_sd, dtype=np.float64)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            posterior, facts = _train(theta[~held], x_noisy[~held])
            torch.manual_seed(seed + 1)
            out = _sample(posterior, np.asarray(x_obs, dtype=np.float64)[None, :], draws)[:, 0]
            checks: dict[str, Any] = {"truths": 0}
            if held.any():
                torch.manual_seed(seed + 2)
                checks = _checks(posterior, theta[held], x_noisy[held], check_draws)
    finally:
        torch.set_num_threads(threads)
    facts.update(held_out_runs=int(held.sum()),
                 held_out_points=int(np.unique(np.asarray(groups)[held]).size))
    return NPEResult(draws=out, checks=checks, training=facts)
