"""Image quality in the face box, and the per-frame ``valid`` flag.

The face box is resampled to a fixed width (:data:`FACE_BOX_WIDTH` px, about 28 px per
inter-ocular distance: a pixel there is about a glabellar furrow's width), so both measures are
in units of the face, whatever its size in the picture. ``sharpness`` is how much of the face's fine structure is left: the energy of the
Laplacian of log intensity at that scale over the energy one octave coarser (a ratio of two
log-domain energies, so a tone curve, an exposure or a white balance hardly changes it; blur,
or a face with fewer pixels than the box, lowers it). ``brightness`` is the box's mean grey
level (0-255).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .config import QCConfig

FACE_BOX_WIDTH = 64


def face_box(points: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the landmarks, clipped to the image."""
    h, w = shape[:2]
    xs, ys = points[:, 0], points[:, 1]
    return (max(math.floor(xs.min()), 0), max(math.floor(ys.min()), 0),
            min(math.ceil(xs.max()), w), min(math.ceil(ys.max()), h))


#: Pixels darker than this fraction of the face box's median (pupils, nostrils, hair, shadows) do not
#: count in ``sharpness``: their log is dominated by 8-bit steps and noise.
SHARPNESS_FLOOR = 0.3


def image_quality(box: np.ndarray) -> tuple[float, float]:
    """``sharpness`` and ``brightness`` of a face box (see :func:`face_box` and the module's notes),
    grey or BGR (converted to grey).

    The grey box is resized as floats: no 8-bit step between the picture and the measures, and one
    channel instead of three, so a large face (a 1080p box of about 700 px) costs a third of what
    the colour box's area resize did.
    """
    if box.shape[0] < 8 or box.shape[1] < 8:
        return float("nan"), float("nan")
    grey = box if box.ndim == 2 else cv2.cvtColor(box, cv2.COLOR_BGR2GRAY)
    f = FACE_BOX_WIDTH / box.shape[1]
    gray = cv2.resize(grey.astype(np.float32), (FACE_BOX_WIDTH, max(8, int(round(box.shape[0] * f)))),
                      interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    level = max(float(gray.mean()), 1.0)
    logg = np.log(gray + 0.02 * level)
    half = cv2.resize(logg, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    lit = gray >= SHARPNESS_FLOOR * level
    lit_half = lit[: 2 * half.shape[0]: 2, : 2 * half.shape[1]: 2]
    if not lit_half.any():
        return float("nan"), level
    fine = float(np.square(cv2.Laplacian(logg, cv2.CV_32F)[lit]).mean())
    coarse = float(np.square(cv2.Laplacian(half, cv2.CV_32F)[lit_half]).mean())
    return fine / max(coarse, 1e-12), level


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


def qc_flag_columns() -> tuple[str, ...]:
    """The boolean QC flag columns of the per-frame schema, in its order (none of them may be
    raised on a valid frame): every boolean column but ``face_detected``, ``valid`` and each
    family's event state (``frowning``, ``smiling``), which describe the frame, not its quality."""
    from .components.registry import FAMILIES
    from .schema import FRAME_COLUMNS

    not_flags = {"face_detected", "valid", *(family.active for family in FAMILIES)}
    return tuple(name for name, dtype, _, _ in FRAME_COLUMNS if dtype == "bool" and name not in not_flags)


def invalid_reasons(frames, qc: QCConfig) -> list[tuple[str, ...]]:
    """Why each frame is not valid: one tuple of short reasons per frame (empty when valid).

    ``frames`` is anything indexed by column name (a per-frame table, a dict of arrays or
    scalars, one measurement): ``face_detected``, ``yaw``, ``pitch``, ``sharpness`` and
    ``brightness`` against the ``qc`` limits, components that could not be measured, and every
    QC flag column present (:func:`qc_flag_columns`), so a new flag needs no change here.

    >>> invalid_reasons({"face_detected": [False], "yaw": [float("nan")]}, QCConfig())
    [('no face',)]
    """
    from .schema import COMPONENTS

    face = np.atleast_1d(np.asarray(frames["face_detected"], bool))

    def column(name, dtype=float):
        try:
            values = frames[name]
        except (KeyError, IndexError, ValueError):  # ValueError: a FrameMeasurement without it
            return None  # not measured here: no reason from it
        return np.broadcast_to(np.asarray(values, dtype=dtype), face.shape)

    yaw, pitch = column("yaw"), column("pitch")
    sharp, bright = column("sharpness"), column("brightness")
    checks = [
        (yaw, lambda v: abs(v) > qc.max_abs_yaw, lambda v: f"head turned ({v:+.0f} deg, limit {qc.max_abs_yaw:g})"),
        (pitch, lambda v: abs(v) > qc.max_abs_pitch,
         lambda v: f"head tilted up/down ({v:+.0f} deg, limit {qc.max_abs_pitch:g})"),
        (sharp, lambda v: v < qc.min_sharpness, lambda v: f"blurred (sharpness {v:.3g} < {qc.min_sharpness:g})"),
        (bright, lambda v: v < qc.min_brightness, lambda v: f"too dark (brightness {v:.0f} < {qc.min_brightness:g})"),
        (bright, lambda v: v > qc.max_brightness,
         lambda v: f"too bright (brightness {v:.0f} > {qc.max_brightness:g})"),
    ]
    comps = [c for c in map(column, COMPONENTS) if c is not None]
    if comps:
        measured = np.all([np.isfinite(c) for c in comps], axis=0)
        checks.append((measured, lambda v: not v, lambda v: "components not measured"))
    for flag in qc_flag_columns():
        if flag == "too_blurred" and sharp is not None:
            continue  # the sharpness check above says it, with the value
        checks.append((column(flag, bool), bool, lambda v, flag=flag: flag.replace("_", " ")))
    out = []
    for i in range(len(face)):
        if not face[i]:
            out.append(("no face",))
            continue
        out.append(tuple(text(values[i]) for values, test, text in checks
                         if values is not None and test(values[i])))
    return out


def reason_kind(reason: str) -> str:
    """What kind of reason a line of :func:`invalid_reasons` gives, without its values:
    ``"head turned (+31 deg, limit 25)"`` -> ``"head turned"``."""
    return reason.split(" (", 1)[0]
