"""A participant's neutral reference: fitted once on a baseline recording, applied at every visit.

The neutral reference is each component's value on the participant's relaxed face, the
zero of ``frown_intensity``. It has two parts:

* **the level** (:class:`~facefeedback.config.NeutralReference`): the components on the
  relaxed face seen from the front;
* **the pose model** (:class:`PoseModel`, optional): how the relaxed face's components
  change with head pose. Turning the head or raising the chin brings shading of the brow
  ridge and the orbit into the glabellar patch, which reads as lines, and changes the brows'
  geometry a little. A frown measure that ignores it reports the change in how a person sat
  as a change in frowning.

:func:`calibrate` fits both on a recording's per-frame table (see its docstring for the
rule and the reasoning); :meth:`Calibration.neutral_at` gives the neutral for each frame's
pose, which :func:`~facefeedback.frown.frown_terms` scores against.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import CalibrationConfig, FrownConfig, NeutralReference
from .errors import InputError
from .files import write_json
from .frown import frown_changes, frown_intensity, frown_terms
from .schema import COMPONENTS

#: The way each component moves in a frown (brows drawn together and down, more lines).
FROWN_SIGN = {"brow_gap": -1.0, "brow_lowering": -1.0, "glabella_lines": 1.0}
#: |yaw| within which the relaxed face is taken as the frontal one (deg). A frown moves Face
#: Mesh's yaw by well under a degree, so it can never reach the pose terms.
POSE_YAW_DEAD_DEG = 5.0
#: Quantile, taken on the side away from frowning, at which the pose dependence is fitted: the
#: relaxed face's own scatter at each pose, little moved by the frowns the recording may hold.
POSE_QUANTILE = 0.2
#: Frames a pose term needs: on each side of frontal for yaw (the yaw term is symmetric).
POSE_MIN_FRAMES = 15
#: Pitch range (5th to 95th percentile) a recording needs for the pitch term (deg).
POSE_MIN_PITCH_RANGE_DEG = 10.0
#: At most this many frames, spread evenly over the recording, enter the pose fit.
POSE_FIT_MAX_FRAMES = 4000
#: The names of the pose model's terms, in the order of its coefficients.
POSE_TERMS = ("yaw", "yaw_sq", "pitch")


@dataclass(frozen=True)
class PoseModel:
    """How the relaxed face's components change with head pose, on the log scale.

    For a frame at ``yaw``, ``pitch`` (degrees), with ``h = max(0, min(|yaw|, yaw_max_deg) -
    yaw_dead_deg)`` and ``d = pitch - pitch_ref_deg`` clipped to ``[pitch_min_deg, pitch_max_deg]``,
    each component's neutral is multiplied by ``exp(c_yaw h + c_yaw_sq h^2 + c_pitch d)``. The
    clamps keep the model inside the pose range the calibration recording covered: beyond it,
    the neutral stays at its value at the edge.
    """

    yaw_max_deg: float
    pitch_ref_deg: float
    pitch_min_deg: float
    pitch_max_deg: float
    #: Per component, the coefficients of POSE_TERMS.
    coef: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    yaw_dead_deg: float = POSE_YAW_DEAD_DEG

    def terms(self, yaw, pitch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's three terms for arrays (or scalars) of yaw and pitch."""
        yaw = np.asarray(yaw, dtype=np.float64)
        pitch = np.asarray(pitch, dtype=np.float64)
        h = np.maximum(np.minimum(np.abs(yaw), self.yaw_max_deg) - self.yaw_dead_deg, 0.0)
        d = np.clip(pitch - self.pitch_ref_deg, self.pitch_min_deg, self.pitch_max_deg)
        return h, h * h, d

    def log_shift(self, yaw, pitch) -> dict[str, np.ndarray]:
        """Each component's change of log neutral at the given pose (NaN where the pose is)."""
        h, h2, d = self.terms(yaw, pitch)
        return {k: c[0] * h + c[1] * h2 + c[2] * d for k, c in self.coef.items()}

    def to_json(self) -> dict:
        d = asdict(self)
        d["coef"] = {k: dict(zip(POSE_TERMS, map(float, c))) for k, c in self.coef.items()}
        return d

    @classmethod
    def from_json(cls, data: dict) -> PoseModel:
        coef = {str(k): tuple(float(c[t]) for t in POSE_TERMS) for k, c in data["coef"].items()}
        unknown = set(coef) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown component(s) {sorted(unknown)}")
        return cls(float(data["yaw_max_deg"]), float(data["pitch_ref_deg"]), float(data["pitch_min_deg"]),
                   float(data["pitch_max_deg"]), coef, float(data.get("yaw_dead_deg", POSE_YAW_DEAD_DEG)))


