"""Synthetic per-frame tables for simulated recordings.

The simulator needs per-frame data for two reasons: the report draws example
frown time series from ``frames.parquet``, and the recording-level features of a
simulated study are what the pipeline computes from those frames
(:func:`recording_summaries` runs the pipeline's own summary on them). The signals
are drawn for a ``(recordings, frames)`` array at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from ..components.registry import FAMILIES, FROWN, SMILE, Family
from ..config import EventConfig
from ..summary import FrownEvent, frowning_mask, summarise

#: Frames per second and length of every simulated recording.
FPS = 10.0
DURATION_S = 20.0
#: Fraction of frames that are not usable (no face, or head turned away).
INVALID_FRACTION = 0.03
#: The smile (the control expression) of a simulated recording: its mean over valid frames (SU)
#: is drawn around this, the same in both arms and sessions.
SMILE_LEVEL_SU = 0.15


def component_values(family: Family, intensity: np.ndarray, jitter: np.ndarray) -> dict[str, np.ndarray]:
    """Each of ``family``'s components at an intensity (its units), from the registry's neutral and
    full change: the value whose term is the intensity, plus ``jitter`` (one row per component,
    relative to the neutral)."""
    out = {}
    for c, noise in zip(family.components, jitter):
        step = c.direction * c.full_change * intensity
        shape = np.exp(step) if c.change == "log_ratio" else 1.0 + step
        out[c.name] = c.neutral * (shape + noise)
    return out


def synthesize_signals(levels: np.ndarray, rng: np.random.Generator,
                       proportional: bool = False) -> dict[str, np.ndarray]:
    """Per-frame signals whose valid-frame mean of ``frown_intensity`` equals ``levels``.

    Parameters
    ----------
    levels : ndarray of shape (n_recordings,)
        Mean frown intensity over valid frames, in frown units (FU).
    rng : numpy.random.Generator
        Source of randomness.
    proportional : bool
        Scale a positive shape to each level (``exp(drift)`` plus the bursts), so that no frame's
        frown falls below 0 and a recording that frowns less varies less, as under the
        proportional frown scale (:mod:`facefeedback.synthetic.studies`); else add the shape,
        less its mean, to the level (the additive scale).

    Returns
    -------
    dict of str to ndarray of shape (n_recordings, n_frames)
        ``timestamp_s``, ``valid``, ``face_detected``, each family's intensity and its
        components (:func:`component_values`). Invalid frames without a face hold NaN. The smile
        comes from a generator spawned from ``rng``, so it leaves the frown's draws as they were.
    """
    levels = np.asarray(levels, dtype=float)
    n_rec, n_frames = levels.size, int(round(FPS * DURATION_S))
    # Slow AR(1) drift plus brief frown bursts: the shape of real frown traces.
    noise = rng.normal(0.0, 0.06, (n_rec, n_frames))
    drift = np.empty_like(noise)
    drift[:, 0] = noise[:, 0]
    for t in range(1, n_frames):
        drift[:, t] = 0.9 * drift[:, t - 1] + noise[:, t]
    bursts = np.zeros((n_rec, n_frames))
    starts = rng.random((n_rec, n_frames)) < np.clip(levels, 0.02, None)[:, None] / 40.0
    kernel = np.hanning(int(2 * FPS))
    for i in np.flatnonzero(starts.any(axis=1)):
        bursts[i] = np.convolve(starts[i].astype(float), kernel, mode="same")
    valid = rng.random((n_rec, n_frames)) >= INVALID_FRACTION
    face = valid | (rng.random((n_rec, n_frames)) < 0.5)
    shape = (np.exp(drift) if proportional else drift) + 0.6 * bursts
    shape_mean = np.nanmean(np.where(valid, shape, np.nan), axis=1)
    if proportional:
        frown = levels[:, None] * shape / shape_mean[:, None]
    else:
        frown = levels[:, None] + shape - shape_mean[:, None]
    return assemble_signals(frown, valid, face, drift, rng)


def assemble_signals(frown: np.ndarray, valid: np.ndarray, face: np.ndarray, drift: np.ndarray,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The signals of :func:`synthesize_signals` from a drawn frown (``(n_recordings, n_frames)``, FU),
    valid and face masks and a slow drift the smile shares: the components at that frown, and a smile
    from a generator spawned from ``rng``."""
    n_rec, n_frames = frown.shape
    frown = np.where(face, frown, np.nan)
    jitter = rng.normal(0.0, 0.01, (len(FROWN.components), n_rec, n_frames))
    smile_rng = rng.spawn(1)[0]
    level = np.clip(smile_rng.normal(SMILE_LEVEL_SU, 0.05, (n_rec, 1)), 0.0, None)
    smile = np.where(face, level + 0.5 * drift + smile_rng.normal(0.0, 0.03, (n_rec, n_frames)), np.nan)
    signals = {
        "timestamp_s": np.broadcast_to(np.arange(n_frames) / FPS, (n_rec, n_frames)).copy(),
        "face_detected": face,
        "valid": valid,
        "frown_intensity": frown,
        **component_values(FROWN, frown, jitter),
        "smile_intensity": smile,
        **component_values(SMILE, smile, smile_rng.normal(0.0, 0.01, (len(SMILE.components), n_rec, n_frames))),
    }
    for name in schema.ALL_COMPONENTS:
        signals[name] = np.where(face, signals[name], np.nan)
    return signals


