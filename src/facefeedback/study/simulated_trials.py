"""The trial and maximal-frown tasks of a simulated study, as the study pipeline would give them:
session-features rows (their change columns from the reference session), each recording's
frames, events file, trials table and summary, and the study's ``features/trials.parquet``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..changes import add_change_columns
from ..synthetic.frames import recording_summaries
from ..synthetic.studies import SimulationSettings
from ..synthetic.trial_study import capacity_truth, design, simulate_trial_tasks
from .trial_features import trial_values, with_capacity_percent

ID_FIRST = ["participant_id", "arm", "session", "task", "recording_id"]


def simulate_trial_rows(table: pd.DataFrame, settings: SimulationSettings, seed: int
                        ) -> tuple[pd.DataFrame, list[dict]]:
    """Session-features rows of the trial and capacity tasks of the simulated study ``table`` (its
    rest rows give the ids and scores) and the recordings behind them (see
    :func:`facefeedback.synthetic.trial_study.simulate_trial_tasks`, each with its ``recording_id``)."""
    rest = table.drop_duplicates("participant_id")
    ids = rest["participant_id"].tolist()
    treated = (rest["arm"] == settings.arms[0]).to_numpy(int)
    rng = np.random.default_rng([seed, 2])
    recordings = simulate_trial_tasks(ids, treated, settings.sessions, settings.trials_per_condition,
                                      settings.capacity, settings.trial_effects, rng)
    if not recordings:
        return table.iloc[:0], []
    spec = design(settings.trials_per_condition, settings.capacity)
    features, _ = recording_summaries([r["frames"] for r in recordings])
    extra = pd.DataFrame([trial_values(spec, r["summary"]) for r in recordings], dtype=float)
    keys = pd.DataFrame({"participant_id": [r["participant_id"] for r in recordings],
                         "session": [r["session"] for r in recordings], "task": [r["task"] for r in recordings]})
    keys["recording_id"] = keys["participant_id"] + "_" + keys["session"] + "_" + keys["task"]
    for r, rid in zip(recordings, keys["recording_id"]):
        r["recording_id"] = rid
    measured = list(features.columns) + list(extra.columns)
    rows = pd.concat([keys, features, extra], axis=1)
    rows = add_change_columns(rows, measured, settings.sessions[0])
    rows = with_capacity_percent(rows)
    carried = [c for c in table.columns if c not in rows.columns]  # arm, covariates, scores, is_reference
    rows = rows.merge(table[["participant_id", "session", *carried]], on=["participant_id", "session"], how="left")
    return rows[ID_FIRST + [c for c in rows.columns if c not in ID_FIRST]], recordings


def study_trials(recordings: list[dict], arms: dict[str, str]) -> pd.DataFrame | None:
    """``features/trials.parquet`` of the simulated recordings."""
    parts = [r["trials"].assign(participant_id=r["participant_id"], arm=arms[r["participant_id"]],
                                session=r["session"], task=r["task"], recording_id=r["recording_id"])
             for r in recordings if r["trials"] is not None]
    if not parts:
        return None
    out = pd.concat(parts, ignore_index=True)
    return out[ID_FIRST + [c for c in out.columns if c not in ID_FIRST]]


def trial_truth(settings: SimulationSettings) -> dict:
    """The known truth of the trial and capacity tasks, for study.json."""
    out: dict = {}
    if settings.trials_per_condition > 0:
        eff = settings.trial_effects
        out["trials"] = {"per_condition": settings.trials_per_condition, "negative_peak_fu": eff.negative_fu,
                         "neutral_peak_fu": eff.neutral_fu, "latency_s": eff.latency_s,
                         "toxin_response_change": eff.toxin_response}
    if settings.capacity:
        out["capacity"] = capacity_truth(settings.trial_effects)
    return out
