"""How strong would a confounder of frowning and mood have to be to explain the indirect effect
away? The sensitivity analysis of Imai, Keele and Tingley (2010, *A general approach to causal
mediation analysis*, Psychological Methods 15(4), 309-334) for linear models.

With the mediator model ``M = a T + X + e2`` and the outcome model ``Y = b M + c T + X + e3``,
an unmeasured confounder of frowning and mood makes ``rho = corr(e2, e3)`` non-zero. Writing
``e1`` for the error of ``Y = T + X + e1`` (the total-effect model), ``sigma1``, ``sigma2`` for
the sd of ``e1`` and ``e2`` and ``rho_tilde = corr(e1, e2)``, the indirect effect at ``rho`` is::

    ACME(rho) = a * sigma1 / sigma2 * (rho_tilde - rho * sqrt((1 - rho_tilde**2) / (1 - rho**2)))

It equals ``a * b`` at ``rho = 0`` and reaches 0 at ``rho = rho_tilde``. The band around the
curve and the interval of ``rho_tilde`` come from a case bootstrap stratified by arm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .baselines import ANCOVA, baseline_matrix
from .data import AnalysisData
from .models import EXPANDED_STRATIFIED
from .resample import BATCH, batched_ols, expanded_level, percentile_interval, stratified_indices
from .results import ModelResult, row

#: The correlations the curve is drawn at.
RHO_GRID = np.round(np.linspace(-0.9, 0.9, 181), 3)


@dataclass
class SensitivityResult(ModelResult):
    """The indirect effect as a function of the mediator-outcome error correlation (:func:`sensitivity_model`)."""

    name = "sensitivity"
    rows_after = ""
    rho: list[float]
    indirect: list[float]
    indirect_low: list[float]
    indirect_high: list[float]
    rho_at_zero: float
    rho_at_zero_ci: list[float]
    n_boot: int
    sentence: str


def acme_at(rho, a, sigma1, sigma2, rho_tilde):
    """``ACME(rho)`` of the module docstring; arrays broadcast (rho along the last axis)."""
    rho = np.asarray(rho, dtype=float)
    root = np.sqrt(np.clip(1 - rho_tilde ** 2, 0, None) / (1 - rho ** 2))
    return a * sigma1 / sigma2 * (rho_tilde - rho * root)


def _parts(x: np.ndarray, m: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(b, 4): path a, sigma1, sigma2 and rho_tilde from stacked designs ``x`` (b, n, p; intercept,
    arm, baselines)."""
    beta_m = batched_ols(x, m)
    beta_y = batched_ols(x, y)
    e2 = m - np.einsum("bnp,bp->bn", x, beta_m)
    e1 = y - np.einsum("bnp,bp->bn", x, beta_y)
    s1, s2 = e1.std(axis=1), e2.std(axis=1)
    rho_tilde = (e1 * e2).mean(axis=1) / (s1 * s2)
    return np.column_stack([beta_m[:, 1], s1, s2, rho_tilde])


def sensitivity_curve(x: np.ndarray, m: np.ndarray, y: np.ndarray, rho=RHO_GRID) -> tuple[np.ndarray, float]:
    """The indirect effect at each ``rho`` and ``rho_tilde`` (where it is 0), for the design ``x``
    (intercept, arm in column 1, covariates), mediator ``m`` and outcome ``y``."""
    a, s1, s2, rt = _parts(x[None], m[None], y[None])[0]
    return acme_at(rho, a, s1, s2, rt), float(rt)


def sensitivity_sentence(at0: float, band0: tuple[float, float], rho_zero: float, rho_ci: list[float],
                         outcome: str) -> str:
    """What the curve says, in one sentence. An indirect effect whose band includes 0 already at
    ``rho = 0`` has nothing for a confounder to explain away, and an interval of ``rho_tilde`` over
    most of -1 to 1 says the data cannot tell how robust it is: both are said rather than a
    threshold read as if it were informative."""
    head = (f"Sensitivity to mediator-outcome confounding (Imai, Keele and Tingley 2010): the indirect effect "
            f"({at0:.2f} {outcome} points when frowning and mood share no unmeasured cause, 95 % band "
            f"{band0[0]:.2f} to {band0[1]:.2f}) reaches 0 when the correlation of the errors of the frowning and the "
            f"mood models is {rho_zero:.2f} (95 % CI {rho_ci[0]:.2f} to {rho_ci[1]:.2f})")
    if band0[0] <= 0 <= band0[1]:
        tail = ("; the indirect effect is not distinguishable from 0 even without confounding, so there is no "
                "indirect effect for a confounder to explain away")
    else:
        tail = ("; an unmeasured confounder would have to induce a correlation of that size and sign to explain "
                "the indirect effect away")
    if rho_ci[1] - rho_ci[0] > 1.5:
        tail += (", and the interval of that correlation covers most of -1 to 1: these data cannot say how robust "
                 "the indirect effect is to confounding")
    return head + tail + "."


def sensitivity_model(data: AnalysisData, n_boot: int, rng: np.random.Generator,
                      model: str = ANCOVA) -> SensitivityResult:
    """The sensitivity of the mediation model's indirect effect to mediator-outcome confounding."""
    w = data.wide
    treated = w["treated"].to_numpy()
    x = np.column_stack([np.ones(len(w)), treated, baseline_matrix(data, model)])
    m, y = w["frown_change"].to_numpy(float), w["mood_change"].to_numpy(float)
    curve, rho_zero = sensitivity_curve(x, m, y)
    idx = stratified_indices(treated, n_boot, rng, replace=True)
    parts = np.concatenate([_parts(x[r], m[r], y[r]) for r in (idx[s:s + BATCH] for s in range(0, n_boot, BATCH))])
    parts = parts[np.all(np.isfinite(parts), axis=1)]
    band = acme_at(RHO_GRID[None, :], *(parts[:, [k]] for k in range(4)))
    # Expanded as the mediation model's interval of the same indirect effect (its outcome model has
    # the mediator besides x's columns): a plain percentile band is narrower, and read at rho = 0 it
    # could call an effect non-zero that the mediation interval does not.
    level = expanded_level(len(w), x.shape[1] + 1)
    low, high = np.nanpercentile(band, [50 * (1 - level), 50 * (1 + level)], axis=0)
    rho_ci = [float(np.clip(v, -1, 1)) for v in percentile_interval(parts[:, 3], level)]
    zero = int(np.flatnonzero(RHO_GRID == 0)[0])
    sentence = sensitivity_sentence(curve[zero], (low[zero], high[zero]), rho_zero, rho_ci, data.outcome)
    rows = [row("sensitivity", "rho at which the indirect effect is 0", rho_zero, rho_ci, np.nan,
                EXPANDED_STRATIFIED, "Imai, Keele and Tingley 2010")]
    for r in (-0.3, 0.3):
        k = int(np.flatnonzero(RHO_GRID == r)[0])
        rows.append(row("sensitivity", f"indirect effect at rho = {r:+.1f}", curve[k], (low[k], high[k]), np.nan,
                        EXPANDED_STRATIFIED, "Imai, Keele and Tingley 2010"))
    return SensitivityResult(rho=RHO_GRID.tolist(), indirect=curve.tolist(), indirect_low=low.tolist(),
                             indirect_high=high.tolist(), rho_at_zero=rho_zero, rho_at_zero_ci=rho_ci,
                             n_boot=n_boot, sentence=sentence, table=rows)
