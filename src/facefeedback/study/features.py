"""Session features (long), change from the reference session, and the wide table for SPSS or R.

``session_features`` has one row per participant x session x task (every
recording of the study; a failed recording keeps its row, with NaN features; a session with
scores but no recording has a row per task of the participant's reference session, with no
``recording_id`` and NaN features, see :func:`unrecorded_sessions`).
Column contract: ``docs/data_contract.md``. ``wide`` has one row per
participant; its column names are built by :func:`wide_name` from the long
columns and keep to letters, digits and underscores, at most 64 characters.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema
from ..changes import change_columns, change_from
from .manifest import Study
from .trial_features import PCT_OF_BASELINE, trial_feature_names, with_capacity_percent

MAX_NAME = 64
#: Words SPSS does not accept as variable names.
SPSS_RESERVED = frozenset({"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"})


def session_features(study: Study, summaries: dict[str, dict]) -> pd.DataFrame:
    """The long table: ids, covariates, recording features, scores and their changes from the reference.

    Parameters
    ----------
    study : Study
    summaries : dict
        ``recording_id -> summary["features"]`` for the recordings that were measured.
    """
    features = schema.summary_feature_names() + trial_feature_names(study, summaries)
    rec = pd.concat([study.recordings[["participant_id", "session", "task", "recording_id"]],
                     unrecorded_sessions(study)], ignore_index=True)
    part = study.participants.set_index("participant_id")
    table = pd.DataFrame({
        "participant_id": rec["participant_id"].to_numpy(), "arm": part.loc[rec["participant_id"], "arm"].to_numpy(),
        "session": rec["session"].to_numpy(), "task": rec["task"].to_numpy(),
        "recording_id": rec["recording_id"].to_numpy()})
    for c in study.covariates:
        table[c] = part.loc[rec["participant_id"], c].to_numpy()
    # summary.json holds null for a feature with no value (no valid frame, no event).
    values = pd.DataFrame([[summaries.get(r, {}).get(f) for f in features] for r in table["recording_id"]],
                          columns=features, dtype="float64")
    scales = list(study.scales)
    scores = _score_table(study, scales)
    keys = pd.MultiIndex.from_arrays([table["participant_id"], table["session"]])
    by_session = scores.reindex(keys).reset_index(drop=True)
    # Feature change: same participant and task at the reference session.
    ref_rows = table.assign(_i=np.arange(len(table))).set_index(["participant_id", "session", "task"])["_i"]
    ref_keys = pd.MultiIndex.from_arrays([table["participant_id"], [study.reference_session] * len(table),
                                          table["task"]])
    ref_index = ref_rows.reindex(ref_keys).to_numpy()
    ref_values = values.reindex(pd.Index(ref_index)).reset_index(drop=True)
    # Score change: same participant at the reference session (whatever the task).
    ref_scores = scores.reindex(pd.MultiIndex.from_arrays([table["participant_id"],
                                                           [study.reference_session] * len(table)]))
    ref_scores = ref_scores.reset_index(drop=True)
    out = pd.concat([table, values, by_session, change_from(values, ref_values), change_from(by_session, ref_scores)],
                    axis=1)
    out["is_reference"] = (out["session"] == study.reference_session).to_numpy(bool)
    out = with_capacity_percent(out)
    order = _row_order(study, out)
    return out.iloc[order].reset_index(drop=True)


def unrecorded_sessions(study: Study) -> pd.DataFrame:
    """Rows for the sessions with scores but no recording (a visit whose video was not made or
    not listed): one per task the participant was recorded in at the reference session, with no
    ``recording_id``, so that their scores and score changes are kept beside the frown features
    of the visits that were recorded."""
    rec = study.recordings
    at_reference = rec[rec["session"] == study.reference_session].groupby("participant_id", sort=False)["task"]
    tasks = {p: list(dict.fromkeys(t)) for p, t in at_reference}
    rows = [(p, v, task, None) for p, v in study.unrecorded_visits() for task in tasks.get(p, [])]
    return pd.DataFrame(rows, columns=["participant_id", "session", "task", "recording_id"], dtype=object)


def _score_table(study: Study, scales: list[str]) -> pd.DataFrame:
    """One row per (participant, session) with a column per scale."""
    s = study.scores
    if not len(s):
        return pd.DataFrame(columns=scales, index=pd.MultiIndex.from_arrays([[], []]), dtype="float64")
    wide = s.pivot(index=["participant_id", "session"], columns="scale", values="score")
    return wide.reindex(columns=scales).astype("float64")


def _row_order(study: Study, table: pd.DataFrame) -> np.ndarray:
    p_rank = {p: i for i, p in enumerate(study.participants["participant_id"])}
    s_rank = {s: i for i, s in enumerate(study.sessions)}
    t_rank = {t: i for i, t in enumerate(dict.fromkeys(study.recordings["task"]))}
    key = pd.DataFrame({"p": table["participant_id"].map(p_rank), "s": table["session"].map(s_rank),
                        "t": table["task"].map(t_rank)})
    return key.sort_values(["p", "s", "t"], kind="stable").index.to_numpy()


# -- wide ---------------------------------------------------------------------


def wide_name(*parts: str) -> str:
    """A variable name SPSS and R accept: letters, digits, '_'; starts with a letter; <= 64 characters.

    Long names are cut and given a short hash of the full name, so they stay unique.
    """
    name = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(p for p in parts if p))
    name = re.sub(r"_+", "_", name).strip("_")
    if not name or not name[0].isalpha():
        name = f"v_{name}"
    if name.upper() in SPSS_RESERVED:
        name = f"{name}_v"
    if len(name) > MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:6]
        name = f"{name[:MAX_NAME - 7].rstrip('_')}_{digest}"
    return name


@dataclass(frozen=True)
class WideColumn:
    """Where a wide column comes from: a long column, at a session (and task)."""

    name: str
    source: str
    session: str | None = None
    task: str | None = None


def wide_table(study: Study, long: pd.DataFrame) -> tuple[pd.DataFrame, list[WideColumn]]:
    """One row per participant with recordings (those without are left out of the study, as of
    session_features): covariates, then scores by session, then features by session and task.

    Change columns are given for the sessions after the reference (at the reference they are 0).
    """
    trial_columns = trial_feature_names(study, {"": dict.fromkeys(long.columns)})
    features = schema.summary_feature_names() + trial_columns
    scales = list(study.scales)
    recorded = study.participants["participant_id"].isin(set(study.recordings["participant_id"]))
    people = study.participants.loc[recorded, ["participant_id", "arm", *study.covariates]].reset_index(drop=True)
    columns = [WideColumn(wide_name(c), c) for c in people.columns]
    blocks = [people.set_axis([c.name for c in columns], axis=1)]
    tasks = list(dict.fromkeys(study.recordings["task"]))
    pid = people["participant_id"]
    per_session = long.drop_duplicates(["participant_id", "session"]).set_index(["participant_id", "session"])
    per_task = long.set_index(["participant_id", "session", "task"])
    for session in study.sessions:
        sources = scales + ([] if session == study.reference_session else change_columns(scales))
        keys = pd.MultiIndex.from_arrays([pid, [session] * len(pid)])
        block = per_session.reindex(keys)[sources].reset_index(drop=True) if sources else None
        columns.extend(WideColumn(wide_name(src, session), src, session) for src in sources)
        if block is not None:
            blocks.append(block.set_axis([c.name for c in columns[-len(sources):]], axis=1))
    for session in study.sessions:
        later = change_columns(features) + [c for c in (PCT_OF_BASELINE,) if c in long]
        sources = features + ([] if session == study.reference_session else later)
        for task in tasks:
            rows = (long["session"] == session) & (long["task"] == task)
            if not rows.any():
                continue
            # trial and capacity columns only where the task has them
            mine = [c for c in sources if not c.startswith(tuple(trial_columns)) or long.loc[rows, c].notna().any()]
            keys = pd.MultiIndex.from_arrays([pid, [session] * len(pid), [task] * len(pid)])
            block = per_task.reindex(keys)[mine].reset_index(drop=True)
            new = [WideColumn(wide_name(src, session, task), src, session, task) for src in mine]
            columns.extend(new)
            blocks.append(block.set_axis([c.name for c in new], axis=1))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):  # ids with '_' can run together (session a_b + task c, session a + task b_c)
        columns = [_unique(c) if names.count(c.name) > 1 else c for c in columns]
    wide = pd.concat(blocks, axis=1).set_axis([c.name for c in columns], axis=1)
    return wide, columns


def _unique(c: WideColumn) -> WideColumn:
    digest = hashlib.sha1(f"{c.source}|{c.session}|{c.task}".encode()).hexdigest()[:6]
    return WideColumn(wide_name(c.name[:MAX_NAME - 7], digest), c.source, c.session, c.task)
