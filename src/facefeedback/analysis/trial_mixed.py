"""Trial-level responses: a linear mixed model of every included trial's frown response.

``frown_response_mean ~ C(trial_type) * C(session) * arm`` with a random intercept per
participant (statsmodels ``MixedLM``, REML), on the trials of ``features/trials.parquet`` (the
capacity task's attempts left out). The first trial type (in the study's order), the reference
session and the control arm are the baseline levels; the three-way term is how much more the
treated arm's condition difference changed from the reference session than the control arm's.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import NotEstimable
from .data import AnalysisData
from .results import ModelResult, row

logger = logging.getLogger(__name__)
RESPONSE = "frown_response_mean"


@dataclass
class TrialMixedResult(ModelResult):
    """The trial-level mixed model (:func:`trial_mixed_model`)."""

    name = "trial_mixed"
    formula: str
    n_participants: int
    n_trials: int
    converged: bool
    group_variance: float
    residual_variance: float
    warnings: list[str]


def trial_mixed_model(data: AnalysisData) -> TrialMixedResult | None:
    """Fit the trial-level model; None when the study has no trials."""
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    trials = data.trials
    if trials is None:
        return None
    sessions = [s for s in data.sessions if s in set(trials["session"])]
    trials = trials[trials["session"].isin(sessions)]
    types = list(dict.fromkeys(trials["trial_type"]))
    if trials["participant_id"].nunique() < 3:
        raise NotEstimable("trials of fewer than 3 participants")
    terms = []
    if len(types) > 1:
        terms.append(f"C(trial_type, Treatment({types[0]!r}))")
    if len(sessions) > 1:
        terms.append(f"C(session, Treatment({sessions[0]!r}))")
    terms.append("treated")
    formula = f"{RESPONSE} ~ " + " * ".join(terms)

    def label(term: str) -> str:
        return (term.replace(f"C(trial_type, Treatment({types[0]!r}))", "condition")
                .replace(f"C(session, Treatment({sessions[0]!r}))", "session")
                .replace("treated", f"arm[{data.treated_arm}]"))

    mixed = smf.mixedlm(formula, trials, groups=trials["participant_id"])
    if np.linalg.matrix_rank(mixed.exog) < mixed.exog.shape[1]:
        raise NotEstimable("the trial design is singular (a condition, session or arm has no trials)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = mixed.fit(reml=True)
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)})
    for note in notes:
        logger.warning("trial mixed model: %s", note)
    ci = fit.conf_int()
    rows = [row("trial_mixed", label(t), fit.fe_params[t], (ci.loc[t, 0], ci.loc[t, 1]), fit.pvalues[t],
                "Wald", "Wald z") for t in fit.fe_params.index]
    return TrialMixedResult(formula=label(formula) + " + (1 | participant)",
                            n_participants=int(trials["participant_id"].nunique()), n_trials=len(trials),
                            converged=bool(fit.converged), group_variance=float(fit.cov_re.iloc[0, 0]),
                            residual_variance=float(fit.scale), warnings=notes, table=rows)
