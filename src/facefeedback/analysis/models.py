"""The primary model (change in mood ~ change in frowning + arm + baselines) and the
arm comparisons (toxin vs placebo on each change).

Each returns a typed result (:class:`PrimaryResult`, :class:`ArmsResult`) whose ``rows()``
are its lines of the table of every model (:data:`~facefeedback.analysis.results.ROW_FIELDS`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .baselines import ANCOVA, baseline_columns, baseline_matrix, formulas
from .data import AnalysisData
from .estimable import check_design
from .resample import (
    bootstrap_ols,
    expanded_level,
    freedman_lane_t,
    percentile_interval,
    permutation_p,
    singular_resamples_note,
    stratified_indices,
)
from .results import ModelResult, row

logger = logging.getLogger(__name__)

#: How the bootstrap intervals of regression coefficients and effects are made.
EXPANDED_STRATIFIED = "bootstrap expanded percentile (stratified by arm)"


@dataclass
class PrimaryResult(ModelResult):
    """Change in mood ~ change in frowning + arm + baselines (:func:`primary_model`)."""

    name = "primary"
    formula: str
    n: int
    r_squared: float
    n_boot: int
    n_perm: int
    frown_slope: float
    frown_slope_ci: list[float]
    p_permutation: float
    t_observed: float
    #: What the reader should know (bootstrap resamples left out of the intervals).
    notes: list[str] = field(default_factory=list)


@dataclass
class ArmsResult(ModelResult):
    """Treated vs control on the change in frowning (``frown``) and in mood (``mood``), each as
    :func:`compare_arms` gives it."""

    name = "arms"
    rows_after = ""
    frown: dict
    mood: dict


def primary_terms(data: AnalysisData, model: str = ANCOVA) -> list[str]:
    return ["intercept", f"{data.feature}_change", f"arm[{data.treated_arm}]",
            *(term for _, term in baseline_columns(data, model))]


def primary_design(data: AnalysisData, model: str = ANCOVA) -> np.ndarray:
    """Intercept, change in frowning, arm and the baselines of ``model`` (one row each)."""
    w = data.wide
    return np.column_stack([np.ones(len(w)), w["frown_change"], w["treated"],
                            baseline_matrix(data, model)])


def primary_model(data: AnalysisData, n_boot: int, n_perm: int,
                  rng: np.random.Generator, model: str = ANCOVA) -> PrimaryResult:
    """Change in mood ~ change in frowning + arm + baselines.

    With ``model="ancova"`` the baselines are the score's and the frown
    measure's; with ``"change-score"`` the score's only
    (:mod:`facefeedback.analysis.baselines`). Coefficients come from statsmodels
    OLS; their 95 % intervals from a case bootstrap stratified by arm (expanded
    percentile, :func:`~facefeedback.analysis.resample.expanded_level`); the p-value of the frown term from a Freedman-Lane
    permutation test (the reduced model holds the arm and every baseline; its
    residuals are shuffled within arm), the others from the OLS t-test.

    Parameters
    ----------
    data : AnalysisData
    n_boot, n_perm : int
        Bootstrap resamples and permutations.
    rng : numpy.random.Generator
    model : {"ancova", "change-score"}

    Returns
    -------
    PrimaryResult
        ``formula``, ``n``, ``r_squared``, ``frown_slope`` and its interval and
        permutation p-value (``p_permutation``), ``n_boot``, ``n_perm``; ``rows()``.
    """
    import statsmodels.api as sm

    w = data.wide
    x = primary_design(data, model)
    y = w["mood_change"].to_numpy(dtype=float)
    check_design(x, y, primary_terms(data, model), f"{data.outcome}_change")
    fit = sm.OLS(y, x).fit()
    boot = bootstrap_ols(x, y, w["treated"].to_numpy(), n_boot, rng)
    notes = [note] if (note := singular_resamples_note("primary", boot)) else []
    for note in notes:
        logger.warning(note)
    t_obs, t_perm = freedman_lane_t(x, y, 1, w["treated"].to_numpy(), n_perm, rng)
    p_perm = permutation_p(t_obs, t_perm)
    level = expanded_level(*x.shape)
    rows = []
    for j, term in enumerate(primary_terms(data, model)):
        p, test = (p_perm, "permutation (Freedman-Lane, within arm)") if j == 1 else (
            fit.pvalues[j], "OLS t-test")
        rows.append(row("primary", term, fit.params[j], percentile_interval(boot[:, j], level),
                        p, EXPANDED_STRATIFIED, test))
    return PrimaryResult(
        formula=formulas(data, model)["primary"], n=len(w), r_squared=float(fit.rsquared),
        n_boot=n_boot, n_perm=n_perm, frown_slope=float(fit.params[1]),
        frown_slope_ci=[rows[1]["ci_low"], rows[1]["ci_high"]], p_permutation=p_perm,
        t_observed=t_obs, notes=notes, table=rows)


def hedges_g(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hedges' g of ``a`` minus ``b`` along the last axis (small-sample corrected)."""
    na, nb = a.shape[-1], b.shape[-1]
    pooled = np.sqrt(((na - 1) * a.var(axis=-1, ddof=1) + (nb - 1) * b.var(axis=-1, ddof=1))
                     / (na + nb - 2))
    correction = 1 - 3 / (4 * (na + nb) - 9)
    with np.errstate(divide="ignore", invalid="ignore"):
        return correction * (a.mean(axis=-1) - b.mean(axis=-1)) / pooled


