"""The settings of an analysis: the model of change, resampling sizes and the seed."""

from __future__ import annotations

from dataclasses import dataclass

from .baselines import ANCOVA, check_model


@dataclass(frozen=True)
class AnalysisSettings:
    """The model of change, resampling sizes and the seed; saved with every result.

    ``model`` is ``"ancova"`` (both baselines as covariates, the default) or
    ``"change-score"`` (the outcome's baseline only); see
    :mod:`facefeedback.analysis.baselines`.
    """

    n_boot: int = 5000
    n_perm: int = 5000
    n_perm_predictive: int = 200
    seed: int = 0
    model: str = ANCOVA

    def __post_init__(self) -> None:
        check_model(self.model)
