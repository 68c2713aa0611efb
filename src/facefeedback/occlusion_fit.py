"""Occluders pasted onto real recordings, sent through the real per-frame path: fitting the
occlusion model and measuring how well the ``occluded`` flag works.

A *host* is a real recording (or a still, made into a slowly drifting recording) of one person.
:func:`occluded_recording` finds the face's landmarks on the clean frames (to place occluders),
pastes occluder episodes onto it (:mod:`facefeedback.occluders`), compresses every frame as JPEG
(the clean ones too, so compression tells nothing) and :func:`measure` runs
:class:`~facefeedback.measure.FrameMeasurer` over the result: MediaPipe sees the occluded
frames, as a user's would be seen.

Truth (see :func:`truth_label`): a frame is *occluded* when the occluder hides at least
:data:`OCCLUDED_COVERAGE` of the glabellar patch (weighted as the lines filter weighs it) or of
a brow-head patch; *clear* when nothing is pasted or the occluder stays more than
``occluders.NEAR_IOD`` away from those patches (a hand on the cheek or the mouth, hair beside the
temple); in between (an occluder grazing the regions) it is not scored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .config import Config
from .io import Frame, FrameSource
from .landmarks import make_backend
from .measure import FrameMeasurer, MeasurementBuffer
from .occluders import KINDS, Skin, occlude_recording, sample_skin, still_recording
from .occlusion import FEATURES, OcclusionDetector, OcclusionModel

#: Share of the glabellar patch or of a brow-head patch an occluder must hide to count as occluding.
OCCLUDED_COVERAGE = 0.10
#: Frames a still becomes.
STILL_FRAMES = 150
STILL_FPS = 15.0


@dataclass(frozen=True)
class Host:
    """A real recording of one person to paste occluders onto.

    ``identity`` names the person (two clips of one person share it, so cross-validation keeps
    the person out of the fit); ``skip`` lists frame ranges (first, last) with a real occluder in
    them, never scored as clear.
    """

    name: str
    path: Path
    identity: str
    stride: int = 1
    max_frames: int | None = None
    skip: tuple[tuple[int, int], ...] = ()

    @property
    def still(self) -> bool:
        return self.path.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"}


def read_host(host: Host, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, float, list[int]]:
    """The host's frames, the face's landmarks in each (NaN without a face), the frame rate and
    each frame's index in the source."""
    if host.still:
        image = cv2.imread(str(host.path))
        with make_backend(static_image_mode=True, max_faces=1) as backend:
            obs = backend.detect(image)
        if obs.points is None:
            raise ValueError(f"{host.path}: no face")
        images, points = still_recording(image, obs.points, STILL_FRAMES, rng)
        return images, points, STILL_FPS, list(range(STILL_FRAMES))
    with FrameSource(host.path, stride=host.stride, max_side=1280) as src:
        fps = (src.info.fps or 30.0) / host.stride
        frames = [f for _, f in zip(range(host.max_frames or 10**9), src)]
    points = []
    with make_backend(static_image_mode=False, max_faces=2) as backend:
        for f in frames:
            obs = backend.detect(f.image, f.timestamp_s, rgb=f.rgb)
            points.append(obs.points if obs.points is not None else np.full((478, 3), np.nan))
    return [f.image for f in frames], np.array(points), fps, [f.index for f in frames]


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def host_skin(images, points) -> Skin:
    """The skin of a host's first face (a donor for another host's fingers)."""
    from .geometry import align

    first = next(i for i, p in enumerate(points) if np.isfinite(p).all())
    return sample_skin(images[first], align(points[first]))


def occluded_recording(host: Host, data, donor: Skin, rng: np.random.Generator, kinds=KINDS
                       ) -> tuple[list[np.ndarray], pd.DataFrame, float]:
    """The host's frames with occluder episodes pasted on, JPEG-compressed, and the truth table
    (one row per frame: ``source_frame``, ``kind``, ``target``, ``coverage``, ``near``, ``label``)."""
    images, points, fps, index = data
    quality = int(rng.integers(75, 96))
    out, rows = [], []
    for (img, truth), src in zip(occlude_recording(images, points, fps, rng, donor, kinds), index):
        out.append(_jpeg(img, quality))
        truth["source_frame"] = src
        truth["skipped"] = any(a <= src <= b for a, b in host.skip)
        rows.append(truth)
    table = pd.DataFrame(rows)
    table["label"] = truth_label(table)
    return out, table, fps