def compare_arms(values: np.ndarray, treated: np.ndarray, n_boot: int,
                 rng: np.random.Generator) -> dict:
    """Treated minus control on one variable: mean difference, Hedges' g, Welch, Mann-Whitney.

    Returns
    -------
    dict
        ``mean_treated``, ``mean_control``, ``difference`` with its Welch 95 %
        interval and p-value, ``hedges_g`` with a stratified bootstrap percentile
        interval, ``mann_whitney_u`` and its p-value, and ``superiority``: U / (n_treated
        n_control), the chance that a treated participant's value exceeds a control's (ties
        count half), which the Mann-Whitney test tests against 0.5.
    """
    from scipy import stats

    values = np.asarray(values, dtype=float)
    treated = np.asarray(treated)
    a, b = values[treated == 1], values[treated == 0]
    welch = stats.ttest_ind(a, b, equal_var=False)
    ci = welch.confidence_interval(0.95)
    mwu = stats.mannwhitneyu(a, b, alternative="two-sided")
    idx = stratified_indices(treated, n_boot, rng, replace=True)
    draws = values[idx]
    g_boot = hedges_g(draws[:, treated == 1], draws[:, treated == 0])
    g = float(hedges_g(a, b))
    return {
        "n_treated": int(a.size), "n_control": int(b.size),
        "mean_treated": float(a.mean()), "mean_control": float(b.mean()),
        "sd_treated": float(a.std(ddof=1)), "sd_control": float(b.std(ddof=1)),
        "difference": float(a.mean() - b.mean()), "difference_ci": [float(ci.low), float(ci.high)],
        "welch_t": float(welch.statistic), "welch_df": float(welch.df),
        "welch_p": float(welch.pvalue),
        "hedges_g": g, "hedges_g_ci": list(percentile_interval(g_boot)),
        "mann_whitney_u": float(mwu.statistic), "mann_whitney_p": float(mwu.pvalue),
        "superiority": float(mwu.statistic) / (a.size * b.size),
    }


def arms_model(data: AnalysisData, n_boot: int, rng: np.random.Generator) -> ArmsResult:
    """:func:`compare_arms` on the change in frowning and on the change in mood."""
    w = data.wide
    out: dict = {}
    rows: list[dict] = []
    for key, column, label in (("frown", "frown_change", f"{data.feature}_change"),
                               ("mood", "mood_change", f"{data.outcome}_change")):
        res = compare_arms(w[column].to_numpy(), w["treated"].to_numpy(), n_boot, rng)
        out[key] = res
        rows += [
            row("arms", f"{label}: mean difference", res["difference"], res["difference_ci"],
                res["welch_p"], "Welch t", "Welch t-test"),
            # g's interval is a bootstrap's; no test goes with it, so its row has no p (the
            # Mann-Whitney p beside it disagreed with the interval in 2-3 % of null studies)
            row("arms", f"{label}: Hedges' g", res["hedges_g"], res["hedges_g_ci"], np.nan,
                "bootstrap percentile (stratified by arm)", ""),
            row("arms", f"{label}: P(treated > control)", res["superiority"], (np.nan, np.nan),
                res["mann_whitney_p"], "", "Mann-Whitney U"),
        ]
    return ArmsResult(**out, table=rows)
