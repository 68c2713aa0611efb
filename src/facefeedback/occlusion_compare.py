"""The compared region of the occlusion flag and how a frame is compared with an exemplar.

See :mod:`facefeedback.occlusion`: the upper face resampled in reference-face coordinates as log
intensity and two log-chroma channels (:func:`region_channels`), a clear frame kept for comparison
(:class:`Exemplar`: the frame put into its light, :meth:`Exemplar.match`) and the change no small
shift explains (:func:`unexplained`).

Every frame runs through this once, so it is written for small arrays: contiguous planes, work
that depends on the exemplar alone done when it becomes one, ``.dot`` rather than ``@`` (the same
BLAS call, with less overhead a call), and every sum kept in the order that defines it, so that
the numbers are those of the plain formulas to the last bit.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .components.brows import BROW_PATCH_X, BROW_PATCH_Y
from .components.glabella import PATCH_X, PATCH_Y
from .components.patches import resample_patch
from .geometry import Alignment, reference_face

#: Added to the 0-1 grey level before the log: keeps sensor noise in dark skin from dominating the
#: upper face's log picture (the shipped model was fitted with it).
_LOG_EPS = 0.08

# -- the compared region, reference units (IOD = 1, origin between the eyes, y down) --
REGION_X = (-0.62, 0.62)
REGION_Y = (-0.80, -0.06)
PX_PER_IOD = 20
#: Largest shift (region pixels) at which a neighbourhood is looked for: 2 px = 0.1 IOD sideways and
#: up and down (a frown moves the brow heads by up to about 0.1 IOD).
SHIFT_X, SHIFT_Y = 2, 2
#: Weights of log intensity and the two log-chroma channels in the squared difference.
CHANNEL_WEIGHTS = np.array([1.0, 2.0, 2.0], np.float32)
#: Differences are counted in units of 1e-3 (log units squared), see :meth:`OcclusionDetector.features`.
UNIT = 1e-3

def _grid() -> tuple[np.ndarray, np.ndarray]:
    w = int(round((REGION_X[1] - REGION_X[0]) * PX_PER_IOD))
    h = int(round((REGION_Y[1] - REGION_Y[0]) * PX_PER_IOD))
    xs = REGION_X[0] + (np.arange(w) + 0.5) / PX_PER_IOD
    ys = REGION_Y[0] + (np.arange(h) + 0.5) / PX_PER_IOD
    return np.meshgrid(xs, ys)


_X, _Y = _grid()
_H, _W = _X.shape
REGION_SHAPE = (_H, _W, 3)
GLABELLA = (np.abs(_X) < PATCH_X[1]) & (_Y > PATCH_Y[0]) & (_Y < PATCH_Y[1])
BROW_RIGHT = (_X < -BROW_PATCH_X[0]) & (_X > -BROW_PATCH_X[1]) & (_Y > BROW_PATCH_Y[0]) & (_Y < BROW_PATCH_Y[1])
BROW_LEFT = (_X > BROW_PATCH_X[0]) & (_X < BROW_PATCH_X[1]) & (_Y > BROW_PATCH_Y[0]) & (_Y < BROW_PATCH_Y[1])
MEASURED = GLABELLA | BROW_RIGHT | BROW_LEFT
#: The measured pixels' positions in a raveled map.
MEASURED_AT = np.flatnonzero(MEASURED)
FOREHEAD = (np.abs(_X) < 0.45) & (_Y < PATCH_Y[0] + 0.02)
#: Rows: the mean over the glabella, the right and the left brow head, the forehead, the whole
#: region and the measured regions, of a map (raveled).
REGION_MEANS = np.array([m.ravel() / m.sum() for m in (GLABELLA, BROW_RIGHT, BROW_LEFT, FOREHEAD,
                                                        np.ones_like(GLABELLA), MEASURED)], np.float32)
_PLANE = np.column_stack([np.ones(_X.size), _X.ravel(), _Y.ravel()])
_PLANE_PINV = np.linalg.pinv(_PLANE)
#: Positions (in a sorted raveled region) of the 5th, 10th, ..., 95th percentiles.
_QUANTILE_AT = np.round(np.linspace(0.05, 0.95, 19) * (_X.size - 1)).astype(int)


def quantiles(values: np.ndarray) -> np.ndarray:
    return np.sort(values)[_QUANTILE_AT]


def median(values: np.ndarray, axis: int = 0) -> np.ndarray:
    n = values.shape[axis]
    return np.partition(values, n // 2, axis=axis).take(n // 2, axis=axis)


def region_channels(image: np.ndarray, alignment: Alignment, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The compared region of a BGR image (or a crop of it at ``origin``): (H, W, 3) float32 with
    log intensity, log(red/green) and log(blue/green); NaN where the region leaves the image."""
    z = _glabella_depth()
    p = resample_patch(image, alignment, REGION_X, REGION_Y, (z, 0.0, 0.0), PX_PER_IOD, 0, origin) + _LOG_EPS
    logp = np.log(p)
    out = np.empty_like(p)
    # the mean of the three planes, summed in the order p.mean(axis=2) sums them (a reduction over
    # a short axis costs more than the two additions)
    grey = p[:, :, 0] + p[:, :, 1]
    grey += p[:, :, 2]
    grey /= 3
    out[:, :, 0] = np.log(grey)
    np.subtract(logp[:, :, 2], logp[:, :, 1], out=out[:, :, 1])
    np.subtract(logp[:, :, 0], logp[:, :, 1], out=out[:, :, 2])
    return out


