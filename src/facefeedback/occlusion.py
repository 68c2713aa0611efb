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
   in chroma). Then every small neighbourhood (3 x 3 pixels, 0.15 IOD) of the frame is looked
   for in the exemplar within +-0.1 IOD sideways and up and down, and the other way
   round: what a frown, a smile or a blink does - brows moving, folds and furrows appearing - is
   found again close by, while a finger, a lock of hair or a glasses frame is new material that
   is nowhere near in the exemplar, and the brow it hides is missing from the frame.
3. The unexplained change, per region (glabella, the more and the less changed brow head,
   forehead, the whole region; in intensity and in colour; in both directions), in units of the
   recording's typical frame-to-exemplar change, the share of pixels whose unexplained change is
   *unusual* for that pixel (:data:`UNUSUAL_TIMES` its own typical change: a hand's edge on smooth
   forehead skin, which a region's mean dilutes), and the landmarks' side (:func:`brow_features`:
   brow heads spread beyond the exemplars' widest gap, as fingers on the glabella pull them; brows
   drawn in and lowered and lines deepened, as a frown does, which explains a change), and the
   brow tracker's evidence (:func:`tracker_features`: its template match fails under fingers
   while Face Mesh keeps its brows) go into a
   logistic model fitted on synthetic occluders pasted onto real faces over synthetic frowns
   (``scripts/fit_occlusion.py``; its parameters ship in ``data/occlusion_model.json``). A frame
   whose score exceeds ``qc.max_occlusion_score`` is ``occluded``.

The exemplars follow the face: the first face and the changed frames of the first
:data:`WARMUP_S` (taken as clear), then a frame that is clearly clear (score below
:data:`EXEMPLAR_MAX_SCORE`), within the pose limits, at least :data:`EXEMPLAR_GAP_S` after the
last exemplar and changed since (so the set follows a face that moves from crying to laughing)
becomes an exemplar once every frame within :data:`QUARANTINE_S` before and after it was judged
clear. The recording's typical change (the features' unit) and each pixel's learn from the frames
judged clear, but for doubtful ones within :data:`LEARN_QUARANTINE_S` after a frame judged not
clear, so a hand that settles is not learnt as the face's own change. Times are compared within
:data:`~facefeedback.schema.TIME_TOLERANCE_S`. A still image has no earlier frames: its
``occluded`` is False.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .geometry import Alignment
from .occlusion_compare import (
    MEASURED_AT,
    REGION_MEANS,
    Exemplar,
    plane_free,
    planes,
    region_channels,
    unexplained,
)
from .schema import TIME_TOLERANCE_S

# -- the exemplars --
MAX_EXEMPLARS = 8
#: Exemplars compared in full with each frame: those whose picture is most like it.
CANDIDATES = 1
EXEMPLAR_GAP_S = 0.2
#: The first frames with a face (seconds from the first) are taken as clear: they set the
#: recording's typical change and its first exemplars.
WARMUP_S = 0.5
#: Within the warm-up, a changed frame this long after the last exemplar becomes one at once.
WARMUP_GAP_S = 0.1
#: A frame becomes an exemplar only with a score this far below the model's threshold ...
EXEMPLAR_MAX_SCORE = -1.0
#: ... and when it differs from every exemplar by at least this mean change (UNIT).
EXEMPLAR_MIN_CHANGE = 1.0
#: A frame becomes an exemplar only when every frame within this time before and after it was
#: judged clear: the frames of a hand entering or leaving (partly over the region, not yet
#: flagged) are not taken as the face.
QUARANTINE_S = 0.4
#: Nor do doubtful frames (judged clear, but not clearly: see :data:`EXEMPLAR_MAX_SCORE`) within this
#: time after a frame judged not clear teach the recording's scale or its pixels' typical change: a
#: hand's frame scored just clear as it settles would teach that the hand's change is typical, and the
#: frames after it would pass as clear (it runs away). A clearly clear frame teaches at once: were it
#: held back too, a run of borderline flags would keep the detector from ever learning again.
LEARN_QUARANTINE_S = QUARANTINE_S
#: Frames of recent typical change kept for the recording's scale, and its floor (UNIT).
SCALE_FRAMES = 30
SCALE_FLOOR = 0.5
#: The brows' geometry against the exemplars' is counted in this unit (IOD).
BROW_UNIT = 0.02
#: What the detector is given of the brows: ``brow_gap``, ``brow_lowering``, ``glabella_lines``,
#: the landmarks' brow gap and the brow tracker's evidence (its gap by the image alone, its poorer
#: correlation with the anchor, its larger residual; see BrowTracker).
BROW_INPUTS = ("brow_gap", "brow_lowering", "glabella_lines", "landmark_brow_gap", "tracked_image_gap",
               "tracked_match", "tracked_residual")
