"""The frown: corrugator and procerus components, glabellar lines, and frown_intensity.

Components (measured on landmarks aligned to the frontal reference, so head
rotation and distance to the camera are removed first):

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
``glabella_lines``
    The skin between the brows, resampled from the image into a landmark-anchored
    patch of fixed size in IOD units (so it does not depend on the face's size or
    tilt in the picture), taken to log intensity (so a change of light, which
    multiplies intensity, does not change it), and filtered with second-derivative
    -of-Gaussian kernels oriented across vertical and oblique (up to 40 deg) lines,
    at the width of a glabellar furrow (broad shading, which head turns bring, is left out).
    The score is the mean positive (dark-valley) response, x 100.

``frown_intensity`` combines them against a neutral reference (see
:func:`frown_intensity`): 0 on the neutral face, 1 for a typical full deliberate frown.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from .config import CalibrationConfig, FrownConfig, NeutralReference
from .errors import InputError
from .files import write_json
from .geometry import (
    BROW_MEDIAL_LEFT,
    BROW_MEDIAL_RIGHT,
    INNER_EYE_CORNERS,
    Alignment,
    reference_face,
)
from .schema import COMPONENTS

# -- glabella patch, in reference units (IOD = 1, origin between the eyes, y down) --
PATCH_X = (-0.19, 0.19)
PATCH_Y = (-0.62, -0.16)
PATCH_PX_PER_IOD = 48
#: Gaussian weighting over the patch, its sd as a fraction of the patch's width and height.
PATCH_WINDOW = 0.45
#: Filter scale in IOD units (about 2 mm on an adult face: a furrow's width, finer than pose shading).
RIDGE_SIGMAS_IOD = (0.035,)
#: Normals of the lines looked for: vertical lines and lines 25 deg oblique either way (each
#: kernel's angular tuning covers about +-15 deg around its own angle).
RIDGE_ANGLES_DEG = (-25.0, 0.0, 25.0)
_LOG_EPS = 0.08  # keeps sensor noise in dark skin from dominating the log image

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
#: The anchor frame is the first with a face within this many degrees of frontal (yaw and pitch).
ANCHOR_MAX_POSE_DEG = 20.0


def brow_geometry(aligned: np.ndarray) -> tuple[float, float]:
    """``brow_gap`` and ``brow_lowering`` from landmarks aligned to the reference.

    The aligned coordinates are already in units of the face's inter-ocular distance
    (the similarity fit on the stable points scales every face to the reference, whose
    IOD is 1), so the distances need no per-frame division by a landmark IOD, which
    Face Mesh shrinks when the brows come down. The height is taken above the
    reference's inner-eye-corner line for the same reason.
    """
    gap = np.mean([np.linalg.norm((aligned[r] - aligned[l])[:2])
                   for r, l in zip(BROW_MEDIAL_RIGHT, BROW_MEDIAL_LEFT)])
    corners_y = reference_face()[list(INNER_EYE_CORNERS), 1].mean()
    brows_y = aligned[list(BROW_MEDIAL_RIGHT + BROW_MEDIAL_LEFT), 1].mean()
    return float(gap), float(corners_y - brows_y)  # y grows downwards


def resample_patch(gray: np.ndarray, alignment: Alignment, x_range: tuple[float, float],
                   y_range: tuple[float, float], plane: tuple[float, float, float], px_per_iod: int,
                   margin: int = 0, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """A face region resampled from the image into reference units, float32 0-1.

    The region ``x_range`` x ``y_range`` (reference units, plus ``margin`` pixels on every
    side) lies on the plane ``z = plane[0] + plane[1] * x + plane[2] * y`` of the reference
    face, so its picture follows head rotation and distance (the affine camera maps a plane
    affinely). ``gray`` may be a crop of the frame whose top-left corner is at ``origin``
    (x, y). Faces much larger than ``px_per_iod`` are shrunk first so that fine skin
    texture does not alias. Returns NaNs when the region lies outside ``gray``. A colour image
    gives a colour patch (channels last).
    """
    width = int(round((x_range[1] - x_range[0]) * px_per_iod))
    height = int(round((y_range[1] - y_range[0]) * px_per_iod))
    corners = np.array([[x_range[0], y_range[0]], [x_range[1], y_range[0]], [x_range[0], y_range[1]]])
    z = plane[0] + plane[1] * corners[:, 0] + plane[2] * corners[:, 1]
    img = alignment.to_image(np.column_stack([corners, z]))[:, :2] - np.asarray(origin, dtype=np.float64)
    # Patch pixels (margin, margin), (width + margin, margin), (margin, height + margin) map to the corners,
    # so the interior [margin:-margin] is exactly the region.
    a_u = (img[1] - img[0]) / width
    a_v = (img[2] - img[0]) / height
    m = np.column_stack([a_u, a_v, img[0] - margin * (a_u + a_v)])
    out_w, out_h = width + 2 * margin, height + 2 * margin
    shrink = alignment.iod_px / px_per_iod
    if shrink > 1.25:
        box = m @ np.array([[0, out_w, 0, out_w], [0, 0, out_h, out_h], [1, 1, 1, 1]], dtype=np.float64)
        x0, y0 = np.floor(box.min(axis=1)).astype(int) - 2
        x1, y1 = np.ceil(box.max(axis=1)).astype(int) + 2
        h, w = gray.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return np.full((out_h, out_w) + gray.shape[2:], np.nan, np.float32)
        crop = gray[y0:y1, x0:x1]
        small = cv2.resize(crop, None, fx=1 / shrink, fy=1 / shrink, interpolation=cv2.INTER_AREA)
        sx, sy = small.shape[1] / crop.shape[1], small.shape[0] / crop.shape[0]
        m = np.array([[sx, 0, -sx * x0], [0, sy, -sy * y0]]) @ np.vstack([m, [0, 0, 1]])
        gray = small
    patch = cv2.warpAffine(gray, m, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return patch.astype(np.float32) / 255.0


class GlabellaFilter:
    """Oriented ridge energy of the glabellar skin; built once, applied to every frame."""

    def __init__(self) -> None:
        self.width = int(round((PATCH_X[1] - PATCH_X[0]) * PATCH_PX_PER_IOD))
        self.height = int(round((PATCH_Y[1] - PATCH_Y[0]) * PATCH_PX_PER_IOD))
        self.z = float(reference_face()[[9, 8, 168], 2].mean())
        margin = int(np.ceil(3 * max(RIDGE_SIGMAS_IOD) * PATCH_PX_PER_IOD))
        self.margin = margin
        self.kernels = [self._kernel(s * PATCH_PX_PER_IOD, a, margin)
                        for s in RIDGE_SIGMAS_IOD for a in RIDGE_ANGLES_DEG]
        yy, xx = np.mgrid[0:self.height, 0:self.width]
        cy, cx = (self.height - 1) / 2, (self.width - 1) / 2
        window = np.exp(-0.5 * (((xx - cx) / (PATCH_WINDOW * self.width)) ** 2
                                + ((yy - cy) / (PATCH_WINDOW * self.height)) ** 2))
        self.window = (window / window.sum()).astype(np.float32)

    @staticmethod
    def _kernel(sigma: float, angle_deg: float, half: int) -> np.ndarray:
        """Scale-normalised second derivative of a Gaussian across lines whose normal is at ``angle``."""
        yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
        a = np.radians(angle_deg)
        u = xx * np.cos(a) + yy * np.sin(a)  # across the line
        v = -xx * np.sin(a) + yy * np.cos(a)  # along the line (smoothed 2x longer)
        g = np.exp(-0.5 * (u**2 / sigma**2 + v**2 / (2 * sigma) ** 2))
        k = (u**2 / sigma**2 - 1.0) * g
        k -= k.mean()  # no response to flat or linearly shaded skin
        k /= np.abs(k).sum() / 2.0
        return k.astype(np.float32)

    def patch(self, gray: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """The glabellar patch (with filter margin) resampled from a grey image, float32 0-1.

        ``gray`` may be a crop of the frame whose top-left corner is at ``origin`` (x, y).
        """
        return resample_patch(gray, alignment, PATCH_X, PATCH_Y, (self.z, 0.0, 0.0), PATCH_PX_PER_IOD,
                              self.margin, origin)

    def energy(self, patch: np.ndarray) -> float:
        """Mean positive oriented ridge response of a patch (x 100)."""
        if not np.isfinite(patch).all():
            return float("nan")
        logp = np.log(patch + _LOG_EPS)
        m = self.margin
        best = None
        for k in self.kernels:
            r = cv2.filter2D(logp, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)[m:-m, m:-m]
            best = r if best is None else np.maximum(best, r)
        return float(100.0 * (np.maximum(best, 0.0) * self.window).sum())

    def __call__(self, gray: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0)) -> float:
        return self.energy(self.patch(gray, alignment, origin))


class _BrowSide(NamedTuple):
    """One brow head's patch region, the reference face's local plane there, and its landmarks."""

    x_range: tuple[float, float]
    plane: tuple[float, float, float]
    landmarks: list[int]
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
            self.sides[side] = _BrowSide(x_range, plane, list(landmarks), -sign)
        self.anchor: dict | None = None
        self.anchor_x: dict[str, float] = {}
        self.anchor_gap = float("nan")
        self.sharpness: dict[str, list[float]] = {side: [] for side in self.sides}
        self.weight: dict[str, float] = {}  # the image's weight, settled after BROW_SHARPNESS_FRAMES

    def _patch(self, gray, alignment, origin, side) -> np.ndarray:
        s = self.sides[side]
        patch = resample_patch(gray, alignment, s.x_range, BROW_PATCH_Y, s.plane, BROW_PX_PER_IOD, self.margin, origin)
        logp = np.log(patch + _LOG_EPS)
        return logp - cv2.GaussianBlur(logp, (0, 0), BROW_HIGHPASS_IOD * BROW_PX_PER_IOD)

    def _landmark_x(self, alignment: Alignment, side: str) -> float:
        return float(alignment.aligned[self.sides[side].landmarks, 0].mean())

    def _weight(self, side: str, k: float) -> float:
        """The image's weight for one brow head, from the median sharpness of the first matched frames."""
        history = self.sharpness[side]
        if len(history) < BROW_SHARPNESS_FRAMES:
            history.append(k)
            median = float(np.median(history))
            self.weight[side] = median**2 / (median**2 + BROW_SHARPNESS**2)
        return self.weight[side]

    def __call__(self, gray: np.ndarray, alignment: Alignment, landmark_gap: float,
                 origin: tuple[int, int] = (0, 0)) -> float:
        patches = {side: self._patch(gray, alignment, origin, side) for side in self.sides}
        finite = all(np.isfinite(p).all() for p in patches.values())
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
        inward_total = 0.0
        for side, s in self.sides.items():
            by_landmarks = s.inward * (self._landmark_x(alignment, side) - self.anchor_x[side])
            shift, k = self.anchor[side].shift_in(patches[side], self.margin) if finite else (0.0, None)
            if k is None:  # no match in this frame: the landmarks alone
                inward_total += by_landmarks
                continue
            w = self._weight(side, k)
            inward_total += w * s.inward * shift / BROW_PX_PER_IOD + (1.0 - w) * by_landmarks
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

    def shift_in(self, image: np.ndarray, margin: int) -> tuple[float, float | None]:
        """Horizontal shift (patch pixels) of this template within ``image`` (the template plus
        ``margin`` on every side), and how sharply the match determines it: the fall of the
        NCC 2 px either side of its peak (None when there is no match or no peak inside)."""
        scores = cv2.matchTemplate(image, self.patch, cv2.TM_CCOEFF_NORMED)
        y, x = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if not (scores[y, x] >= BROW_MIN_MATCH and 2 <= x < scores.shape[1] - 2):
            return 0.0, None
        row = scores[y]
        sharpness = max(float(row[x] - 0.5 * (row[x - 2] + row[x + 2])), 0.0)
        h, w = self.patch.shape
        dx, dy = float(x), float(y)
        for _ in range(10):  # inverse-compositional Lucas-Kanade with a gain for contrast
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            warped = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REPLICATE)
            warped -= warped.mean()
            gain = np.sqrt(self.energy / max(float((warped**2).sum()), 1e-12))
            error = gain * warped - self.zero_mean
            step = self.inverse_hessian @ np.array([(self.gx * error).sum(), (self.gy * error).sum()])
            dx, dy = dx - step[0], dy - step[1]
            if np.abs(step).max() < 0.01:
                break
        if not (0 <= dx <= 2 * margin and 0 <= dy <= 2 * margin):
            # Lucas-Kanade left the search range: keep the NCC peak, refined by a parabola through its row.
            den = row[x - 1] - 2 * row[x] + row[x + 1]
            dx = x + (0.5 * (row[x - 1] - row[x + 1]) / den if den < 0 else 0.0)
        return dx - margin, sharpness


