"""Is something in front of the brows or the glabella? The per-frame ``occluded`` flag.

Face Mesh keeps placing plausible landmarks under a hand, and the lines filter reads a finger's
edges as furrows, so the landmarks and the measure cannot say that they are looking at a hand.
The picture can, compared with the same face earlier in the same recording:

1. The upper face (brows, glabella, lower forehead; ``REGION_X`` x ``REGION_Y`` in reference
   units) is resampled in reference-face coordinates (so head rotation and distance are removed,
   as for the glabella) at :data:`PX_PER_IOD` pixels per inter-ocular distance, as log intensity
   and two log-chroma channels (red/green, blue/green).
2. It is compared with the recording's own *exemplars*: earlier frames of the same face that were
   judged clear. A change of light is removed first (a plane and a gain in log intensity, a shift
   in chroma). Then every small neighbourhood (3 x 3 pixels, 0.125 IOD) of the frame is looked
   for in the exemplar within +-0.08 IOD sideways and +-0.125 IOD up and down, and the other way
   round: what a frown, a smile or a blink does - brows moving, folds and furrows appearing - is
   found again close by, while a finger, a lock of hair or a glasses frame is new material that
   is nowhere near in the exemplar, and the brow it hides is missing from the frame.
3. The unexplained change, per region (glabella, the more and the less changed brow head,
   forehead, the whole region; in intensity and in colour; in both directions), in units of the
   recording's typical frame-to-exemplar change, goes into a logistic model fitted on synthetic
   occluders pasted onto real faces (``scripts/fit_occlusion.py``; its parameters ship in
   ``data/occlusion_model.json``). A frame whose score exceeds ``qc.max_occlusion_score`` is
   ``occluded``.

The exemplars follow the face: a frame that is clearly clear (score below
:data:`EXEMPLAR_MAX_SCORE`), within the pose limits, at least :data:`EXEMPLAR_GAP_S` after the
last exemplar and changed since (so the set follows a face that moves from crying to laughing)
becomes an exemplar once every frame within :data:`QUARANTINE_S` before and after it was judged
clear; the first exemplar is the recording's first face. A still image has no
earlier frames: its ``occluded`` is False.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

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

# -- the exemplars --
MAX_EXEMPLARS = 8
#: Exemplars compared in full with each frame: those whose picture is most like it.
CANDIDATES = 1
EXEMPLAR_GAP_S = 0.2
#: The first frames with a face (seconds from the first) are taken as clear: they set the
#: recording's typical change and its first exemplars.
WARMUP_S = 0.5
#: A frame becomes an exemplar only with a score this far below the model's threshold ...
EXEMPLAR_MAX_SCORE = -1.0
#: ... and when it differs from every exemplar by at least this mean change (UNIT).
EXEMPLAR_MIN_CHANGE = 1.0
#: A frame becomes an exemplar only when every frame within this time before and after it was
#: judged clear: the frames of a hand entering or leaving (partly over the region, not yet
#: flagged) are not taken as the face.
QUARANTINE_S = 0.4
#: Frames of recent typical change kept for the recording's scale, and its floor (UNIT).
SCALE_FRAMES = 30
SCALE_FLOOR = 0.5

#: Features of the model, in order (see :meth:`OcclusionDetector.features`).
FEATURES = ("glabella_fwd", "glabella_bwd", "glabella_intensity", "glabella_colour",
            "brow_max_fwd", "brow_min_fwd", "brow_max_bwd", "brow_min_bwd",
            "brow_max_intensity", "brow_min_intensity", "brow_max_colour", "brow_min_colour",
            "forehead_fwd", "forehead_bwd", "region_fwd", "region_bwd",
            "mask_q90", "mask_above_10", "mask_above_30", "brow_asymmetry")


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
_REGION_MEANS = np.array([m.ravel() / m.sum() for m in (GLABELLA, BROW_RIGHT, BROW_LEFT, FOREHEAD,
                                                        np.ones_like(GLABELLA), MEASURED)], np.float32)
_PLANE = np.column_stack([np.ones(_X.size), _X.ravel(), _Y.ravel()])
_PLANE_PINV = np.linalg.pinv(_PLANE)
#: Positions (in a sorted raveled region) of the 5th, 10th, ..., 95th percentiles.
_QUANTILE_AT = np.round(np.linspace(0.05, 0.95, 19) * (_X.size - 1)).astype(int)


def _quantiles(values: np.ndarray) -> np.ndarray:
    return np.sort(values)[_QUANTILE_AT]


def _median(values: np.ndarray, axis: int = 0) -> np.ndarray:
    n = values.shape[axis]
    return np.partition(values, n // 2, axis=axis).take(n // 2, axis=axis)


@dataclass(frozen=True)
class OcclusionModel:
    """The fitted logistic model: standardisation, weights, intercept and the score threshold."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float

    def score(self, x: np.ndarray) -> float:
        return float(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    @classmethod
    def from_json(cls, data: dict) -> OcclusionModel:
        if tuple(data["features"]) != FEATURES:
            raise ValueError("occlusion model: its features are not the detector's")
        return cls(np.asarray(data["mean"], np.float64), np.asarray(data["scale"], np.float64),
                   np.asarray(data["coef"], np.float64), float(data["intercept"]), float(data["threshold"]))


@lru_cache(maxsize=1)
def shipped_model() -> OcclusionModel:
    """The model fitted by ``scripts/fit_occlusion.py`` (``data/occlusion_model.json``)."""
    with resources.files("facefeedback").joinpath("data/occlusion_model.json").open("r") as fh:
        return OcclusionModel.from_json(json.load(fh))


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


def _plane_free(values: np.ndarray) -> np.ndarray:
    return values - _PLANE @ (_PLANE_PINV @ values)


def _shifted(a: np.ndarray) -> np.ndarray:
    """Every shift of ``a`` within (SHIFT_Y, SHIFT_X): (n_shifts, H, W, C), edges repeated."""
    padded = np.empty((_H + 2 * SHIFT_Y, _W + 2 * SHIFT_X, a.shape[2]), a.dtype)
    padded[SHIFT_Y:SHIFT_Y + _H, SHIFT_X:SHIFT_X + _W] = a
    padded[:SHIFT_Y, SHIFT_X:SHIFT_X + _W] = a[:1]
    padded[SHIFT_Y + _H:, SHIFT_X:SHIFT_X + _W] = a[-1:]
    padded[:, :SHIFT_X] = padded[:, SHIFT_X:SHIFT_X + 1]
    padded[:, SHIFT_X + _W:] = padded[:, SHIFT_X + _W - 1:SHIFT_X + _W]
    return np.stack([padded[dy:dy + _H, dx:dx + _W]
                     for dy in range(2 * SHIFT_Y + 1) for dx in range(2 * SHIFT_X + 1)])


def _box_min(e: np.ndarray) -> np.ndarray:
    """The smallest, over the first axis (the shifts), of the 3 x 3 neighbourhood sums of ``e``
    (n_shifts, H, W); edges repeated."""
    p = np.empty((e.shape[0], _H + 2, _W + 2), np.float32)
    p[:, 1:-1, 1:-1] = e
    p[:, 0, 1:-1], p[:, -1, 1:-1] = e[:, 0], e[:, -1]
    p[:, :, 0], p[:, :, -1] = p[:, :, 1], p[:, :, -2]
    rows = p[:, :-2] + p[:, 1:-1] + p[:, 2:]
    return (rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]).min(axis=0)