@dataclass(frozen=True)
class Calibration:
    """A participant's neutral reference, and where it came from.

    ``pose`` is None for a pose-independent reference: the population default, a recording
    without enough head movement to fit one, and calibration files written before pose models.
    ``noise`` is None where a change is not shrunk by the relaxed face's scatter (the population
    default, files written before it, ``calibration.noise_shrinkage`` false).
    """

    neutral: NeutralReference
    method: str  # "population", "percentile" or "segment"
    source: str = ""
    n_frames: int = 0
    participant_id: str | None = None
    pose: PoseModel | None = None
    #: Each component's scatter on the relaxed face (:func:`fit_noise`), or None: no shrinkage.
    noise: dict[str, float] | None = None

    def neutral_at(self, yaw, pitch) -> dict[str, np.ndarray | float]:
        """Each component's neutral value at the given head pose (arrays or scalars)."""
        base = self.neutral.model_dump()
        if self.pose is None:
            return base
        shift = self.pose.log_shift(yaw, pitch)
        return {k: base[k] * np.exp(shift[k]) if k in shift else base[k] for k in COMPONENTS}

    def terms(self, components: dict, yaw, pitch, params: FrownConfig) -> dict[str, np.ndarray]:
        """Each component's frown term against the neutral at the frame's pose (see ``frown_terms``)."""
        return frown_terms(components, self.neutral_at(yaw, pitch), params, self.noise)

    def score(self, components: dict, yaw, pitch, params: FrownConfig) -> np.ndarray:
        """``frown_intensity`` against the neutral at each frame's pose, each component weighted for
        that pose (:func:`~facefeedback.frown.component_weights`), each change shrunk by the
        relaxed face's scatter (``noise``)."""
        return frown_intensity(components, self.neutral_at(yaw, pitch), params, yaw, self.noise)

    def to_json(self) -> dict:
        d = asdict(self)
        d["neutral"] = self.neutral.model_dump()
        d["pose"] = None if self.pose is None else self.pose.to_json()
        return d

    @classmethod
    def from_json(cls, data: dict, origin: str = "calibration") -> Calibration:
        try:
            neutral = NeutralReference.model_validate(data["neutral"])
            pose = data.get("pose")  # absent in files written before pose models: pose-independent
            noise = data.get("noise")  # absent in files written before it: no shrinkage
            if noise is not None:
                noise = {str(k): float(v) for k, v in noise.items()}
                if set(noise) - set(COMPONENTS) or any(not np.isfinite(v) or v < 0 for v in noise.values()):
                    raise ValueError(f"noise must give a scatter >= 0 for components of {list(COMPONENTS)}")
            return cls(neutral, str(data.get("method", "file")), str(data.get("source", "")),
                       int(data.get("n_frames", 0)), data.get("participant_id"),
                       None if pose is None else PoseModel.from_json(pose), noise)
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


def is_calibration_file(path: str | Path) -> bool:
    """True when ``path`` holds a calibration as facefeedback writes it (not someone else's file)."""
    try:
        Calibration.load(path)
    except InputError:
        return False
    return True


def population_calibration(params: FrownConfig) -> Calibration:
    """The default reference when a participant has no calibration of their own.

    It has no pose model: how a face's components change with pose depends on the face, the
    light and the camera, and the reference faces do not cover head turns to say how.
    """
    return Calibration(params.population_neutral, "population", "population default (frown.population_neutral)")