@lru_cache(maxsize=1)
def _glabella_depth() -> float:
    return float(reference_face()[[9, 8, 168], 2].mean())


def plane_free(values: np.ndarray) -> np.ndarray:
    return values - _PLANE.dot(_PLANE_PINV.dot(values))


def planes(channels: np.ndarray) -> np.ndarray:
    """A compared region (H, W, C) as C contiguous planes (C, H, W): each channel's arithmetic
    then runs over contiguous memory."""
    return np.ascontiguousarray(channels.transpose(2, 0, 1))


def padded(a: np.ndarray, by_y: int, by_x: int) -> np.ndarray:
    """``a`` (..., H, W) with ``by_y`` rows and ``by_x`` columns added on each side, edges repeated."""
    h, w = a.shape[-2:]
    out = np.empty(a.shape[:-2] + (h + 2 * by_y, w + 2 * by_x), a.dtype)
    out[..., by_y:by_y + h, by_x:by_x + w] = a
    out[..., :by_y, by_x:by_x + w] = a[..., :1, :]
    out[..., by_y + h:, by_x:by_x + w] = a[..., -1:, :]
    out[..., :by_x] = out[..., by_x:by_x + 1]
    out[..., by_x + w:] = out[..., by_x + w - 1:by_x + w]
    return out


def shifted(a: np.ndarray) -> np.ndarray:
    """Every shift of the planes ``a`` (C, H, W) within (SHIFT_Y, SHIFT_X), edges repeated:
    (C, n_shifts, H, W), the shift in y outer and in x inner."""
    windows = sliding_window_view(padded(a, SHIFT_Y, SHIFT_X), (_H, _W), axis=(1, 2))
    return windows.reshape(a.shape[0], -1, _H, _W)


#: Number of shifts at which a neighbourhood is looked for.
N_SHIFTS = (2 * SHIFT_Y + 1) * (2 * SHIFT_X + 1)


def _backward_index() -> np.ndarray:
    """Where each pair of pixels compared backward (an exemplar's pixel, a frame's pixel at a
    shift, edges repeated; (n_shifts, H + 2, W + 2) with the edges of each map repeated as
    :func:`box_sums` wants them) is compared forward (a frame's pixel, an exemplar's pixel at a
    shift): its position in the forward maps (n_shifts, H + 2, W + 2), raveled.

    The backward pair (exemplar at p, frame at q = p + s clamped to the region) is the forward
    pair (frame at q, exemplar at q + (p - q)), and |p - q| <= |s|: every backward squared
    difference is a forward one (a - b and b - a square alike)."""
    def axis(n: int, most: int) -> tuple[np.ndarray, np.ndarray]:
        p = np.clip(np.arange(-1, n + 1), 0, n - 1)  # the edges repeated
        s = np.arange(-most, most + 1)[:, None]
        q = np.clip(p + s, 0, n - 1)  # (shifts, n + 2)
        return q + 1, (p - q) + most  # position in a padded forward map, the forward shift
    qy, ty = axis(_H, SHIFT_Y)
    qx, tx = axis(_W, SHIFT_X)
    shift = ty[:, None, :, None] * (2 * SHIFT_X + 1) + tx[None, :, None, :]
    pos = qy[:, None, :, None] * (_W + 2) + qx[None, :, None, :]
    return (shift * ((_H + 2) * (_W + 2)) + pos).reshape(N_SHIFTS, _H + 2, _W + 2)


_BACKWARD = _backward_index()


def box_sums(p: np.ndarray) -> np.ndarray:
    """The 3 x 3 neighbourhood sums of maps (..., H + 2, W + 2; C-contiguous) given with their
    edges repeated: (..., H + 2, W + 2), the sum around map pixel (y, x) at [..., y, x] (the last
    two rows and columns hold no sums).

    The sums run over the raveled maps (one pass over contiguous memory each, not one per row): a
    sum that straddles a row's or a map's end is computed and never read. Rows are summed first,
    then columns, each as (first + second) + third, the order of the sums' definition."""
    flat = p.reshape(-1)
    n, w = flat.size, p.shape[-1]
    m = n - 2 * w
    rows = np.add(flat[:m], flat[w:w + m])
    rows += flat[2 * w:]
    sums = np.empty(n, p.dtype)
    np.add(rows[:m - 2], rows[1:m - 1], out=sums[:m - 2])
    sums[:m - 2] += rows[2:]
    sums[m - 2:] = 0.0
    return sums.reshape(p.shape)


