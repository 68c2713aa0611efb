"""Repeated visits: a linear mixed model of the score over all sessions.

``score ~ C(session) * arm + frown`` with a random intercept per participant
(statsmodels ``MixedLM``, REML), fitted when the study has more than two
sessions. The reference session and the control arm are the baseline levels.
"""

from __future__ import annotations

import logging
import warnings

from .data import AnalysisData
from .estimable import check_design
from .models import row

logger = logging.getLogger(__name__)


def mixed_model(data: AnalysisData) -> dict | None:
    """Fit the mixed model; ``None`` when there are two sessions or fewer.

    Returns
    -------
    dict or None
        ``formula``, ``n_participants``, ``n_observations``, ``converged``,
        ``group_variance``, ``warnings`` and ``rows`` (fixed effects with Wald
        95 % intervals and p-values).
    """
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    if len(data.sessions) <= 2:
        return None
    long = data.long.copy()
    long["session"] = long["session"].astype(str)
    order = [s for s in data.sessions if s in set(long["session"])]
    formula = (f"score ~ C(session, Treatment({order[0]!r})) * treated + frown")

    def label(term: str) -> str:
        return (term.replace(f"C(session, Treatment({order[0]!r}))", "session")
                .replace("treated", f"arm[{data.treated_arm}]")
                .replace("frown", data.feature))

    model = smf.mixedlm(formula, long, groups=long["participant_id"])
    check_design(model.exog, model.endog, [label(t) for t in model.exog_names], data.outcome,
                 unit="observations")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = model.fit(reml=True)
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)})
    for note in notes:
        logger.warning("mixed model: %s", note)
    ci = fit.conf_int()
    rows = []
    for term in fit.fe_params.index:
        rows.append(row("mixed", label(term), fit.fe_params[term], (ci.loc[term, 0], ci.loc[term, 1]),
                        fit.pvalues[term], "Wald", "Wald z"))
    return {"formula": f"{data.outcome} ~ session * arm + {data.feature} + (1 | participant)",
            "n_participants": int(long["participant_id"].nunique()),
            "n_observations": len(long), "converged": bool(fit.converged),
            "group_variance": float(fit.cov_re.iloc[0, 0]), "residual_variance": float(fit.scale),
            "warnings": notes, "rows": rows}