NO_BROWS = (float("nan"),) * len(BROW_INPUTS)

#: Features of the model, in order (see :meth:`OcclusionDetector.features`).
FEATURES = ("glabella_fwd", "glabella_bwd", "glabella_intensity", "glabella_colour",
            "brow_max_fwd", "brow_min_fwd", "brow_max_bwd", "brow_min_bwd",
            "brow_max_intensity", "brow_min_intensity", "brow_max_colour", "brow_min_colour",
            "forehead_fwd", "forehead_bwd", "region_fwd", "region_bwd",
            "mask_q90", "mask_above_10", "mask_above_30", "brow_asymmetry",
            "brows_apart", "brows_drawn_in", "brows_lowered", "lines_ratio",
            "match_drop", "residual_ratio", "image_wider", "image_narrower", "residual_level",
            "unusual_measured", "unusual_forehead", "unusual_region", "unusual_brow_max")
#: A pixel's unexplained change is *unusual* when it exceeds this many times the sum of the pixel's
#: own typical change (over the frames judged clear, see :data:`TYPICAL_RATE`) and
#: :data:`UNUSUAL_FLOOR` times the recording's typical change (the model was fitted so).
UNUSUAL_TIMES = 5.0
UNUSUAL_FLOOR = 1.0
#: Weight of a frame judged clear in each pixel's typical change (an exponential average).
TYPICAL_RATE = 0.1


def _at_least(elapsed_s: float, limit_s: float) -> bool:
    """Whether ``elapsed_s`` reaches ``limit_s``, whatever the rounding of the frame times."""
    return elapsed_s >= limit_s - TIME_TOLERANCE_S


def _rises(values: tuple[float, ...], unit: float = BROW_UNIT) -> np.ndarray:
    """log(1 + max(value, 0) / unit) of each value, 0 where it is not finite (one call for all)."""
    return np.log1p([max(v, 0.0) / unit if math.isfinite(v) else 0.0 for v in values])


def brow_features(brows: tuple[float, float, float], reference: tuple[float, float, float],
                  widest_gap: float) -> np.ndarray:
    """The landmarks' side of the score: how far the brow heads are apart beyond the widest gap of
    the recording's exemplars, how far they were drawn in and lowered against the exemplar's, and
    the lines against the exemplar's (log ratio).

    A frown draws the brows in and down and deepens the lines: a change in the picture that goes
    with them is explained by it. Nothing the face does spreads the brow heads much beyond their
    relaxed gap, but fingers pressed to the glabella pull Face Mesh's brow heads apart.
    """
    gap, lowering, lines = brows[:3]
    ref_gap, ref_lowering, ref_lines = reference[:3]
    ratio = np.log((lines + 0.1) / (ref_lines + 0.1)) if math.isfinite(lines) and math.isfinite(ref_lines) else 0.0
    return np.concatenate([_rises((gap - widest_gap, ref_gap - gap, ref_lowering - lowering)), [ratio],
                           tracker_features(brows, reference)])


#: The brow tracker's correlation with its anchor is counted in this unit.
MATCH_UNIT = 0.05


def tracker_features(brows: tuple[float, ...], reference: tuple[float, ...]) -> list[float]:
    """The brow tracker's evidence (:class:`~facefeedback.components.brows.BrowTracker`) against
    the exemplar's (0 where either has none): how far its poorer brow head's correlation with the
    anchor fell, its residual's log ratio, how far its image-tracked gap moved wider and narrower
    than the landmarks' gap (a tracker following the picture follows fingers; Face Mesh follows
    its face model), and its residual's level (log): under fingers the brow heads' picture is no
    longer the anchor's, whatever the exemplar."""
    residual, ref_residual = _residual(brows), _residual(reference)
    drop = reference[5] - brows[5]
    ratio, level = np.log([(residual + 0.02) / (ref_residual + 0.02), residual + 0.02]).tolist()
    # the image-tracked gap minus the landmarks' gap, against the exemplar's
    disagreement = (brows[4] - brows[3]) - (reference[4] - reference[3])
    wider, narrower = _rises((disagreement, -disagreement)).tolist()
    return [float(_rises((drop,), MATCH_UNIT)[0]), ratio if math.isfinite(ratio) else 0.0, wider, narrower,
            level if math.isfinite(level) else float(np.log(TYPICAL_RESIDUAL + 0.02))]


#: The tracker's residual where it has none yet (no anchor), a clear face's typical one.
TYPICAL_RESIDUAL = 0.2
#: The tracker's residual where a brow head found no match at all (its correlation too low).
NO_MATCH_RESIDUAL = 2.0


