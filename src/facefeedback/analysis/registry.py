"""The models an analysis fits, in the order it fits them: one registration each.

A model is a module that fits it on :class:`~facefeedback.analysis.data.AnalysisData` and returns
its result (a :class:`~facefeedback.analysis.results.ModelResult`), plus one :class:`Registered`
entry in :data:`MODELS`. Everything else (``results.json``, ``tables/models.csv`` and one table
per model, the report's table of every model) follows from the result's ``rows()`` and
``to_json()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .blinding import manipulation_model
from .data import AnalysisData
from .mediation import mediation_model
from .mixed import mixed_model
from .models import arms_model, primary_model
from .predictive import predictive_model
from .responders import responder_model
from .results import ModelResult
from .sensitivity import sensitivity_model
from .settings import AnalysisSettings
from .specificity import specificity_model
from .timecourses import time_course_model
from .trial_mixed import trial_mixed_model


@dataclass(frozen=True)
class Registered:
    """One model of the analysis.

    ``fit(data, settings, rng)`` returns the result, or None when the model does not apply to
    the data. ``rng`` is the model's own stream of ``numpy.random.SeedSequence(seed)`` (the
    n-th registered model gets the n-th stream), so adding a model never changes another's
    numbers. ``required``: the study's question needs it, so a model that cannot be
    estimated is an error; otherwise it is marked not estimable and the others stand.
    """

    name: str
    fit: Callable[[AnalysisData, AnalysisSettings, np.random.Generator], ModelResult | None]
    required: bool


MODELS: tuple[Registered, ...] = (
    Registered("primary", lambda d, s, rng: primary_model(d, s.n_boot, s.n_perm, rng, s.model),
               required=True),
    Registered("arms", lambda d, s, rng: arms_model(d, s.n_boot, rng), required=True),
    Registered("mediation", lambda d, s, rng: mediation_model(d, s.n_boot, rng, s.model),
               required=True),
    Registered("responders", lambda d, s, rng: responder_model(d, s.seed, s.model), required=False),
    Registered("predictive", lambda d, s, rng: predictive_model(d, s.n_perm_predictive, s.seed, model=s.model),
               required=False),
    Registered("mixed", lambda d, s, rng: mixed_model(d, s.model), required=False),
    Registered("specificity", lambda d, s, rng: specificity_model(d, s.n_boot, rng, s.model), required=False),
    Registered("sensitivity", lambda d, s, rng: sensitivity_model(d, s.n_boot, rng, s.model), required=False),
    Registered("manipulation", lambda d, s, rng: manipulation_model(d, s.n_boot, rng), required=False),
    Registered("trial_mixed", lambda d, s, rng: trial_mixed_model(d), required=False),
    Registered("time_courses", lambda d, s, rng: time_course_model(d), required=False),
)