def unexplained(a: np.ndarray, b_shifted: np.ndarray, parts: bool = True) -> tuple[np.ndarray, ...]:
    """How badly each neighbourhood of ``a`` is matched anywhere near in ``b`` (given as
    :func:`_shifted` of ``b``): the smallest 3 x 3 sum of squared differences over the shifts,
    weighted over all channels, and (with ``parts``) in intensity alone and in colour alone (UNIT)."""
    sq = (a[None] - b_shifted) ** 2
    colour = sq[..., 1] + sq[..., 2]
    both = _box_min(sq[..., 0] + CHANNEL_WEIGHTS[1] * colour) / UNIT
    if not parts:
        return (both,)
    return both, _box_min(sq[..., 0]) / UNIT, _box_min(colour) / UNIT


class _Exemplar:
    """A clear frame of the face, ready for comparison."""

    def __init__(self, channels: np.ndarray, timestamp_s: float) -> None:
        self.channels = channels
        self.timestamp_s = timestamp_s
        self.shifted = _shifted(channels)
        flat = channels.reshape(-1, 3)
        self.intensity = flat[:, 0].copy()
        q = _quantiles(_plane_free(self.intensity))
        self.quantiles = q - q.mean()
        self.quantile_ss = float(self.quantiles @ self.quantiles)
        self.chroma_median = _median(flat[:, 1:])
        shape = _plane_free(self.intensity)
        self.shape = shape / max(float(np.sqrt(shape @ shape)), 1e-12)

    def match(self, channels: np.ndarray) -> np.ndarray:
        """``channels`` in this exemplar's light: a plane and a gain of log intensity (the gain from
        the spread of the two pictures' intensities, so that moving features do not bias it, the
        plane fitted robustly), and a shift of chroma."""
        flat = channels.reshape(-1, 3)
        x = flat[:, 0]
        xq = _quantiles(_plane_free(x))
        gain = float(np.clip(self.quantiles @ xq / max(self.quantile_ss, 1e-12), 0.5, 2.0))
        d = x - gain * self.intensity
        resid = d - _PLANE @ (_PLANE_PINV @ d)
        keep = np.abs(resid) < 2.5 * (1.5 * float(_median(np.abs(resid))) + 1e-3)
        a = _PLANE[keep]
        coef = np.linalg.solve(a.T @ a, a.T @ d[keep])
        out = np.empty_like(channels)
        out[:, :, 0] = ((x - _PLANE @ coef) / gain).reshape(_H, _W)
        out[:, :, 1:] = (flat[:, 1:] - _median(flat[:, 1:]) + self.chroma_median).reshape(_H, _W, 2)
        return out

    def change(self, matched: np.ndarray) -> float:
        """A quick mean squared difference over the measured regions (for choosing an exemplar)."""
        d = (matched - self.channels)[MEASURED]
        return float(((d * d) * CHANNEL_WEIGHTS).sum(axis=1).mean()) / UNIT