def unexplained(a: np.ndarray, ex: Exemplar) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """How badly each neighbourhood of the planes ``a`` (C, H, W; a frame in the exemplar's light,
    :meth:`Exemplar.match`) is matched anywhere near in the exemplar ``ex``, and each of the
    exemplar's anywhere near in ``a``: the smallest 3 x 3 sum of squared differences over the
    shifts (UNIT), (H, W) maps of: forward weighted over all channels, forward in intensity alone,
    forward in colour alone, backward weighted over all channels."""
    # The maps summed over neighbourhoods, for every shift, edges repeated: forward intensity,
    # forward colour, backward weighted.
    maps = np.empty((3, N_SHIFTS, _H + 2, _W + 2), np.float32)
    # Forward: the edge-padded frame against the exemplar's edge-padded shifts (padding both and
    # subtracting repeats the difference's edges, as box_sums wants them).
    frame = padded(a, 1, 1)
    np.subtract(frame[0], ex.shifted_padded[0], out=maps[0])
    np.square(maps[0], out=maps[0])
    chroma = np.subtract(frame[1:, None], ex.shifted_padded[1:])
    np.square(chroma, out=chroma)
    np.add(chroma[0], chroma[1], out=maps[1])
    # Backward: each pair's weighted squared difference is a forward one, taken from where it lies.
    weighted = np.multiply(maps[1], CHANNEL_WEIGHTS[1], out=chroma[0])
    weighted += maps[0]
    np.take(weighted, _BACKWARD, out=maps[2], mode="clip")
    sums = box_sums(maps).reshape(3, N_SHIFTS, -1)
    # A neighbourhood sum is linear: the forward weighted one from its two parts' sums.
    both = np.multiply(sums[1], CHANNEL_WEIGHTS[1])
    both += sums[0]
    least = np.empty((4, sums.shape[2]), np.float32)
    np.minimum.reduce(both, axis=0, out=least[0])
    np.minimum.reduce(sums, axis=1, out=least[1:])
    least = least.reshape(4, _H + 2, _W + 2)[:, :_H, :_W] / UNIT
    return least[0], least[1], least[2], least[3]


class Exemplar:
    """A clear frame of the face, ready for comparison."""

    def __init__(self, channels: np.ndarray, timestamp_s: float,
                 brows: tuple[float, float, float] = (float("nan"),) * 3) -> None:
        self.brows = brows  # brow_gap, brow_lowering, glabella_lines
        self.timestamp_s = timestamp_s
        # What depends on the exemplar alone is prepared once, not for every frame compared with it.
        self.planes = planes(channels)
        self.shifted_padded = padded(shifted(self.planes), 1, 1)
        self.measured = self.planes.reshape(3, -1).take(MEASURED_AT, axis=1)
        self.intensity = self.planes[0].ravel()
        free = plane_free(self.intensity)
        q = quantiles(free)
        self.quantiles = q - q.mean()
        self.quantile_ss = float(self.quantiles.dot(self.quantiles))
        self.chroma_median = median(self.planes[1:].reshape(2, -1), axis=1)[:, None]
        self.shape = free / max(float(np.sqrt(free.dot(free))), 1e-12)

    def match(self, a: np.ndarray, free: np.ndarray) -> np.ndarray:
        """The planes ``a`` (C, H, W; ``free``: :func:`plane_free` of its intensity) in this
        exemplar's light, as planes: a plane and a gain of log intensity (the gain from the spread
        of the two pictures' intensities, so that moving features do not bias it, the plane fitted
        robustly), and a shift of chroma."""
        x = a[0].ravel()
        xq = quantiles(free)
        # pure Python on scalars (np.clip of a scalar costs more than the rest of the line)
        gain = min(max(float(self.quantiles.dot(xq)) / max(self.quantile_ss, 1e-12), 0.5), 2.0)
        d = x - gain * self.intensity
        deviation = np.abs(plane_free(d))
        keep = deviation < 2.5 * (1.5 * float(median(deviation)) + 1e-3)
        fit = _PLANE.compress(keep, axis=0)
        coef = np.linalg.solve(fit.T @ fit, fit.T @ d.compress(keep))
        out = np.empty_like(a)
        out[0] = ((x - _PLANE.dot(coef)) / gain).reshape(_H, _W)
        chroma, out_chroma = a[1:].reshape(2, -1), out[1:].reshape(2, -1)
        np.subtract(chroma, median(chroma, axis=1)[:, None], out=out_chroma)
        out_chroma += self.chroma_median
        return out

    def change(self, matched: np.ndarray) -> float:
        """A quick mean squared difference over the measured regions (for choosing an exemplar)."""
        d = matched.reshape(3, -1).take(MEASURED_AT, axis=1)
        d -= self.measured
        d *= d
        # weighted over the channels, summed in the order of a sum over them
        total = d[0] * CHANNEL_WEIGHTS[0]
        total += d[1] * CHANNEL_WEIGHTS[1]
        total += d[2] * CHANNEL_WEIGHTS[2]
        # the mean as np.mean takes it: a float32 sum, divided in float64, rounded to float32
        return float(np.float32(float(total.sum()) / total.size)) / UNIT
