"""Out-of-sample prediction of the change in mood: what the frown features add to the arm and baselines.

The question is whether the change in frowning predicts the change in mood beyond what the arm
and the baselines predict (the primary model's covariates: ``S0`` and ``F0`` under ``ancova``,
``S0`` under ``change-score``). Both the arm and ``F0`` move frowning and mood together without
frowning acting on mood (the toxin changes both; under the levels model a change regresses to
the mean): a model of the change in mood from the frown features alone, as this one was before
version 0.6.6, "predicted" it in 89 % of simulated studies in which frowning has no effect on
mood (docs/analysis.md).

In each training fold the covariates' part is fitted by least squares, and a ``Pipeline`` of
``StandardScaler`` and ``RidgeCV`` (the ridge penalty chosen by efficient leave-one-out
cross-validation inside the training fold, so the outer test fold never informs it) predicts
what they leave of the change in mood from the frown features; the test fold's prediction is
the sum. The score is the cross-validated R² this adds to the covariates'
own cross-validated R² (outer cross-validation: leave-one-out below :data:`LOO_BELOW`
participants, repeated 5-fold otherwise; each row is one participant, so no participant sits in
both train and test). Its p-value is from a Freedman-Lane permutation test: the covariates'
residuals are shuffled within arm, added back to their fitted values, and the whole
cross-validation is run again on each permuted outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .baselines import ANCOVA, baseline_columns
from .data import AnalysisData
from .models import primary_design
from .resample import BATCH, stratified_indices
from .results import ModelResult, row

LOO_BELOW = 40
ALPHAS = np.logspace(-3, 4, 15)


@dataclass
class PredictiveResult(ModelResult):
    """Cross-validated prediction of the change in mood (:func:`predictive_model`): what the frown
    features add to the arm and baselines; only ``error`` when no frown feature varies."""

    name = "predictive"
    features: list[str] | None = None
    #: The arm and the baselines, whose own prediction the frown features are compared with.
    covariates: list[str] | None = None
    n: int | None = None
    cv: str | None = None
    #: Cross-validated R² with the frown features, of the covariates alone, and the difference.
    r2: float | None = None
    r2_covariates: float | None = None
    r2_added: float | None = None
    mae: float | None = None
    permutation_p: float | None = None
    n_perm: int | None = None
    alpha: float | None = None
    error: str | None = None

    def to_json(self) -> dict:
        if self.error is not None:
            return {"error": self.error, "rows": self.rows()}
        out = super().to_json()
        del out["error"]
        return out


def make_pipeline():
    """The predictive model: standardise, then ridge with alpha chosen by inner CV (for each
    column of a two-dimensional outcome on its own, as if each were fitted alone)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("ridge", RidgeCV(alphas=ALPHAS, alpha_per_target=True))])


def predictor_matrix(data: AnalysisData) -> tuple[np.ndarray, list[str]]:
    """Changes of the frown features that are finite and vary across participants."""
    cols = [c for c in data.wide.columns if c.startswith("x_")]
    x = data.wide[cols]
    keep = [c for c in cols if x[c].notna().all() and x[c].std() > 0]
    return x[keep].to_numpy(dtype=float), [c[2:] for c in keep]


