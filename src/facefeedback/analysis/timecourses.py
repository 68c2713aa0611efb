"""Event-locked average time courses of the frown response, per arm, session and condition.

Each included trial's ``frown_intensity`` is read from its recording's ``frames.parquet`` on a
common grid (``GRID_STEP_S`` apart, from the start of the baseline window to the end of the
longest response window), linearly interpolated between valid frames (a grid point more than
``MAX_GAP_S`` from a valid frame is missing) and baseline-corrected by the trial's
``frown_baseline_mean``. Trials are averaged per participant first, so every participant counts
once; the curve is the mean over participants with a 95 % t band.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data import AnalysisData
from .results import ModelResult, row

GRID_STEP_S = 0.05
MAX_GAP_S = 0.25


@dataclass
class TimeCourseResult(ModelResult):
    """Mean event-locked frown response curves (:func:`time_course_model`)."""

    name = "time_courses"
    rows_after = ""
    time_s: list[float]
    #: One entry per arm, session and condition: ``arm``, ``session``, ``trial_type``, ``n``
    #: (participants), ``mean``, ``low``, ``high`` (lists on ``time_s``).
    curves: list[dict]
    baseline_window_s: list[float]


def trial_curves(frames: pd.DataFrame, trials: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """(trials, grid) baseline-corrected frown intensity of ``trials`` (onset,
    frown_baseline_mean) from one recording's per-frame table."""
    t = frames["timestamp_s"].to_numpy(float)
    x = frames["frown_intensity"].to_numpy(float)
    ok = frames["valid"].to_numpy(bool) & np.isfinite(x)
    t, x = t[ok], x[ok]
    at = trials["onset"].to_numpy(float)[:, None] + grid[None, :]
    if t.size < 2:
        return np.full(at.shape, np.nan)
    values = np.interp(at, t, x, left=np.nan, right=np.nan)
    k = np.clip(np.searchsorted(t, at), 1, t.size - 1)
    gap = np.minimum(np.abs(at - t[k - 1]), np.abs(t[k] - at))
    values[gap > MAX_GAP_S] = np.nan
    return values - trials["frown_baseline_mean"].to_numpy(float)[:, None]


def _frames_of(trials: pd.DataFrame, root: Path):
    """``(recording_id, its trials, its per-frame table)`` of every recording with trials and a
    ``frames.parquet``; the tables are read in one multi-threaded scan (a file each would spend
    more time opening files than reading them)."""
    import pyarrow.dataset as ds

    paths = {str(root / "recordings" / str(rid) / "frames.parquet"): rid for rid in trials["recording_id"].unique()}
    paths = {p: rid for p, rid in paths.items() if Path(p).is_file()}
    if not paths:
        return
    table = ds.dataset(list(paths), format="parquet").to_table(
        columns=["timestamp_s", "frown_intensity", "valid", "__filename"]).to_pandas()
    by_recording = trials.groupby("recording_id", sort=False)
    for name, frames in table.groupby("__filename", sort=False):
        yield paths[name], by_recording.get_group(paths[name]), frames


def time_course_model(data: AnalysisData) -> TimeCourseResult | None:
    """The curves; None without trials or without the per-frame tables of their recordings."""
    from scipy import stats

    trials = data.trials
    if trials is None or data.root is None:
        return None
    start = float(data.baseline_window_s[0])
    end = float(trials["duration"].max())
    grid = np.round(np.arange(start, end + GRID_STEP_S / 2, GRID_STEP_S), 6)
    per_participant = []
    for rid, part, frames in _frames_of(trials, Path(data.root)):
        curves = trial_curves(frames, part, grid)
        first = part.iloc[0]
        for tt, pick in part.groupby("trial_type", sort=False).indices.items():
            if np.isfinite(curves[pick]).any():
                with np.errstate(invalid="ignore"):
                    mean = np.nanmean(curves[pick], axis=0)
                per_participant.append((first["participant_id"], first["arm"], first["session"], tt, mean))
    if not per_participant:
        return None
    table = pd.DataFrame(per_participant, columns=["participant_id", "arm", "session", "trial_type", "curve"])
    out, rows = [], []
    order = {s: k for k, s in enumerate(data.sessions)}
    keys = sorted(table.groupby(["arm", "session", "trial_type"]).groups,
                  key=lambda k: (k[0] != data.treated_arm, order.get(k[1], 99), k[2]))
    for arm, session, tt in keys:
        part = table[(table["arm"] == arm) & (table["session"] == session) & (table["trial_type"] == tt)]
        # a participant's trials of one condition in several recordings (tasks) count once
        stack = np.vstack([np.nanmean(np.vstack(g["curve"].to_list()), axis=0)
                           for _, g in part.groupby("participant_id")])
        n = np.isfinite(stack).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nanmean(stack, axis=0)
            half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * np.nanstd(stack, axis=0, ddof=1) / np.sqrt(n)
        out.append({"arm": arm, "session": session, "trial_type": tt, "n": int(len(stack)),
                    "mean": mean.tolist(), "low": (mean - half).tolist(), "high": (mean + half).tolist()})
        response = grid >= 0
        if np.isfinite(mean[response]).any():
            k = int(np.flatnonzero(response)[np.nanargmax(mean[response])])
            rows.append(row("time_courses", f"peak of the mean response: {arm}, {session}, {tt} (at {grid[k]:.2f} s)",
                            mean[k], (mean[k] - half[k], mean[k] + half[k]), np.nan, "t (over participants)", ""))
    return TimeCourseResult(time_s=grid.tolist(), curves=out, baseline_window_s=list(data.baseline_window_s),
                            table=rows)
