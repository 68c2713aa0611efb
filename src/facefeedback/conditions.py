"""Imaging conditions: what the camera, its settings and the room did to the picture of the face.

The frown measure reads the picture, so a change of camera, exposure, light, distance, focus
or compression between two visits can move it. These values describe the conditions a
recording was made under, so that a study can check that its visits are comparable
(:mod:`facefeedback.study.comparability`). Per frame, on the grey face box the per-frame
path already holds (NumPy and OpenCV only, about 0.1 ms):

``iod_px``
    Inter-ocular distance in image pixels: the face's size in the picture (distance to the
    camera, resolution).
``log_contrast``
    Standard deviation of ``ln(grey + 1)`` over the centre of the face box (20-80 % of its
    width, 15-85 % of its height: brows, eyes, nose, cheeks). A gain (exposure, light level)
    adds a constant to log intensity and leaves it unchanged; a tone curve ``I**gamma``
    multiplies log intensity, and so this value, by ``gamma``.
``focus``
    Fine detail relative to contrast: the standard deviation of the Laplacian of that log
    image, resampled to the scale ``sharpness`` uses (the face box at 128 px wide), divided by
    ``log_contrast``. Blur and a smaller face lower it, noise raises it; unlike ``sharpness``
    (variance of the Laplacian of grey levels), exposure and tone curve leave it unchanged,
    so a darker camera does not read as a blurred one.
``noise``
    Sensor and compression noise, in grey levels: the standard deviation of the finest-scale
    residual (Immerkaer 1996: mean absolute response to a 3x3 Laplacian difference kernel,
    times sqrt(pi / 2) / 6) over a square of 0.28 IOD on each cheek at the frame's own
    resolution; the lower of the two cheeks, since skin texture and shadow only add to it.

Per recording (:func:`condition_features`): the median of each over the frames with a face,
the median ``brightness``, and the head-pose spreads (``yaw_spread``, ``pitch_spread``: 95th
minus 5th percentile). Names, units and meanings are in ``schema.CONDITION_FEATURES``. They
are taken over every frame with a face, not over valid frames only, because ``valid`` depends
on these very conditions (sharpness, brightness, pose): over valid frames a blurred or dark
recording keeps only its few sharpest or brightest frames, and its medians describe that
selection instead of the camera (measured: blur of sigma 1.5 px moved the valid-frame median
brightness of a dim webcam clip by x1.5 and its yaw spread by 12 deg).
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from .qc import FACE_BOX_WIDTH

#: The centre of the face box (fractions of its width and height) over which contrast and focus are taken.
CENTRE_X = (0.20, 0.80)
CENTRE_Y = (0.15, 0.85)
#: Cheek landmarks (MediaPipe Face Mesh; participant's right, then left) and the half-side of the
#: square around each in which noise is estimated (IOD units).
CHEEK_LANDMARKS = [205, 425]
CHEEK_HALF_IOD = 0.14
#: Immerkaer's kernel: the difference of two Laplacians, blind to flat and linearly shaded skin.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_NOISE_SCALE = float(np.sqrt(np.pi / 2) / 6)
_NAN3 = (float("nan"),) * 3


def frame_conditions(gray_box: np.ndarray, points: np.ndarray, origin: tuple[int, int], iod_px: float
                     ) -> tuple[float, float, float]:
    """``log_contrast``, ``focus`` and ``noise`` of one frame.

    Parameters
    ----------
    gray_box : ndarray of uint8
        The grey face box (``qc.face_box``), cut from the frame at ``origin`` (x, y).
    points : ndarray (478, 3)
        The face's landmarks in frame pixels.
    iod_px : float
        Inter-ocular distance in pixels.
    """
    h, w = gray_box.shape
    if h < 8 or w < 8:
        return _NAN3
    centre = gray_box[int(h * CENTRE_Y[0]):int(h * CENTRE_Y[1]), int(w * CENTRE_X[0]):int(w * CENTRE_X[1])]
    log_image = np.log1p(_resample(centre, FACE_BOX_WIDTH / w).astype(np.float32))
    contrast = float(cv2.meanStdDev(log_image)[1][0, 0])
    detail = float(cv2.meanStdDev(cv2.Laplacian(log_image, cv2.CV_32F))[1][0, 0])
    focus = detail / contrast if contrast > 1e-6 else float("nan")
    return contrast, focus, _cheek_noise(gray_box, points, origin, iod_px)


def _resample(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` at ``factor`` times its size: averaged down by a whole number of pixels (OpenCV's fast
    area path), then interpolated to the exact size (an arbitrary area resampling costs ten times more)."""
    k = int(np.ceil(1.0 / factor - 1e-9))
    if k > 1:
        h, w = image.shape
        h, w = max(h - h % k, k), max(w - w % k, k)
        image = cv2.resize(image[:h, :w], (w // k, h // k), interpolation=cv2.INTER_AREA)
        factor *= k
    h, w = image.shape
    return cv2.resize(image, (max(4, int(round(w * factor))), max(4, int(round(h * factor)))),
                      interpolation=cv2.INTER_LINEAR)


def _cheek_noise(gray_box: np.ndarray, points: np.ndarray, origin: tuple[int, int], iod_px: float) -> float:
    half = max(3, round(CHEEK_HALF_IOD * iod_px))
    h, w = gray_box.shape
    best = float("nan")
    for x, y in np.rint(points[CHEEK_LANDMARKS, :2] - origin).astype(int).tolist():
        if x - half < 0 or y - half < 0 or x + half >= w or y + half >= h:
            continue  # the cheek is out of the picture
        patch = gray_box[y - half:y + half + 1, x - half:x + half + 1].astype(np.float32)
        residual = cv2.filter2D(patch, cv2.CV_32F, _NOISE_KERNEL)[1:-1, 1:-1]
        sigma = _NOISE_SCALE * cv2.norm(residual, cv2.NORM_L1) / residual.size
        if not sigma >= best:  # also while best is NaN
            best = sigma
    return best


def condition_features(table: pd.DataFrame) -> dict[str, float]:
    """The recording's imaging conditions (``schema.CONDITION_FEATURES``), over its frames with a face."""
    face = table["face_detected"].to_numpy(bool)
    out = {}
    for name in ("iod_px", "brightness", "log_contrast", "focus", "noise"):
        out[f"{name}_median"] = _median(table[name].to_numpy(float)[face])
    for name in ("yaw", "pitch"):
        v = table[name].to_numpy(float)[face]
        v = v[np.isfinite(v)]
        out[f"{name}_spread"] = float(np.subtract(*np.percentile(v, [95, 5]))) if len(v) else float("nan")
    return out


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def face_size_warning(table: pd.DataFrame, min_iod_px: float) -> str | None:
    """A one-line warning when the face is smaller than ``min_iod_px`` in most frames with a face."""
    iod = table["iod_px"].to_numpy(float)
    iod = iod[np.isfinite(iod)]
    if not len(iod) or np.median(iod) >= min_iod_px:
        return None
    share = 100.0 * float((iod < min_iod_px).mean())
    return (f"face too small in {share:.0f} % of the frames with a face: median inter-ocular distance "
            f"{np.median(iod):.0f} px, below the {min_iod_px:g} px the measure is validated for "
            "(record closer to the camera or at a higher resolution)")