def frown_terms(components: dict[str, np.ndarray], neutral: NeutralReference, params: FrownConfig
                ) -> dict[str, np.ndarray]:
    """Each component's contribution in frown units (before weighting), clipped at 0.

    ``brow_gap`` and ``brow_lowering``: relative shrinkage from neutral, divided by the
    shrinkage of a typical full frown; ``glabella_lines``: natural-log ratio to neutral,
    divided by that of a typical full frown. Changes away from frowning (a raised inner
    brow, AU1; lines fading under softer light) count as 0, not as negative frowning.
    """
    gap = np.asarray(components["brow_gap"], dtype=np.float64)
    low = np.asarray(components["brow_lowering"], dtype=np.float64)
    lines = np.asarray(components["glabella_lines"], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = {
            "brow_gap": (neutral.brow_gap - gap) / neutral.brow_gap,
            "brow_lowering": (neutral.brow_lowering - low) / neutral.brow_lowering,
            "glabella_lines": np.log(np.maximum(lines, 1e-6) / neutral.glabella_lines),
        }
    out = {}
    for name, value in raw.items():
        value = np.where(np.isfinite(value), value, np.nan)
        out[name] = np.maximum(value, 0.0) / params.full_frown[name]
    return out


def frown_intensity(components: dict[str, np.ndarray], neutral: NeutralReference, params: FrownConfig
                    ) -> np.ndarray:
    """``frown_intensity = sum_i w_i * term_i / sum_i w_i`` (see :func:`frown_terms`); NaN without a face.

    Works on arrays (a recording) and on scalars (one live frame).
    """
    return combine_terms(frown_terms(components, neutral, params), params)


def combine_terms(terms: dict[str, np.ndarray], params: FrownConfig) -> np.ndarray:
    """The weighted mean of the components' terms (:func:`frown_terms`): frown_intensity."""
    total = sum(params.weights.values())
    return sum(params.weights[k] * terms[k] for k in COMPONENTS) / total


@dataclass(frozen=True)
class Calibration:
    """A participant's neutral reference, and where it came from."""

    neutral: NeutralReference
    method: str  # "population", "percentile" or "segment"
    source: str = ""
    n_frames: int = 0
    participant_id: str | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        d["neutral"] = self.neutral.model_dump()
        return d

    @classmethod
    def from_json(cls, data: dict, origin: str = "calibration") -> Calibration:
        try:
            neutral = NeutralReference.model_validate(data["neutral"])
            return cls(neutral, str(data.get("method", "file")), str(data.get("source", "")),
                       int(data.get("n_frames", 0)), data.get("participant_id"))
        except Exception as exc:  # KeyError, pydantic errors, wrong types
            raise InputError(f"{origin}: not a calibration file ({exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]})") from None

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such calibration file")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a calibration file (invalid JSON: {exc})") from None
        return cls.from_json(data, str(path))


