"""``brow_gap`` (corrugator) and ``brow_lowering`` (procerus, depressor supercilii).

Both are measured on landmarks aligned to the frontal reference, so head rotation and
distance to the camera are removed first:

``brow_gap``
    Corrugator supercilii: distance between the medial brow ends, in units of the
    inter-ocular distance (IOD, between the eye centres). Smaller when the brows are
    drawn together. In a video it follows the brow heads' own picture (see
    :class:`BrowTracker`), because Face Mesh's medial brow landmarks move by a fifth or
    less of the real displacement; in a still it is the landmark distance (mean of the
    lower and upper edge of each brow head).
``brow_lowering``
    Procerus and depressor supercilii: mean height of the medial brow heads above
    the inner eye corners, in IOD units. Smaller when the medial brows are pulled down.
"""

from __future__ import annotations

import bisect
import math
from typing import NamedTuple

import cv2
import numpy as np

from ..geometry import (
    BROW_MEDIAL_LEFT,
    BROW_MEDIAL_RIGHT,
    INNER_EYE_CORNERS,
    Alignment,
    reference_face,
)
from .patches import ANCHOR_MAX_POSE_DEG, LOG_EPS, resample_patch, warp_patch

# -- brow-head patches for brow_gap (see BrowTracker), reference units, |x| for each side --
BROW_PATCH_X = (0.14, 0.44)
BROW_PATCH_Y = (-0.46, -0.20)
BROW_PX_PER_IOD = 64
#: Largest brow-head shift looked for, and the shading scale removed before matching (IOD).
BROW_SEARCH_IOD = 0.15
BROW_HIGHPASS_IOD = 0.06
#: A brow head whose best normalised cross-correlation with the anchor is below this is not matched.
BROW_MIN_MATCH = 0.3
#: The fall of that correlation 2 px either side of its peak at which the image's shift and the
#: landmarks' shift get equal weight (see BrowTracker).
BROW_SHARPNESS = 0.05
BROW_SHARPNESS_FRAMES = 300
#: ``log(level / 255 + LOG_EPS)`` of each 8-bit grey level, as float32: an 8-bit patch's log
#: intensity is looked up, the same numbers as scaling it to 0-1 (:func:`resample_patch`) and taking the log.
_LOG_LEVELS = np.log(np.divide(np.arange(256, dtype=np.uint8), 255.0, dtype=np.float32) + LOG_EPS)


def brow_geometry(aligned: np.ndarray) -> tuple[float, float]:
    """``brow_gap`` and ``brow_lowering`` from landmarks aligned to the reference.

    The aligned coordinates are already in units of the face's inter-ocular distance
    (the similarity fit on the stable points scales every face to the reference, whose
    IOD is 1), so the distances need no per-frame division by a landmark IOD, which
    Face Mesh shrinks when the brows come down. The height is taken above the
    reference's inner-eye-corner line for the same reason.
    """
    return landmark_brow_gap(aligned), brow_lowering(aligned)


def landmark_brow_gap(aligned: np.ndarray) -> float:
    """The medial brow ends' distance in the aligned landmarks (``brow_gap`` of a still; a video's
    follows the picture, :class:`BrowTracker`)."""
    return float(np.mean([np.linalg.norm((aligned[r] - aligned[l])[:2])
                          for r, l in zip(BROW_MEDIAL_RIGHT, BROW_MEDIAL_LEFT)]))


def brow_lowering(aligned: np.ndarray) -> float:
    """``brow_lowering``: the medial brows' height above the reference's inner-eye-corner line."""
    corners_y = reference_face()[list(INNER_EYE_CORNERS), 1].mean()
    brows_y = aligned[list(BROW_MEDIAL_RIGHT + BROW_MEDIAL_LEFT), 1].mean()
    return float(corners_y - brows_y)  # y grows downwards


class _BrowSide(NamedTuple):
    """One brow head's patch region, the reference face's local plane there, and its landmarks."""

    x_range: tuple[float, float]
    plane: tuple[float, float, float]
    landmarks: np.ndarray  # indices
    inward: float  # +1 where inward is +x (the right brow head, image left), -1 for the left one


