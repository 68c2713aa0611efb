"""Is the mood effect carried specifically by frowning? Two parallel mediators.

The change in frowning (the analysed feature) and the change in the control expression (by
default ``smile_intensity_mean``) mediate side by side::

    frown_change   ~ arm + baselines                         (path a1)
    control_change ~ arm + baselines                         (path a2)
    mood_change    ~ frown_change + control_change + arm + baselines   (paths b1, b2)

With the ``ancova`` model of change the baselines are those of the primary analysis (the mood
score's and the frown's at the reference session) and the control expression's own baseline,
so each mediator's change is adjusted for where that mediator started, as
:mod:`facefeedback.analysis.baselines` explains for frowning: a change regresses towards the
mean, and an arm that happened to start higher on the control expression would otherwise show a
path a2 (and a specific indirect effect) that is only that imbalance. With ``change-score`` only
the mood score's baseline is a covariate, as in the primary analysis.

Each indirect effect is ``a_k * b_k`` (outcome points); the difference of their sizes,
``|a1 b1| - |a2 b2|``, says whether frowning carries more of the effect than the control
expression, whatever the control's direction (their signed difference is reported too).
Intervals come from one case bootstrap stratified by arm (all three models refitted on each
resample; expanded percentile). The effect is called specific to frowning when the interval of
the frowning indirect effect excludes 0 and that of the size difference lies above 0. With fewer participants than the outcome model's
coefficients plus 3 the model is not estimable (a saturated model's resamples are nearly all
singular, and the few that are not would make the interval); when more than 1 % of the
resamples are singular the sentence says the intervals are unreliable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import NotEstimable
from .baselines import ANCOVA, baseline_columns, baseline_matrix
from .data import AnalysisData
from .resample import BATCH, batched_ols, expanded_level, percentile_interval, stratified_indices
from .results import ModelResult, row

INTERVAL = "bootstrap expanded percentile (stratified by arm)"
#: Residual degrees of freedom the outcome model needs beyond its coefficients.
MIN_RESIDUAL_DF = 3
#: Above this share of singular resamples the sentence says the intervals are unreliable.
SINGULAR_SHARE = 0.01


@dataclass
class SpecificityResult(ModelResult):
    """Two parallel mediators (:func:`specificity_model`)."""

    name = "specificity"
    mediators: list[str]
    #: The baselines every one of the three models adjusts for.
    covariates: list[str]
    n: int
    n_boot: int
    #: Resamples whose design was singular (left out of the intervals).
    singular_resamples: int
    frown_indirect: dict  # estimate, ci
    control_indirect: dict
    difference: dict
    #: ``|frown_indirect| - |control_indirect|``: which carries more, whatever their directions.
    size_difference: dict
    specific: bool
    sentence: str


def indirect_effects(x: np.ndarray, m1: np.ndarray, m2: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(b, 2) indirect effects from stacked designs ``x`` (b, n, p; intercept, arm, baselines)."""
    a1 = batched_ols(x, m1)[:, 1]
    a2 = batched_ols(x, m2)[:, 1]
    b = batched_ols(np.concatenate([m1[..., None], m2[..., None], x], axis=2), y)
    return np.column_stack([a1 * b[:, 0], a2 * b[:, 1]])


