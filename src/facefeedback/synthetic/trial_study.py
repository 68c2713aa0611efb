"""Simulated trial and maximal-frown recordings with known truth, beside a simulated study's rest task.

For participant ``i`` (``T_i`` = 1 in the toxin arm) at visit ``s`` (``s = 0`` baseline):

* task ``faces``: ``trials_per_condition`` negative and as many neutral trials in random order,
  one every ``TRIAL_SPACING_S`` seconds, each lasting ``TRIAL_DURATION_S``; the frown rises to a
  peak ``latency_s`` after onset (:func:`facefeedback.synthetic.trials.trial_curve`) of height
  ``A_c * (1 + response_sd * z_i) * (1 + toxin_response * T_i * [s > 0])`` with ``A_c`` the
  condition's amplitude (``negative_fu``, ``neutral_fu``) and ``z_i ~ N(0, 1)``;
* task ``max_frown``: ``CAPACITY_ATTEMPTS`` cued maximal frowns of height ``C_is``, with
  ``C_i0 ~ N(capacity_fu, capacity_sd)`` and ``C_is = C_i0 (1 + toxin_capacity * T_i + e_is)``,
  ``e_is ~ N(0, capacity_visit_sd)`` at later visits.

The frames are drawn at the simulated study's frame rate with the rest task's valid-frame share
and measured by the pipeline's own trial and capacity code (:func:`facefeedback.trials.trial_outputs`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..config import EventConfig
from ..trials import trial_outputs
from . import frames as synthetic_frames
from .trials import Trial, trial_curve

TRIAL_TASK = "faces"
CAPACITY_TASK = "max_frown"
TRIAL_TYPES = ("negative", "neutral")
CONTRASTS = {"negative_vs_neutral": TRIAL_TYPES}
TRIAL_SPACING_S = 3.0
TRIAL_DURATION_S = 1.5
LEAD_S = 2.0
CAPACITY_ATTEMPTS = 3
CAPACITY_SPACING_S = 4.0


@dataclass(frozen=True)
class TrialEffects:
    """The known truth of the trial and maximal-frown tasks (module docstring)."""

    negative_fu: float = 0.6
    neutral_fu: float = 0.15
    latency_s: float = 0.6
    response_sd: float = 0.2
    toxin_response: float = -0.5
    capacity_fu: float = 1.0
    capacity_sd: float = 0.15
    toxin_capacity: float = -0.6
    capacity_visit_sd: float = 0.15

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def capacity_truth(eff: TrialEffects, draws: int = 400_000, seed: int = 12345) -> dict:
    """The true mean capacity change per arm (FU) and the true AUC of telling the arm from it
    (the probability that a toxin participant's change is below a placebo participant's), the AUC
    by Monte Carlo of the generative model."""
    rng = np.random.default_rng(seed)
    c0 = rng.normal(eff.capacity_fu, eff.capacity_sd, (2, draws))
    change = c0 * (np.array([[eff.toxin_capacity], [0.0]]) + rng.normal(0, eff.capacity_visit_sd, (2, draws)))
    return {"capacity_change_treated": eff.capacity_fu * eff.toxin_capacity, "capacity_change_control": 0.0,
            "unblinding_auc": float(np.mean(change[0] < change[1]))}


def capacity_draws(eff: TrialEffects, n_per_arm: int, rng: np.random.Generator) -> pd.DataFrame:
    """The maximal frown of ``n_per_arm`` toxin (``botox``) and placebo participants drawn from the
    generative model (module docstring) without frames, in the columns of
    :func:`facefeedback.analysis.trial_data.capacity_table`: for checking the analysis of the
    capacity change over many studies in milliseconds each."""
    treated = np.repeat([1, 0], n_per_arm)
    n = treated.size
    c0 = rng.normal(eff.capacity_fu, eff.capacity_sd, n)
    follow = c0 * (1 + eff.toxin_capacity * treated + rng.normal(0, eff.capacity_visit_sd, n))
    cap = pd.DataFrame({"participant_id": [f"p{i}" for i in range(n)],
                        "arm": np.where(treated == 1, "botox", "placebo"), "treated": treated,
                        "capacity_baseline": c0, "capacity_followup": follow, "capacity_change": follow - c0})
    cap["capacity_pct"] = 100 * follow / c0
    cap["lost_half"] = cap["capacity_pct"] <= 50
    return cap


def _recordings(curves: np.ndarray, rng: np.random.Generator) -> list[pd.DataFrame]:
    """Per-frame tables of frown curves (n_recordings, n_frames) with a little drift and the rest
    task's share of invalid frames."""
    n_rec, n_frames = curves.shape
    drift = np.cumsum(rng.normal(0, 0.004, (n_rec, n_frames)), axis=1) * 0.3
    valid = rng.random((n_rec, n_frames)) >= synthetic_frames.INVALID_FRACTION
    face = valid | (rng.random((n_rec, n_frames)) < 0.5)
    level = rng.normal(0.05, 0.02, (n_rec, 1))
    signals = synthetic_frames.assemble_signals(level + curves + drift, valid, face, drift, rng)
    return [synthetic_frames.frames_table(signals, row, rng) for row in range(n_rec)]