def truth_label(truth: pd.DataFrame) -> np.ndarray:
    """1 occluded, 0 clear, -1 not scored (no face, an occluder grazing the regions, a real occluder)."""
    cov = truth["coverage"].to_numpy(float)
    near = truth.get("near", pd.Series(0.0, index=truth.index)).fillna(0.0).to_numpy(float)
    skipped = truth.get("skipped", pd.Series(False, index=truth.index)).to_numpy(bool)
    label = np.where(cov >= OCCLUDED_COVERAGE, 1, np.where((near <= 0.02) & np.isfinite(cov), 0, -1))
    return np.where(skipped & (label == 0), -1, label)


class _TruthDetector(OcclusionDetector):
    """Keeps its exemplars and scale by the known truth (for fitting, before a model exists)."""

    clear_truth = True

    def _judge(self, score: float) -> tuple[bool, bool]:
        return self.clear_truth, self.clear_truth


def measure(images: Iterable[np.ndarray], fps: float, config: Config, truth: pd.DataFrame | None = None
            ) -> tuple[pd.DataFrame, np.ndarray]:
    """The raw per-frame table of a recording given as images, and each frame's occlusion
    features (NaN where there are none). With ``truth``, the detector's exemplars follow the
    known clear frames (to fit a model); without, the shipped model decides, as in ``extract``."""
    buffer = MeasurementBuffer()
    feats = []
    with FrameMeasurer(config) as measurer:
        if truth is not None:
            zero = OcclusionModel(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.zeros(len(FEATURES)), 0.0, 0.0)
            measurer.occlusion = _TruthDetector(config.qc.max_occlusion_score, config.qc.max_abs_yaw,
                                                config.qc.max_abs_pitch, model=zero)
        for i, img in enumerate(images):
            if truth is not None:
                measurer.occlusion.clear_truth = bool(truth["label"].iloc[i] == 0)
            measurer.occlusion.last_features = None
            buffer.append(measurer.measure(Frame(i, i / fps, img)))
            f = measurer.occlusion.last_features
            feats.append(np.full(len(FEATURES), np.nan) if f is None else f)
    return buffer.raw_table(), np.array(feats)


def fit_model(features: np.ndarray, labels: np.ndarray, false_alarm: float = 0.02, c: float = 0.3) -> dict:
    """A logistic model of occluded (1) against clear (0) frames, as the JSON the detector reads.

    The intercept is shifted so that a score of 0 lets through ``false_alarm`` of the clear
    training frames (``qc.max_occlusion_score`` defaults to 0).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    keep = (labels >= 0) & np.isfinite(features).all(axis=1)
    x, y = features[keep], labels[keep]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, class_weight="balanced"))
    pipe.fit(x, y)
    scaler, lr = pipe[0], pipe[-1]
    scores = lr.decision_function(scaler.transform(x))
    cut = float(np.quantile(scores[y == 0], 1.0 - false_alarm))
    return {"features": list(FEATURES), "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
            "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0]) - cut, "threshold": 0.0,
            "fitted_on": {"frames": int(len(y)), "occluded": int(y.sum()), "false_alarm_target": false_alarm,
                          "C": c}}


def save_model(model: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(model, indent=1) + "\n")


def rates(table: pd.DataFrame, flag: str = "occluded", by: list[str] | None = None) -> pd.DataFrame:
    """Detection (share of occluded frames flagged) and false alarms (share of clear frames
    flagged), with their frame counts, overall or per group."""
    def one(t: pd.DataFrame) -> pd.Series:
        pos, neg = t[t["label"] == 1], t[t["label"] == 0]
        return pd.Series({"detection": pos[flag].mean() if len(pos) else np.nan, "occluded_frames": len(pos),
                          "false_alarm": neg[flag].mean() if len(neg) else np.nan, "clear_frames": len(neg)})
    if not by:
        return one(table).to_frame().T
    return table.groupby(by, sort=False).apply(one)
