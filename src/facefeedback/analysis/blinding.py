"""Did the toxin reach the muscle, and could the arm be told from it? The manipulation check and
the functional-unblinding risk, from the maximal frown (the study's capacity task).

* Per arm: the mean change of ``frown_capacity`` (follow-up minus baseline, FU) with its t
  interval, the follow-up capacity as a percent of baseline, and the share of the arm that lost
  at least half of its baseline capacity (Wilson interval).
* The functional-unblinding risk: how well the arm can be told from the capacity change alone,
  as the area under the ROC curve of the change itself, the toxin's side being the larger loss
  (the toxin weakens the frown): the probability that a treated participant lost more of their
  maximal frown than a control participant (Mann-Whitney). 0.5: the change says nothing about
  the arm; 1: it gives it away. (Before version 0.6.6 it was the AUC of a logistic regression
  scored out of fold, which is biased below 0.5 when the arms do not differ, the fitted
  direction flipping between folds: a mean of 0.446 over 200 such studies of 10 per arm, and its
  interval held the truth in 82.5 % of them; docs/analysis.md.)
  Its interval is the wider of two (their hull): a bootstrap of the out-of-fold scores
  stratified by arm (percentile), and a score-type interval (:func:`auc_interval`): the AUCs
  ``theta`` with ``|AUC - theta| <= z * SE(theta)``, the Hanley and McNeil (1982) standard error
  taken at each candidate ``theta`` rather than at the estimate, as Wilson's interval does for a
  proportion. The bootstrap alone collapses at the ceiling: when every treated participant is
  scored above every control one (complete separation, AUC 1) every resample has AUC 1 and the
  interval is [1, 1]. The score-type interval keeps a lower bound set by the number of
  participants (0.58 with 4 per arm, 0.80 with 10, 0.95 with 40), but alone it ignores the noise
  of the resampling and held the truth in 92.7 % of simulated studies of 40 per arm, and in
  85 % of studies of 4 per arm near the ceiling (true AUC 0.996; one reversed pair puts its upper
  bound below the truth). Their hull held it in 95.3 %, and in every such study
  (scripts/calibrate_blinding.py; docs/analysis.md). The sentence says when the separation is
  complete.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import NotEstimable
from .data import AnalysisData
from .resample import percentile_interval, stratified_indices
from .results import ModelResult, row
from .trial_data import LOSS_THRESHOLD

#: Candidate AUCs of the score-type interval (its resolution is 5e-6).
AUC_GRID = np.linspace(0.0, 1.0, 200_001)
AUC_INTERVAL = "hull of the stratified bootstrap percentile and the Hanley-McNeil score-type intervals"


@dataclass
class ManipulationResult(ModelResult):
    """The maximal-frown manipulation check and the unblinding AUC (:func:`manipulation_model`)."""

    name = "manipulation"
    rows_after = ""
    arms: dict  # arm -> n, capacity_change (estimate, ci), pct_of_baseline (estimate, ci), lost_half (share, ci)
    difference: dict  # treated minus control capacity change: estimate, ci, p (Welch)
    auc: float
    auc_ci: list[float]
    auc_interval: str
    #: The two intervals of the hull: ``bootstrap`` and ``score``.
    auc_ci_parts: dict
    n_boot: int
    #: Every treated participant is scored above every control one (AUC 1).
    separation_complete: bool
    risk: str  # low / moderate / high
    sentence: str

    @property
    def auc_text(self) -> str:
        """The AUC as the report shows it (:func:`auc_text`)."""
        return auc_text(self.auc)


def auc_text(auc: float) -> str:
    """An AUC to two decimals, or for one short of 1 that would round to 1.00 its first three
    truncated (0.995): 1.00 reads as complete separation."""
    return f"{np.floor(auc * 1000) / 1000:.3f}" if round(auc, 2) == 1.0 and auc < 1.0 else f"{auc:.2f}"


def auc_scores(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUC of ``scores`` (shape (b, n)) for the rows where ``positive`` is 1, ties counted half."""
    scores = np.atleast_2d(scores)
    pos, neg = scores[:, positive == 1], scores[:, positive == 0]
    greater = (pos[:, :, None] > neg[:, None, :]).mean(axis=(1, 2))
    ties = (pos[:, :, None] == neg[:, None, :]).mean(axis=(1, 2))
    return greater + 0.5 * ties


