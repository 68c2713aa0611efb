"""A participant's neutral reference: fitted once on a baseline recording, applied at every visit.

The neutral reference is each component's value on the participant's relaxed face, the
zero of ``frown_intensity``. It has three parts:

* **the level** (:class:`~facefeedback.config.NeutralReference`): the components on the
  relaxed face seen from the front;
* **the pose model** (:class:`PoseModel`, optional): how the relaxed face's components
  change with head pose. Turning the head or raising the chin brings shading of the brow
  ridge and the orbit into the glabellar patch, which reads as lines, and changes the brows'
  geometry a little. A frown measure that ignores it reports the change in how a person sat
  as a change in frowning;
* **the scatter** (``noise``, optional): each component's scatter on the relaxed face, by
  which every change is shrunk (:func:`fit_noise`), so the relaxed face's own wobble is not
  read as an expression.

:func:`calibrate` fits them on a recording's per-frame table (see its docstring for the
rule and the reasoning); :meth:`Calibration.neutral_at` gives the neutral for each frame's
pose, which :func:`~facefeedback.components.intensity.family_terms` scores against.

Every component family (frown, smile) gets its own level, from its own least expressive frames;
the pose model covers every component; each component's scatter is taken over its family's relaxed frames.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from .components.intensity import family_changes, family_intensity, family_terms
from .components.registry import FAMILIES, REGISTRY
from .config import CalibrationConfig, FamilyConfig, NeutralReference
from .errors import InputError
from .files import path_problem, write_json
from .neutral_pose import COMPONENTS, PoseModel, fit_pose_model
from .output_marker import OutputKind


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

    def terms(self, components: dict, yaw, pitch, params: FamilyConfig) -> dict[str, np.ndarray]:
        """Each of a family's components' term against the neutral at the frame's pose, each change
        shrunk by the relaxed face's scatter (see ``family_terms``)."""
        return family_terms(components, self.neutral_at(yaw, pitch), params, self.noise)

    def score(self, components: dict, yaw, pitch, params: FamilyConfig) -> np.ndarray:
        """The family's intensity (``params``: ``config.frown``, ``config.smile``) against the neutral at
        each frame's pose, each component weighted for that pose
        (:func:`~facefeedback.components.intensity.component_weights`) and its change shrunk by the
        relaxed face's scatter (``noise``)."""
        return family_intensity(components, self.neutral_at(yaw, pitch), params, yaw, self.noise)

    def to_json(self) -> dict:
        d = asdict(self)
        d["neutral"] = self.neutral.model_dump()
        d["pose"] = None if self.pose is None else self.pose.to_json()
        return d

    @classmethod
    def from_json(cls, data: dict, origin: str = "calibration") -> Calibration:
        try:
            neutral = NeutralReference.model_validate(_with_later_families(data["neutral"]))
        except ValidationError as exc:  # the neutral's values: name the first bad one
            first = exc.errors()[0]
            where = ".".join(["neutral", *map(str, first["loc"])])
            got = "" if first["type"] == "missing" else f", got {first.get('input')!r}"
            raise InputError(f"{origin}: not a calibration file ({where}: {first['msg']}{got})") from None
        except Exception as exc:  # no neutral, or not a mapping
            raise _not_a_calibration(origin, exc) from None
        try:
            pose = data.get("pose")  # absent in files written before pose models: pose-independent
            noise = data.get("noise")  # absent in files written before it: no shrinkage
            if noise is not None:
                noise = {str(k): float(v) for k, v in noise.items()}
                if set(noise) - set(COMPONENTS) or any(not np.isfinite(v) or v < 0 for v in noise.values()):
                    raise ValueError(f"noise must give a scatter >= 0 for components of {list(COMPONENTS)}")
            return cls(neutral, str(data.get("method", "file")), str(data.get("source", "")),
                       int(data.get("n_frames", 0)), data.get("participant_id"),
                       None if pose is None else PoseModel.from_json(pose), noise)
        except Exception as exc:  # KeyError, wrong types
            raise _not_a_calibration(origin, exc) from None

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        path = Path(path)
        if problem := path_problem(path, "calibration file"):
            raise InputError(problem)
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a calibration file (invalid JSON: {exc})") from None
        return cls.from_json(data, str(path))


