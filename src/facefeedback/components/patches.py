"""Face regions resampled from the image into reference units, and the frontal anchor.

A region given in the reference face's units (inter-ocular distance 1, origin between the
eyes, y down) is resampled on a plane of the reference face, so its picture follows head
rotation and distance; the image-based components (:mod:`.brows`, :mod:`.glabella`) read
the skin through it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from ..geometry import Alignment
from ..qc import face_box

#: Offset added before the log (intensity 0-1): a floor of about 20 grey levels under which dark
#: pixels' differences count less, since a camera's noise, 8-bit steps and compression errors are
#: about constant in grey levels, not relative to the light.
LOG_EPS = 0.08
#: The anchor frame is the first with a face within this many degrees of frontal (yaw and pitch).
ANCHOR_MAX_POSE_DEG = 20.0


def resample_patch(gray: np.ndarray, alignment: Alignment, x_range: tuple[float, float],
                   y_range: tuple[float, float], plane: tuple[float, float, float], px_per_iod: int,
                   margin: int = 0, origin: tuple[int, int] = (0, 0),
                   shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A face region resampled from the image into reference units, float32 0-1 (grey, or one
    plane per channel of a colour image).

    The region ``x_range`` x ``y_range`` (reference units, plus ``margin`` pixels on every
    side) lies on the plane ``z = plane[0] + plane[1] * x + plane[2] * y`` of the reference
    face, so its picture follows head rotation and distance (the affine camera maps a plane
    affinely). ``gray`` may be a crop of the frame whose top-left corner is at ``origin``
    (x, y). Faces much larger than ``px_per_iod`` are shrunk first so that fine skin
    texture does not alias. Returns NaNs when the region lies outside ``gray``. A colour image
    gives a colour patch (channels last).

    ``shift`` (x, y; image pixels): the region is sampled that far from where the alignment puts
    it, i.e. where it lies in ``gray`` translated by ``shift`` (:func:`translated`).
    """
    warped = warp_patch(gray, alignment, x_range, y_range, plane, px_per_iod, margin, origin, shift)
    if warped is None:
        width, height, _ = _region(tuple(x_range), tuple(y_range), tuple(plane), px_per_iod)
        return np.full((height + 2 * margin, width + 2 * margin) + gray.shape[2:], np.nan, np.float32)
    return np.divide(warped, 255.0, dtype=np.float32)