def calibrate(frames, params: FrownConfig, rule: CalibrationConfig, source: str = "",
              participant_id: str | None = None) -> Calibration:
    """Fit a participant's neutral reference from a recording's per-frame table.

    Pose model (``rule.pose_model``; needs the table's ``yaw`` and ``pitch``): see
    :func:`fit_pose_model`. It is fitted on the valid frames of the segment, or of the whole
    recording, and each component is divided by it before the level is taken, so the level is
    that of the relaxed face seen from the front.

    Level, with ``rule.segment_start_s``/``segment_end_s``: the median of each component over
    the valid frames of that segment (the participant was asked to keep a neutral face).
    Otherwise: the frames whose frown_intensity against the population default is at or below
    ``rule.percentile`` (the least frowning part of the recording), and the median of each
    component over them; then, with ``rule.refine_below``, the median over every valid frame
    scoring below ``refine_below`` FU against that neutral, repeated until it settles.

    Why the refinement: the least-frowning frames are picked partly *because* their noise
    happened to point away from frowning, so their median sits at the relaxed face's low end
    (on recordings where nobody frowns, at the 10th percentile of ``glabella_lines``), and every
    ordinary relaxed frame then reads as a little frowning. Frames below the events' end
    threshold (0.2 FU) are not frowning by the instrument's own rule; their median is the
    relaxed face's centre. Frowns stay out as long as at least a fifth of the recording is
    relaxed, the percentile rule's own condition.
    """
    valid = frames["valid"].to_numpy(bool) & frames[list(COMPONENTS)].notna().all(axis=1).to_numpy()
    comps = {k: frames[k].to_numpy(np.float64) for k in COMPONENTS}
    has_pose = {"yaw", "pitch"} <= set(frames.columns)
    yaw = frames["yaw"].to_numpy(np.float64) if has_pose else np.zeros(len(frames))
    pitch = frames["pitch"].to_numpy(np.float64) if has_pose else np.zeros(len(frames))
    segment = rule.segment_start_s is not None or rule.segment_end_s is not None
    if segment:
        t = frames["timestamp_s"].to_numpy()
        lo = rule.segment_start_s or 0.0
        hi = rule.segment_end_s if rule.segment_end_s is not None else np.inf
        inside = (t >= lo) & (t < hi)
        if len(t) and not inside.any():
            raise InputError(f"{source or 'recording'}: the calibration segment {lo:g}-{hi:g} s holds no "
                             f"frame: the recording runs from {t.min():.2f} to {t.max():.2f} s")
        fit_on = calm = valid & inside
    else:
        fit_on = valid
        calm = valid.copy()
        if valid.any():  # pitch reference: the least-frowning half (a frown tilts Face Mesh's pitch)
            provisional = frown_intensity(comps, params.population_neutral, params, yaw)
            calm &= provisional <= np.nanmedian(provisional[valid])
    pose = fit_pose_model(comps, yaw, pitch, fit_on, calm) if rule.pose_model and has_pose else None
    if pose is not None:
        shift = pose.log_shift(yaw, pitch)
        comps = {k: comps[k] * np.exp(-shift[k]) for k in COMPONENTS}
    if segment:
        pick = fit_on
        method = "segment"
    else:
        provisional = frown_intensity(comps, params.population_neutral, params, yaw)
        pick = valid.copy()
        if pick.any():
            pick &= provisional <= np.nanpercentile(provisional[valid], rule.percentile)
        method = "percentile"
    n = int(pick.sum())
    if n < rule.min_frames:
        raise InputError(f"{source or 'recording'}: only {n} valid neutral frames for calibration "
                         f"(need {rule.min_frames}); check the face is visible and frontal")
    level = {k: float(np.median(comps[k][pick])) for k in COMPONENTS}
    if not segment and rule.refine_below is not None:
        level, pick = _refine_level(comps, yaw, valid, level, pick, rule, params)
    noise = fit_noise(comps, NeutralReference(**level), pick) if rule.noise_shrinkage else None
    return Calibration(NeutralReference(**level), method, source, int(pick.sum()), participant_id, pose, noise)


def fit_noise(components: dict[str, np.ndarray], level: NeutralReference, relaxed: np.ndarray) -> dict[str, float]:
    """Each component's scatter on the relaxed face: 1.4826 x the median absolute deviation of its
    change from ``level`` (:func:`~facefeedback.frown.frown_changes`; ``components`` already divided
    by the pose model) over the ``relaxed`` frames. :func:`~facefeedback.frown.frown_terms` shrinks
    each change by it, so the relaxed face's own wobble (webcam compression on a smooth glabella,
    the brows' small moves as the gaze shifts), which depends on the face and the camera, counts
    little, while frowns, many scatters away, keep nearly all (README, "The participant's neutral").
    """
    out = {}
    for k, change in frown_changes(components, level).items():
        x = change[relaxed][np.isfinite(change[relaxed])]
        out[k] = float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else 0.0
    return out



def _refine_level(comps: dict[str, np.ndarray], yaw: np.ndarray, valid: np.ndarray, level: dict[str, float],
                  pick: np.ndarray, rule: CalibrationConfig, params: FrownConfig
                  ) -> tuple[dict[str, float], np.ndarray]:
    """The median over the valid frames scoring below ``rule.refine_below`` against the neutral, to a fixed point."""
    for _ in range(30):
        score = frown_intensity(comps, NeutralReference(**level), params, yaw)
        keep = valid & (score < rule.refine_below)
        if keep.sum() < rule.min_frames:
            break
        new = {k: float(np.median(comps[k][keep])) for k in COMPONENTS}
        level, pick, settled = new, keep, all(abs(new[k] / level[k] - 1.0) < 1e-6 for k in COMPONENTS)
        if settled:
            break
    return level, pick


