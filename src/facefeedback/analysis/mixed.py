"""Repeated visits: a linear mixed model of the score over all sessions.

``score ~ C(session) * arm + frown + frown_baseline`` with a random intercept
per participant (statsmodels ``MixedLM``, REML), fitted when the study has more
than two sessions. The reference session and the control arm are the baseline
levels. The baseline frown (the frown measure at the reference session) is a
participant-level covariate, so the frown coefficient is that of the frown
level at a given baseline frown, as in the primary model; with
``model="change-score"`` it is left out, as before. Every visit of every participant of the
compared arms enters, those of participants who miss a visit too (under ANCOVA, those with a
reference visit): that is what the mixed model is for.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from .baselines import ANCOVA, formulas
from .data import AnalysisData
from .estimable import check_design
from .results import ModelResult, row, term_label

logger = logging.getLogger(__name__)


@dataclass
class MixedResult(ModelResult):
    """The linear mixed model of the score over all sessions (:func:`mixed_model`)."""

    name = "mixed"
    formula: str
    n_participants: int
    n_observations: int
    converged: bool
    group_variance: float
    residual_variance: float
    warnings: list[str]


def mixed_model(data: AnalysisData, model: str = ANCOVA) -> MixedResult | None:
    """Fit the mixed model; ``None`` when there are two sessions or fewer.

    Returns
    -------
    MixedResult or None
        ``formula``, ``n_participants``, ``n_observations``, ``converged``,
        ``group_variance``, ``warnings``; ``rows()`` are the fixed effects with Wald
        95 % intervals and p-values.
    """
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    if len(data.sessions) <= 2:
        return None
    long = data.long.copy()
    long["session"] = long["session"].astype(str)
    order = [s for s in data.sessions if s in set(long["session"])]
    formula = f"score ~ C(session, Treatment({order[0]!r})) * treated + frown"
    if model == ANCOVA:
        # the frown at the reference visit, for every participant who has one (not only those
        # with the analysed visit)
        base = long.loc[long["session"] == data.reference_session].set_index("participant_id")["frown"]
        long = long.merge(base.rename("frown_baseline"), left_on="participant_id", right_index=True)
        formula += " + frown_baseline"

    factors = {f"C(session, Treatment({order[0]!r}))": "session", "treated": f"arm[{data.treated_arm}]",
               "frown": data.feature, "frown_baseline": f"{data.feature}_baseline"}

    def label(term: str) -> str:
        return term_label(term, factors)

    mixed = smf.mixedlm(formula, long, groups=long["participant_id"])
    check_design(mixed.exog, mixed.endog, [label(t) for t in mixed.exog_names], data.outcome,
                 unit="observations")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = mixed.fit(reml=True)
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)})
    for note in notes:
        logger.warning("mixed model: %s", note)
    ci = fit.conf_int()
    rows = []
    for term in fit.fe_params.index:
        rows.append(row("mixed", label(term), fit.fe_params[term], (ci.loc[term, 0], ci.loc[term, 1]),
                        fit.pvalues[term], "Wald", "Wald z"))
    return MixedResult(formula=formulas(data, model)["mixed"],
                       n_participants=int(long["participant_id"].nunique()),
                       n_observations=len(long), converged=bool(fit.converged),
                       group_variance=float(fit.cov_re.iloc[0, 0]),
                       residual_variance=float(fit.scale), warnings=notes, table=rows)