class BrowTracker:
    """``brow_gap`` of a recording from the motion of the brow heads in the image.

    Face Mesh places the medial brow landmarks mostly from the face's overall shape: when
    the corrugator draws the brow heads together it moves them by a fifth or less of the
    real displacement. The brow heads' own picture does move, so each frame's brow-head
    patches (one per side, from just lateral of the glabellar lines to mid-brow, from the
    lid crease to above the brow; resampled in reference units on the plane of the
    reference face there, so pose and distance are removed) are registered to the same
    patches of the recording's *anchor* frame: its first face within
    ``ANCHOR_MAX_POSE_DEG`` of frontal. Registration is on log intensity with the shading
    removed (high-pass), so light does not move it: a normalised cross-correlation (NCC)
    search for the whole-pixel shift, then Lucas-Kanade steps for the sub-pixel shift.

    A brow is a horizontal band: on a small or blurred face its picture hardly says where
    it lies along x, and the NCC stays flat over several pixels. So each brow head's inward
    shift since the anchor is a weighted mean of the image's shift and the landmarks'
    shift, the image's weight ``w = k^2 / (k^2 + BROW_SHARPNESS^2)``, where ``k`` is how
    far the NCC falls 2 px (0.03 IOD) either side of its peak, as the median over the
    recording's first ``BROW_SHARPNESS_FRAMES`` matched frames (a property of the face and
    the camera, so a frown, which changes the picture, does not change the weight). ``w`` is
    near 1 on a sharp, textured brow and near 0 where the picture cannot tell; in a frame
    where a brow head finds no match, and before the anchor, the landmarks alone count.

    ``brow_gap`` = the anchor's landmark gap - (inward shift of the right brow head +
    inward shift of the left), in IOD units. Use one tracker per recording, frames in order.
    """

    def __init__(self) -> None:
        ref = reference_face()
        self.margin = int(np.ceil(BROW_SEARCH_IOD * BROW_PX_PER_IOD))
        self.sides: dict[str, _BrowSide] = {}
        for side, sign, landmarks in (("right", -1.0, BROW_MEDIAL_RIGHT), ("left", 1.0, BROW_MEDIAL_LEFT)):
            x_range = tuple(sorted(sign * x for x in BROW_PATCH_X))
            inside = ((ref[:, 0] >= x_range[0]) & (ref[:, 0] <= x_range[1])
                      & (ref[:, 1] >= BROW_PATCH_Y[0]) & (ref[:, 1] <= BROW_PATCH_Y[1]))
            design = np.column_stack([np.ones(inside.sum()), ref[inside, 0], ref[inside, 1]])
            plane = tuple(np.linalg.lstsq(design, ref[inside, 2], rcond=None)[0])
            self.sides[side] = _BrowSide(x_range, plane, np.array(landmarks), -sign)
        self.anchor: dict | None = None
        self.anchor_x: dict[str, float] = {}
        self.anchor_gap = float("nan")
        self.sharpness: dict[str, list[float]] = {side: [] for side in self.sides}  # sorted
        self.weight: dict[str, float] = {}  # the image's weight, settled after BROW_SHARPNESS_FRAMES
        #: The last frame's tracking evidence (NaN before the anchor or without a match): the gap
        #: by the image alone, the poorer side's correlation with the anchor and the larger
        #: Lucas-Kanade residual (share of the anchor patch's energy left unexplained).
        self.last_image_gap = self.last_match = self.last_residual = float("nan")

    def _patch(self, gray, alignment, origin, side) -> tuple[np.ndarray, bool]:
        """One brow head's patch, log intensity high-passed, and whether it is all finite."""
        s = self.sides[side]
        args = (gray, alignment, s.x_range, BROW_PATCH_Y, s.plane, BROW_PX_PER_IOD, self.margin, origin)
        warped = warp_patch(*args) if gray.dtype == np.uint8 else None
        if warped is not None:  # a frame's 8-bit grey picture: its levels' logs are looked up
            logp, finite = cv2.LUT(warped, _LOG_LEVELS), True
        else:  # any other picture, or a region outside the picture (NaNs)
            logp = np.log(resample_patch(*args) + LOG_EPS)
            finite = bool(np.isfinite(logp).all())
        return logp - cv2.GaussianBlur(logp, (0, 0), BROW_HIGHPASS_IOD * BROW_PX_PER_IOD), finite

    def _landmark_x(self, alignment: Alignment, side: str) -> float:
        return float(alignment.aligned[self.sides[side].landmarks, 0].mean())

    def _weight(self, side: str, k: float) -> float:
        """The image's weight for one brow head, from the median sharpness of the first matched frames."""
        history = self.sharpness[side]
        if len(history) < BROW_SHARPNESS_FRAMES:
            bisect.insort(history, k)  # k is finite (the NCC's fall), so the list sorts
            half = len(history) // 2
            median = history[half] if len(history) % 2 else (history[half - 1] + history[half]) / 2
            self.weight[side] = median**2 / (median**2 + BROW_SHARPNESS**2)
        return self.weight[side]

    def __call__(self, gray: np.ndarray, alignment: Alignment, landmark_gap: float,
                 origin: tuple[int, int] = (0, 0)) -> float:
        patches, finite = {}, True
        for side in self.sides:
            patches[side], side_finite = self._patch(gray, alignment, origin, side)
            finite = finite and side_finite
        self.last_image_gap = self.last_match = self.last_residual = float("nan")
        if self.anchor is None:
            if not finite or max(abs(alignment.yaw), abs(alignment.pitch)) > ANCHOR_MAX_POSE_DEG:
                return float(landmark_gap)
            templates = {side: _Template(p[self.margin:-self.margin, self.margin:-self.margin])
                         for side, p in patches.items()}
            if not all(t.usable for t in templates.values()):
                return float(landmark_gap)
            self.anchor, self.anchor_gap = templates, float(landmark_gap)
            self.anchor_x = {side: self._landmark_x(alignment, side) for side in self.sides}
            return self.anchor_gap
        inward_total = by_image = 0.0
        matches, residuals = [], []
        for side, s in self.sides.items():
            by_landmarks = s.inward * (self._landmark_x(alignment, side) - self.anchor_x[side])
            template = self.anchor[side]
            shift, k = template.shift_in(patches[side], self.margin) if finite else (0.0, None)
            matches.append(template.peak if finite else float("nan"))
            residuals.append(template.residual if k is not None else float("nan"))
            by_image += s.inward * shift / BROW_PX_PER_IOD if k is not None else float("nan")
            if k is None:  # no match in this frame: the landmarks alone
                inward_total += by_landmarks
                continue
            w = self._weight(side, k)
            inward_total += w * s.inward * shift / BROW_PX_PER_IOD + (1.0 - w) * by_landmarks
        self.last_image_gap = self.anchor_gap - by_image
        # The poorer brow head's evidence: NaN when either has none, whichever side it is
        # (Python's min and max keep a NaN only when it comes first).
        self.last_match = float("nan") if any(map(math.isnan, matches)) else min(matches)
        self.last_residual = float("nan") if any(map(math.isnan, residuals)) else max(residuals)
        return self.anchor_gap - inward_total


