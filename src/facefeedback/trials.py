"""Event-locked responses: per trial, per condition, and the maximal frown.

For every measured series (each ``*_intensity`` column, ``frown_intensity`` first, and each
summarised component present in the per-frame table), a trial gives:

* ``<p>_baseline_mean``: the mean over the baseline window (``events.baseline_window_s``,
  default -1 to 0 s from onset);
* in the response window (``events.response_window_s``, default 0 s to the trial's duration),
  the values minus that baseline: ``<p>_response_mean``; ``<p>_response_peak``, the most
  frowning (or smiling) value, the maximum, or the minimum for a component that gets
  smaller when frowning; ``<p>_response_latency_s``, the time from onset to that peak's frame;
  ``<p>_response_area``, the mean times the window's length (the integral, with invalid
  stretches counted at the window's mean).

``<p>`` is the series' name without ``_intensity`` (``frown``, ``smile``) or the component's name.
Windows hold the frames whose container timestamp ``t`` has ``start <= t - onset < end``;
means weight each valid frame by the time it stands for, so a variable frame rate does not
bias them. ``valid_fraction_baseline`` and ``valid_fraction_response`` are the share of each
window's time covered by valid frames, each frame standing for the time to the next one (so
the frame shown as a window opens covers its start); a trial with either below ``events.min_valid_fraction``
(default one half) keeps its row with ``included = false`` and is left out of the means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import schema
from .config import EventConfig
from .eventfiles import RESPONSE_STATS, baseline_window, response_window
from .summary import detect_events, frame_durations

TRIALS_FILE = "trials.parquet"
#: Without an events file, an attempt of the capacity task is a frown rising to this share of the
#: recording's highest and ending below the second share: relative, so that a frown the toxin has
#: weakened below the event rule's thresholds is still found (it was lost, and with it the
#: strongest responders' capacity).
ATTEMPT_ON, ATTEMPT_OFF = 0.5, 0.25


def measured_series(frames: pd.DataFrame) -> list[str]:
    """The series a trial is measured on: every ``*_intensity`` column, ``frown_intensity`` first,
    then the summarised components the table has."""
    intensities = sorted((c for c in frames.columns if c.endswith("_intensity")),
                         key=lambda c: (c != "frown_intensity", c))
    return intensities + [c for c in schema.SUMMARISED_SIGNALS if c in frames.columns and c not in intensities]


def prefix(series: str) -> str:
    """``frown_intensity`` -> ``frown``; a component keeps its name."""
    return series[:-len("_intensity")] if series.endswith("_intensity") else series


def direction(series: str) -> int:
    """+1 when larger is more of the expression, -1 for a component that gets smaller."""
    return schema.COMPONENT_SIGN.get(series, +1)


def trial_columns(series: list[str]) -> list[str]:
    """The measured columns of trials.parquet, series by series."""
    out = []
    for s in series:
        p = prefix(s)
        out += [f"{p}_baseline_mean"] + [f"{p}_response_{stat}" for stat in RESPONSE_STATS]
    return out


def _coverage(t: np.ndarray, dur: np.ndarray, use: np.ndarray, start: float, end: float) -> float:
    """Share of [start, end) covered by the frames picked by ``use``, each standing for
    ``[t, t + dur)``: a frame shown before the window starts covers its beginning."""
    length = end - start
    if length <= 0:
        return 0.0
    covered = np.minimum(t[use] + dur[use], end) - np.maximum(t[use], start)
    return float(min(1.0, covered.clip(min=0).sum() / length))


def in_window(t: np.ndarray, start: float, end: float) -> np.ndarray:
    """The frames stamped in [start, end), times compared within ``schema.TIME_TOLERANCE_S``: an
    edge computed as 5.4 + 1.2 (6.6000000000000005) and one as 7.6 - 1.0 (6.6) are the same time,
    so a frame on it belongs to one window, not to both or neither."""
    tol = schema.TIME_TOLERANCE_S
    return (t >= start - tol) & (t < end - tol)


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(x * w) / np.sum(w)) if len(x) and np.sum(w) > 0 else float("nan")


def trial_table(frames: pd.DataFrame, events: pd.DataFrame, params: EventConfig) -> pd.DataFrame:
    """One row per trial of ``events`` (:func:`facefeedback.eventfiles.check_events`) over the
    per-frame table ``frames``: the events file's columns, ``included``, the valid fractions and
    the response measures of every series (module docstring)."""
    t = frames["timestamp_s"].to_numpy(float)
    valid = frames["valid"].to_numpy(bool)
    dur = frame_durations(t)
    series = measured_series(frames)
    values = {s: frames[s].to_numpy(float) for s in series}
    kept = [c for c in events.columns if c != "row"]
    rows = []
    for trial in events[kept].to_dict("records"):  # by name: a column 'stim-id' is no attribute
        onset, duration = float(trial["onset"]), float(trial["duration"])
        b0, b1 = baseline_window(onset, params)
        r0, r1 = response_window(onset, duration, params)
        in_base, in_resp = in_window(t, b0, b1), in_window(t, r0, r1)
        row = dict(trial)
        row["valid_fraction_baseline"] = _coverage(t, dur, valid, b0, b1)
        row["valid_fraction_response"] = _coverage(t, dur, valid, r0, r1)
        # covered enough, and measurable: a valid frame stamped in each window (the means are of those)
        row["included"] = bool(min(row["valid_fraction_baseline"], row["valid_fraction_response"])
                               >= params.min_valid_fraction and (in_base & valid).any() and (in_resp & valid).any())
        for s in series:
            x = values[s]
            ok = valid & np.isfinite(x)
            base = _weighted_mean(x[in_base & ok], dur[in_base & ok])
            pick = in_resp & ok
            y = x[pick] - base
            p = prefix(s)
            row[f"{p}_baseline_mean"] = base
            row[f"{p}_response_mean"] = mean = _weighted_mean(y, dur[pick])
            if len(y) and np.isfinite(base):
                k = int(np.argmax(direction(s) * y))
                row[f"{p}_response_peak"] = float(y[k])
                row[f"{p}_response_latency_s"] = float(t[pick][k] - onset)
            else:
                row[f"{p}_response_peak"] = row[f"{p}_response_latency_s"] = float("nan")
            row[f"{p}_response_area"] = mean * (r1 - r0)
        rows.append(row)
    columns = [*kept, "included", "valid_fraction_baseline", "valid_fraction_response", *trial_columns(series)]
    return pd.DataFrame(rows, columns=columns)


def condition_summary(trials: pd.DataFrame) -> dict[str, dict]:
    """Per trial type: trials (``n``), trials included (``included``) and the mean over included
    trials of every response measure (NaN shown as None in JSON)."""
    measures = [c for c in trials.columns if "_response_" in c]
    out = {}
    for trial_type, group in trials.groupby("trial_type", sort=False):
        used = group[group["included"].astype(bool)]
        entry: dict[str, float | int | None] = {"n": len(group), "included": len(used)}
        for c in measures:
            v = used[c].to_numpy(float)
            v = v[np.isfinite(v)]
            entry[c] = float(v.mean()) if len(v) else None
        out[str(trial_type)] = entry
    return out


def capacity_summary(frames: pd.DataFrame, params: EventConfig, trials: pd.DataFrame | None = None) -> dict:
    """The maximal frown of a capacity task (participants frown as hard as they can a few times).

    Attempts are the trials of the recording's events file when it has one (those whose response
    window is covered: the capacity is not baseline-corrected, so the baseline window does not
    matter), otherwise the frown events detected in it with thresholds relative to its highest
    frown (:data:`ATTEMPT_ON`, :data:`ATTEMPT_OFF`), and when none is, its highest valid frame
    ("recording maximum"): a participant who can no longer frown has a capacity near 0, not none.
    ``frown_capacity`` is the mean over attempts of the peak of ``frown_intensity`` (from the
    neutral reference, not baseline-corrected); ``<component>_at_capacity`` the mean of each
    component at those peak frames.
    """
    t = frames["timestamp_s"].to_numpy(float)
    x = frames["frown_intensity"].to_numpy(float)
    ok = frames["valid"].to_numpy(bool) & np.isfinite(x)
    if trials is not None:
        spans = [response_window(o, d, params) for o, d in zip(trials["onset"], trials["duration"])]
        spans = [s for s, covered in zip(spans, trials["valid_fraction_response"])
                 if covered >= params.min_valid_fraction]
        source = "trials"
    else:
        top = float(x[ok].max()) if ok.any() else float("nan")
        relative = params.model_copy(update={"on_threshold": ATTEMPT_ON * top, "off_threshold": ATTEMPT_OFF * top})
        spans = [(e.onset_s, e.offset_s) for e in detect_events(t, x, ok, relative)] if top > 0 else []
        source = "frown events"
        if not spans and ok.any():
            spans, source = [(-np.inf, np.inf)], "recording maximum"
    peaks = []
    for start, end in spans:
        pick = np.flatnonzero(ok & in_window(t, start, end))
        if len(pick):
            peaks.append(int(pick[np.argmax(x[pick])]))
    out: dict[str, float | int | str | None] = {
        "frown_capacity": float(np.mean(x[peaks])) if peaks else None,
        "frown_capacity_attempts_n": len(peaks), "attempts_from": source}
    for c in schema.COMPONENTS:
        if c in frames.columns:
            v = frames[c].to_numpy(float)[peaks]
            v = v[np.isfinite(v)]
            out[f"{c}_at_capacity"] = float(v.mean()) if len(v) else None
    return out


def trial_outputs(frames: pd.DataFrame, events: pd.DataFrame | None, params: EventConfig,
                  capacity: bool = False) -> tuple[pd.DataFrame | None, dict]:
    """What a recording's events (and, for a capacity task, its maximal frown) add to its outputs:
    the trials table (None without events) and the summary's ``trials`` and ``capacity`` entries."""
    trials = trial_table(frames, events, params) if events is not None else None
    extra: dict = {}
    if trials is not None:
        extra["trials"] = {"n": len(trials), "included": int(trials["included"].sum()),
                           "series": measured_series(frames), "conditions": condition_summary(trials)}
    if capacity:
        extra["capacity"] = capacity_summary(frames, params, trials)
    return trials, extra
