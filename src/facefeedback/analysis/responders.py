"""Responders and remitters: rates per arm, the odds of each per frown change at a given arm and
baselines, and how well the frown change, the arm and the baselines together predict them (the
cross-validated AUC is of all of them: the arm alone predicts responders in a trial that works).

Response is a drop of at least 50 % on the scale from the reference session;
remission is a score at or below the scale's cut-off (``schema.KNOWN_SCALES``:
HAM-D 17 <= 7, MADRS <= 10, BDI-II <= 13, PHQ-9 <= 4; a custom scale's ``cutoff`` in the study
file) at the analysed session.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from .baselines import ANCOVA, baseline_columns, formulas
from .data import AnalysisData
from .results import ModelResult, row

logger = logging.getLogger(__name__)

RESPONSE_DROP_PCT = 50.0


@dataclass
class ResponderResult(ModelResult):
    """Response and remission per arm and their prediction from frown change
    (:func:`responder_model`). ``response`` and ``remission`` are None when not analysed."""

    name = "responders"
    rows_after = "remission_cutoff"
    formula: str
    response_definition: str
    remission_cutoff: float | None
    notes: list[str]
    response: dict | None = None
    remission: dict | None = None

    def to_json(self) -> dict:
        out = super().to_json()
        return {k: v for k, v in out.items() if not (k in ("response", "remission") and v is None)}


def rate_with_interval(successes: int, n: int) -> dict:
    """Proportion with its Wilson 95 % interval."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return {"k": int(successes), "n": int(n), "rate": successes / n if n else float("nan"),
            "ci": [float(low), float(high)]}


def cv_auc(x: np.ndarray, y: np.ndarray, seed: int, n_repeats: int = 10) -> dict:
    """Cross-validated ROC AUC of a standardise + logistic-regression pipeline.

    Out-of-fold probabilities of repeated stratified K-fold (K = 5, or fewer when
    a class is smaller) are pooled per repeat; the AUC is averaged over repeats.
    One row per participant, so a participant is never in train and test at once.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    k = int(min(5, np.bincount(y).min()))
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    aucs = []
    for r in range(n_repeats):
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed + r)
        prob = cross_val_predict(pipe, x, y, cv=cv, method="predict_proba")[:, 1]
        aucs.append(roc_auc_score(y, prob))
    return {"auc": float(np.mean(aucs)), "auc_sd_over_repeats": float(np.std(aucs)),
            "folds": k, "repeats": n_repeats}


def logistic_fit(x: np.ndarray, y: np.ndarray, names: list[str]) -> dict:
    """Odds ratios with Wald 95 % intervals from statsmodels ``Logit``.

    Perfect or quasi-complete separation (every responder in one arm, say) gives no
    finite estimate: the fit does not converge, or its odds ratios or intervals are not
    finite numbers. The entry then says so instead of giving them.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            warnings.simplefilter("error", ConvergenceWarning)
            warnings.filterwarnings("error", message=".*separation.*")
            fit = sm.Logit(y, sm.add_constant(x)).fit(disp=0)
            odds = np.exp(np.column_stack([fit.params, np.asarray(fit.conf_int())]))[1:]
    except Exception as exc:  # noqa: BLE001 - separation and non-convergence arrive as many types
        return {"error": f"logistic regression not estimable ({type(exc).__name__}: {exc})"}
    if not np.isfinite(odds).all():
        return {"error": "logistic regression not estimable (an odds ratio or its interval is "
                         "not finite: the classes are separated)"}
    return {name: {"odds_ratio": float(odds[j, 0]), "ci": [float(odds[j, 1]), float(odds[j, 2])],
                   "p": float(fit.pvalues[j + 1])} for j, name in enumerate(names)}


def _participants(n: int) -> str:
    return "1 participant has" if n == 1 else f"{n} participants have"


