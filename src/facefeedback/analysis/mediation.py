"""Mediation: arm -> change in frowning -> change in mood.

Both models adjust for the baselines of the chosen model
(:mod:`facefeedback.analysis.baselines`): by default the baseline score ``S0``
and the baseline frown ``F0``:

* mediator: ``frown_change ~ 1 + arm + S0 + F0`` (path ``a``: the arm's effect on
  the change in frowning, equivalently on the follow-up frown level)
* outcome: ``mood_change ~ 1 + frown_change + arm + S0 + F0`` (path ``b`` and the
  direct effect ``c'``; the same model as the primary one)

With ``model="change-score"`` ``F0`` is left out of both.

With linear models and no arm-by-mediator interaction the average causal
mediation effect (indirect effect, Imai, Keele & Tingley 2010) is ``a * b``, the
direct effect ``c'``, and the total effect ``a * b + c'``, which is also the arm's
coefficient in ``mood_change ~ 1 + arm + S0 + F0``, exactly (the two models share
their other terms). The point estimates are those of the models fitted on the data.

Intervals and p-values come from a joint case bootstrap stratified by arm: each
resample draws participants with replacement within each arm, refits both models
on the same participants, and gives ``a``, ``b`` and ``c'`` and from them every
effect (Preacher & Hayes 2008). The intervals are expanded percentile intervals
(:func:`facefeedback.analysis.resample.expanded_level`, with the outcome model's
degrees of freedom; path ``a`` with the mediator model's).

Before version 0.6.7 the replicates came from statsmodels' ``Mediation``, which
in every resample also draws each participant's mediator under each arm from the
mediator model's normal distribution and averages the outcome model's
predictions over those draws. For a linear model that simulation only adds noise
whose expectation is 0: about ``b`` times the mediator's residual SD times
``sqrt(2 / n)`` to each replicate of the indirect and the total effect. Where
frowning is nearly determined by arm, ``b`` is poorly determined and that noise
swamps the effects: in the demo study the total effect's interval ran from -24.4
to 7.4 (said to include 0) around an arm effect of -5.9 whose own interval is
-7.8 to -4.0. The joint bootstrap has no such term.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .baselines import ANCOVA, formulas
from .data import AnalysisData
from .estimable import check_design
from .models import EXPANDED_STRATIFIED, primary_design, primary_terms
from .resample import (
    BATCH,
    batched_ols,
    expanded_level,
    expanded_p,
    percentile_interval,
    share_p,
    singular_resamples_note,
    stratified_indices,
)
from .results import ModelResult, row

logger = logging.getLogger(__name__)

#: The effects reported, in order.
EFFECTS = ("indirect", "direct", "total", "proportion_mediated")

#: How the intervals are made (results.json's ``method``).
METHOD = ("joint case bootstrap of both models, stratified by arm (product of coefficients), "
          "expanded percentile intervals")


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


def excludes_zero(ci) -> bool:
    """Whether an interval lies wholly on one side of 0; not when it is missing (NaN: no usable
    resample), which is no evidence either way."""
    low, high = ci
    return bool(np.isfinite(low) and np.isfinite(high) and not low <= 0 <= high)


def _joint_draws(outcome_exog: np.ndarray, y: np.ndarray, mediator_exog: np.ndarray, m: np.ndarray,
                 groups: np.ndarray, n_boot: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The OLS coefficients of the outcome model, the mediator model and the total-effect model
    (``y`` on the mediator model's terms) on the same ``n_boot`` case resamples, stratified by
    ``groups``: arrays (n_boot, terms), NaN rows where a resample's design was singular."""
    idx = stratified_indices(groups, n_boot, rng, replace=True)
    outcome = np.empty((n_boot, outcome_exog.shape[1]))
    mediator = np.empty((n_boot, mediator_exog.shape[1]))
    total = np.empty((n_boot, mediator_exog.shape[1]))
    for start in range(0, n_boot, BATCH):
        rows = idx[start:start + BATCH]
        outcome[start:start + BATCH] = batched_ols(outcome_exog[rows], y[rows])
        mediator[start:start + BATCH] = batched_ols(mediator_exog[rows], m[rows])
        total[start:start + BATCH] = batched_ols(mediator_exog[rows], y[rows])
    return outcome, mediator, total