def population_calibration(params: FrownConfig) -> Calibration:
    """The default reference when a participant has no calibration of their own."""
    return Calibration(params.population_neutral, "population", "population default (configs/default.yaml)")


def calibrate(frames, params: FrownConfig, rule: CalibrationConfig, source: str = "",
              participant_id: str | None = None) -> Calibration:
    """Fit a participant's neutral reference from a recording's per-frame table.

    With ``rule.segment_start_s``/``segment_end_s``: the median of each component over
    the valid frames of that segment. Otherwise: the frames whose frown_intensity
    against the population default is at or below ``rule.percentile`` (the least
    frowning part of the recording), and the median of each component over them.
    """
    valid = frames["valid"].to_numpy(bool) & frames[list(COMPONENTS)].notna().all(axis=1).to_numpy()
    if rule.segment_start_s is not None or rule.segment_end_s is not None:
        t = frames["timestamp_s"].to_numpy()
        lo = rule.segment_start_s or 0.0
        hi = rule.segment_end_s if rule.segment_end_s is not None else np.inf
        inside = (t >= lo) & (t < hi)
        if len(t) and not inside.any():
            raise InputError(f"{source or 'recording'}: the calibration segment {lo:g}-{hi:g} s holds no "
                             f"frame: the recording runs from {t.min():.2f} to {t.max():.2f} s")
        pick = valid & inside
        method = "segment"
    else:
        comps = {k: frames[k].to_numpy(np.float64) for k in COMPONENTS}
        provisional = frown_intensity(comps, params.population_neutral, params)
        pick = valid.copy()
        if pick.any():
            cut = np.nanpercentile(provisional[valid], rule.percentile)
            pick &= provisional <= cut
        method = "percentile"
    n = int(pick.sum())
    if n < rule.min_frames:
        raise InputError(f"{source or 'recording'}: only {n} valid neutral frames for calibration "
                         f"(need {rule.min_frames}); check the face is visible and frontal")
    neutral = NeutralReference(**{k: float(np.median(frames[k].to_numpy(np.float64)[pick])) for k in COMPONENTS})
    return Calibration(neutral, method, source, n, participant_id)