def fit_pose_model(components: dict[str, np.ndarray], yaw: np.ndarray, pitch: np.ndarray, use: np.ndarray,
                   calm: np.ndarray | None = None) -> PoseModel | None:
    """How the relaxed face's components change with head pose, from one recording.

    Each component's log is regressed on the pose terms of :class:`PoseModel` at the
    ``POSE_QUANTILE`` on the side away from frowning (the 20th percentile of ``glabella_lines``,
    the 80th of the two distances), over the frames in ``use``. The terms are chosen so that a
    frown cannot produce them or be taken for them:

    * **yaw** enters as ``|yaw|`` beyond ``POSE_YAW_DEAD_DEG``, linear and squared: a frown does
      not turn the head, and the same dependence holds on both sides, so relaxed frames turned
      one way anchor the model where a participant happened to frown turned the other way. It is
      fitted only up to the |yaw| reached on *both* sides (99th percentile of each side, at least
      ``POSE_MIN_FRAMES`` frames each) and only with ``POSE_MIN_FRAMES`` frames beyond the dead zone.
    * **pitch** enters linearly around the pitch of the least-frowning frames (``calm``), only
      when the recording covers ``POSE_MIN_PITCH_RANGE_DEG``. Lowered brows tilt Face Mesh's
      estimated pose chin-down (about 0.7 deg in a full synthetic frown), so each coefficient is
      constrained to make a raised chin look *more* like a frown (more lines, lower and closer
      brows; zero when the data say otherwise): a frown's chin-down bias then moves its neutral
      away from frowning, never towards it, and cannot be absorbed.
    * every coefficient likewise says that turning the head can make the relaxed face look more
      like a frown, never less, which is what shading of the brow ridge does.

    Returns None when the recording has no usable range of either yaw or pitch.
    """
    use = np.asarray(use, bool) & np.isfinite(yaw) & np.isfinite(pitch)
    calm = use if calm is None else np.asarray(calm, bool) & use
    if not calm.any():
        calm = use
    if use.sum() < POSE_MIN_FRAMES:
        return None
    y, p = yaw[use], pitch[use]

    def reach(side: np.ndarray) -> float:
        return float(np.quantile(side, 0.99)) if side.size >= POSE_MIN_FRAMES else 0.0

    yaw_max = min(reach(y[y > 0]), reach(-y[y < 0]))
    pitch_ref = float(np.median(pitch[calm]))
    lo, hi = (float(v) for v in np.quantile(p - pitch_ref, [0.01, 0.99]))
    model = PoseModel(yaw_max, pitch_ref, lo, hi)
    h, h2, d = model.terms(y, p)
    yaw_on = yaw_max > POSE_YAW_DEAD_DEG and int((h > 0).sum()) >= POSE_MIN_FRAMES
    pitch_on = float(np.quantile(p, 0.95) - np.quantile(p, 0.05)) >= POSE_MIN_PITCH_RANGE_DEG
    if not (yaw_on or pitch_on):
        return None
    if not yaw_on:
        model = PoseModel(0.0, pitch_ref, lo, hi)
    if not pitch_on:
        model = PoseModel(model.yaw_max_deg, pitch_ref, 0.0, 0.0)
    columns = [i for i, on in ((0, yaw_on), (1, yaw_on), (2, pitch_on)) if on]
    design = np.column_stack([h, h2, d])[:, columns]
    step = max(1, int(np.ceil(len(y) / POSE_FIT_MAX_FRAMES)))
    coef = {}
    for k in COMPONENTS:
        sign = FROWN_SIGN[k]
        quantile = POSE_QUANTILE if sign > 0 else 1.0 - POSE_QUANTILE
        # A raised chin (pitch above the reference) and a turned head may only look more like a frown.
        b = _quantile_regression(design[::step], np.log(components[k][use][::step]), quantile, sign)
        full = np.zeros(len(POSE_TERMS))
        full[columns] = b
        coef[k] = tuple(float(c) for c in full)
    return PoseModel(model.yaw_max_deg, model.pitch_ref_deg, model.pitch_min_deg, model.pitch_max_deg, coef)


def _quantile_regression(x: np.ndarray, y: np.ndarray, quantile: float, sign: float) -> np.ndarray:
    """Slopes of the linear quantile regression of ``y`` on ``x`` (with an intercept), each slope
    constrained to ``sign`` (>= 0 for +1, <= 0 for -1); a linear programme (HiGHS)."""
    from scipy.optimize import linprog
    from scipy.sparse import csc_matrix, hstack, identity

    n, p = x.shape
    # y = a + x b + u - v, u, v >= 0; minimise quantile * sum(u) + (1 - quantile) * sum(v)
    a_eq = hstack([csc_matrix(np.column_stack([np.ones(n), x])), identity(n, format="csc"),
                   -identity(n, format="csc")], format="csc")
    cost = np.r_[np.zeros(p + 1), np.full(n, quantile), np.full(n, 1.0 - quantile)]
    slope = (0.0, None) if sign > 0 else (None, 0.0)
    bounds = [(None, None)] + [slope] * p + [(0.0, None)] * (2 * n)
    result = linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    if not result.success:  # pragma: no cover - a bounded, feasible programme
        return np.zeros(p)
    return result.x[1:p + 1]