def _not_a_calibration(origin: str, exc: Exception) -> InputError:
    return InputError(f"{origin}: not a calibration file ({exc.__class__.__name__}: {str(exc).splitlines()[0]})")


def _with_later_families(neutral: dict) -> dict:
    """A stored neutral, with the population default for each family it has none of (files written
    before that family was measured); a family given in part is an error, reported by the caller."""
    if not isinstance(neutral, dict):
        return neutral
    out = dict(neutral)
    for fam in FAMILIES:
        if not any(name in neutral for name in fam.names):
            out.update({c.name: c.neutral for c in fam.components})
    return out


def calibration_files(folder: str | Path, named_by_participant: bool = False) -> list[str]:
    """Names of the ``*.json`` files in ``folder`` that hold a calibration as facefeedback writes
    it (not someone else's file; one that cannot be read is not recognisably one). With
    ``named_by_participant``, only ``<participant_id>.json`` holding that participant's (a study's
    ``calibration/``: a copy under another name is not one of its files)."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            cal = Calibration.load(path)
        except (InputError, OSError):
            continue
        if not named_by_participant or cal.participant_id == path.stem:
            found.append(path.name)
    return found


#: ``calibrate --out FILE``: the calibration files it wrote into FILE's folder (written before
#: markers: any calibration file there, by its content).
CALIBRATE = OutputKind("calibrate", "a calibration", calibration_files)


def population_calibration(*params: FamilyConfig) -> Calibration:
    """The default reference when a participant has no calibration of their own: each family's
    ``population_neutral`` (``params``: ``config.families()``; a family not given takes the
    registry's default).

    It has no pose model: how a face's components change with pose depends on the face, the
    light and the camera, and the reference faces do not cover head turns to say how.
    """
    level = {c.name: c.neutral for c in REGISTRY.values()}
    for p in params:
        level.update(p.population_neutral.model_dump())
    return Calibration(NeutralReference(**level), "population", "population default (population_neutral)")


def _family_params(params: FamilyConfig | tuple[FamilyConfig, ...]) -> tuple[FamilyConfig, ...]:
    """Settings for every family, in the registry's order: those given, the defaults for the others."""
    from .config import Config

    given = {p.family.name: p for p in ((params,) if isinstance(params, FamilyConfig) else params)}
    return tuple(given.get(d.family.name, d) for d in Config().families())


def calibrate(frames, params: FamilyConfig | tuple[FamilyConfig, ...], rule: CalibrationConfig, source: str = "",
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

    Each family (``params``: ``config.families()``, or one family's settings, the others then taking
    their defaults) gets its level this way from its own components and intensity: the smile's
    neutral is the median over the least *smiling* frames. The frown's least frowning frames pick
    the pose model's pitch reference. A table without a family's columns (measured before the
    family was) keeps that family's population neutral.

    Scatter (``rule.noise_shrinkage``): each component's scatter over the frames its level was
    taken on (:func:`fit_noise`), by which every change is shrunk when scored; a family kept at
    its population neutral has none, and is not shrunk.
    """
    families = _family_params(params)
    frown = families[0]
    ok = frames["valid"].to_numpy(bool)
    valid = ok & frames[list(frown.family.names)].notna().all(axis=1).to_numpy()
    comps = {k: frames[k].to_numpy(np.float64) for k in COMPONENTS if k in frames.columns}
    has_pose = {"yaw", "pitch"} <= set(frames.columns)
    yaw = frames["yaw"].to_numpy(np.float64) if has_pose else np.zeros(len(frames))
    pitch = frames["pitch"].to_numpy(np.float64) if has_pose else np.zeros(len(frames))
    segment = rule.segment_start_s is not None or rule.segment_end_s is not None
    inside = np.ones(len(frames), bool)
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
            provisional = family_intensity(comps, frown.population_neutral, frown, yaw)
            calm &= provisional <= np.nanmedian(provisional[valid])
    pose = fit_pose_model(comps, yaw, pitch, fit_on, calm) if rule.pose_model and has_pose else None
    if pose is not None:
        shift = pose.log_shift(yaw, pitch)
        comps = {k: comps[k] * np.exp(-shift[k]) for k in comps}
    level: dict[str, float] = {}
    noise: dict[str, float] | None = {} if rule.noise_shrinkage else None
    n_frames = 0
    for fam in families:
        names = fam.family.names
        if not all(k in comps for k in names):
            level.update(fam.population_neutral.model_dump())
            continue
        sub = {k: comps[k] for k in names}
        fam_valid = ok & np.isfinite(np.column_stack([sub[k] for k in names])).all(axis=1)
        pick = fam_valid & inside
        if not segment:
            provisional = family_intensity(sub, fam.population_neutral, fam, yaw)
            if pick.any():
                pick &= provisional <= np.nanpercentile(provisional[fam_valid], rule.percentile)
        n = int(pick.sum())
        if n < rule.min_frames:
            what = "" if fam is frown else f" ({fam.family.name})"
            raise InputError(f"{source or 'recording'}: only {n} valid neutral frames for calibration{what} "
                             f"(need {rule.min_frames}); check the face is visible and frontal")
        fam_level = {k: float(np.median(sub[k][pick])) for k in names}
        if not segment and rule.refine_below is not None:
            fam_level, pick = _refine_level(sub, yaw, fam_valid, fam_level, pick, rule, fam)
        level.update(fam_level)
        if noise is not None:
            noise.update(fit_noise(sub, fam_level, pick, fam))
        n_frames = n_frames or int(pick.sum())
    method = "segment" if segment else "percentile"
    return Calibration(NeutralReference(**level), method, source, n_frames, participant_id, pose, noise)


def fit_noise(components: dict[str, np.ndarray], level: dict[str, float], relaxed: np.ndarray,
              params: FamilyConfig) -> dict[str, float]:
    """Each of a family's components' scatter on the relaxed face: 1.4826 x the median absolute
    deviation of its change from ``level`` (:func:`~facefeedback.components.intensity.family_changes`;
    ``components`` already divided by the pose model) over the ``relaxed`` frames.
    :func:`~facefeedback.components.intensity.family_terms` shrinks each change by it, so the relaxed
    face's own wobble (webcam compression on a smooth glabella, the brows' small moves as the gaze
    shifts), which depends on the face and the camera, counts little, while expressions, many
    scatters away, keep nearly all (README, "The participant's neutral").
    """
    out = {}
    for k, change in family_changes(components, level, params).items():
        x = change[relaxed][np.isfinite(change[relaxed])]
        out[k] = float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else 0.0
    return out


def _refine_level(comps: dict[str, np.ndarray], yaw: np.ndarray, valid: np.ndarray, level: dict[str, float],
                  pick: np.ndarray, rule: CalibrationConfig, params: FamilyConfig
                  ) -> tuple[dict[str, float], np.ndarray]:
    """The median over the valid frames scoring below ``rule.refine_below`` against the neutral, to a fixed point."""
    for _ in range(30):
        score = family_intensity(comps, level, params, yaw)
        keep = valid & (score < rule.refine_below)
        if keep.sum() < rule.min_frames:
            break
        new = {k: float(np.median(comps[k][keep])) for k in comps}
        level, pick, settled = new, keep, all(abs(new[k] / level[k] - 1.0) < 1e-6 for k in comps)
        if settled:
            break
    return level, pick