def responder_model(data: AnalysisData, seed: int, model: str = ANCOVA) -> ResponderResult:
    """Response and remission rates per arm and their prediction from frown change (+ arm).

    With ``model="ancova"`` the logistic model and the cross-validated AUC
    also adjust for the baseline score and the baseline frown
    (:mod:`facefeedback.analysis.baselines`); with ``"change-score"`` they use
    frown change and arm only.

    Returns
    -------
    ResponderResult
        ``formula``; ``response`` and ``remission`` (when the scale has a
        cut-off), each with ``rates`` per arm (Wilson intervals), Fisher's exact
        p for the arm difference, ``logistic`` odds ratios per standard
        deviation of frown change (and of each baseline) and for the treated
        arm, and ``cv_auc``; ``notes`` on what could not be fitted.
    """
    from scipy import stats

    w = data.wide
    outcomes, notes = {}, []
    below, zero = int((w["baseline"] < 0).sum()), int((w["baseline"] == 0).sum())
    if below:  # a percent drop of a negative score is not defined (nor counted as none)
        notes.append(f"{_participants(below)} a {data.outcome} baseline below 0, where a "
                     f"{RESPONSE_DROP_PCT:g} % drop is not defined; response not analysed")
    else:
        outcomes["response"] = (w["mood_pct_change"] <= -RESPONSE_DROP_PCT).to_numpy()
        if zero:  # a score of 0 cannot drop: no response
            notes.append(f"{_participants(zero)} a {data.outcome} baseline of 0, which cannot drop by "
                         f"{RESPONSE_DROP_PCT:g} %: counted as not responding")
    cutoff = data.remission_cutoff
    if cutoff is None:
        notes.append(f"{data.outcome} has no remission cut-off; remission not analysed")
    else:
        outcomes["remission"] = (w["followup"] <= cutoff).to_numpy()
    # Per SD: odds ratios per frown unit are unreadably small.
    columns = [("frown_change", f"{data.feature}_change"),
               *(baseline_columns(data, model) if model == ANCOVA else [])]
    scaled = [(w[c] - w[c].mean()) / w[c].std(ddof=1) for c, _ in columns]
    x = np.column_stack([scaled[0], w["treated"], *scaled[1:]])
    names = [f"{columns[0][1]} (per SD)", f"arm[{data.treated_arm}]",
             *(f"{term} (per SD)" for _, term in columns[1:])]
    out: dict = {"formula": formulas(data, model)["responders"],
                 "response_definition": f"{data.outcome} drop >= {RESPONSE_DROP_PCT:g} %",
                 "remission_cutoff": cutoff, "notes": notes, "table": []}
    for key, hit in outcomes.items():
        y = hit.astype(int)
        res: dict = {"rates": {}}
        for arm, flag in ((data.treated_arm, 1), (data.control_arm, 0)):
            sel = w["treated"].to_numpy() == flag
            res["rates"][arm] = rate_with_interval(int(y[sel].sum()), int(sel.sum()))
            rate = res["rates"][arm]
            out["table"].append(row(key, f"rate {arm}", rate["rate"], rate["ci"], float("nan"),
                                   "Wilson", ""))
        t = w["treated"].to_numpy()
        table = [[int(y[t == 1].sum()), int((1 - y[t == 1]).sum())],
                 [int(y[t == 0].sum()), int((1 - y[t == 0]).sum())]]
        res["fisher_p"] = float(stats.fisher_exact(table).pvalue)
        counts = np.bincount(y, minlength=2)
        if counts.min() < 2:
            notes.append(f"{key}: {counts[1]} of {len(y)} participants; too few in one class "
                         "for logistic regression and AUC")
            out[key] = res
            continue
        res["logistic"] = logistic_fit(x, y, names)
        res["cv_auc"] = cv_auc(x, y, seed)
        if "error" in res["logistic"]:
            notes.append(f"{key}: {res['logistic']['error']}")
        else:
            for name in names:
                lr = res["logistic"][name]
                out["table"].append(row(key, f"odds ratio {name}", lr["odds_ratio"], lr["ci"],
                                       lr["p"], "Wald (logit)", "Wald z"))
        out["table"].append(row(key, f"cross-validated ROC AUC ({' + '.join(names)})", res["cv_auc"]["auc"],
                               (float("nan"), float("nan")), float("nan"), "",
                               f"repeated stratified {res['cv_auc']['folds']}-fold"))
        out[key] = res
    return ResponderResult(**out)