def _events(trials: list[Trial]) -> pd.DataFrame:
    return pd.DataFrame({"onset": [t.onset_s for t in trials], "duration": [t.duration_s for t in trials],
                         "trial_type": [t.trial_type for t in trials]})


def simulate_trial_tasks(ids: list[str], treated: np.ndarray, sessions: tuple[str, ...], per_condition: int,
                         capacity: bool, eff: TrialEffects, rng: np.random.Generator) -> list[dict]:
    """The trial and maximal-frown recordings of every participant and session: one dict each with
    ``participant_id``, ``session``, ``task``, ``frames``, ``events``, ``trials`` (the measured table)
    and ``summary`` (the ``trials`` / ``capacity`` entries of its summary.json)."""
    fps = synthetic_frames.FPS
    params = EventConfig()
    keys = [(i, s) for i in range(len(ids)) for s in range(len(sessions))]
    out = []
    if per_condition > 0:
        z = rng.normal(0, 1, len(ids))
        n = 2 * per_condition
        t = np.arange(int(round((LEAD_S + n * TRIAL_SPACING_S) * fps))) / fps
        curves, plans = [], []
        for i, s in keys:
            scale = (1 + eff.response_sd * z[i]) * (1 + eff.toxin_response * treated[i] * (s > 0))
            order = rng.permutation(np.repeat(TRIAL_TYPES, per_condition))
            amp = {"negative": eff.negative_fu, "neutral": eff.neutral_fu}
            plan = [Trial(LEAD_S + k * TRIAL_SPACING_S, TRIAL_DURATION_S, str(tt), amp[tt] * scale,
                          latency_s=eff.latency_s) for k, tt in enumerate(order)]
            plans.append(plan)
            curves.append(trial_curve(t, plan))
        for (i, s), plan, frames in zip(keys, plans, _recordings(np.array(curves), rng)):
            events = _events(plan)
            trials, summary = trial_outputs(frames, events, params)
            out.append({"participant_id": ids[i], "session": sessions[s], "task": TRIAL_TASK, "frames": frames,
                        "events": events, "trials": trials, "summary": summary})
    if capacity:
        c0 = rng.normal(eff.capacity_fu, eff.capacity_sd, len(ids))
        t = np.arange(int(round((LEAD_S + CAPACITY_ATTEMPTS * CAPACITY_SPACING_S) * fps))) / fps
        curves, plans = [], []
        for i, s in keys:
            height = c0[i] if s == 0 else c0[i] * (1 + eff.toxin_capacity * treated[i]
                                                   + rng.normal(0, eff.capacity_visit_sd))
            plan = [Trial(LEAD_S + k * CAPACITY_SPACING_S, 2.5, "max_frown", max(height, 0.0), latency_s=1.0)
                    for k in range(CAPACITY_ATTEMPTS)]
            plans.append(plan)
            curves.append(trial_curve(t, plan))
        for (i, s), plan, frames in zip(keys, plans, _recordings(np.array(curves), rng)):
            events = _events(plan)
            trials, summary = trial_outputs(frames, events, params, capacity=True)
            out.append({"participant_id": ids[i], "session": sessions[s], "task": CAPACITY_TASK, "frames": frames,
                        "events": events, "trials": trials, "summary": summary})
    return out


def design(per_condition: int, capacity: bool) -> SimpleNamespace:
    """What :func:`facefeedback.study.trial_features.trial_values` reads of a study's design."""
    return SimpleNamespace(trial_types=list(TRIAL_TYPES) if per_condition > 0 else [],
                           spec=SimpleNamespace(contrasts=dict(CONTRASTS) if per_condition > 0 else {},
                                                capacity_task=CAPACITY_TASK if capacity else None),
                           reference_session=None)
