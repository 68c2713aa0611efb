"""Synthetic trial clips: frowns of known height at known moments after known onsets.

Each trial's frown (on the synthetic face of :mod:`facefeedback.synthetic.faces`) starts ``delay_s`` after
the trial's onset, rises smoothly to its height at ``onset + latency_s`` and falls back over
``fall_s``; between trials the face is neutral. The clip comes with its BIDS events file and
a truth table (onset, trial_type, height, peak time), so the event-locked measures can be
checked against what was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .faces import SIZE, FaceAnchors, frown_face, neutral_face


@dataclass(frozen=True)
class Trial:
    onset_s: float
    duration_s: float
    trial_type: str
    height: float  # frown intensity drawn at the peak (0 = neutral, 1 = full frown)
    latency_s: float = 0.8  # onset to peak
    delay_s: float = 0.2  # onset to the start of the rise


def trial_curve(t: np.ndarray, trials: list[Trial], fall_s: float = 0.6) -> np.ndarray:
    """The frown drawn at times ``t``: a raised-cosine rise to each trial's height at its peak
    time, and a raised-cosine fall over ``fall_s``."""
    a = np.zeros_like(t, dtype=float)
    for tr in trials:
        start, peak = tr.onset_s + tr.delay_s, tr.onset_s + tr.latency_s
        rise = np.clip((t - start) / (peak - start), 0, 1)
        fall = np.clip((t - peak) / fall_s, 0, 1)
        a = np.maximum(a, tr.height * np.sin(np.pi / 2 * rise) ** 2 * np.cos(np.pi / 2 * fall) ** 2)
    return a


def write_curve_clip(path: str | Path, curve: np.ndarray, fps: float = 15.0, size: int = SIZE, noise: float = 2.0,
                     seed: int = 0, base: np.ndarray | None = None, anchors: FaceAnchors | None = None) -> Path:
    """Write a clip (MPEG-4) of the synthetic frown following ``curve`` (one intensity per frame,
    0 = neutral), ``size`` px square, with Gaussian sensor noise of sd ``noise`` grey levels."""
    path = Path(path)
    base = neutral_face() if base is None else base
    anchors = FaceAnchors.find(base) if anchors is None else anchors
    rng = np.random.default_rng(seed)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size, size))
    try:
        for a in curve:
            face = frown_face(base, anchors, float(a))
            if size != face.shape[0]:
                face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
            img = face.astype(np.float32) + rng.normal(0, noise, face.shape)
            writer.write(np.clip(img, 0, 255).astype(np.uint8))
    finally:
        writer.release()
    tmp.replace(path)
    return path


def write_events(path: str | Path, trials: list[Trial]) -> Path:
    """The BIDS events file of ``trials``."""
    pd.DataFrame({"onset": [tr.onset_s for tr in trials], "duration": [tr.duration_s for tr in trials],
                  "trial_type": [tr.trial_type for tr in trials]}).to_csv(path, sep="\t", index=False)
    return Path(path)


def write_trial_clip(path: str | Path, trials: list[Trial], seconds: float, fps: float = 15.0,
                     fall_s: float = 0.6, **clip) -> tuple[Path, Path]:
    """Write the clip of ``trials`` (:func:`write_curve_clip`; ``clip`` holds its other options),
    ``<stem>_events.tsv`` beside it, and the truth (each trial's drawn height and peak time) as
    ``<stem>.truth.csv``; return the clip's and the events file's paths."""
    path = Path(path)
    t = np.arange(int(round(seconds * fps))) / fps
    write_curve_clip(path, trial_curve(t, trials, fall_s), fps, **clip)
    events = write_events(path.with_name(f"{path.stem}_events.tsv"), trials)
    pd.DataFrame({"onset": [tr.onset_s for tr in trials], "trial_type": [tr.trial_type for tr in trials],
                  "height": [tr.height for tr in trials], "peak_s": [tr.onset_s + tr.latency_s for tr in trials]}
                 ).to_csv(path.with_name(f"{path.stem}.truth.csv"), index=False)
    return path, events


def write_ruler_clip(path: str | Path, trials: list[Trial], seconds: float, heights: tuple[float, ...],
                     fps: float = 15.0, **clip) -> tuple[Path, Path, dict[float, tuple[slice, slice]]]:
    """A trial clip (:func:`write_trial_clip`) followed, in the same recording, by a ruler: each of
    ``heights`` held still for 1.5 s after 1 s of neutral face. Returns the clip, its events file
    and, per height, the frames of its plateau and of the neutral stretch before it (their edges
    left out), so that what a height measures is read on the same recording as the trials."""
    path = Path(path)
    n = int(round(seconds * fps))
    rest, hold = int(round(1.0 * fps)), int(round(1.5 * fps))
    ruler = np.concatenate([np.r_[np.zeros(rest), np.full(hold, h)] for h in heights])
    curve = np.r_[trial_curve(np.arange(n) / fps, trials), ruler]
    write_curve_clip(path, curve, fps, **clip)
    events = write_events(path.with_name(f"{path.stem}_events.tsv"), trials)
    slices = {}
    for k, h in enumerate(heights):
        start = n + k * (rest + hold)
        slices[h] = (slice(start + rest + 3, start + rest + hold - 3), slice(start + 2, start + rest - 2))
    return path, events, slices


def ruler_truth(frown: np.ndarray, slices: dict[float, tuple[slice, slice]]) -> dict[float, float]:
    """What each held height measures: its plateau's mean minus the neutral stretch's before it."""
    return {h: float(frown[plateau].mean() - frown[neutral].mean()) for h, (plateau, neutral) in slices.items()}


def recovery(folder: str | Path, heights: tuple[float, ...] = (0.3, 0.45, 0.6), repeats: int = 2,
             fps: float = 15.0, seed: int = 0) -> pd.DataFrame:
    """Measure a clip of trials at known heights and peak times, followed by its ruler
    (:func:`write_ruler_clip`); one row per trial: the drawn height, what the ruler measures for
    it (``truth_fu``), the trial's ``frown_response_peak`` and latency, and the errors (relative,
    and in frames). Peaks fall on frame times (latencies are whole frames, 0.5-1.0 s)."""
    from .config import Config
    from .eventfiles import load_events
    from .extract import process_recording

    rng = np.random.default_rng(seed)
    order = rng.permutation(np.repeat(heights, repeats))
    latencies = np.round(rng.uniform(0.5, 1.0, len(order)) * fps) / fps
    trials = [Trial(1.0 + 2.6 * k, 1.6, f"h{int(round(100 * h))}", float(h), latency_s=float(lat))
              for k, (h, lat) in enumerate(zip(order, latencies))]
    clip, events, slices = write_ruler_clip(Path(folder) / "trials.mp4", trials, 1.0 + 2.6 * len(trials), heights,
                                            fps, seed=seed)
    config = Config().updated(progress=False)
    result = process_recording(clip, config, trial_events=load_events(events, config.events))
    truth = ruler_truth(result.frames["frown_intensity"].to_numpy(), slices)
    measured = result.trials
    out = pd.DataFrame({"onset": [tr.onset_s for tr in trials], "height": [tr.height for tr in trials],
                        "latency_s": [tr.latency_s for tr in trials]})
    out["truth_fu"] = out["height"].map(truth)
    out["peak_fu"] = measured["frown_response_peak"].to_numpy()
    out["measured_latency_s"] = measured["frown_response_latency_s"].to_numpy()
    out["included"] = measured["included"].to_numpy()
    out["peak_error_pct"] = 100 * (out["peak_fu"] / out["truth_fu"] - 1)
    out["latency_error_frames"] = (out["measured_latency_s"] - out["latency_s"]) * fps
    return out