class _Template:
    """An anchor brow-head patch, ready for whole-pixel search and sub-pixel Lucas-Kanade steps."""

    def __init__(self, patch: np.ndarray) -> None:
        self.patch = np.ascontiguousarray(patch, dtype=np.float32)
        self.zero_mean = self.patch - self.patch.mean()
        gy, gx = np.gradient(self.zero_mean)
        self.gx, self.gy = gx, gy
        hessian = np.array([[(gx * gx).sum(), (gx * gy).sum()], [(gx * gy).sum(), (gy * gy).sum()]])
        self.usable = bool(np.linalg.cond(hessian) < 1e4 and self.zero_mean.std() > 1e-4)
        self.inverse_hessian = np.linalg.inv(hessian) if self.usable else None
        self.energy = float((self.zero_mean**2).sum())
        self.peak = self.residual = float("nan")  # the last search's best correlation and residual
        # Work arrays of the Lucas-Kanade steps, made once: the steps run on every frame of a recording.
        self._shift = np.float32([[1, 0, 0], [0, 1, 0]])
        self._warped = np.empty_like(self.patch)
        self._work = np.empty_like(self.patch)
        # A Lucas-Kanade step needs only the warped patch's sum, its sums weighted by the gradients
        # (one product with these rows) and its sum of squares, in float64; the template's are taken here.
        self._basis = np.stack([np.ones(gx.size), gx.ravel(), gy.ravel()]).astype(np.float64)
        self._values = np.empty(gx.size)
        self._gradient_sums = tuple(self._basis[1:].sum(axis=1).tolist())
        self._gradient_template_sums = tuple((self._basis[1:] @ self.zero_mean.ravel().astype(np.float64)).tolist())

    def shift_in(self, image: np.ndarray, margin: int) -> tuple[float, float | None]:
        """Horizontal shift (patch pixels) of this template within ``image`` (the template plus
        ``margin`` on every side), and how sharply the match determines it: the fall of the
        NCC 2 px either side of its peak (None when there is no match or no peak inside)."""
        scores = cv2.matchTemplate(image, self.patch, cv2.TM_CCOEFF_NORMED)
        y, x = divmod(int(scores.argmax()), scores.shape[1])
        self.peak, self.residual = float(scores[y, x]), float("nan")
        if not (scores[y, x] >= BROW_MIN_MATCH and 2 <= x < scores.shape[1] - 2):
            return 0.0, None
        row = scores[y]
        sharpness = max(float(row[x] - 0.5 * (row[x - 2] + row[x + 2])), 0.0)
        h, w = self.patch.shape
        m, warped, values = self._shift, self._warped, self._values
        (h_xx, h_xy), (h_yx, h_yy) = self.inverse_hessian.tolist()
        (sum_gx, sum_gy), (sum_gxz, sum_gyz) = self._gradient_sums, self._gradient_template_sums
        dx, dy = float(x), float(y)
        for _ in range(10):  # inverse-compositional Lucas-Kanade with a gain for contrast
            m[0, 2], m[1, 2] = dx, dy
            cv2.warpAffine(image, m, (w, h), dst=warped, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
            # The error is gain * (warped - its mean) - the template (zero mean), the gain giving it the
            # template's energy; its products with the gradients, summed, follow from the warped patch's sums.
            values[:] = warped.reshape(-1)
            total, sum_x, sum_y = (self._basis @ values).tolist()
            mean = total / values.size
            gain = math.sqrt(self.energy / max(float(values @ values) - total * mean, 1e-12))
            error_x = gain * (sum_x - mean * sum_gx) - sum_gxz
            error_y = gain * (sum_y - mean * sum_gy) - sum_gyz
            step_x, step_y = h_xx * error_x + h_xy * error_y, h_yx * error_x + h_yy * error_y
            dx, dy = dx - step_x, dy - step_y
            if abs(step_x) < 0.01 and abs(step_y) < 0.01:
                break
        # the last step's error image itself (float32, pixel by pixel) for the residual
        work = self._work
        warped -= np.float32(float(warped.sum()) / warped.size)
        gain = math.sqrt(self.energy / max(float(np.square(warped, out=work).sum()), 1e-12))
        error = np.multiply(warped, np.float32(gain), out=work)
        error -= self.zero_mean
        self.residual = float(np.square(error, out=work).sum()) / max(self.energy, 1e-12)
        if not (0 <= dx <= 2 * margin and 0 <= dy <= 2 * margin):
            # Lucas-Kanade left the search range: keep the NCC peak, refined by a parabola through its row.
            den = row[x - 1] - 2 * row[x] + row[x + 1]
            dx = x + (0.5 * (row[x - 1] - row[x + 1]) / den if den < 0 else 0.0)
        return dx - margin, sharpness