def mediation_model(data: AnalysisData, n_boot: int, rng: np.random.Generator,
                    model: str = ANCOVA, level: float = 0.95) -> MediationResult:
    """Indirect, direct and total effect of the treated arm, and the proportion mediated.

    Parameters
    ----------
    data : AnalysisData
    n_boot : int
        Bootstrap resamples.
    rng : numpy.random.Generator
        Draws the resamples, so the intervals are reproducible.
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
        resamples had a singular design, when any had); ``rows()``.
    """
    import statsmodels.api as sm

    w = data.wide
    m = w["frown_change"].to_numpy(dtype=float)
    y = w["mood_change"].to_numpy(dtype=float)
    outcome_exog = primary_design(data, model)
    mediator_exog = np.delete(outcome_exog, 1, axis=1)
    names = primary_terms(data, model)
    check_design(outcome_exog, y, names, f"{data.outcome}_change")
    check_design(mediator_exog, m, [names[0], *names[2:]], f"{data.feature}_change")
    outcome_draws, mediator_draws, total_draws = _joint_draws(outcome_exog, y, mediator_exog, m,
                                                              w["treated"].to_numpy(), n_boot, rng)
    notes = [note] if (note := singular_resamples_note(
        "mediation", np.column_stack([outcome_draws, mediator_draws]))) else []
    for note in notes:
        logger.warning(note)
    mediator_fit = sm.OLS(m, mediator_exog).fit()
    outcome_params = sm.OLS(y, outcome_exog).fit().params
    a, b, direct = float(mediator_fit.params[1]), float(outcome_params[1]), float(outcome_params[2])
    total = float(sm.OLS(y, mediator_exog).fit().params[1])
    # A resample in which either model is singular is left out of every interval (the note says so)
    usable = np.isfinite(outcome_draws).all(axis=1) & np.isfinite(mediator_draws).all(axis=1)
    a_draws = np.where(usable, mediator_draws[:, 1], np.nan)
    b_draws = outcome_draws[:, 1]
    # The total effect from its own model (a * b + c' to rounding, but not subject to the outcome
    # model's conditioning when frowning all but follows arm in a resample)
    total_draws = np.where(usable, total_draws[:, 1], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = {"indirect": a_draws * b_draws, "direct": outcome_draws[:, 2], "total": total_draws,
                 "proportion_mediated": a_draws * b_draws / total_draws}
    point = {"indirect": a * b, "direct": direct, "total": total,
             "proportion_mediated": a * b / total if total else float("nan")}
    a_ci = percentile_interval(a_draws, expanded_level(*mediator_exog.shape, level))
    a_p = expanded_p(share_p(a_draws), *mediator_exog.shape)
    out: dict = {"n_boot": n_boot, "method": METHOD,
                 "formulas": {k: v for k, v in formulas(data, model).items()
                              if k in ("mediator", "outcome")},
                 "a": a, "a_ci": list(a_ci), "b": b, "notes": notes, "table": []}
    out["table"].append(row("mediation", f"path a: arm[{data.treated_arm}] on "
                                        f"{data.feature}_change", a, a_ci, a_p, EXPANDED_STRATIFIED, "bootstrap"))
    for key in EFFECTS:
        # each effect's interval expanded by the residual df of the model it comes from: the total's
        # model has the mediator model's terms, the others involve the outcome model
        shape = mediator_exog.shape if key == "total" else outcome_exog.shape
        low, high = percentile_interval(draws[key], expanded_level(*shape, level))
        p = expanded_p(share_p(draws[key]), *shape)
        out[key] = {"estimate": point[key], "ci": [low, high], "p": p}
        out["table"].append(row("mediation", key.replace("_", " "), point[key], (low, high), p,
                               EXPANDED_STRATIFIED, "bootstrap"))
    out["indirect"]["excludes_zero"] = excludes_zero(out["indirect"]["ci"])
    indirect = draws["indirect"][np.isfinite(draws["indirect"])]
    out["indirect"]["bootstrap_sd"] = float(np.std(indirect, ddof=1)) if indirect.size > 1 else float("nan")
    return MediationResult(**out)
