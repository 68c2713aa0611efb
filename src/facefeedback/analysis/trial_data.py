"""The study's maximal frown and trials, shaped for the models that use them.

:func:`capacity_table` gives one row per participant of the maximal-frown task (the capacity
task of the study file) at the reference and the compared session; :func:`compared_trials` the
included trials of the compared arms (``features/trials.parquet``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .study_features import StudyFeatures

#: Share of the baseline maximal frown whose loss counts as a clear toxin effect on the muscle.
LOSS_THRESHOLD = 0.5


def capacity_table(study: StudyFeatures, treated: str, control: str, reference: str,
                   session: str) -> pd.DataFrame | None:
    """One row per participant with a maximal frown at both sessions: ``participant_id``, ``arm``,
    ``treated``, ``capacity_baseline``, ``capacity_followup``, ``capacity_change`` (follow-up minus
    baseline, FU) and ``capacity_pct`` (follow-up as a percent of baseline); None when the study
    has no capacity task or no participant has both."""
    table = study.features
    task = study.capacity_task
    if task is None or "frown_capacity" not in table:
        return None
    rows = table[(table["task"] == task) & table["arm"].isin([treated, control])]
    wide = rows.pivot_table(index=["participant_id", "arm"], columns="session", values="frown_capacity",
                            aggfunc="mean")
    if reference not in wide or session not in wide:
        return None
    out = pd.DataFrame({"capacity_baseline": wide[reference], "capacity_followup": wide[session]})
    out = out.dropna().reset_index()
    if out.empty:
        return None
    out["treated"] = (out["arm"] == treated).astype(int)
    out["capacity_change"] = out["capacity_followup"] - out["capacity_baseline"]
    base = out["capacity_baseline"].where(out["capacity_baseline"] > 0)
    out["capacity_pct"] = 100.0 * out["capacity_followup"] / base
    out["lost_half"] = out["capacity_pct"] <= 100.0 * (1 - LOSS_THRESHOLD)
    return out


def condition_order(types: set[str], contrasts: dict[str, list[str]]) -> list[str]:
    """The trial types with the reference condition first: the second member of the study file's
    first contrast whose conditions both have trials, else the alphabetically first type (never the
    order the trials happen to come in, which would flip the sign of a model's condition terms)."""
    rest = sorted(types)
    for pair in contrasts.values():
        if len(pair) == 2 and set(pair) <= types:
            return [pair[1]] + [t for t in rest if t != pair[1]]
    return rest


def compared_trials(study: StudyFeatures, treated: str, control: str) -> pd.DataFrame | None:
    """The included trials of the compared arms with a frown response (the capacity task's
    attempts left out), with ``treated``; None when the study has none."""
    trials = study.trials
    if trials is None or "frown_response_mean" not in trials:
        return None
    keep = trials["arm"].isin([treated, control]) & trials["included"].astype(bool)
    keep &= np.isfinite(trials["frown_response_mean"].to_numpy(float))
    if study.capacity_task is not None:
        keep &= trials["task"] != study.capacity_task
    out = trials[keep].copy()
    if out.empty:
        return None
    out["trial_type"] = out["trial_type"].astype(str)
    out["treated"] = (out["arm"] == treated).astype(int)
    return out.reset_index(drop=True)
