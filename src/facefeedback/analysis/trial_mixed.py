"""Trial-level responses: a linear mixed model of every included trial's frown response.

``frown_response_mean ~ C(trial_type) * C(session) * arm`` with, per participant, a random
intercept and condition slope and, with several sessions, a variance component for each session
and condition (statsmodels ``MixedLM``, REML; the random intercept alone when that does not
converge, or with one condition), on the trials of ``features/trials.parquet`` (the capacity
task's attempts left out). When the trials come from more than one task, ``+ C(task)`` gives
each task its own level (the first in alphabetical order the reference) unless the tasks
coincide with sessions, conditions or arms: pooled without it, a task recorded at some visits
only moved the session terms by its difference from the others. The first trial type (in the
study's order), the reference
session and the control arm are the baseline levels; the three-way term is how much more the
treated arm's condition difference changed from the reference session than the control arm's.

Fitting
-------
The REML optimisers of :data:`METHODS` are tried in turn, each on its own (so the result can say
which converged and what the others came to), until one converges with finite estimates and
standard errors. A small study whose participants differ no more than their trials do has its
between-participant variance at 0, on the boundary of the parameter space: the gradient
optimisers then fail (or stop on a singular matrix) while the derivative-free ones (powell, nm)
reach it. That fit is a proper one: with the variance at 0 the fixed effects are those of
ordinary least squares on the trials (standard errors included; the Wald intervals take the
normal distribution, not t), and the result says so (``boundary``). When no optimiser converges the result has
``converged`` False, every estimate NaN and the interval column "not converged": numbers that
did not converge are not reported.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import NotEstimable
from .data import AnalysisData
from .results import ModelResult, row, term_label
from .trial_data import condition_order

logger = logging.getLogger(__name__)
RESPONSE = "frown_response_mean"
#: The REML optimisers tried, in this order.
METHODS = ("lbfgs", "powell", "nm", "bfgs")
#: The between-participant variance counts as 0 (the boundary) below this share of the total.
BOUNDARY_SHARE = 1e-4
NOT_CONVERGED = "not converged"


@dataclass
class TrialMixedResult(ModelResult):
    """The trial-level mixed model (:func:`trial_mixed_model`)."""

    name = "trial_mixed"
    formula: str
    n_participants: int
    n_trials: int
    converged: bool
    #: The optimiser whose fit is reported (None when none converged).
    method: str | None
    #: Each optimiser tried, and how it ended.
    attempts: list[str]
    #: The between-participant variance is estimated at 0 (fixed effects those of OLS).
    boundary: bool
    group_variance: float
    #: The variance of participants' condition differences (the random slope; None without one).
    slope_variance: float | None
    #: The variance of a participant's deviations in each session and condition (None without one).
    cell_variance: float | None
    residual_variance: float
    warnings: list[str]
    sentence: str


def fit_in_turn(model, methods=METHODS):
    """``(fit, method, attempts, warnings)``: the first REML fit of ``model`` by one of ``methods``
    that converged with finite fixed effects and standard errors (``fit`` and ``method`` None when
    none did), what each attempt came to, and the warnings of the accepted fit."""
    attempts = []
    for method in methods:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = model.fit(reml=True, method=method)
            except (np.linalg.LinAlgError, ValueError) as exc:
                attempts.append(f"{method}: stopped ({exc})")
                continue
        notes = sorted({str(w.message) for w in caught if issubclass(w.category, UserWarning)})
        finite = np.all(np.isfinite(fit.fe_params)) and np.all(np.isfinite(fit.bse_fe))
        if fit.converged and finite:
            attempts.append(f"{method}: converged")
            return fit, method, attempts, notes
        attempts.append(f"{method}: " + ("did not converge" if not fit.converged else "non-finite estimates"))
    return None, None, attempts, []


def trial_mixed_model(data: AnalysisData, methods=METHODS) -> TrialMixedResult | None:
    """Fit the trial-level model; None when the study has no trials.

    Parameters
    ----------
    data : AnalysisData
    methods : sequence of str
        The statsmodels optimisers tried in turn (default :data:`METHODS`).

    Raises
    ------
    NotEstimable
        Fewer than 3 participants have trials, or the design is singular.
    """
    import statsmodels.formula.api as smf

    trials = data.trials
    if trials is None:
        return None
    sessions = [s for s in data.sessions if s in set(trials["session"])]
    trials = trials[trials["session"].isin(sessions)]
    types = condition_order(set(trials["trial_type"]), data.contrasts)
    if trials["participant_id"].nunique() < 3:
        raise NotEstimable("trials of fewer than 3 participants")
    terms = []
    if len(types) > 1:
        terms.append(f"C(trial_type, Treatment({types[0]!r}))")
    if len(sessions) > 1:
        terms.append(f"C(session, Treatment({sessions[0]!r}))")
    terms.append("treated")
    formula = f"{RESPONSE} ~ " + " * ".join(terms)
    tasks = sorted(set(trials["task"].astype(str))) if "task" in trials else []
    task_note, mixed = "", None
    if len(tasks) > 1:  # each task's own level; the effects are pooled over the tasks
        with_task = formula + f" + C(task, Treatment({tasks[0]!r}))"
        candidate = smf.mixedlm(with_task, trials, groups=trials["participant_id"])
        if np.linalg.matrix_rank(candidate.exog) == candidate.exog.shape[1]:
            formula, mixed = with_task, candidate
        else:  # a task that is one session (or condition, or arm) has no level of its own to tell
            task_note = ("The trials' tasks are determined by their sessions, conditions and arms, so the model "
                         "has no task term: a task's own level is part of those terms. ")
    if mixed is None:
        mixed = smf.mixedlm(formula, trials, groups=trials["participant_id"])

    factors = {f"C(trial_type, Treatment({types[0]!r}))": "condition",
               f"C(session, Treatment({sessions[0]!r}))": "session", "treated": f"arm[{data.treated_arm}]",
               **({f"C(task, Treatment({tasks[0]!r}))": "task"} if len(tasks) > 1 else {})}

    def label(term: str) -> str:  # the formula's terms are joined by " * " (and " + "), a coefficient's by ":"
        response, tilde, terms = term.rpartition(" ~ ")
        return response + tilde + " + ".join(" * ".join(term_label(part, factors) for part in added.split(" * "))
                                             for added in terms.split(" + "))

    if np.linalg.matrix_rank(mixed.exog) < mixed.exog.shape[1]:
        raise NotEstimable("the trial design is singular (a condition, session or arm has no trials)")
    random, fallback = "(1 | participant)", ""
    fit = None
    if len(types) > 1:
        # Each participant's own condition difference (a random slope) and, with several sessions,
        # each participant's own deviation in each session and condition (a variance component):
        # with a random intercept alone the condition and condition-by-arm intervals held the truth
        # in 33 % and 40 % of simulated studies, and with the slope alone the three-way term's in 85 %.
        cells = {"cell": "0 + " + ":".join(terms[:-1])} if len(sessions) > 1 else None
        sloped = smf.mixedlm(formula, trials, groups=trials["participant_id"],
                             re_formula=f"~C(trial_type, Treatment({types[0]!r}))", vc_formula=cells)
        fit, method, attempts, notes = fit_in_turn(sloped, methods)
        if fit is not None:
            mixed = sloped
            random = "(1 + condition | participant)" + (" + (1 | participant:session:condition)" if cells else "")
        else:
            fallback = (f"With participants' own condition differences (a random slope) it did not converge "
                        f"({'; '.join(attempts)}), so it has a random intercept only: its intervals of the "
                        "condition terms are too narrow if participants' condition differences vary. ")
            logger.warning(fallback.strip())
    if fit is None:
        fit, method, attempts, notes = fit_in_turn(mixed, methods)
    n_part = int(trials["participant_id"].nunique())
    common = {"formula": label(formula) + f" + {random}", "n_participants": n_part,
              "n_trials": len(trials), "attempts": attempts}
    if fit is None:
        sentence = (f"The trial-level mixed model did not converge with any of the optimisers tried "
                    f"({'; '.join(attempts)}); its estimates are not reported.")
        logger.warning(sentence)
        rows = [row("trial_mixed", label(t), np.nan, (np.nan, np.nan), np.nan, NOT_CONVERGED, "Wald z")
                for t in mixed.exog_names]
        return TrialMixedResult(**common, converged=False, method=None, boundary=False,
                                group_variance=float("nan"), slope_variance=None, cell_variance=None,
                                residual_variance=float("nan"), warnings=[], sentence=task_note + fallback + sentence,
                                table=rows)
    group, residual = float(fit.cov_re.iloc[0, 0]), float(fit.scale)
    slope = float(fit.cov_re.iloc[1, 1]) if fit.cov_re.shape[0] > 1 else None
    cell = float(fit.vcomp[0]) if len(fit.vcomp) else None
    boundary = max(group, slope or 0.0, cell or 0.0) <= BOUNDARY_SHARE * (group + residual)
    sentence = task_note + fallback + (f"Converged with the {method} optimiser"
                           + (f" (before it: {'; '.join(attempts[:-1])})" if len(attempts) > 1 else "") + ". ")
    if boundary:
        group, slope, cell = 0.0, (None if slope is None else 0.0), (None if cell is None else 0.0)
        sentence += ("Its between-participant variance is estimated at 0 (the boundary of the parameter space): "
                     "participants' responses differ no more than their trials do, so the fixed effects and "
                     "their standard errors are those of ordinary least squares on the trials (the Wald "
                     "intervals take the normal distribution, not t).")
        # the boundary's own warnings (a Hessian not positive definite in the variance) are explained above
        notes = [n for n in notes if "boundary" not in n and "Hessian" not in n and "singular" not in n]
    else:
        sentence += (f"Between-participant variance {group:.4g}"
                     + ("" if slope is None else f", variance of participants' condition differences {slope:.4g}")
                     + ("" if cell is None else f", of their session-and-condition deviations {cell:.4g}")
                     + f", residual (trial) variance {residual:.4g} "
                     f"(intra-class correlation {group / (group + residual):.2f}).")
    if len(sessions) > 1 and sessions[0] != data.reference_session:
        sentence += (f" The reference session {data.reference_session} has no trials: the session terms compare "
                     f"each later session with {sessions[0]}, the first with trials.")
    ci = fit.conf_int()
    fe = fit.fe_params.index
    rows = [row("trial_mixed", label(t), fit.fe_params[t], (ci.loc[t, 0], ci.loc[t, 1]), fit.pvalues[t],
                "Wald", "Wald z") for t in fe]
    return TrialMixedResult(**common, converged=True, method=method, boundary=bool(boundary),
                            group_variance=group, slope_variance=slope, cell_variance=cell,
                            residual_variance=residual,
                            warnings=notes, sentence=sentence, table=rows)
