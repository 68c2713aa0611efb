"""The occlusion detector replayed on recorded compared regions, without the rest of the path.

:func:`~facefeedback.occlusion_fit.collect` keeps every frame's compared region
(:func:`~facefeedback.occlusion.region_channels`, the only input the detector has besides the
time and the pose). Replaying a recording's regions through a fresh
:class:`~facefeedback.occlusion.OcclusionDetector` gives exactly the scores and flags that
``extract`` would give with that model, so fitting and cross-validating the model need MediaPipe
only once per occluded recording.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .occlusion import BROW_INPUTS, FEATURES, OcclusionDetector, OcclusionModel

#: A model whose score is 0 everywhere: the features of a truth-managed replay do not depend on it.
_ZERO = OcclusionModel(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.zeros(len(FEATURES)), 0.0, 0.0)


#: Fitting, a frame with a synthetic frown stronger than this never becomes an exemplar: each frown
#: is then judged against the face before it, as a brief frown (a maximal-frown attempt) is in use,
#: so that the model learns which changes a frown explains.
EXEMPLAR_MAX_FROWN = 0.1


class _TruthDetector(OcclusionDetector):
    """Keeps its exemplars and scale by the known truth (for fitting, before a model exists)."""

    clear_truth = True
    exemplary_truth = True

    def _judge(self, score: float) -> tuple[bool, bool]:
        return self.clear_truth, self.exemplary_truth


def recordings(table: pd.DataFrame) -> list[np.ndarray]:
    """Row positions of each recording (``seed``, ``variant`` and ``host``) of a collected table, in frame order."""
    keys = [k for k in ("seed", "variant", "host") if k in table]
    return [np.asarray(idx) for idx in table.groupby(keys, sort=False).indices.values()]


def replay(table: pd.DataFrame, channels: np.ndarray, model: OcclusionModel | None = None,
           max_score: float = 0.0, max_abs_yaw: float = 25.0, max_abs_pitch: float = 20.0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (NaN where none), scores (NaN where none) and flags of every row of a collected
    table, each recording replayed through its own detector. With ``model`` None the exemplars
    follow the table's ``label`` (clear = 0), as for fitting; otherwise the model decides, as in
    ``extract``."""
    n = len(table)
    feats = np.full((n, len(FEATURES)), np.nan)
    scores = np.full(n, np.nan)
    flags = np.zeros(n, bool)
    t = table["timestamp_s"].to_numpy(float)
    pose_ok = ((np.abs(table["yaw"].to_numpy(float)) <= max_abs_yaw)
               & (np.abs(table["pitch"].to_numpy(float)) <= max_abs_pitch))
    labels = table["label"].to_numpy() if "label" in table else np.zeros(n, int)
    frown = table["frown"].to_numpy(float) if "frown" in table else np.zeros(n)
    face = table["face_detected"].to_numpy(bool)
    brows = np.column_stack([table[c].to_numpy(float) if c in table else np.full(n, np.nan) for c in BROW_INPUTS])
    for rows in recordings(table):
        det = (_TruthDetector(max_score, model=_ZERO) if model is None
               else OcclusionDetector(max_score, model=model))
        for i in rows:
            if not face[i]:
                continue
            det.clear_truth = bool(labels[i] == 0)
            det.exemplary_truth = bool(labels[i] == 0 and frown[i] < EXEMPLAR_MAX_FROWN)
            det.last_features = None
            scores[i], flags[i] = det.step(channels[i], t[i], bool(pose_ok[i]), brows[i])
            if det.last_features is not None:
                feats[i] = det.last_features
    return feats, scores, flags