class OcclusionDetector:
    """The ``occluded`` flag of one recording's frames, in order (see the module docstring).

    Parameters
    ----------
    max_score : float
        Frames whose score exceeds this are occluded (``qc.max_occlusion_score``).
    max_abs_yaw, max_abs_pitch : float
        Pose limits for an exemplar (degrees; the QC limits for a valid frame).
    model : OcclusionModel, optional
        The shipped model when None.
    """

    def __init__(self, max_score: float, max_abs_yaw: float = 25.0, max_abs_pitch: float = 20.0,
                 model: OcclusionModel | None = None) -> None:
        self.model = model or shipped_model()
        self.max_score = float(max_score)
        self.max_abs_yaw, self.max_abs_pitch = max_abs_yaw, max_abs_pitch
        self.exemplars: list[_Exemplar] = []
        self.first_s: float | None = None
        self.recent_change: list[float] = []
        self.last_features: np.ndarray | None = None
        self.last_channels: np.ndarray | None = None
        self.last_unclear_s = -np.inf
        self.pending: _Exemplar | None = None

    def features(self, channels: np.ndarray) -> tuple[np.ndarray, float, float] | None:
        """The model's features of a frame against its best exemplar, and the mean unexplained change
        over the whole region and over the measured regions (UNIT); None before the first exemplar."""
        if not self.exemplars or not np.isfinite(channels).all():
            return None
        # The exemplars most like the frame in the layout of their intensity (correlation of the
        # plane-free intensity, blind to light), then the best of those after matching the light.
        shape = _plane_free(channels[:, :, 0].ravel())
        shape /= max(float(np.sqrt(shape @ shape)), 1e-12)
        likeness = [float(shape @ ex.shape) for ex in self.exemplars]
        best = None
        for k in np.argsort(likeness)[::-1][:CANDIDATES]:
            ex = self.exemplars[k]
            matched = ex.match(channels)
            change = ex.change(matched)
            if best is None or change < best[0]:
                best = (change, ex, matched)
        change, ex, matched = best
        fwd, fwd_i, fwd_c = unexplained(matched, ex.shifted)
        bwd = unexplained(ex.channels, _shifted(matched), parts=False)[0]
        scale = max(float(_median(np.array(self.recent_change))) if self.recent_change else SCALE_FLOOR,
                    SCALE_FLOOR)
        # region means: glabella, right brow head, left brow head, forehead, whole region, measured
        f, b, fi, fc = (_REGION_MEANS @ e.ravel() for e in (fwd, bwd, fwd_i, fwd_c))
        measured = fwd[MEASURED]
        q90 = float(np.partition(measured, int(0.9 * (measured.size - 1)))[int(0.9 * (measured.size - 1))])
        raw = np.array([f[0], b[0], fi[0], fc[0],
                        max(f[1], f[2]), min(f[1], f[2]), max(b[1], b[2]), min(b[1], b[2]),
                        max(fi[1], fi[2]), min(fi[1], fi[2]), max(fc[1], fc[2]), min(fc[1], fc[2]),
                        f[3], b[3], f[4], b[4], q90])
        x = np.log(np.maximum(raw, 0.0) / scale + 0.3)
        above = np.log(np.array([(measured > 10.0).mean(), (measured > 30.0).mean()]) + 0.3)
        asym = abs(np.log(f[1] + 0.3) - np.log(f[2] + 0.3))
        # The scale itself is not a feature: a recording whose typical change is large (noise, moving
        # light) must not read as occluded because of it.
        return np.concatenate([x, above, [asym]]), float(f[4]), float(f[5])

    def _judge(self, score: float) -> tuple[bool, bool]:
        """Whether a frame counts as clear for the recording's scale, and whether it is clear
        enough to become an exemplar. (Fitting the model replaces this with the known truth.)"""
        return score <= self.max_score, score < self.max_score + EXEMPLAR_MAX_SCORE

    def __call__(self, image: np.ndarray, alignment: Alignment, timestamp_s: float,
                 origin: tuple[int, int] = (0, 0)) -> tuple[float, bool]:
        """Score and flag of one frame (``image`` may be a crop of it at ``origin``)."""
        channels = region_channels(image, alignment, origin)
        self.last_channels = channels
        pose_ok = abs(alignment.yaw) <= self.max_abs_yaw and abs(alignment.pitch) <= self.max_abs_pitch
        return self.step(channels, timestamp_s, pose_ok)

    def step(self, channels: np.ndarray, timestamp_s: float, pose_ok: bool) -> tuple[float, bool]:
        """Score and flag of one frame given its compared region (:func:`region_channels`) and
        whether its pose allows it to become an exemplar."""
        found = self.features(channels)
        if found is None:
            self.last_features = None
            if not self.exemplars and np.isfinite(channels).all():
                self.exemplars.append(_Exemplar(channels, timestamp_s))
                self.first_s = timestamp_s
            return float("nan"), False
        x, region_change, measured_change = found
        self.last_features = x
        score = self.model.score(x)
        occluded = score > self.max_score
        clear, exemplary = self._judge(score)
        if timestamp_s - self.first_s < WARMUP_S:
            score, occluded, clear, exemplary = float("nan"), False, True, True
            self.last_features = None
        if clear:
            self.recent_change.append(region_change)
            del self.recent_change[:-SCALE_FRAMES]
        else:
            self.last_unclear_s, self.pending = timestamp_s, None
        if self.pending is not None and timestamp_s - self.pending.timestamp_s >= QUARANTINE_S:
            self.exemplars.append(self.pending)
            self.pending = None
            if len(self.exemplars) > MAX_EXEMPLARS:
                del self.exemplars[1]  # the first face stays; the oldest of the others goes
        latest = self.exemplars[-1].timestamp_s
        if (self.pending is None and exemplary and pose_ok and timestamp_s - latest >= EXEMPLAR_GAP_S
                and timestamp_s - self.last_unclear_s >= QUARANTINE_S and measured_change > EXEMPLAR_MIN_CHANGE):
            self.pending = _Exemplar(channels, timestamp_s)
        return score, bool(occluded)
