"""Events (hysteresis with a minimum duration) and the per-recording summary.

Every family's intensity (``frown_intensity``, ``smile_intensity``) has its events, by the same
rule in its own units. An event starts when the intensity rises to ``on_threshold`` on a valid
frame and lasts while it stays at or above ``off_threshold``; invalid frames
inside an event are bridged for at most ``max_gap_s`` (a blink of tracking
loss does not split a frown, a long one ends it), and so is time with no frames at all beyond
the typical frame step (dropped frames, a pause in the recording). Episodes shorter than
``min_duration_s`` are dropped. Durations run from the onset frame's timestamp to the end of
the event's last frame: the timestamp of the next frame, or where a gap in the frames follows
(or at the recording's end) the last frame's time plus the time it stands for
(:func:`frame_durations`: at most five typical steps).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .components.registry import FAMILIES
from .conditions import condition_features
from .config import EventConfig
from .schema import RECORDING_FEATURES, SUMMARISED_SIGNALS, TIME_TOLERANCE_S, signal_statistics


@dataclass(frozen=True)
class FrownEvent:
    onset_s: float
    offset_s: float
    duration_s: float
    peak: float
    peak_s: float
    onset_frame: int
    offset_frame: int  # last frame inside the event


def _episodes(t: np.ndarray, x: np.ndarray, valid: np.ndarray, params: EventConfig, typical: float
              ) -> tuple[list[tuple[int, int]], int | None]:
    """(first, last) frame positions of hysteresis episodes before the duration rule, and the
    first frame of the last episode if it is still open at the end (None when none is);
    ``typical`` is the recording's typical frame step (:func:`typical_step`)."""
    episodes = []
    start = None
    last_good = None
    for i in range(len(x)):
        ok = valid[i] and np.isfinite(x[i])
        if start is not None and ok and t[i] - t[last_good] - typical > params.max_gap_s + TIME_TOLERANCE_S:
            # a stretch with no frames at all (dropped, or a pause in the recording) longer than
            # max_gap_s ends the event as invalid frames do; this frame may start the next one
            episodes.append((start, last_good))
            start = None
        if start is None:
            if ok and x[i] >= params.on_threshold:
                start, last_good = i, i
            continue
        if ok and x[i] >= params.off_threshold:
            last_good = i
        elif ok or t[i] - t[last_good] > params.max_gap_s + TIME_TOLERANCE_S:
            episodes.append((start, last_good))
            start = None  # a frame that ends an event cannot start one: off_threshold <= on_threshold
    if start is not None:
        episodes.append((start, last_good))
    return episodes, start


def _end_time(t: np.ndarray, last: int, typical: float) -> float:
    """When frame ``last`` ends: its time plus the time it stands for (as :func:`frame_durations`
    has it), which is the next frame's time unless a gap in the frames follows it (then at most
    :data:`MAX_STEPS` typical steps), and for the recording's last frame the typical step. A single
    frame (a still) has no duration."""
    if len(t) < 2:
        return float(t[last])
    if last + 1 == len(t):
        return float(t[last] + typical)
    if t[last + 1] - t[last] <= MAX_STEPS * typical:
        return float(t[last + 1])
    return float(t[last] + MAX_STEPS * typical)


def detect_events(timestamp_s: np.ndarray, intensity: np.ndarray, valid: np.ndarray, params: EventConfig,
                  typical: float | None = None) -> list[FrownEvent]:
    """Frown events of one recording, in time order (``typical``: its typical frame step, by
    default that of ``timestamp_s``)."""
    return _events(timestamp_s, intensity, valid, params, typical)[0]


def _events(timestamp_s, intensity, valid, params: EventConfig, typical: float | None = None
            ) -> tuple[list[FrownEvent], int | None]:
    t = np.asarray(timestamp_s, float)
    x = np.asarray(intensity, float)
    ok = np.asarray(valid, bool)
    typical = typical_step(t) if typical is None else typical
    episodes, open_start = _episodes(t, x, ok, params, typical)
    events = []
    for first, last in episodes:
        offset = _end_time(t, last, typical)
        if offset - t[first] < params.min_duration_s - TIME_TOLERANCE_S:  # 9 frames at 30/s are 0.3 s wherever
            continue
        seg = np.where(ok[first:last + 1], x[first:last + 1], -np.inf)
        k = first + int(np.argmax(seg))
        events.append(FrownEvent(float(t[first]), offset, offset - float(t[first]), float(x[k]), float(t[k]),
                                 int(first), int(last)))
    return events, open_start


def frowning_state(timestamp_s: np.ndarray, intensity: np.ndarray, valid: np.ndarray, params: EventConfig,
                   typical: float | None = None) -> tuple[np.ndarray, int]:
    """True on the frames inside a frown event, and the first frame whose flag later frames can
    still change: the start of an episode still open at the end, else the end (a live stream
    re-applies the rule from there only, giving ``typical``, the whole stream's typical frame
    step: that of the frames it passes would not be)."""
    events, open_start = _events(timestamp_s, intensity, valid, params, typical)
    mask = np.zeros(len(intensity), bool)
    for ev in events:
        mask[ev.onset_frame:ev.offset_frame + 1] = True
    return mask, len(mask) if open_start is None else open_start


def frowning_mask(timestamp_s: np.ndarray, intensity: np.ndarray, valid: np.ndarray, params: EventConfig
                  ) -> np.ndarray:
    """True on the frames inside a frown event."""
    return frowning_state(timestamp_s, intensity, valid, params)[0]


#: A frame stands for at most this many typical steps: a longer step to the next frame is a gap
#: in the frames (dropped, or a pause), whose time no frame measured.
MAX_STEPS = 5