def recording_summaries(tables: list[pd.DataFrame], events: EventConfig | None = None
                        ) -> tuple[pd.DataFrame, list[dict[str, list[FrownEvent]]]]:
    """Recording-level features (``schema.summary_feature_names()``, one row per table) and
    each family's events of synthetic per-frame tables, from :func:`facefeedback.summary.summarise`: the
    pipeline's own summary, events by its hysteresis rule."""
    events = events or EventConfig()
    summaries = [summarise(table, events) for table in tables]
    features = pd.DataFrame([feats for feats, _ in summaries], columns=schema.summary_feature_names())
    return features, [found for _, found in summaries]


def frames_table(signals: dict[str, np.ndarray], row: int, rng: np.random.Generator,
                 events: EventConfig | None = None) -> pd.DataFrame:
    """The per-frame table (``schema.FRAME_COLUMNS``) of one synthetic recording; ``frowning``
    marks the frames inside a frown event of ``events`` (default :class:`EventConfig`)."""
    valid = signals["valid"][row]
    face = signals["face_detected"][row]
    n = valid.size
    pose = rng.normal(0.0, 3.0, (3, n))
    pose[:, ~face] = np.nan
    table = {
        "frame": np.arange(n, dtype=np.int64),
        "timestamp_s": signals["timestamp_s"][row],
        "face_detected": face,
        "n_faces": face.astype(np.int64),
        "yaw": pose[0], "pitch": pose[1], "roll": pose[2],
        **{name: signals[name][row] for f in FAMILIES for name in (*f.names, f.intensity)},
        **{f.active: frowning_mask(signals["timestamp_s"][row], signals[f.intensity][row], valid,
                                   events or EventConfig()) for f in FAMILIES},
        "tone_reference": np.where(face, 2.0, np.nan),
        "iod_px": np.where(face, rng.normal(100.0, 5.0, n), np.nan),
        "sharpness": np.where(face, rng.normal(0.3, 0.03, n), np.nan),
        "brightness": np.where(face, rng.normal(130.0, 8.0, n), np.nan),
        "noise_sd": np.where(face, rng.normal(1.0, 0.1, n), np.nan),
        "valid": valid,
        **{flag: np.zeros(n, bool) for flag in schema.QC_FLAGS},
    }
    for name in ("log_contrast", "focus", "noise"):  # imaging conditions: not simulated
        table[name] = np.full(n, np.nan)
    frame = pd.DataFrame(table)[list(schema.FRAME_COLUMN_NAMES)]
    return frame.astype({name: dtype for name, dtype, _, _ in schema.FRAME_COLUMNS})
