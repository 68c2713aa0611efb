"""Out-of-sample prediction of the change in mood from the frown features.

A ``Pipeline`` of ``StandardScaler`` and ``RidgeCV`` (the ridge penalty chosen
by efficient leave-one-out cross-validation inside each training fold, so the
outer test fold never informs it) is scored by outer cross-validation:
leave-one-out below :data:`LOO_BELOW` participants, repeated 5-fold otherwise.
Each row is one participant, so no participant sits in both train and test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import AnalysisData
from .results import ModelResult, row

LOO_BELOW = 40
ALPHAS = np.logspace(-3, 4, 15)


@dataclass
class PredictiveResult(ModelResult):
    """Cross-validated prediction of the change in mood (:func:`predictive_model`); only
    ``error`` when no frown feature varies."""

    name = "predictive"
    features: list[str] | None = None
    n: int | None = None
    cv: str | None = None
    r2: float | None = None
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
    """The predictive model: standardise, then ridge with alpha chosen by inner CV."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("ridge", RidgeCV(alphas=ALPHAS))])


def predictor_matrix(data: AnalysisData) -> tuple[np.ndarray, list[str]]:
    """Changes of the frown features that are finite and vary across participants."""
    cols = [c for c in data.wide.columns if c.startswith("x_")]
    x = data.wide[cols]
    keep = [c for c in cols if x[c].notna().all() and x[c].std() > 0]
    return x[keep].to_numpy(dtype=float), [c[2:] for c in keep]


def predictive_model(data: AnalysisData, n_perm: int, seed: int, n_repeats: int = 10
                     ) -> PredictiveResult:
    """Cross-validated R² and MAE, and a ``permutation_test_score`` p-value.

    R² and MAE are computed on the pooled out-of-fold predictions of each
    repeat and averaged over repeats. The permutation test scores the negative
    mean squared error with the same splitter (one repeat), which orders models
    as R² does and is defined on one-participant folds.
    """
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import (
        KFold,
        LeaveOneOut,
        cross_val_predict,
        permutation_test_score,
    )

    x, names = predictor_matrix(data)
    y = data.wide["mood_change"].to_numpy(dtype=float)
    if x.shape[1] == 0:
        return PredictiveResult(error="no frown feature varies across participants")
    n = len(y)
    if n < LOO_BELOW:
        splitters, scheme = [LeaveOneOut()], "leave-one-out"
    else:
        splitters = [KFold(5, shuffle=True, random_state=seed + r) for r in range(n_repeats)]
        scheme = f"5-fold x {n_repeats} repeats"
    r2, mae = [], []
    for cv in splitters:
        pred = cross_val_predict(make_pipeline(), x, y, cv=cv)
        r2.append(r2_score(y, pred))
        mae.append(mean_absolute_error(y, pred))
    _, _, p = permutation_test_score(make_pipeline(), x, y, cv=splitters[0],
                                     scoring="neg_mean_squared_error",
                                     n_permutations=n_perm, random_state=seed)
    fitted = make_pipeline().fit(x, y)
    out = PredictiveResult(features=names, n=n, cv=scheme, r2=float(np.mean(r2)),
                           mae=float(np.mean(mae)), permutation_p=float(p), n_perm=n_perm,
                           alpha=float(fitted.named_steps["ridge"].alpha_))
    out.table = [
        row("predictive", "cross-validated R²", out.r2, (float("nan"), float("nan")), p, "",
            "permutation_test_score"),
        row("predictive", "cross-validated MAE", out.mae, (float("nan"), float("nan")),
            float("nan"), "", scheme),
    ]
    return out
