"""Which baselines the models adjust for, and the formulas that follow.

A pretest-posttest control group design measures the mediator (frowning, ``F``)
and the outcome (the mood score, ``S``) before and after treatment. Two ways of
modelling the change are offered:

``ancova`` (the default)
    Both baselines are covariates of every model: ``dS ~ dF + T + S0 + F0`` and
    ``dF ~ T + S0 + F0``. This is the analysis of covariance model Valente and
    MacKinnon (2017) recommend: it stays unbiased whether mood follows the change
    in frowning or the follow-up frown level, and whatever the stability of the
    two measures. Because ``F0`` and ``S0`` are both in the model, the frown and
    arm coefficients are exactly those of the levels form
    ``S1 ~ F1 + T + S0 + F0`` (``dF = F1 - F0``; only the coefficients of the
    baselines differ).
``change-score``
    Only the outcome's baseline is a covariate: ``dS ~ dF + T + S0`` and
    ``dF ~ T + S0``. Unbiased only when mood changes with the change in frowning
    and nothing else about the frown level matters; kept for comparison with
    published analyses that used it.

Reference: Valente, M. J., & MacKinnon, D. P. (2017). Comparing models of change
to estimate the mediated effect in the pretest-posttest control group design.
*Structural Equation Modeling*, 24(3), 428-450.
"""

from __future__ import annotations

import numpy as np

from ..errors import AnalysisError
from .data import AnalysisData

ANCOVA = "ancova"
CHANGE_SCORE = "change-score"
MODELS = (ANCOVA, CHANGE_SCORE)
REFERENCE = ("Valente & MacKinnon (2017), Comparing models of change to estimate the mediated "
             "effect in the pretest-posttest control group design, Structural Equation "
             "Modeling 24(3), 428-450")


def check_model(model: str) -> str:
    """``model`` when it is one of :data:`MODELS`; otherwise an error naming them."""
    if model not in MODELS:
        raise AnalysisError(f"model {model!r} is not one of {', '.join(MODELS)}")
    return model


def baseline_columns(data: AnalysisData, model: str) -> list[tuple[str, str]]:
    """``(column of data.wide, term name)`` of every baseline covariate of ``model``."""
    columns = [("baseline", f"{data.outcome}_baseline")]
    if check_model(model) == ANCOVA:
        columns.append(("frown_baseline", f"{data.feature}_baseline"))
    return columns


def baseline_matrix(data: AnalysisData, model: str) -> np.ndarray:
    """The baseline covariates of ``model``, one column each (n x k)."""
    cols = [c for c, _ in baseline_columns(data, model)]
    return data.wide[cols].to_numpy(dtype=float)


def formulas(data: AnalysisData, model: str) -> dict[str, str]:
    """The formula of each model, in the names of ``results.json`` and the tables."""
    covariates = " + ".join(term for _, term in baseline_columns(data, model))
    mood, frown = f"{data.outcome}_change", f"{data.feature}_change"
    ancova = model == ANCOVA
    out = {
        "primary": f"{mood} ~ {frown} + arm + {covariates}",
        "mediator": f"{frown} ~ arm + {covariates}",
        "outcome": f"{mood} ~ {frown} + arm + {covariates}",
        "responders": f"response (or remission) ~ {frown} + arm" + (f" + {covariates}" if ancova else ""),
    }
    if len(data.sessions) > 2:
        out["mixed"] = f"{mood} ~ session * arm + {frown} + {covariates} + (1 | participant)"
    return out


def describe(data: AnalysisData, model: str) -> dict:
    """The ``"model"`` entry of ``results.json``: name, covariates, formulas, reference."""
    return {"name": check_model(model),
            "baseline_covariates": [term for _, term in baseline_columns(data, model)],
            "formulas": formulas(data, model), "reference": REFERENCE}