def _residual(brows: tuple[float, ...]) -> float:
    return NO_MATCH_RESIDUAL if math.isfinite(brows[5]) and not math.isfinite(brows[6]) else brows[6]


@dataclass(frozen=True)
class OcclusionModel:
    """The fitted logistic model: standardisation, weights, intercept and the score threshold."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    #: Which of the detector's :data:`FEATURES` the model reads (all when None).
    index: np.ndarray | None = None

    def score(self, x: np.ndarray) -> float:
        if self.index is not None:
            x = x[self.index]
        return float(((x - self.mean) / self.scale).dot(self.coef) + self.intercept)

    @classmethod
    def from_json(cls, data: dict) -> OcclusionModel:
        unknown = [f for f in data["features"] if f not in FEATURES]
        if unknown:
            raise ValueError(f"occlusion model: features {unknown} are not the detector's")
        index = np.array([FEATURES.index(f) for f in data["features"]])
        return cls(np.asarray(data["mean"], np.float64), np.asarray(data["scale"], np.float64),
                   np.asarray(data["coef"], np.float64), float(data["intercept"]), float(data["threshold"]), index)


@lru_cache(maxsize=1)
def shipped_model() -> OcclusionModel:
    """The model fitted by ``scripts/fit_occlusion.py`` (``data/occlusion_model.json``)."""
    with resources.files("facefeedback").joinpath("data/occlusion_model.json").open("r") as fh:
        return OcclusionModel.from_json(json.load(fh))


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
        self.exemplars: list[Exemplar] = []
        self.first_s: float | None = None
        self.recent_change: list[float] = []
        self.last_features: np.ndarray | None = None
        self.last_channels: np.ndarray | None = None
        self.last_brows = NO_BROWS
        self.last_unclear_s = -np.inf
        self.pending: Exemplar | None = None
        self.typical_map: np.ndarray | None = None
        self.last_map: np.ndarray | None = None

    def features(self, channels: np.ndarray, brows: tuple[float, float, float] = NO_BROWS
                 ) -> tuple[np.ndarray, float, float] | None:
        """The model's features of a frame against its best exemplar (``brows``: the frame's
        ``brow_gap``, ``brow_lowering`` and ``glabella_lines``), and the mean unexplained change
        over the whole region and over the measured regions (UNIT); None before the first exemplar."""
        if not self.exemplars or not np.isfinite(channels).all():
            return None
        a = planes(channels)
        # The exemplars most like the frame in the layout of their intensity (correlation of the
        # plane-free intensity, blind to light), then the best of those after matching the light.
        free = plane_free(a[0].ravel())
        shape = free / max(float(np.sqrt(free.dot(free))), 1e-12)
        likeness = [float(shape.dot(ex.shape)) for ex in self.exemplars]
        candidates = [(ex, ex.match(a, free)) for ex in
                      (self.exemplars[k] for k in np.argsort(likeness)[::-1][:CANDIDATES])]
        # (the first of those that changed least; a single candidate needs no comparison)
        ex, matched = candidates[0] if len(candidates) == 1 else min(candidates, key=lambda c: c[0].change(c[1]))
        fwd, fwd_i, fwd_c, bwd = unexplained(matched, ex)
        # the median of the recent changes (Python floats: a sort of at most SCALE_FRAMES numbers)
        recent = sorted(self.recent_change)
        scale = max(recent[len(recent) // 2] if recent else SCALE_FLOOR, SCALE_FLOOR)
        # region means: glabella, right brow head, left brow head, forehead, whole region, measured
        # (float32 values as Python floats, exactly, for the scalar arithmetic below)
        f, b, fi, fc = (REGION_MEANS.dot(e.ravel()).tolist() for e in (fwd, bwd, fwd_i, fwd_c))
        measured = fwd.take(MEASURED_AT)
        at = int(0.9 * (measured.size - 1))
        measured.partition(at)  # in place: what follows does not depend on the order
        raw = np.array([f[0], b[0], fi[0], fc[0],
                        max(f[1], f[2]), min(f[1], f[2]), max(b[1], b[2]), min(b[1], b[2]),
                        max(fi[1], fi[2]), min(fi[1], fi[2]), max(fc[1], fc[2]), min(fc[1], fc[2]),
                        f[3], b[3], f[4], b[4], float(measured[at])])
        x = np.log(np.maximum(raw, 0.0) / scale + 0.3)
        above = np.log(np.array([np.count_nonzero(measured > 10.0) / measured.size,
                                 np.count_nonzero(measured > 30.0) / measured.size]) + 0.3)
        asym = abs(np.log(f[1] + 0.3) - np.log(f[2] + 0.3))
        widest = max((e.brows[0] for e in self.exemplars if math.isfinite(e.brows[0])), default=float("nan"))
        geometry = brow_features(brows, ex.brows, widest)
        self.last_map = fwd
        # Where the unexplained change is unusual for the pixel: a finger or a hand's edge on smooth
        # skin changes it little against a brow's edge, but far beyond what that skin ever does.
        typical = fwd if self.typical_map is None else self.typical_map
        unusual = REGION_MEANS.dot((fwd > UNUSUAL_TIMES * (typical + UNUSUAL_FLOOR * scale)).ravel().astype(np.float32))
        shares = np.log(np.array([unusual[5], unusual[3], unusual[4], max(unusual[1], unusual[2])]) + 0.02)
        # The scale itself is not a feature: a recording whose typical change is large (noise, moving
        # light) must not read as occluded because of it.
        return np.concatenate([x, above, [asym], geometry, shares]), f[4], f[5]

    def _judge(self, score: float) -> tuple[bool, bool]:
        """Whether a frame counts as clear for the recording's scale and its pixels' typical
        change, and whether it is clear enough to become an exemplar. (Fitting the model replaces
        this with the known truth.)"""
        return score <= self.max_score, score < self.max_score + EXEMPLAR_MAX_SCORE

    def __call__(self, image: np.ndarray, alignment: Alignment, timestamp_s: float,
                 brows: tuple[float, float, float] = NO_BROWS, origin: tuple[int, int] = (0, 0)
                 ) -> tuple[float, bool]:
        """Score and flag of one frame (``image`` may be a crop of it at ``origin``; ``brows``:
        its ``brow_gap``, ``brow_lowering`` and ``glabella_lines``)."""
        channels = region_channels(image, alignment, origin)
        self.last_channels = channels
        pose_ok = abs(alignment.yaw) <= self.max_abs_yaw and abs(alignment.pitch) <= self.max_abs_pitch
        return self.step(channels, timestamp_s, pose_ok, brows)

    def step(self, channels: np.ndarray, timestamp_s: float, pose_ok: bool,
             brows: tuple[float, float, float] = NO_BROWS) -> tuple[float, bool]:
        """Score and flag of one frame given its compared region (:func:`region_channels`), whether
        its pose allows it to become an exemplar, and its brows (see :meth:`__call__`)."""
        brows = tuple(float(b) for b in brows) + NO_BROWS[len(brows):]
        self.last_brows = brows
        found = self.features(channels, brows)
        if found is None:
            self.last_features = None
            if not self.exemplars and np.isfinite(channels).all():
                self.exemplars.append(Exemplar(channels, timestamp_s, brows))
                self.first_s = timestamp_s
            return float("nan"), False
        x, region_change, measured_change = found
        self.last_features = x
        score = self.model.score(x)
        occluded = score > self.max_score
        clear, exemplary = self._judge(score)
        latest = self.exemplars[-1].timestamp_s
        if not _at_least(timestamp_s - self.first_s, WARMUP_S):
            score, occluded, clear, exemplary = float("nan"), False, True, True
            self.last_features = None
            # Taken as clear, a changed warm-up frame needs no quarantine: the recording starts with
            # more than one picture of the face (a face that moves fast is otherwise flagged at once).
            if pose_ok and _at_least(timestamp_s - latest, WARMUP_GAP_S) and measured_change > EXEMPLAR_MIN_CHANGE:
                self.exemplars.append(Exemplar(channels, timestamp_s, brows))
        if not clear:
            self.last_unclear_s, self.pending = timestamp_s, None
        elif exemplary or _at_least(timestamp_s - self.last_unclear_s, LEARN_QUARANTINE_S):  # teaches the scale
            self.recent_change.append(region_change)
            del self.recent_change[:-SCALE_FRAMES]
            self.typical_map = (self.last_map if self.typical_map is None
                                else (1.0 - TYPICAL_RATE) * self.typical_map + TYPICAL_RATE * self.last_map)
        if self.pending is not None and _at_least(timestamp_s - self.pending.timestamp_s, QUARANTINE_S):
            self.exemplars.append(self.pending)
            self.pending = None
            if len(self.exemplars) > MAX_EXEMPLARS:
                del self.exemplars[1]  # the first face stays; the oldest of the others goes
        latest = self.exemplars[-1].timestamp_s
        if (self.pending is None and exemplary and pose_ok and _at_least(timestamp_s - latest, EXEMPLAR_GAP_S)
                and _at_least(timestamp_s - self.last_unclear_s, QUARANTINE_S) and measured_change > EXEMPLAR_MIN_CHANGE):
            self.pending = Exemplar(channels, timestamp_s, brows)
        return score, bool(occluded)