def specificity_model(data: AnalysisData, n_boot: int, rng: np.random.Generator,
                      model: str = ANCOVA) -> SpecificityResult | None:
    """Indirect effects through frowning and through the control expression, and their difference;
    None when the control expression was not measured."""
    w = data.wide
    if data.control_feature is None or "control_change" not in w:
        return None
    ancova = model == ANCOVA
    columns = ["control_change", "control_baseline"] if ancova else ["control_change"]
    use = w[columns].notna().all(axis=1).to_numpy()
    if use.sum() < len(w):
        w = w[use]
    treated = w["treated"].to_numpy()
    if np.bincount(treated, minlength=2).min() < 3:
        raise NotEstimable(f"{data.control_feature} change (or baseline) is missing for too many participants "
                           "(fewer than 3 in an arm)")
    x = np.column_stack([np.ones(len(w)), treated, baseline_matrix(data, model)[use],
                         *([w["control_baseline"].to_numpy(float)] if ancova else [])])
    frown, control = data.feature, data.control_feature
    covariates = [term for _, term in baseline_columns(data, model)] + ([f"{control}_baseline"] if ancova else [])
    coefficients = x.shape[1] + 2
    if len(w) < coefficients + MIN_RESIDUAL_DF:
        raise NotEstimable(f"{len(w)} participants for the {coefficients} coefficients of the two-mediator outcome "
                           f"model (intercept, 2 mediators, arm, {', '.join(covariates)}); at least "
                           f"{coefficients + MIN_RESIDUAL_DF} are needed")
    m1, m2, y = (w[c].to_numpy(float) for c in ("frown_change", "control_change", "mood_change"))
    point = indirect_effects(x[None], m1[None], m2[None], y[None])[0]
    if not np.all(np.isfinite(point)):
        raise NotEstimable("the two-mediator design is singular (the mediators are collinear with the "
                           "arm or the baselines)")
    idx = stratified_indices(treated, n_boot, rng, replace=True)
    draws = np.concatenate([indirect_effects(x[r], m1[r], m2[r], y[r])
                            for r in (idx[s:s + BATCH] for s in range(0, n_boot, BATCH))])
    singular = int((~np.all(np.isfinite(draws), axis=1)).sum())
    level = expanded_level(len(w), coefficients)
    out = {}
    for key, est, d in (("frown_indirect", point[0], draws[:, 0]),
                        ("control_indirect", point[1], draws[:, 1]),
                        ("difference", point[0] - point[1], draws[:, 0] - draws[:, 1]),
                        ("size_difference", abs(point[0]) - abs(point[1]), np.abs(draws[:, 0]) - np.abs(draws[:, 1]))):
        out[key] = {"estimate": float(est), "ci": list(percentile_interval(d, level))}
    excludes = {k: not (v["ci"][0] <= 0 <= v["ci"][1]) for k, v in out.items()}
    fi, ci, di, si = out["frown_indirect"], out["control_indirect"], out["difference"], out["size_difference"]
    # Specific: frowning carries more of the effect than the control does, whatever the control's
    # direction: the sizes are compared (a control effect of the other sign and a larger size made
    # the signed difference look like frowning's).
    frown_more = excludes["size_difference"] and si["estimate"] > 0
    control_more = excludes["size_difference"] and si["estimate"] < 0
    specific = excludes["frown_indirect"] and frown_more

    def fmt(v: dict) -> str:  # 3 significant digits, as the report's other numbers
        return f"{v['estimate']:.3g} (95 % CI {v['ci'][0]:.3g} to {v['ci'][1]:.3g})"

    if specific:
        verdict = "the mood effect is carried specifically by frowning"
    elif control_more and excludes["control_indirect"]:
        verdict = ("the control expression carries more of the mood effect than frowning, so it is not specific "
                   "to frowning")
    elif excludes["frown_indirect"] and excludes["control_indirect"]:
        verdict = "the mood effect runs through both expressions, so it is not specific to frowning"
    elif excludes["frown_indirect"]:
        verdict = ("frowning carries part of the mood effect, but it cannot be told apart from what the control "
                   "expression carries")
    else:
        verdict = "the data do not show the mood effect carried by frowning"
    sentence = (f"With the change in {control} as a second, parallel mediator, the indirect effect through "
                f"{frown} is {fmt(fi)} {data.outcome} points and through {control} {fmt(ci)}; their difference "
                f"is {fmt(di)}, and the difference of their sizes {fmt(si)}: {verdict}.")
    if singular > SINGULAR_SHARE * n_boot:
        sentence += (f" {singular} of {n_boot} bootstrap resamples had a singular design (too few distinct "
                     "participants for the models) and were left out, so these intervals are unreliable.")
    rows = [row("specificity", f"indirect through {frown}_change", fi["estimate"], fi["ci"], np.nan, INTERVAL,
                "bootstrap"),
            row("specificity", f"indirect through {control}_change", ci["estimate"], ci["ci"], np.nan, INTERVAL,
                "bootstrap"),
            row("specificity", "difference of the indirect effects (frowning minus control)", di["estimate"],
                di["ci"], np.nan, INTERVAL, "bootstrap"),
            row("specificity", "difference of their sizes (|frowning| minus |control|)", si["estimate"],
                si["ci"], np.nan, INTERVAL, "bootstrap")]
    return SpecificityResult(mediators=[frown, control], covariates=covariates, n=len(w), n_boot=n_boot,
                             singular_resamples=singular, **out, specific=specific, sentence=sentence, table=rows)