def warp_patch(gray: np.ndarray, alignment: Alignment, x_range: tuple[float, float],
               y_range: tuple[float, float], plane: tuple[float, float, float], px_per_iod: int,
               margin: int = 0, origin: tuple[int, int] = (0, 0),
               shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray | None:
    """The picture :func:`resample_patch` scales to 0-1: the region warped from ``gray``, in
    ``gray``'s type (8-bit grey gives one of 256 levels a pixel, which a caller may map through
    a table), or None when the region lies outside ``gray``. Arguments as :func:`resample_patch`.
    """
    # The 2 x 3 matrices are built from Python floats, since NumPy calls on arrays this small cost
    # more than their arithmetic; the products NumPy takes with fused multiply-adds (the corners'
    # image positions, the bounding box) are still taken by NumPy, so every float stays the same.
    width, height, region = _region(tuple(x_range), tuple(y_range), tuple(plane), px_per_iod)
    (x_0, y_0, _), (x_1, y_1, _), (x_2, y_2, _) = alignment.to_image(region).tolist()
    ox, oy = float(origin[0]), float(origin[1])  # NumPy integers would make every float below NumPy's
    x_0, x_1, x_2 = x_0 - ox, x_1 - ox, x_2 - ox
    y_0, y_1, y_2 = y_0 - oy, y_1 - oy, y_2 - oy
    if shift != (0.0, 0.0):
        shift_x, shift_y = float(shift[0]), float(shift[1])
        x_0, x_1, x_2 = x_0 + shift_x, x_1 + shift_x, x_2 + shift_x
        y_0, y_1, y_2 = y_0 + shift_y, y_1 + shift_y, y_2 + shift_y
    # Patch pixels (margin, margin), (width + margin, margin), (margin, height + margin) map to the corners,
    # so the interior [margin:-margin] is exactly the region.
    ux, uy = (x_1 - x_0) / width, (y_1 - y_0) / width
    vx, vy = (x_2 - x_0) / height, (y_2 - y_0) / height
    row_x = [ux, vx, x_0 - margin * (ux + vx)]
    row_y = [uy, vy, y_0 - margin * (uy + vy)]
    out_w, out_h = width + 2 * margin, height + 2 * margin
    shrink = alignment.iod_px / px_per_iod
    if shrink > 1.25:
        box_x, box_y = (np.array([row_x, row_y]) @ _corners(out_w, out_h)).tolist()
        if not all(map(math.isfinite, box_x + box_y)):
            return None
        h, w = gray.shape[:2]
        x0, y0 = max(math.floor(min(box_x)) - 2, 0), max(math.floor(min(box_y)) - 2, 0)
        x1, y1 = min(math.ceil(max(box_x)) + 2, w), min(math.ceil(max(box_y)) + 2, h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        crop = gray[y0:y1, x0:x1]
        gray = cv2.resize(crop, None, fx=1 / shrink, fy=1 / shrink, interpolation=cv2.INTER_AREA)
        # the crop's pixels scaled to the shrunk picture's: the matrix's rows times sx and sy, moved by the crop's corner
        sx, sy = gray.shape[1] / crop.shape[1], gray.shape[0] / crop.shape[0]
        row_x = [sx * row_x[0], sx * row_x[1], sx * row_x[2] + -sx * x0]
        row_y = [sy * row_y[0], sy * row_y[1], sy * row_y[2] + -sy * y0]
    return cv2.warpAffine(gray, np.array([row_x, row_y]), (out_w, out_h),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


@lru_cache(maxsize=64)
def _region(x_range: tuple[float, float], y_range: tuple[float, float], plane: tuple[float, float, float],
            px_per_iod: int) -> tuple[int, int, np.ndarray]:
    """A region's size in patch pixels, and its corners (top left, top right, bottom left) on its
    plane in reference units (read-only): the same for every frame."""
    width = int(round((x_range[1] - x_range[0]) * px_per_iod))
    height = int(round((y_range[1] - y_range[0]) * px_per_iod))
    corners = np.array([[x_range[0], y_range[0]], [x_range[1], y_range[0]], [x_range[0], y_range[1]]])
    z = plane[0] + plane[1] * corners[:, 0] + plane[2] * corners[:, 1]
    region = np.column_stack([corners, z])
    region.setflags(write=False)
    return width, height, region


@lru_cache(maxsize=64)
def _corners(width: int, height: int) -> np.ndarray:
    """The four corners of a width x height picture, homogeneous, one a column (read-only)."""
    corners = np.array([[0, width, 0, width], [0, 0, height, height], [1, 1, 1, 1]], dtype=np.float64)
    corners.setflags(write=False)
    return corners


def region_box(alignment: Alignment, x_range: tuple[float, float], y_range: tuple[float, float],
               plane: tuple[float, float, float], margin_iod: float, origin: tuple[int, int],
               shape: tuple[int, ...], pad: int) -> tuple[int, int, int, int]:
    """The pixels (x0, y0, x1, y1) of a picture of ``shape`` whose top-left corner is at ``origin``
    under a face region (reference units, widened by ``margin_iod`` on every side), with ``pad``
    pixels more on every side, clipped to the picture."""
    xs = np.array([x_range[0] - margin_iod, x_range[1] + margin_iod, x_range[0] - margin_iod, x_range[1] + margin_iod])
    ys = np.array([y_range[0] - margin_iod, y_range[0] - margin_iod, y_range[1] + margin_iod, y_range[1] + margin_iod])
    zs = plane[0] + plane[1] * xs + plane[2] * ys
    img = alignment.to_image(np.column_stack([xs, ys, zs]))[:, :2] - np.asarray(origin, np.float64)
    h, w = shape[:2]
    x0, y0 = (max(int(v), 0) for v in np.floor(img.min(axis=0)) - pad)
    x1, y1 = (min(int(v), lim) for v, lim in zip(np.ceil(img.max(axis=0)) + pad, (w, h)))
    return x0, y0, x1, y1


def translated(gray: np.ndarray, shifts: list[tuple[float, float]]) -> list[np.ndarray]:
    """An 8-bit grey picture translated by each (x, y) shift (pixels, any fraction): the picture a
    camera would have recorded of the same scene moved that far on its sensor, rounded to 8 bits.

    The translation is band-limited (the Fourier shift theorem), so it neither blurs nor sharpens:
    every spatial frequency keeps its amplitude. The picture is mirrored at its edges first (16
    pixels, and to odd sides, which have no Nyquist frequency to lose), so that its borders do not ring.
    """
    from scipy import fft

    pad = 16
    h, w = gray.shape
    padded = np.pad(gray.astype(np.float64), ((pad, pad + 1 - h % 2), (pad, pad + 1 - w % 2)), mode="symmetric")
    spectrum = fft.rfft2(padded)
    fy = np.fft.fftfreq(padded.shape[0])[:, None]
    fx = np.fft.rfftfreq(padded.shape[1])[None, :]
    out = []
    for dx, dy in shifts:
        # The shift's phase is a product of a row and a column factor: an outer product, not a 2-D exp.
        phase = np.exp(-2j * np.pi * fy * dy) * np.exp(-2j * np.pi * fx * dx)
        moved = fft.irfft2(spectrum * phase, s=padded.shape)
        out.append(np.clip(np.rint(moved[pad:pad + h, pad:pad + w]), 0, 255).astype(np.uint8))
    return out


def moved_views(gray: np.ndarray, origin: tuple[int, int], region: tuple[int, int, int, int],
                shifts: list[tuple[float, float]],
                points: np.ndarray | None = None) -> list[tuple[np.ndarray, tuple[int, int], tuple[float, float]]]:
    """The part ``region`` (x0, y0, x1, y1; pixels of ``gray``) of an 8-bit grey picture whose top-left
    corner is at ``origin``, translated by each of ``shifts`` (:func:`translated`): (view, its top-left
    corner in the frame, its shift). With the face's landmarks ``points`` (frame pixels), each view is
    instead the whole-pixel box around the landmarks moved with it (:func:`~facefeedback.qc.face_box`),
    as the frame's picture is cropped when its face lies there."""
    x0, y0, x1, y1 = region
    if points is not None:  # a box moved by less than a pixel lies within a pixel of the face's box
        bx0, by0, bx1, by1 = face_box(points - np.r_[origin, 0.0], gray.shape)
        x0, y0 = min(x0, max(bx0 - 1, 0)), min(y0, max(by0 - 1, 0))
        x1, y1 = max(x1, min(bx1 + 1, gray.shape[1])), max(y1, min(by1 + 1, gray.shape[0]))
    corner = (origin[0] + x0, origin[1] + y0)
    views = []
    for view, shift in zip(translated(gray[y0:y1, x0:x1], shifts), shifts):
        if points is None:
            views.append((view, corner, shift))
            continue
        bx0, by0, bx1, by1 = face_box(points + np.r_[shift[0] - corner[0], shift[1] - corner[1], 0.0], view.shape)
        views.append((view[by0:by1, bx0:bx1], (corner[0] + bx0, corner[1] + by0), shift))
    return views
