"""Mediation: arm -> change in frowning -> change in mood.

Implementation choice
---------------------
The effects come from :class:`statsmodels.stats.mediation.Mediation` (Imai,
Keele & Tingley 2010) with its nonparametric bootstrap, on array-based OLS
models. Measured on this project's 2-core reference machine with n = 200:
formula-based models take about 36 ms per resample (5000 resamples: three
minutes), array-based models about 1.4 ms (5000 resamples: about 7 s), which
fits the 30 s budget of a full analysis, so no hand-written mediation is used.
pingouin's ``mediation_analysis`` was the other candidate; its current release
requires NumPy 2, which MediaPipe 0.10.21 cannot use.

Both models adjust for the baseline score:

* mediator: ``frown_change ~ 1 + arm + baseline``
* outcome: ``mood_change ~ 1 + frown_change + arm + baseline``

With linear models and no arm-by-mediator interaction the average causal
mediation effect (indirect effect) equals ``a * b`` and the direct effect the
arm coefficient of the outcome model. statsmodels reports the *mean of the
bootstrap replicates* as its estimate; the point estimates here are those of
the models fitted on the data themselves (``a * b``, the arm coefficient, their
sum and ``a * b / total``), and the statsmodels bootstrap supplies the
percentile intervals and the two-sided p-values.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from .data import AnalysisData
from .estimable import check_design
from .models import primary_terms, row

logger = logging.getLogger(__name__)

#: statsmodels summary rows reported, and their names in results.json.
EFFECTS = (("ACME (average)", "indirect"), ("ADE (average)", "direct"),
           ("Total effect", "total"), ("Prop. mediated (average)", "proportion_mediated"))


def mediation_model(data: AnalysisData, n_boot: int, rng: np.random.Generator) -> dict:
    """Indirect, direct and total effect of the treated arm, and the proportion mediated.

    Parameters
    ----------
    data : AnalysisData
    n_boot : int
        Bootstrap resamples.
    rng : numpy.random.Generator
        Passed to statsmodels, so the intervals are reproducible.

    Returns
    -------
    dict
        For each of ``indirect``, ``direct``, ``total``, ``proportion_mediated``:
        ``estimate``, ``ci`` and ``p``; the path coefficients ``a`` (arm to
        frowning) and ``b`` (frowning to mood); ``rows``; ``notes`` (how many
        resampled fits were rank-deficient, when any were).
    """
    import statsmodels.api as sm
    from statsmodels.stats.mediation import Mediation
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning

    w = data.wide
    n = len(w)
    t = w["treated"].to_numpy(dtype=float)
    m = w["frown_change"].to_numpy(dtype=float)
    base = w["baseline"].to_numpy(dtype=float)
    y = w["mood_change"].to_numpy(dtype=float)
    outcome_model = sm.OLS(y, np.column_stack([np.ones(n), m, t, base]))
    mediator_model = sm.OLS(m, np.column_stack([np.ones(n), t, base]))
    names = primary_terms(data)
    check_design(outcome_model.exog, y, names, f"{data.outcome}_change")
    check_design(mediator_model.exog, m, [names[0], *names[2:]], f"{data.feature}_change")
    seed = int(rng.integers(2**31 - 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", RuntimeWarning)  # proportion mediated of ~0 totals
        warnings.simplefilter("always", SingularMatrixWarning)
        result = Mediation(outcome_model, mediator_model, exposure=(2, 1), mediator=1).fit(
            method="bootstrap", n_rep=n_boot, rng=seed)
        summary = result.summary(alpha=0.05)
    # statsmodels resamples without regard to arm: in small studies some resamples
    # lack an arm and are solved by pseudo-inverse. Say how many, once.
    singular = sum(issubclass(w.category, SingularMatrixWarning) for w in caught)
    notes = []
    if singular:
        notes.append(f"mediation: {singular} of {n_boot} bootstrap model fits had a rank-deficient "
                     "design (a resample without one arm); intervals at this sample size are "
                     "unreliable")
        logger.warning(notes[-1])
    a = float(mediator_model.fit().params[1])
    outcome_params = outcome_model.fit().params
    b, direct = float(outcome_params[1]), float(outcome_params[2])
    point = {"indirect": a * b, "direct": direct, "total": a * b + direct,
             "proportion_mediated": a * b / (a * b + direct) if a * b + direct else float("nan")}
    out: dict = {"n_boot": n_boot, "method": "statsmodels Mediation, nonparametric bootstrap",
                 "a": a, "b": b, "rows": [], "notes": notes}
    for label, key in EFFECTS:
        _, low, high, p = (float(v) for v in summary.loc[label])
        est = point[key]
        out[key] = {"estimate": est, "ci": [low, high], "p": p}
        out["rows"].append(row("mediation", key.replace("_", " "), est, (low, high), p,
                               "bootstrap percentile", "bootstrap"))
    indirect = np.asarray(result.ACME_avg)
    out["indirect"]["excludes_zero"] = bool(not (out["indirect"]["ci"][0] <= 0
                                                 <= out["indirect"]["ci"][1]))
    out["indirect"]["bootstrap_sd"] = float(np.std(indirect, ddof=1))
    return out