def auc_interval(auc: float, n_pos: int, n_neg: int, z: float = 1.959964) -> list[float]:
    """The score-type 95 % interval of an AUC of ``n_pos`` positive and ``n_neg`` negative cases
    (module docstring): every ``theta`` with ``|auc - theta| <= z * SE(theta)``, where
    ``SE(theta)**2`` is Hanley and McNeil's (1982) variance ``(theta (1 - theta) + (n_pos - 1)
    (Q1 - theta**2) + (n_neg - 1) (Q2 - theta**2)) / (n_pos n_neg)``, ``Q1 = theta / (2 - theta)``,
    ``Q2 = 2 theta**2 / (1 + theta)``. It does not collapse at 0 or 1.

    >>> [round(v, 2) for v in auc_interval(1.0, 4, 4)]
    [0.58, 1.0]
    """
    t = AUC_GRID
    var = t * (1 - t) / (n_pos * n_neg) * (1 + (n_pos - 1) * (1 - t) / (2 - t) + (n_neg - 1) * t / (1 + t))
    inside = t[np.abs(t - auc) <= z * np.sqrt(var) + 1e-12]
    return [float(inside.min()), float(inside.max())]


def wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    """Wilson score interval of a proportion."""
    if n == 0:
        return [float("nan"), float("nan")]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(centre - half), float(centre + half)]


#: The unblinding AUC's risk bands: low below 0.6, moderate up to 0.8, high from 0.8.
LOW_BELOW, HIGH_FROM = 0.6, 0.8


def risk_sentence(auc: float, ci: list[float], treated: str, control: str,
                  counts: tuple[int, int] = (0, 0)) -> tuple[str, str]:
    """How worrying the AUC is for the trial's blinding, in one sentence (``counts``: the
    participants of the treated and the control arm, named when the separation is complete)."""
    risk = "low" if auc < LOW_BELOW else "moderate" if auc < HIGH_FROM else "high"
    if auc == 1.0:
        told = (f"separation is complete, the capacity change telling every {treated} participant from every "
                f"{control} participant out of fold (AUC 1, 95 % CI {ci[0]:.2f} to 1: with {counts[0]} and "
                f"{counts[1]} participants the true AUC could be as low as {ci[0]:.2f})")
    else:
        # an AUC short of 1 is not shown as 1.00 or 100 % (that reads as complete separation)
        share = "more than 99" if round(100 * auc) == 100 else f"{100 * auc:.0f}"
        told = (f"the capacity change tells the arm correctly for a random pair of one {treated} and one "
                f"{control} participant {share} % of the time (AUC {auc_text(auc)}, 95 % CI {ci[0]:.2f} to "
                f"{ci[1]:.2f})")
    meaning = {"low": "the change in maximal frowning hardly gives the arm away, so participants who notice "
                      "it could not have told their arm from it",
               "moderate": "participants who notice how hard they can frown could in part guess their arm: "
                           "blinding is at some risk, and the mood effect may carry some expectation",
               "high": "participants (and raters who see their face) can tell the arm from the frown itself: "
                       "the trial is functionally unblinded, and a mood effect cannot be separated from "
                       "what participants expected once they noticed"}[risk]
    # The label follows the estimate; an interval reaching into another band is said, not ignored.
    others = [name for name, lo, hi in (("low", 0.0, LOW_BELOW), ("moderate", LOW_BELOW, HIGH_FROM),
                                        ("high", HIGH_FROM, 1.0))
              if name != risk and ci[0] < hi and ci[1] >= lo]
    caveat = (f" The interval also reaches the {' and the '.join(others)} risk band{'s' if len(others) > 1 else ''}: "
              f"with these participants the risk may be {' or '.join(others)}." if others and auc < 1.0 else "")
    return risk, f"Functional-unblinding risk {risk}: {told}; {meaning}.{caveat}"