def typical_step(t: np.ndarray) -> float:
    """The median step between frames (1 s for fewer than two distinct times)."""
    steps = np.diff(np.asarray(t, float))
    return float(np.median(steps[steps > 0])) if (steps > 0).any() else 1.0


def frame_durations(t: np.ndarray, typical: float | None = None) -> np.ndarray:
    """Time each frame stands for: the step to the next frame, at most :data:`MAX_STEPS` typical
    steps (a gap in the frames is no frame's time), and the typical step for the last
    (``typical``: by default the median step of ``t``)."""
    if len(t) < 2:
        return np.ones(len(t))
    steps = np.diff(t)
    typical = typical_step(t) if typical is None else typical
    return np.append(np.where(steps > 0, np.minimum(steps, MAX_STEPS * typical), typical), typical)


def summarise(table: pd.DataFrame, params: EventConfig
              ) -> tuple[dict[str, float | int], dict[str, list[FrownEvent]]]:
    """Per-recording features (``schema.summary_feature_names()``) and each family's events
    (``{"frown": [...], "smile": [...]}``).

    Counts (``n_frames``, ``frown_events_n``, ``smile_events_n``) are ints, every other feature a float.

    Statistics are over valid frames; time-based features weight each frame by the
    time it stands for (so a variable frame rate does not bias them), and are NaN for a
    single frame (a still), which stands for no time.
    """
    t = table["timestamp_s"].to_numpy(float)
    valid = table["valid"].to_numpy(bool)
    dur = frame_durations(t)
    # A single frame (a still) stands for no time: its time-based features are not defined.
    valid_time = float(dur[valid].sum()) if len(t) > 1 else 0.0
    nan = float("nan")
    feats: dict[str, float | int] = {
        "n_frames": len(table),
        "duration_s": float(t[-1] - t[0]) if len(t) else nan,
        "valid_fraction": float(valid.mean()) if len(valid) else nan,
    }
    all_events = {}
    for family in FAMILIES:
        # a single frame (a still) stands for no time: it holds no event
        events = detect_events(t, table[family.intensity].to_numpy(float), valid, params) if len(t) > 1 else []
        active = table[family.active].to_numpy(bool)
        f = family.name
        feats[f"{f}_time_pct"] = 100.0 * float(dur[valid & active].sum()) / valid_time if valid_time > 0 else nan
        feats[f"{f}_events_per_min"] = 60.0 * len(events) / valid_time if valid_time > 0 else nan
        feats[f"{f}_event_duration_mean_s"] = float(np.mean([e.duration_s for e in events])) if events else nan
        feats[f"{f}_events_n"] = len(events)
        all_events[f] = events
    assert list(feats) == [n for n, _, _ in RECORDING_FEATURES]
    for signal in SUMMARISED_SIGNALS:
        v = table[signal].to_numpy(float)[valid]
        v = v[np.isfinite(v)]
        for suffix, _ in signal_statistics(signal):
            if not len(v):
                feats[f"{signal}_{suffix}"] = nan
            elif suffix == "mean":
                feats[f"{signal}_{suffix}"] = float(v.mean())
            elif suffix == "median":
                feats[f"{signal}_{suffix}"] = float(np.median(v))
            elif suffix == "p90":
                feats[f"{signal}_{suffix}"] = float(np.percentile(v, 90))
            else:  # the most frowning value: max, or min for a signal that gets smaller
                feats[f"{signal}_{suffix}"] = float(v.max() if suffix == "max" else v.min())
    feats.update(condition_features(table))
    return feats, all_events


#: A QC flag raised on more than this fraction of the frames with a face gets a warning in the summary.
WARN_FLAGGED_FRACTION = 0.5
_FLAG_WARNINGS = {
    "face_too_small": "the face is too small in the picture (inter-ocular distance below {limit:g} px)",
    "too_blurred": "the face is too blurred (sharpness below {limit:g})",
    "overexposed": "the skin between the brows is clipped (overexposed)",
    "occluded": "something covers the brows or the glabella",
}
_FLAG_LIMITS = {"face_too_small": "min_iod_px", "too_blurred": "min_sharpness", "overexposed": "max_clipped_fraction",
                "occluded": None}


def recording_warnings(table: pd.DataFrame, qc) -> list[str]:
    """One-line warnings for a recording that is mostly outside the measure's validated range:
    a QC flag (face too small, too blurred, overexposed, occluded) raised on more than
    :data:`WARN_FLAGGED_FRACTION` of its frames with a face, or no valid frame at all."""
    face = table["face_detected"].to_numpy(bool)
    warnings = []
    if face.any():
        for flag, text in _FLAG_WARNINGS.items():
            if flag not in table:
                continue
            share = float(table[flag].to_numpy(bool)[face].mean())
            if share > WARN_FLAGGED_FRACTION:
                limit = getattr(qc, _FLAG_LIMITS[flag]) if _FLAG_LIMITS[flag] else 0
                warnings.append(f"{text.format(limit=limit)} in {share:.0%} of the frames with a face; "
                                f"those frames are not valid")
    if not face.any():  # say why: Face Mesh finds a face only where it fills enough of the picture
        warnings.append("no face found in any frame (a face small in a large picture, e.g. a wide shot, may not "
                        "be found: crop the video to the face): every statistic of this recording is NaN")
    elif not table["valid"].any():
        warnings.append("no valid frame: every statistic of this recording is NaN")
    return warnings


def events_to_json(events: list[FrownEvent]) -> list[dict]:
    return [asdict(e) for e in events]
