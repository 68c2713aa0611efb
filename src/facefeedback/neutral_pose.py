"""How a relaxed face's components change with head pose: the pose model of a participant's neutral.

Turning the head or raising the chin brings shading of the brow ridge and the orbit into the
glabellar patch, which reads as lines, and changes the face's geometry a little. The pose model,
fitted on a calibration recording (:func:`fit_pose_model`) and stored with the calibration,
says how each component's neutral moves with yaw and pitch (:class:`PoseModel`); see
:mod:`facefeedback.calibration`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .components.registry import REGISTRY, family

#: Every component.
COMPONENTS = tuple(REGISTRY)
#: The way each component moves in its expression (a frown: brows drawn together and down, more lines).
EXPRESSION_SIGN = {c.name: float(c.direction) for c in REGISTRY.values()}
#: Components whose pose dependence is fitted where their family's others are at rest (the
#: registry's ``Family.pose_fit``), each with those others.
AT_REST_OTHERS = {c.name: tuple(o for o in family(c.family).components if o is not c)
                  for c in REGISTRY.values() if family(c.family).pose_fit == "others_at_rest"}
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

    A family whose registry entry says ``pose_fit="others_at_rest"`` (the smile) is fitted otherwise,
    because its pose effects go the other way (turned, Face Mesh draws the relaxed mouth narrower;
    with the chin raised, the cheeks lower: *less* like a smile) and a smile tilts Face Mesh's pitch
    little (0.14 deg in a full synthetic smile, against 0.6-0.9 deg in a frown). Each of its
    components is fitted, at the median and with coefficients of either sign, on the frames where
    every other component of the family is at rest: at or on the relaxed side of its median over the
    recording. A smile moves its components together (the mouth corners with the cheeks), so those
    frames hold little smile, and the component's change with pose there is pose's, even when the
    participant smiles more at one pose than at another (someone who turns to the camera to laugh),
    which a fit on all frames would take for pose.

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
    for k in components:
        sign = EXPRESSION_SIGN[k]
        quantile = POSE_QUANTILE if sign > 0 else 1.0 - POSE_QUANTILE
        # A raised chin (pitch above the reference) and a turned head may only look more like a frown.
        with np.errstate(invalid="ignore", divide="ignore"):
            target = np.log(components[k][use][::step])
        fit = np.isfinite(target)  # a component not measured in some frames is fitted on the others
        if k in AT_REST_OTHERS:
            fit &= _others_at_rest(components, AT_REST_OTHERS[k], use)[::step]
            sign, quantile = 0.0, 0.5
        if fit.sum() < POSE_MIN_FRAMES:  # too few to fit: the component's neutral does not follow pose
            coef[k] = (0.0,) * len(POSE_TERMS)
            continue
        b = _quantile_regression(design[::step][fit], target[fit], quantile, sign)
        full = np.zeros(len(POSE_TERMS))
        full[columns] = b
        coef[k] = tuple(float(c) for c in full)
    return PoseModel(model.yaw_max_deg, model.pitch_ref_deg, model.pitch_min_deg, model.pitch_max_deg, coef)


def _others_at_rest(components: dict[str, np.ndarray], others, use: np.ndarray) -> np.ndarray:
    """Over the frames in ``use``: every one of ``others`` is at or on the relaxed side of its median
    (below it for a component that grows in the expression); a component absent counts as at rest."""
    rest = np.ones(int(use.sum()), bool)
    for o in others:
        if o.name not in components:
            continue
        values = components[o.name][use]
        finite = np.isfinite(values)
        if not finite.any():
            continue
        rest &= finite & (o.direction * (values - np.median(values[finite])) <= 0)
    return rest


def _quantile_regression(x: np.ndarray, y: np.ndarray, quantile: float, sign: float) -> np.ndarray:
    """Slopes of the linear quantile regression of ``y`` on ``x`` (with an intercept), each slope
    constrained to ``sign`` (>= 0 for +1, <= 0 for -1, free for 0); a linear programme (HiGHS)."""
    from scipy.optimize import linprog
    from scipy.sparse import csc_matrix, hstack, identity

    n, p = x.shape
    # y = a + x b + u - v, u, v >= 0; minimise quantile * sum(u) + (1 - quantile) * sum(v)
    a_eq = hstack([csc_matrix(np.column_stack([np.ones(n), x])), identity(n, format="csc"),
                   -identity(n, format="csc")], format="csc")
    cost = np.r_[np.zeros(p + 1), np.full(n, quantile), np.full(n, 1.0 - quantile)]
    slope = (0.0, None) if sign > 0 else (None, 0.0) if sign < 0 else (None, None)
    bounds = [(None, None)] + [slope] * p + [(0.0, None)] * (2 * n)
    result = linprog(cost, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    if not result.success:  # pragma: no cover - a bounded, feasible programme
        return np.zeros(p)
    return result.x[1:p + 1]