def manipulation_model(data: AnalysisData, n_boot: int, rng: np.random.Generator) -> ManipulationResult | None:
    """The manipulation check and the unblinding AUC; None when the study has no capacity task.

    ``n_boot`` resamples (from ``rng``) make the bootstrap part of the AUC's interval.

    Raises
    ------
    NotEstimable
        An arm has fewer than two participants with a maximal frown at both sessions.
    """
    from scipy import stats

    cap = data.capacity
    if cap is None:
        return None
    treated = cap["treated"].to_numpy()
    change = cap["capacity_change"].to_numpy(float)
    counts = np.bincount(treated, minlength=2)
    if counts.min() < 2:
        raise NotEstimable(f"the maximal frown is measured at both sessions for {counts[1]} {data.treated_arm} "
                           f"and {counts[0]} {data.control_arm} participants; at least 2 per arm are needed")
    arms, rows = {}, []
    for arm in (data.treated_arm, data.control_arm):
        part = cap[cap["arm"] == arm]
        x = part["capacity_change"].to_numpy(float)
        ci = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        pct = part["capacity_pct"].dropna().to_numpy(float)
        pct_ci = (stats.t.interval(0.95, len(pct) - 1, loc=pct.mean(), scale=stats.sem(pct))
                  if len(pct) > 1 else (np.nan, np.nan))
        lost = int(part["lost_half"].sum())
        arms[arm] = {"n": len(x), "capacity_baseline": float(part["capacity_baseline"].mean()),
                     "capacity_change": {"estimate": float(x.mean()), "ci": [float(ci[0]), float(ci[1])]},
                     "pct_of_baseline": {"estimate": float(pct.mean()) if len(pct) else float("nan"),
                                         "ci": [float(pct_ci[0]), float(pct_ci[1])]},
                     "lost_half": {"share": lost / len(x), "n": lost, "ci": wilson(lost, len(x))}}
        rows.append(row("manipulation", f"frown_capacity_change: {arm}", x.mean(), ci, np.nan, "t", ""))
        rows.append(row("manipulation", f"lost >= {100 * LOSS_THRESHOLD:.0f} % of baseline capacity: {arm}",
                        lost / len(x), wilson(lost, len(x)), np.nan, "Wilson", ""))
    welch = stats.ttest_ind(change[treated == 1], change[treated == 0], equal_var=False)
    diff_ci = welch.confidence_interval(0.95)
    difference = {"estimate": float(change[treated == 1].mean() - change[treated == 0].mean()),
                  "ci": [float(diff_ci.low), float(diff_ci.high)], "p": float(welch.pvalue)}
    rows.append(row("manipulation", f"frown_capacity_change: {data.treated_arm} minus {data.control_arm}",
                    difference["estimate"], difference["ci"], difference["p"], "Welch t", "Welch t-test"))
    scores = -change  # the toxin weakens the frown: a larger loss scores higher
    auc = float(auc_scores(scores, treated)[0])
    idx = stratified_indices(treated, n_boot, rng, replace=True)
    # a stratified resample keeps each arm's places, so the labels stay ``treated``
    draws = np.concatenate([auc_scores(scores[idx[s:s + 500]], treated) for s in range(0, n_boot, 500)])
    boot, score = percentile_interval(draws), auc_interval(auc, int(counts[1]), int(counts[0]))
    auc_ci = [min(boot[0], score[0]), max(boot[1], score[1])]
    risk, sentence = risk_sentence(auc, auc_ci, data.treated_arm, data.control_arm,
                                   (int(counts[1]), int(counts[0])))
    rows.append(row("manipulation", "unblinding AUC (arm from frown_capacity_change)", auc, auc_ci, np.nan,
                    AUC_INTERVAL, "Mann-Whitney (a larger loss of capacity: the toxin arm)"))
    return ManipulationResult(arms=arms, difference=difference, auc=auc, auc_ci=auc_ci, auc_interval=AUC_INTERVAL,
                              auc_ci_parts={"bootstrap": list(boot), "score": score}, n_boot=n_boot,
                              separation_complete=auc == 1.0, risk=risk, sentence=sentence, table=rows)
