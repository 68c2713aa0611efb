"""Repeated visits: a linear mixed model of the change in the score at every later visit.

The primary model's formula fitted to every visit after the reference one, with a random
intercept per participant (statsmodels ``MixedLM``, REML), when the study has more than two
sessions::

    score_change ~ C(session) * arm + frown_change + score_baseline [+ frown_baseline]

The baselines are covariates, as in the primary model (``frown_baseline`` under ``ancova``
only), and the reference visit itself is not a row: as a row, its score would be an outcome
the baseline covariates determine, and the frown coefficient would mix the toxin's effect on
frowning across arms with the frown-mood relation within them. Fitted that way (all visits as
rows, no baseline score), over simulated studies of 40 per arm whose truth is 25, the frown
coefficient averaged 15.4, its 95 % interval held the truth in 45 % of them and its test rejected
a true null in 16.5 %; fitted as here, 24.2, 94 % and 5.2 % (docs/analysis.md, item 6;
``tests/test_analysis_calibration.py``). Intervals and tests take the t distribution with the
participants' degrees of freedom (participants minus fixed effects): the normal one was a
little liberal with few participants (5.8 % at 12 per arm; 4.8 % with t).

The analysed session is the reference level of ``session``, so the arm and frown coefficients
are those of the primary model's visit, and each other visit's terms are its difference from
it; the control arm is the reference level of ``arm``. Every later visit of every participant
of the compared arms who has the reference visit enters, those of participants who missed a
visit too: that is what the mixed model is for.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import pandas as pd

from .. import schema
from .baselines import ANCOVA, baseline_columns, formulas
from .data import AnalysisData
from .estimable import check_design
from .results import ModelResult, row, term_label

logger = logging.getLogger(__name__)


@dataclass
class MixedResult(ModelResult):
    """The linear mixed model of the change in the score at every later visit (:func:`mixed_model`)."""

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
        ``group_variance``, ``warnings``; ``rows()`` are the fixed effects with Wald t 95 %
        intervals and p-values (participants minus fixed effects degrees of freedom).
    """
    import statsmodels.formula.api as smf
    from scipy import stats
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    if len(data.sessions) <= 2:
        return None
    long = later_visits(data)
    session = f"C(session, Treatment({data.session!r}))"
    baselines = dict(baseline_columns(data, model))  # column -> term name
    formula = f"score_change ~ {session} * treated + frown_change + " + " + ".join(baselines)
    factors = {session: "session", "treated": f"arm[{data.treated_arm}]",
               "frown_change": data.feature + schema.CHANGE_SUFFIX, **baselines}

    def label(term: str) -> str:
        return term_label(term, factors)

    mixed = smf.mixedlm(formula, long, groups=long["participant_id"])
    check_design(mixed.exog, mixed.endog, [label(t) for t in mixed.exog_names],
                 data.outcome + schema.CHANGE_SUFFIX, unit="observations")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = mixed.fit(reml=True)
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)})
    for note in notes:
        logger.warning("mixed model: %s", note)
    # t with the participants' degrees of freedom (participants minus fixed effects), not z
    n_participants = int(long["participant_id"].nunique())
    df = max(n_participants - len(fit.fe_params), 1)
    q = stats.t.ppf(0.975, df)
    rows = []
    for term in fit.fe_params.index:
        est, se = float(fit.fe_params[term]), float(fit.bse_fe[term])
        rows.append(row("mixed", label(term), est, (est - q * se, est + q * se),
                        float(2 * stats.t.sf(abs(est / se), df)), f"Wald t ({df} df)", "Wald t"))
    return MixedResult(formula=formulas(data, model)["mixed"],
                       n_participants=n_participants,
                       n_observations=len(long), converged=bool(fit.converged),
                       group_variance=float(fit.cov_re.iloc[0, 0]),
                       residual_variance=float(fit.scale), warnings=notes, table=rows)


def later_visits(data: AnalysisData) -> pd.DataFrame:
    """The rows of the mixed model: every visit but the reference one of each participant who has
    the reference visit, with ``score_change`` and ``frown_change`` from it and the baselines
    ``baseline`` and ``frown_baseline`` (the names of
    :func:`~facefeedback.analysis.baselines.baseline_columns`; the model of change picks which enter)."""
    long = data.long.copy()
    long["session"] = long["session"].astype(str)
    base = (long.loc[long["session"] == data.reference_session]
            .set_index("participant_id")[["score", "frown"]]
            .rename(columns={"score": "baseline", "frown": "frown_baseline"}))
    later = long[long["session"] != data.reference_session].merge(
        base, left_on="participant_id", right_index=True)  # inner: the reference visit is needed
    later["score_change"] = later["score"] - later["baseline"]
    later["frown_change"] = later["frown"] - later["frown_baseline"]
    return later.reset_index(drop=True)