def predictive_model(data: AnalysisData, n_perm: int, seed: int, n_repeats: int = 10,
                     model: str = ANCOVA) -> PredictiveResult:
    """Cross-validated R² and MAE with and without the frown features, and the permutation p-value
    of the R² they add.

    R² and MAE are computed on the pooled out-of-fold predictions of each repeat and averaged over
    repeats; the permutation test uses the first repeat's splitter.
    """
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import KFold, LeaveOneOut

    x, names = predictor_matrix(data)
    y = data.wide["mood_change"].to_numpy(dtype=float)
    if x.shape[1] == 0:
        return PredictiveResult(error="no frown feature varies across participants")
    z = np.delete(primary_design(data, model), 1, axis=1)  # intercept, arm, baselines
    covariates = ["arm"] + [term for _, term in baseline_columns(data, model)]
    n = len(y)
    if n < LOO_BELOW:
        splitters, scheme = [LeaveOneOut()], "leave-one-out"
    else:
        splitters = [KFold(5, shuffle=True, random_state=seed + r) for r in range(n_repeats)]
        scheme = f"5-fold x {n_repeats} repeats"
    r2, r2_covariates, mae = [], [], []
    for cv in splitters:
        full, reduced = _out_of_fold(x, z, y[None, :], list(cv.split(x)))
        r2.append(r2_score(y, full[0]))
        r2_covariates.append(r2_score(y, reduced[0]))
        mae.append(mean_absolute_error(y, full[0]))
    added = float(np.mean(r2) - np.mean(r2_covariates))
    # Freedman-Lane: the covariates' residuals shuffled within arm, on the first splitter.
    folds = list(splitters[0].split(x))
    observed = r2[0] - r2_covariates[0]
    fitted = z @ np.linalg.lstsq(z, y, rcond=None)[0]
    idx = stratified_indices(data.wide["treated"].to_numpy(), n_perm, np.random.default_rng(seed), replace=False)
    permuted_y = fitted[None, :] + (y - fitted)[idx]
    permuted = _added_r2(*_out_of_fold(x, z, permuted_y, folds), permuted_y)
    p = float((1 + np.sum(permuted >= observed - 1e-12)) / (1 + n_perm))
    alpha = float(np.ravel(make_pipeline().fit(x, (y - fitted)[:, None]).named_steps["ridge"].alpha_)[0])
    out = PredictiveResult(features=names, covariates=covariates, n=n, cv=scheme, r2=float(np.mean(r2)),
                           r2_covariates=float(np.mean(r2_covariates)), r2_added=added,
                           mae=float(np.mean(mae)), permutation_p=p, n_perm=n_perm, alpha=alpha)
    nan = (float("nan"), float("nan"))
    out.table = [
        row("predictive", f"cross-validated R² added by the frown features to {' + '.join(covariates)}",
            added, nan, p, "", "Freedman-Lane permutation (within arm)"),
        row("predictive", f"cross-validated R² of {' + '.join(covariates)}", out.r2_covariates, nan,
            float("nan"), "", scheme),
        row("predictive", "cross-validated R² with the frown features", out.r2, nan, float("nan"), "", scheme),
        row("predictive", "cross-validated MAE with the frown features", out.mae, nan, float("nan"), "", scheme),
    ]
    return out


def _out_of_fold(x: np.ndarray, z: np.ndarray, ys: np.ndarray, folds) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions of each row of ``ys`` (k, n): with the frown features (the
    covariates' least-squares fit plus the ridge model of what it leaves, from ``x``) and from the
    covariates alone. Everything is fitted on the training fold."""
    full, reduced = np.empty_like(ys), np.empty_like(ys)
    for train, test in folds:
        # The frown features enter as they are: taking the covariates out of them too cost the ridge
        # model as many degrees of freedom, and with 19 features and 24 participants its inner
        # leave-one-out then chose no penalty and predicted a left-out participant at -90 for +14.
        zt, x_train, x_test = z[train], x[train], x[test]
        beta = np.linalg.lstsq(zt, ys[:, train].T, rcond=None)[0]  # (p, k)
        reduced[:, test] = (z[test] @ beta).T
        resid = ys[:, train] - (zt @ beta).T
        for s in range(0, len(ys), BATCH):  # every outcome at once, each with its own penalty
            ridge = make_pipeline().fit(x_train, resid[s:s + BATCH].T)
            full[s:s + BATCH, test] = reduced[s:s + BATCH, test] + ridge.predict(x_test).reshape(len(test), -1).T
    return full, reduced


def _added_r2(full: np.ndarray, reduced: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """R² of the predictions with the frown features minus that of the covariates alone, per row."""
    total = ((ys - ys.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return (((ys - reduced) ** 2).sum(axis=1) - ((ys - full) ** 2).sum(axis=1)) / total
