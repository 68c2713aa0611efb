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
    The energy is the mean positive (dark-valley) response, x 100, less the share of sensor
    noise; the score divides it by the recording's tone reference, the face's own typical
    response to the same kernels, which a camera's tone curve scales alike
    (see :class:`GlabellaFilter` and :class:`ToneReference`).

``frown_intensity`` combines them against a neutral reference (see
:func:`frown_intensity`): 0 on the neutral face, 1 for a typical full deliberate frown.
The neutral reference, and how it follows head pose, is fitted in :mod:`facefeedback.calibration`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from .config import FrownConfig, NeutralReference
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
#: Offset added before the log (intensity 0-1): a floor of about 20 grey levels under which dark
#: pixels' differences count less, since a camera's noise, 8-bit steps and compression errors are
#: about constant in grey levels, not relative to the light.
LOG_EPS = 0.08
#: Sensor noise raises the lines' energy: a frame's energy E and the energy that its noise alone would
#: give, s (see GlabellaFilter.energy), add about in quadrature, E_observed^2 = E^2 + (NOISE_SHARE * s)^2
#: (measured with noise added to eight real faces: 0.42-0.78).
NOISE_SHARE = 0.55
#: The face region whose typical response to the same filters is the tone reference (reference units):
#: forehead, brows, eyes, nose and upper cheeks; the glabellar patch inside it is left out.
TONE_X = (-0.65, 0.65)
TONE_Y = (-0.70, 0.35)
#: Clipped skin has no texture: a frame whose tone region has lost more than this share of its grey
#: texture to clipping (:func:`clip_map`) gives no tone sample. Measured on seven
#: real faces brightened x1.2-x1.5, against the unclipped change: a frame's sample moves by 2 % or
#: less up to 0.1, by 8 % (median) from 0.1 to 0.15 and by 16 % from 0.2 to 0.3; a recording's
#: reference, a median over many samples, moves less (frown_intensity within 3.5 % of a real frown).
TONE_MAX_CLIPPED = 0.15
#: A recording's tone reference is the median over its first this many faces within
#: ANCHOR_MAX_POSE_DEG of frontal (a property of the face and the camera, not of the moment),
#: taken on every TONE_EVERY-th of them (100 samples: enough for a median, a third of the cost).
TONE_FRAMES = 300
TONE_EVERY = 3
#: Grey level (0-255) from which a pixel counts as clipped.
CLIP_LEVEL = 250
#: Each channel's share of the grey picture (BT.601 luma, as OpenCV's BGR to grey).
LUMA_BGR = np.float32([0.114, 0.587, 0.299])

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
#: |yaw| (deg) over which brow_gap's weight in frown_intensity falls from full to 0 (see component_weights).
BROW_GAP_YAW_FADE_DEG = (10.0, 15.0)


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
    """A face region resampled from the image into reference units, float32 0-1 (grey, or one
    plane per channel of a colour image).

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


@lru_cache(maxsize=1)
def _noise_gain() -> float:
    """The sd of a line kernel's response (reference patch, log units) to white noise of sd 1 in the
    image, times the face's inter-ocular distance in pixels (the product hardly depends on it: the
    kernel spans a fixed part of the face, so it averages ~IOD^2 pixels)."""
    rng = np.random.default_rng(0)
    kernel = GlabellaFilter._kernel(RIDGE_SIGMAS_IOD[0] * PATCH_PX_PER_IOD, 0.0,
                                    int(np.ceil(3 * RIDGE_SIGMAS_IOD[0] * PATCH_PX_PER_IOD)))
    gains = []
    for iod in (60.0, 120.0, 240.0):
        side = int(2.6 * iod)
        noise = rng.normal(0.0, 255.0, (side, side)).astype(np.float32)
        al = Alignment(np.zeros((478, 3)), np.eye(3), 1.0 / iod, np.array([-1.3, -1.3, 0.0]), 0.0, 0.0, 0.0)
        patch = resample_patch(noise, al, (-1.0, 1.0), (-1.0, 1.0), (0.0, 0.0, 0.0), PATCH_PX_PER_IOD)
        response = cv2.filter2D(patch, cv2.CV_32F, kernel)[12:-12, 12:-12]
        gains.append(float(response.std()) * iod)
    return float(np.mean(gains))


def noise_level(channel: np.ndarray) -> float:
    """Sensor noise sd (grey levels) of an 8-bit image: the pixel-scale residual of Immerkaer's
    3x3 mask (sd 6 x the noise in flat regions), from its 30th-percentile magnitude, so that edges
    and texture, which inflate the larger residuals, do not count. About 4,000 points are taken
    on a regular grid, so the cost does not grow with the face."""
    h, w = channel.shape
    if h < 3 or w < 3:
        return float("nan")
    k = max(1, int(np.sqrt(h * w / 4000)))
    img = channel.astype(np.float32)
    centre = img[1:-1:k, 1:-1:k]
    edges = img[0:-2:k, 1:-1:k] + img[2::k, 1:-1:k] + img[1:-1:k, 0:-2:k] + img[1:-1:k, 2::k]
    corners = img[0:-2:k, 0:-2:k] + img[0:-2:k, 2::k] + img[2::k, 0:-2:k] + img[2::k, 2::k]
    residual = np.abs(4.0 * centre - 2.0 * edges + corners).ravel()
    q = int(0.3 * (residual.size - 1))
    return float(np.partition(residual, q)[q] / (6.0 * 0.38532))  # |N(0, 1)|'s 30th percentile: 0.385


def clip_map(bgr: np.ndarray) -> np.ndarray | None:
    """Per pixel, the share of its grey level carried by clipped channels (level >= ``CLIP_LEVEL``),
    scaled to 0-255 (float32); None when nothing is clipped.

    Clipping is counted per channel, at full resolution: on bright skin the red channel clips
    first, which the grey picture does not show (red clipped alone leaves a grey level near 210)
    but which removes 30 % of its texture; a face resampled smaller averages clipped pixels
    with their neighbours and hides them too.
    """
    if bgr.max() < CLIP_LEVEL:
        return None
    if bgr.ndim == 2:
        return (bgr >= CLIP_LEVEL).astype(np.float32) * 255.0
    return cv2.transform((bgr >= CLIP_LEVEL).astype(np.float32), LUMA_BGR[None, :] * 255.0)


def clipped_share(bgr: np.ndarray, alignment: Alignment, x_range: tuple[float, float], y_range: tuple[float, float],
                  plane: tuple[float, float, float], margin: int, origin: tuple[int, int] = (0, 0),
                  counted: np.ndarray | None = None) -> float:
    """The share of a face region's grey texture lost to clipped channels (see :func:`clip_map`):
    the mean over the region resampled as :func:`resample_patch` does (its interior, or the
    ``counted`` pixels of the patch with margin). Only the picture under the region is read,
    so a frame with no clipped pixel there costs one maximum over it."""
    mg = margin / PATCH_PX_PER_IOD
    xs = np.array([x_range[0] - mg, x_range[1] + mg, x_range[0] - mg, x_range[1] + mg])
    ys = np.array([y_range[0] - mg, y_range[0] - mg, y_range[1] + mg, y_range[1] + mg])
    zs = plane[0] + plane[1] * xs + plane[2] * ys
    img = alignment.to_image(np.column_stack([xs, ys, zs]))[:, :2] - np.asarray(origin, np.float64)
    h, w = bgr.shape[:2]
    x0, y0 = (max(int(v), 0) for v in np.floor(img.min(axis=0)) - 2)
    x1, y1 = (min(int(v), lim) for v, lim in zip(np.ceil(img.max(axis=0)) + 2, (w, h)))
    crop = bgr[y0:y1, x0:x1]
    if crop.size == 0:
        return float("nan")
    lost = clip_map(crop)
    if lost is None:
        return 0.0
    patch = resample_patch(lost, alignment, x_range, y_range, plane, PATCH_PX_PER_IOD, margin,
                           (origin[0] + x0, origin[1] + y0))
    if counted is not None:
        return float(patch[counted].mean())
    return float(patch[margin:patch.shape[0] - margin, margin:patch.shape[1] - margin].mean())


class GlabellaFilter:
    """Oriented ridge energy of the glabellar skin, and the face's tone reference.

    Built once, applied to every frame, on the grey picture (luma, which compression keeps at full
    resolution). The lines are read on the log image (:meth:`log_image`): light and exposure
    multiply intensity, so they add a constant, or a smooth shading, to it, which the zero-mean
    kernels ignore. A tone curve (gamma) instead *multiplies* the log image and every response
    with it; :meth:`tone` measures the face's own typical response to the same kernels (forehead,
    brows, eyes, nose, cheeks), which a tone curve multiplies alike, so the ratio of the two does
    not depend on it (see :class:`ToneReference`).
    """

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
        self.noise_gain = _noise_gain()
        # The tone region's pixels that count: inside its filter margin, outside the glabellar patch.
        tw = int(round((TONE_X[1] - TONE_X[0]) * PATCH_PX_PER_IOD))
        th = int(round((TONE_Y[1] - TONE_Y[0]) * PATCH_PX_PER_IOD))
        counted = np.zeros((th + 2 * margin, tw + 2 * margin), bool)
        counted[margin:-margin, margin:-margin] = True
        c0 = int(round((PATCH_X[0] - TONE_X[0]) * PATCH_PX_PER_IOD)) + margin
        r0 = int(round((PATCH_Y[0] - TONE_Y[0]) * PATCH_PX_PER_IOD)) + margin
        counted[r0:r0 + self.height, c0:c0 + self.width] = False
        self.tone_counted = counted

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

    @staticmethod
    def log_image(patch: np.ndarray) -> np.ndarray:
        """Log intensity above the floor :data:`LOG_EPS`."""
        return np.log(patch + LOG_EPS)

    def _response(self, logp: np.ndarray) -> np.ndarray:
        best = None
        for k in self.kernels:
            r = cv2.filter2D(logp, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)
            best = r if best is None else np.maximum(best, r)
        return best

    def energy(self, patch: np.ndarray, noise: float = 0.0, iod_px: float = 1.0) -> float:
        """The lines' energy before the tone reference (x 100): the Gaussian-weighted mean positive
        oriented ridge response, less the share of sensor noise.

        Noise of sd ``noise`` grey levels in the image gives the log image a noise of sd
        noise / 255 / (intensity + LOG_EPS) at each pixel, and the kernels, which average about
        iod_px^2 pixels, a response of sd ``s = gain * that / iod_px``; its weighted mean s_w is
        what noise alone would read as lines. The two add about in quadrature (see
        :data:`NOISE_SHARE`), so E = sqrt(E_obs^2 - (NOISE_SHARE * s_w)^2), at least E_obs / 2.
        """
        if not np.isfinite(patch).all():
            return float("nan")
        m = self.margin
        best = self._response(self.log_image(patch))[m:-m, m:-m]
        observed = float((np.maximum(best, 0.0) * self.window).sum())
        if noise > 0:
            inner = patch[m:-m, m:-m] + LOG_EPS
            s_w = self.noise_gain * noise / 255.0 / iod_px * float((self.window / inner).sum())
            observed = float(np.sqrt(max(observed**2 - (NOISE_SHARE * s_w) ** 2, 0.25 * observed**2)))
        return 100.0 * observed

    def clipped(self, bgr: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0)) -> float:
        """The share of the glabellar patch's grey texture lost to clipped channels (:func:`clipped_share`),
        from the colour picture ``bgr`` (a crop of the frame whose top-left corner is at ``origin``)."""
        return clipped_share(bgr, alignment, PATCH_X, PATCH_Y, (self.z, 0.0, 0.0), self.margin, origin)

    def tone(self, gray: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0),
             bgr: np.ndarray | None = None) -> tuple[float, float]:
        """The face's tone reference in one frame (x 100), and the share of its region's grey texture
        lost to clipped channels (from ``bgr``, the colour picture ``gray`` was made from; None: 0).

        The reference is the median absolute response of the line kernels over the face region
        :data:`TONE_X` x :data:`TONE_Y` (the glabellar patch left out), on the same log image.
        Clipped skin has no texture and pulls it down: it is NaN when more than
        :data:`TONE_MAX_CLIPPED` of the region's texture is clipped. Both are NaN when the region
        leaves the picture.
        """
        region = resample_patch(gray, alignment, TONE_X, TONE_Y, (self.z, 0.0, 0.0), PATCH_PX_PER_IOD,
                                self.margin, origin)
        if not np.isfinite(region).all():
            return float("nan"), float("nan")
        clipped = 0.0
        if bgr is not None:
            clipped = clipped_share(bgr, alignment, TONE_X, TONE_Y, (self.z, 0.0, 0.0), self.margin, origin,
                                    self.tone_counted)
        if clipped > TONE_MAX_CLIPPED:
            return float("nan"), clipped
        response = np.abs(self._response(self.log_image(region)))
        return float(100.0 * np.median(response[self.tone_counted])), clipped

    def __call__(self, gray: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0),
                 bgr: np.ndarray | None = None) -> float:
        """A still's ``glabella_lines``: the energy over the frame's own tone reference."""
        patch = self.patch(gray, alignment, origin)
        energy = self.energy(patch, noise_level(gray), alignment.iod_px)
        return energy / self.tone(gray, alignment, origin, bgr)[0]


def tone_median(samples) -> float:
    """The median of a recording's tone samples (NaN: a face sampled whose tone region was too clipped),
    or NaN when more than half of them were too clipped: the faces left would be the darker ones,
    not the recording's typical face (brightened x1.5, one recording kept 2 of 32 samples, and its
    reference rose by 65 %)."""
    samples = np.asarray(samples, np.float64)
    usable = samples[np.isfinite(samples)]
    if usable.size == 0 or 2 * usable.size < samples.size:
        return float("nan")
    return float(np.median(usable))


def recording_tone(tone: np.ndarray, clipped: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> float:
    """A recording's tone reference from its per-frame samples: ``tone`` (NaN where a frame gave
    none) and ``clipped`` (the share of the tone region clipped; NaN where a frame was not sampled).
    The :func:`tone_median` of the samples of faces within :data:`ANCHOR_MAX_POSE_DEG` of frontal,
    or of all the samples when there is no such face. See :class:`ToneReference` for which frames
    are sampled."""
    tone = np.asarray(tone, np.float64)
    with np.errstate(invalid="ignore"):
        frontal = np.maximum(np.abs(yaw), np.abs(pitch)) <= ANCHOR_MAX_POSE_DEG
    sampled = np.isfinite(np.asarray(clipped, np.float64))
    pick = sampled & frontal if (sampled & frontal).any() else sampled
    return tone_median(tone[pick])


class ToneReference:
    """Which frames of a recording sample its tone reference, and the reference so far.

    The tone reference of a recording is the median of :meth:`GlabellaFilter.tone` over every
    :data:`TONE_EVERY`-th of its first :data:`TONE_FRAMES` faces within
    :data:`ANCHOR_MAX_POSE_DEG` of frontal (before the first such face, faces of any pose are
    sampled); ``glabella_lines`` is the lines' energy divided by it. The per-frame table divides
    every frame by the recording's final reference (:func:`recording_tone`); the live view, which
    cannot wait, by the reference so far (:attr:`value`).

    Why a recording's and not each frame's: the reference is a property of the face and the camera
    (it moves with the tone curve, which is the camera's), so the median over many frames keeps a
    frame's expression, pose and noise out of it, and a light that changes within the recording
    does not pass into the lines. Use one per recording, frames in order: ask :meth:`wants`
    whether a frame's tone is needed, then call the reference with it (or NaN, NaN).
    """

    def __init__(self) -> None:
        self.frontal: list[float] = []
        self.other: list[float] = []
        self.faces = 0  # frontal faces seen (faces of any pose before the first frontal one)
        self.value = float("nan")

    @property
    def settled(self) -> bool:
        """True once no later frame is sampled."""
        return self.faces >= TONE_FRAMES and bool(self.frontal)

    def _frontal(self, alignment: Alignment) -> bool:
        return max(abs(alignment.yaw), abs(alignment.pitch)) <= ANCHOR_MAX_POSE_DEG

    def wants(self, alignment: Alignment) -> bool:
        """Whether this frame samples the tone (the frame must then be passed to ``__call__``)."""
        if self.settled or (self.frontal and not self._frontal(alignment)):
            return False
        return self.faces % TONE_EVERY == 0

    def __call__(self, tone: float, clipped: float, alignment: Alignment) -> float:
        """Add one frame's tone sample and return the reference so far. ``clipped`` is NaN when the
        frame was not sampled; ``tone`` NaN with a finite ``clipped``: sampled, but too clipped."""
        if self.settled:
            return self.value
        frontal = self._frontal(alignment)
        if frontal or not self.frontal:
            self.faces += 1
        if np.isfinite(clipped):
            if frontal:
                if not self.frontal:  # the first frontal face: from now on only frontal faces count
                    self.faces = 1
                self.frontal.append(tone)
            elif len(self.other) < TONE_FRAMES:
                self.other.append(tone)
            self.value = tone_median(self.frontal if self.frontal else self.other)
        return self.value


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
        logp = np.log(patch + LOG_EPS)
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


def frown_changes(components: Mapping[str, np.ndarray],
                  neutral: NeutralReference | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each component's signed change from neutral, positive the frown's way (NaN where undefined):
    relative shrinkage for ``brow_gap`` and ``brow_lowering``, the natural-log ratio for ``glabella_lines``."""
    n = neutral.model_dump() if isinstance(neutral, NeutralReference) else neutral
    gap = np.asarray(components["brow_gap"], dtype=np.float64)
    low = np.asarray(components["brow_lowering"], dtype=np.float64)
    lines = np.asarray(components["glabella_lines"], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = {
            "brow_gap": (n["brow_gap"] - gap) / n["brow_gap"],
            "brow_lowering": (n["brow_lowering"] - low) / n["brow_lowering"],
            "glabella_lines": np.log(np.maximum(lines, 1e-6) / n["glabella_lines"]),
        }
    return {k: np.where(np.isfinite(v), v, np.nan) for k, v in raw.items()}


def frown_terms(components: Mapping[str, np.ndarray], neutral: NeutralReference | Mapping[str, np.ndarray],
                params: FrownConfig, noise: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
    """Each component's contribution in frown units (before weighting), clipped at 0.

    ``brow_gap`` and ``brow_lowering``: relative shrinkage from neutral, divided by the
    shrinkage of a typical full frown; ``glabella_lines``: natural-log ratio to neutral,
    divided by that of a typical full frown. Changes away from frowning (a raised inner
    brow, AU1; lines fading under softer light) count as 0, not as negative frowning.
    ``neutral`` is one reference, or each component's neutral per frame (a participant's
    neutral at each frame's head pose, :meth:`~facefeedback.calibration.Calibration.neutral_at`).

    ``noise``: each component's scatter on the participant's relaxed face, in the units of its
    change before the division (see :func:`~facefeedback.calibration.calibrate`). A change ``x``
    is then shrunk to ``x^3 / (x^2 + noise^2)``: a change within the relaxed face's own scatter
    is mostly noise and is halved at one scatter, while a frown, many scatters away, keeps
    nearly all of it (a full frown's lines, 0.92 in ln, lose 1-3 %).
    """
    out = {}
    for name, value in frown_changes(components, neutral).items():
        value = np.maximum(value, 0.0)
        scatter = noise.get(name, 0.0) if noise else 0.0
        if scatter > 0:
            value = value**3 / (value**2 + scatter**2)
        out[name] = value / params.full_frown[name]
    return out


def frown_intensity(components: Mapping[str, np.ndarray], neutral: NeutralReference | Mapping[str, np.ndarray],
                    params: FrownConfig, yaw=None, noise: Mapping[str, float] | None = None) -> np.ndarray:
    """``frown_intensity = sum_i w_i * term_i / sum_i w_i`` (see :func:`frown_terms`); NaN without a face.

    With ``yaw`` (degrees), each weight is the one :func:`component_weights` gives at that head
    turn. Works on arrays (a recording) and on scalars (one live frame).
    """
    return combine_terms(frown_terms(components, neutral, params, noise), params, yaw)


def component_weights(params: FrownConfig, yaw=None) -> dict[str, np.ndarray | float]:
    """Each component's weight in frown_intensity, at a head turn of ``yaw`` degrees when given.

    ``brow_gap`` compares the two brow heads' picture across the face: as the head turns, the far
    brow head slides behind the nasal bridge's profile and the near one widens, and beyond about
    10 deg the gap stops following the corrugator (on the synthetic frown turned in 3D its change per
    unit of frown falls from 1.2 at |yaw| < 10 deg to 0.3 at 10-15 deg and 0.1 beyond; on a relaxed
    real face turned past 10 deg it reads 0.25 FU of false frown). Its weight therefore falls linearly
    from full at ``BROW_GAP_YAW_FADE_DEG[0]`` to 0 at ``[1]``; the others keep theirs, and the
    weighted mean renormalises, so the unit stays the frown unit.
    """
    weights: dict[str, np.ndarray | float] = dict(params.weights)
    if yaw is not None:
        lo, hi = BROW_GAP_YAW_FADE_DEG
        weights["brow_gap"] = weights["brow_gap"] * np.clip((hi - np.abs(np.asarray(yaw, np.float64))) / (hi - lo),
                                                            0.0, 1.0)
    return weights


def combine_terms(terms: dict[str, np.ndarray], params: FrownConfig, yaw=None) -> np.ndarray:
    """The weighted mean of the components' terms (:func:`frown_terms`): frown_intensity."""
    weights = component_weights(params, yaw)
    return sum(weights[k] * terms[k] for k in COMPONENTS) / sum(weights.values())
