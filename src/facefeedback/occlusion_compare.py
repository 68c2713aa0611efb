"""The compared region of the occlusion flag and how a frame is compared with an exemplar.

See :mod:`facefeedback.occlusion`: the upper face resampled in reference-face coordinates as log
intensity and two log-chroma channels (:func:`region_channels`), a clear frame kept for comparison
(:class:`Exemplar`: the frame put into its light, :meth:`Exemplar.match`) and the change no small
shift explains (:func:`unexplained`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

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
    out[:, :, 0] = np.log(p.mean(axis=2))
    out[:, :, 1] = logp[:, :, 2] - logp[:, :, 1]
    out[:, :, 2] = logp[:, :, 0] - logp[:, :, 1]
    return out


@lru_cache(maxsize=1)
def _glabella_depth() -> float:
    return float(reference_face()[[9, 8, 168], 2].mean())


def plane_free(values: np.ndarray) -> np.ndarray:
    return values - _PLANE @ (_PLANE_PINV @ values)


def shifted(a: np.ndarray) -> np.ndarray:
    """Every shift of ``a`` within (SHIFT_Y, SHIFT_X): (n_shifts, H, W, C), edges repeated."""
    padded = np.empty((_H + 2 * SHIFT_Y, _W + 2 * SHIFT_X, a.shape[2]), a.dtype)
    padded[SHIFT_Y:SHIFT_Y + _H, SHIFT_X:SHIFT_X + _W] = a
    padded[:SHIFT_Y, SHIFT_X:SHIFT_X + _W] = a[:1]
    padded[SHIFT_Y + _H:, SHIFT_X:SHIFT_X + _W] = a[-1:]
    padded[:, :SHIFT_X] = padded[:, SHIFT_X:SHIFT_X + 1]
    padded[:, SHIFT_X + _W:] = padded[:, SHIFT_X + _W - 1:SHIFT_X + _W]
    return np.stack([padded[dy:dy + _H, dx:dx + _W]
                     for dy in range(2 * SHIFT_Y + 1) for dx in range(2 * SHIFT_X + 1)])


def box_sums(e: np.ndarray) -> np.ndarray:
    """The 3 x 3 neighbourhood sums of ``e`` (n_shifts, H, W) for every shift; edges repeated."""
    p = np.empty((e.shape[0], _H + 2, _W + 2), np.float32)
    p[:, 1:-1, 1:-1] = e
    p[:, 0, 1:-1], p[:, -1, 1:-1] = e[:, 0], e[:, -1]
    p[:, :, 0], p[:, :, -1] = p[:, :, 1], p[:, :, -2]
    rows = p[:, :-2] + p[:, 1:-1] + p[:, 2:]
    return rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]


def unexplained(a: np.ndarray, b_shifted: np.ndarray, parts: bool = True) -> tuple[np.ndarray, ...]:
    """How badly each neighbourhood of ``a`` is matched anywhere near in ``b`` (given as
    :func:`shifted` of ``b``): the smallest 3 x 3 sum of squared differences over the shifts,
    weighted over all channels, and (with ``parts``) in intensity alone and in colour alone (UNIT)."""
    sq = (a[None] - b_shifted) ** 2
    colour = sq[..., 1] + sq[..., 2]
    if not parts:
        return (box_sums(sq[..., 0] + CHANNEL_WEIGHTS[1] * colour).min(axis=0) / UNIT,)
    # a neighbourhood sum is linear: the weighted one from the two parts' (one pass fewer)
    intensity, colour = box_sums(sq[..., 0]), box_sums(colour)
    both = (intensity + CHANNEL_WEIGHTS[1] * colour).min(axis=0)
    return both / UNIT, intensity.min(axis=0) / UNIT, colour.min(axis=0) / UNIT


class Exemplar:
    """A clear frame of the face, ready for comparison."""

    def __init__(self, channels: np.ndarray, timestamp_s: float,
                 brows: tuple[float, float, float] = (float("nan"),) * 3) -> None:
        self.channels = channels
        self.brows = brows  # brow_gap, brow_lowering, glabella_lines
        self.timestamp_s = timestamp_s
        self.shifted = shifted(channels)
        flat = channels.reshape(-1, 3)
        self.intensity = flat[:, 0].copy()
        q = quantiles(plane_free(self.intensity))
        self.quantiles = q - q.mean()
        self.quantile_ss = float(self.quantiles @ self.quantiles)
        self.chroma_median = median(flat[:, 1:])
        shape = plane_free(self.intensity)
        self.shape = shape / max(float(np.sqrt(shape @ shape)), 1e-12)

    def match(self, channels: np.ndarray) -> np.ndarray:
        """``channels`` in this exemplar's light: a plane and a gain of log intensity (the gain from
        the spread of the two pictures' intensities, so that moving features do not bias it, the
        plane fitted robustly), and a shift of chroma."""
        flat = channels.reshape(-1, 3)
        x = flat[:, 0]
        xq = quantiles(plane_free(x))
        gain = float(np.clip(self.quantiles @ xq / max(self.quantile_ss, 1e-12), 0.5, 2.0))
        d = x - gain * self.intensity
        resid = d - _PLANE @ (_PLANE_PINV @ d)
        keep = np.abs(resid) < 2.5 * (1.5 * float(median(np.abs(resid))) + 1e-3)
        a = _PLANE[keep]
        coef = np.linalg.solve(a.T @ a, a.T @ d[keep])
        out = np.empty_like(channels)
        out[:, :, 0] = ((x - _PLANE @ coef) / gain).reshape(_H, _W)
        out[:, :, 1:] = (flat[:, 1:] - median(flat[:, 1:]) + self.chroma_median).reshape(_H, _W, 2)
        return out

    def change(self, matched: np.ndarray) -> float:
        """A quick mean squared difference over the measured regions (for choosing an exemplar)."""
        d = (matched - self.channels)[MEASURED]
        return float(((d * d) * CHANNEL_WEIGHTS).sum(axis=1).mean()) / UNIT


