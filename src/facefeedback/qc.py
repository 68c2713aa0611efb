"""Image quality in the face box, and the per-frame ``valid`` flag.

Sharpness is the variance of the Laplacian of the face box resampled to a fixed
width (:data:`FACE_BOX_WIDTH` px), so the same blur gives the same value whatever
the face's size in the picture; brightness is the box's mean grey level (0-255).
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import QCConfig

FACE_BOX_WIDTH = 128


def face_box(points: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the landmarks, clipped to the image."""
    h, w = shape[:2]
    x0, y0 = np.floor(points[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(points[:, :2].max(axis=0)).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def image_quality(gray_box: np.ndarray) -> tuple[float, float]:
    """``sharpness`` and ``brightness`` of a grey face box (see :func:`face_box`)."""
    if gray_box.shape[0] < 8 or gray_box.shape[1] < 8:
        return float("nan"), float("nan")
    f = FACE_BOX_WIDTH / gray_box.shape[1]
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
    box = cv2.resize(gray_box, (FACE_BOX_WIDTH, max(8, int(round(gray_box.shape[0] * f)))), interpolation=interp)
    sharpness = float(cv2.Laplacian(box, cv2.CV_32F).var())
    return sharpness, float(box.mean())


#: Grey level (0-255) from which a pixel counts as clipped.
CLIP_LEVEL = 250


def clipped_fraction(patch: np.ndarray, margin: int = 0) -> float:
    """Fraction of clipped pixels in a resampled patch (float 0-1), inside its filter margin: where
    the skin is clipped its texture, and with it the glabellar lines, is gone."""
    inner = patch[margin:patch.shape[0] - margin, margin:patch.shape[1] - margin] if margin else patch
    if not np.isfinite(inner).all():
        return float("nan")
    return float((inner >= CLIP_LEVEL / 255.0).mean())


def valid_mask(face_detected: np.ndarray, yaw: np.ndarray, pitch: np.ndarray, sharpness: np.ndarray,
               brightness: np.ndarray, components_finite: np.ndarray, qc: QCConfig,
               flagged: np.ndarray | bool = False) -> np.ndarray:
    """Frames usable for statistics: face found, pose within limits, sharp and lit enough, and no
    QC flag raised (``flagged``: face too small, too blurred, overexposed or occluded)."""
    with np.errstate(invalid="ignore"):
        return (
            np.asarray(face_detected, bool)
            & ~np.asarray(flagged, bool)
            & (np.abs(yaw) <= qc.max_abs_yaw)
            & (np.abs(pitch) <= qc.max_abs_pitch)
            & (sharpness >= qc.min_sharpness)
            & (brightness >= qc.min_brightness)
            & (brightness <= qc.max_brightness)
            & np.asarray(components_finite, bool)
        )
