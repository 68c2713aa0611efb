"""Mediation: arm -> change in frowning -> change in mood.

Implementation choice
---------------------
The effects come from :class:`statsmodels.stats.mediation.Mediation` (Imai,
Keele & Tingley 2010) with its nonparametric bootstrap, on array-based OLS
models. Measured on this project's 2-core reference machine with n = 200:
formula-based models take about 36 ms per resample (5000 resamples: three
minutes), array-based models about 1.4 ms (5000 resamples: about 7 s), which
fits the 30 s budget of a full analysis, so no hand-written mediation is used.
pingouin's ``mediation_analysis`` was the other candidate; its current release
requires NumPy 2, which MediaPipe 0.10.21 cannot use.

Both models adjust for the baselines of the chosen model
(:mod:`facefeedback.analysis.baselines`): by default the baseline score ``S0``
and the baseline frown ``F0``:

* mediator: ``frown_change ~ 1 + arm + S0 + F0`` (path ``a``: the arm's effect on
  the change in frowning, equivalently on the follow-up frown level)
* outcome: ``mood_change ~ 1 + frown_change + arm + S0 + F0`` (path ``b`` and the
  direct effect; the same model as the primary one)

With ``model="change-score"`` ``F0`` is left out of both.

With linear models and no arm-by-mediator interaction the average causal
mediation effect (indirect effect) equals ``a * b`` and the direct effect the
arm coefficient of the outcome model. statsmodels reports the *mean of the
bootstrap replicates* as its estimate; the point estimates here are those of
the models fitted on the data themselves (``a * b``, the arm coefficient, their
sum and ``a * b / total``), and the statsmodels bootstrap replicates supply the
intervals and the two-sided p-values. The intervals are expanded percentile
intervals (:func:`facefeedback.analysis.resample.expanded_level`, with the
outcome model's degrees of freedom): plain percentile intervals held the true
indirect and direct effects of simulated studies in 92-93 % instead of 95 %.
Path ``a`` has its own interval, from a case bootstrap of the mediator model
stratified by arm, expanded in the same way.

Each resample draws the mediator from the mediator model's normal distribution
(``get_distribution(...).rvs``). statsmodels builds a frozen ``scipy.stats.norm``
for it, and scipy formats the distribution's documentation anew for every frozen
copy: about 0.7 ms a draw, half of the bootstrap's time. The mediator model here
(:func:`_mediator_ols`) gives the same draws, bit for bit, from the generator
directly: ten mediation analyses of 500 resamples (simulated studies of 3 to 60 per
arm, both baseline models) took 2.6 s instead of 7.8, with the same results.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass

import numpy as np

from .baselines import ANCOVA, formulas
from .data import AnalysisData
from .estimable import check_design
from .models import EXPANDED_STRATIFIED, primary_design, primary_terms
from .resample import (
    bootstrap_ols,
    expanded_level,
    expanded_p,
    percentile_interval,
    singular_resamples_note,
)
from .results import ModelResult, row

logger = logging.getLogger(__name__)

#: statsmodels summary rows reported, and their names in results.json.
EFFECTS = (("ACME (average)", "indirect"), ("ADE (average)", "direct"),
           ("Total effect", "total"), ("Prop. mediated (average)", "proportion_mediated"))


@dataclass
class MediationResult(ModelResult):
    """Indirect, direct and total effect and the proportion mediated (:func:`mediation_model`).

    Each effect is a dict: ``estimate``, ``ci``, ``p`` (the indirect effect also
    ``excludes_zero`` and ``bootstrap_sd``).
    """

    name = "mediation"
    rows_after = "b"
    n_boot: int
    method: str
    formulas: dict[str, str]
    a: float
    a_ci: list[float]
    b: float
    notes: list[str]
    indirect: dict
    direct: dict
    total: dict
    proportion_mediated: dict


class _Normal:
    """Normal draws around ``loc`` (one per observation) with standard deviation ``scale``:
    what ``scipy.stats.norm(loc=loc, scale=scale).rvs(n, random_state=generator)`` gives for a
    NumPy ``Generator`` (its standard normal draws, times ``scale``, plus ``loc``), without
    building a scipy distribution."""

    def __init__(self, loc: np.ndarray, scale: float) -> None:
        self.loc, self.scale = loc, scale

    def rvs(self, size=None, random_state=None, rng=None) -> np.ndarray:
        generator = rng if rng is not None else random_state
        if not isinstance(generator, np.random.Generator):  # anything else: scipy's own
            from scipy import stats

            return stats.norm(loc=self.loc, scale=self.scale).rvs(size, random_state=generator)
        return generator.standard_normal(size) * self.scale + self.loc


@functools.cache
def _mediator_ols() -> type:
    """statsmodels' OLS whose ``get_distribution`` (without a ``dist_class``) is a :class:`_Normal`
    (see the module's docstring); made once, when statsmodels is first needed."""
    import statsmodels.api as sm

    class _MediatorOLS(sm.OLS):
        def get_distribution(self, params, scale, exog=None, dist_class=None, **kwargs):
            if dist_class is not None or kwargs:
                return super().get_distribution(params, scale, exog=exog, dist_class=dist_class, **kwargs)
            return _Normal(self.predict(params, exog), np.sqrt(scale))

    return _MediatorOLS


def mediation_model(data: AnalysisData, n_boot: int, rng: np.random.Generator,
                    model: str = ANCOVA, level: float = 0.95) -> MediationResult:
    """Indirect, direct and total effect of the treated arm, and the proportion mediated.

    Parameters
    ----------
    data : AnalysisData
    n_boot : int
        Bootstrap resamples.
    rng : numpy.random.Generator
        Passed to statsmodels, so the intervals are reproducible.
    model : {"ancova", "change-score"}
        Which baselines both models adjust for.
    level : float
        The intervals' coverage (a power analysis at ``alpha`` asks for ``1 - alpha``).

    Returns
    -------
    MediationResult
        For each of ``indirect``, ``direct``, ``total``, ``proportion_mediated``:
        ``estimate``, ``ci`` and ``p``; the path coefficients ``a`` (arm to
        frowning) and ``b`` (frowning to mood); ``notes`` (how many
        resampled fits were rank-deficient, when any were); ``rows()``.
    """
    import statsmodels.api as sm
    from statsmodels.stats.mediation import Mediation
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning

    w = data.wide
    m = w["frown_change"].to_numpy(dtype=float)
    y = w["mood_change"].to_numpy(dtype=float)
    outcome_exog = primary_design(data, model)
    mediator_exog = np.delete(outcome_exog, 1, axis=1)
    outcome_model = sm.OLS(y, outcome_exog)
    mediator_model = _mediator_ols()(m, mediator_exog)
    names = primary_terms(data, model)
    check_design(outcome_exog, y, names, f"{data.outcome}_change")
    check_design(mediator_exog, m, [names[0], *names[2:]], f"{data.feature}_change")
    seed = int(rng.integers(2**31 - 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", RuntimeWarning)  # proportion mediated of ~0 totals
        warnings.simplefilter("always", SingularMatrixWarning)
        result = Mediation(outcome_model, mediator_model, exposure=(2, 1), mediator=1).fit(
            method="bootstrap", n_rep=n_boot, rng=seed)
        summary = result.summary(alpha=1 - expanded_level(*outcome_exog.shape, level))
    # statsmodels resamples without regard to arm: in small studies some resamples
    # lack an arm and are solved by pseudo-inverse. Say how many, once.
    singular = sum(issubclass(w.category, SingularMatrixWarning) for w in caught)
    notes = []
    if singular:  # each resample fits the mediator and the outcome model
        notes.append(f"mediation: {singular} of {2 * n_boot} bootstrap model fits ({n_boot} resamples, two models "
                     "each) had a rank-deficient design (a resample without one arm, or with too few distinct "
                     "participants for the model's terms); intervals at this sample size are unreliable")
    mediator_fit = mediator_model.fit()
    a = float(mediator_fit.params[1])
    a_draws = bootstrap_ols(mediator_exog, m, w["treated"].to_numpy(), n_boot, rng)
    if note := singular_resamples_note("mediation path a", a_draws):
        notes.append(note)
    for note in notes:
        logger.warning(note)
    a_ci = percentile_interval(a_draws[:, 1], expanded_level(*mediator_exog.shape, level))
    outcome_params = outcome_model.fit().params
    b, direct = float(outcome_params[1]), float(outcome_params[2])
    point = {"indirect": a * b, "direct": direct, "total": a * b + direct,
             "proportion_mediated": a * b / (a * b + direct) if a * b + direct else float("nan")}
    out: dict = {"n_boot": n_boot, "method": "statsmodels Mediation, nonparametric bootstrap, "
                                                  "expanded percentile intervals",
                 "formulas": {k: v for k, v in formulas(data, model).items()
                              if k in ("mediator", "outcome")},
                 "a": a, "a_ci": list(a_ci), "b": b, "notes": notes, "table": []}
    out["table"].append(row("mediation", f"path a: arm[{data.treated_arm}] on "
                                        f"{data.feature}_change", a, a_ci, mediator_fit.pvalues[1],
                           EXPANDED_STRATIFIED, "OLS t-test"))
    for label, key in EFFECTS:
        _, low, high, p = (float(v) for v in summary.loc[label])
        p = expanded_p(p, *outcome_exog.shape)
        est = point[key]
        out[key] = {"estimate": est, "ci": [low, high], "p": p}
        out["table"].append(row("mediation", key.replace("_", " "), est, (low, high), p,
                               "bootstrap expanded percentile", "bootstrap"))
    indirect = np.asarray(result.ACME_avg)
    out["indirect"]["excludes_zero"] = bool(not (out["indirect"]["ci"][0] <= 0
                                                 <= out["indirect"]["ci"][1]))
    out["indirect"]["bootstrap_sd"] = float(np.std(indirect, ddof=1))
    return MediationResult(**out)
