"""Settings: a YAML file loaded into a typed, versioned model; unknown keys are rejected.

``facefeedback/data/default.yaml`` (in the package; ``facefeedback config --show``
prints it) holds the shipped defaults, the same values as the models below; a
user's file overrides any subset. Every output saves the
resolved config next to it, and :func:`config_hash` keys cached results.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from .components.registry import FAMILIES, FROWN, REGISTRY, SMILE, Component, Family
from .errors import ConfigError
from .files import path_problem
from .textrows import closest

CONFIG_VERSION = 1


class StrictModel(BaseModel):
    """Settings models reject unknown keys, non-finite numbers (``.nan``, ``.inf``) and true/false
    where a number goes (pydantic reads ``stride: true`` as 1), and are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_flag_for_a_number(cls, value, info):
        if _holds_a_flag(value) and _numbers_only(cls.model_fields[info.field_name].annotation):
            raise ValueError("expected a number, not true or false")
        return value


def _holds_a_flag(value) -> bool:
    """Whether ``value``, or a value in it (a list's, a mapping's), is true or false."""
    if isinstance(value, bool):
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return any(_holds_a_flag(v) for v in items)


def _numbers_only(annotation) -> bool:
    """Whether the values a field holds (through Optional, lists, tuples, mappings' values and
    Literal) are numbers and never true or false (whose YAML pydantic would take as 1 and 0)."""
    leaves, stack = set(), [annotation]
    while stack:
        t = stack.pop()
        if typing.get_origin(t) is Literal:
            leaves.update(type(v) for v in typing.get_args(t))
        elif typing.get_origin(t) is dict:
            stack.append(typing.get_args(t)[1])
        elif typing.get_args(t):
            stack.extend(typing.get_args(t))
        else:
            leaves.add(t)
    return bool(leaves & {int, float}) and bool not in leaves




class InputConfig(StrictModel):
    stride: int = Field(1, ge=1, description="keep every n-th frame of a video")
    start_s: float | None = Field(None, ge=0, description="first time to read (s)")
    end_s: float | None = Field(None, gt=0, description="time to stop reading (s)")
    max_side: int | None = Field(1920, ge=64, description="downscale frames whose longer side exceeds this "
                                 "(px): 1080p is measured as recorded, 4K at 1920x1080")

    @model_validator(mode="after")
    def _ordered(self) -> InputConfig:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must come after start_s ({self.start_s:g})")
        return self


class LandmarkConfig(StrictModel):
    max_faces: int = Field(2, ge=1, le=10, description="faces measured in a still image; with "
                           "face_count_interval_s 0, faces looked for in each video frame")
    face_count_interval_s: float = Field(1.0, ge=0, description="video: count the faces in view (n_faces) "
                                         "this often (s) and whenever the participant's track is lost or "
                                         "taken up; 0: look for max_faces faces in every frame (slower)")
    min_detection_confidence: float = Field(0.5, gt=0, lt=1)
    min_tracking_confidence: float = Field(0.5, gt=0, lt=1)
    model_path: str | None = Field(None, description="face_landmarker.task for the blendshape backend")


class QCConfig(StrictModel):
    max_abs_yaw: float = Field(25.0, gt=0, le=90, description="|yaw| limit for a valid frame (deg)")
    max_abs_pitch: float = Field(20.0, gt=0, le=90, description="|pitch| limit for a valid frame (deg)")
    min_sharpness: float = Field(0.15, ge=0, description="sharpness (fine-to-coarse structure ratio of the face) "
                                 "below which a frame is too blurred")
    min_brightness: float = Field(25.0, ge=0, le=255, description="face too dark below this mean grey level")
    max_brightness: float = Field(240.0, ge=0, le=255, description="face washed out above this mean grey level")
    min_iod_px: float = Field(40.0, ge=0, description="face too small below this inter-ocular distance (px)")
    max_clipped_fraction: float = Field(0.2, ge=0, le=1, description="overexposed above this share of the "
                                        "glabella's grey texture lost to clipped channels")
    max_occlusion_score: float = Field(0.0, description="occluded above this occlusion score (the shipped "
                                       "model's log-odds; higher flags fewer frames)")

    @model_validator(mode="after")
    def _brightness_order(self) -> QCConfig:
        if self.min_brightness >= self.max_brightness:
            raise ValueError("min_brightness must be below max_brightness")
        return self


def _neutral_model(name: str, components: tuple[Component, ...], doc: str) -> type[StrictModel]:
    """A settings model with one positive value per component (each component's neutral)."""
    fields = {c.name: (float, Field(gt=0, description=f"{c.name} on a neutral face ({c.unit})"))
              for c in components}
    return create_model(name, __base__=StrictModel, __doc__=doc, **fields)


#: Values of every registered component on a neutral face (the zero of each family's intensity).
NeutralReference = _neutral_model("NeutralReference", tuple(REGISTRY.values()),
                                  "Values of every component on a neutral face (the zero of each intensity).")
#: The frown components' neutral values (``frown.population_neutral``).
FrownNeutral = _neutral_model("FrownNeutral", FROWN.components,
                              "Values of the frown components on a neutral face (the zero of frown_intensity).")
#: The smile components' neutral values (``smile.population_neutral``).
SmileNeutral = _neutral_model("SmileNeutral", SMILE.components,
                              "Values of the smile components on a neutral face (the zero of smile_intensity).")


class FamilyConfig(StrictModel):
    """How a family's components combine into its intensity (see the README's formula): each
    component's weight, its change in a typical full expression (the intensity's unit; relative
    for distances, natural-log ratio for the lines) and its population neutral."""

    family: ClassVar[Family]

    @property
    def full_change(self) -> dict[str, float]:
        """Each component's change in a typical full expression (``full_frown``, ``full_smile``)."""
        return getattr(self, self.family.full_key)

    @model_validator(mode="after")
    def _complete(self) -> FamilyConfig:
        names = self.family.names
        for name in ("weights", self.family.full_key):
            table = getattr(self, name)
            if set(table) != set(names):
                raise ValueError(f"{name} must give {', '.join(names[:-1])} and {names[-1]}")
            if any(v < 0 for v in table.values()) or (name != "weights" and any(v <= 0 for v in table.values())):
                raise ValueError(f"{name} values must be positive")
        if sum(self.weights.values()) <= 0:
            raise ValueError("weights must not all be 0")
        return self


def _family_config(fam: Family, neutral: type[StrictModel]) -> type[FamilyConfig]:
    keys = Literal[fam.names]  # type: ignore[valid-type]
    fields = {
        "weights": (dict[keys, float], Field(default_factory=lambda: {c.name: c.weight for c in fam.components})),
        fam.full_key: (dict[keys, float], Field(default_factory=lambda: {c.name: c.full_change
                                                                         for c in fam.components})),
        "population_neutral": (neutral, neutral(**{c.name: c.neutral for c in fam.components})),
    }
    model = create_model(f"{fam.name.title()}Config", __base__=FamilyConfig,
                         __doc__=f"How the {fam.name} components combine into {fam.intensity}.", **fields)
    model.family = fam
    return model


FrownConfig = _family_config(FROWN, FrownNeutral)
SmileConfig = _family_config(SMILE, SmileNeutral)


class CalibrationConfig(StrictModel):
    percentile: float = Field(20.0, gt=0, le=50, description="neutral = frames at or below this percentile of frowning")
    segment_start_s: float | None = Field(None, ge=0, description="neutral segment start (s), instead of the percentile")
    segment_end_s: float | None = Field(None, gt=0, description="neutral segment end (s)")
    min_frames: int = Field(5, ge=1, description="valid frames needed to calibrate")
    refine_below: float | None = Field(0.2, gt=0, description="percentile rule: re-centre the neutral on every "
                                       "valid frame scoring below this (FU) against it; null keeps the median "
                                       "of the least frowning frames")
    pose_model: bool = Field(True, description="fit how the neutral face's components change with head pose "
                             "(yaw; pitch when the recording covers 10 deg) and follow it at every visit")
    noise_shrinkage: bool = Field(True, description="shrink each component's change by its scatter on the "
                                  "participant's relaxed face, x^3 / (x^2 + scatter^2), so that the relaxed "
                                  "face's own wobble is not read as frowning")

    @model_validator(mode="after")
    def _segment(self) -> CalibrationConfig:
        start, end = self.segment_start_s, self.segment_end_s  # one alone runs from 0 or to the end
        if start is not None and end is not None and end <= start:
            raise ValueError(f"segment_end_s ({end:g}) must come after segment_start_s ({start:g})")
        return self


class EventConfig(StrictModel):
    """Events of every family's intensity (frown and smile episodes), in its own units."""

    on_threshold: float = Field(0.35, gt=0, description="intensity that starts an event")
    off_threshold: float = Field(0.20, ge=0, description="intensity below which an event ends")
    min_duration_s: float = Field(0.3, ge=0, description="shorter episodes are not events")
    max_gap_s: float = Field(0.25, ge=0, description="invalid or missing frames bridged inside an event")
    # Trials of an events file (trials.py): windows in seconds from each trial's onset.
    baseline_window_s: tuple[float, float] = Field((-1.0, 0.0), description="a trial's baseline window "
                                                   "[start, end] (s from onset)")
    response_window_s: tuple[float, float] | None = Field(None, description="a trial's response window "
                                                          "[start, end] (s from onset); null: 0 to its duration")
    min_valid_fraction: float = Field(0.5, ge=0, le=1, description="a trial whose baseline or response window "
                                      "is valid for less than this share of its time is left out of the means")

    @model_validator(mode="after")
    def _order(self) -> EventConfig:
        if self.off_threshold > self.on_threshold:
            raise ValueError("off_threshold must not exceed on_threshold")
        for name in ("baseline_window_s", "response_window_s"):
            window = getattr(self, name)
            if window is not None and not window[0] < window[1]:
                raise ValueError(f"{name} must be [start, end] with start < end")
        return self


class ComparabilityConfig(StrictModel):
    """How far two visits' imaging conditions may differ and stay within the range the measure is
    validated for; each bound is what the validated re-renderings did to that condition on real
    recordings (docs/study.md, "Visit comparability"; scripts/derive_comparability_bounds.py).
    A ratio bound r accepts follow-up / baseline between 1/r and r."""

    max_iod_ratio: float = Field(2.04, ge=1, description="face size ratio (half resolution)")
    max_brightness_ratio: float = Field(2.24, ge=1, description="brightness ratio (exposure x0.45-x1.5)")
    max_contrast_ratio: float = Field(1.65, ge=1, description="log_contrast ratio (tone curve gamma 0.6-1.5)")
    max_focus_ratio: float = Field(3.26, ge=1, description="focus ratio (blur up to sigma 1.5 px)")
    max_noise_difference: float = Field(2.63, ge=0, description="noise one visit has on top of the other's, "
                                        "grey levels in quadrature (sigma 4 at x0.45 exposure)")
    max_pose_spread_difference: float = Field(15.0, ge=0, description="difference of yaw or pitch spread (deg); "
                                              "provisional: re-rendering moves no head")


class Config(StrictModel):
    config_version: Literal[1] = CONFIG_VERSION
    input: InputConfig = InputConfig()
    landmarks: LandmarkConfig = LandmarkConfig()
    qc: QCConfig = QCConfig()
    frown: FrownConfig = FrownConfig()
    smile: SmileConfig = SmileConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    events: EventConfig = EventConfig()
    comparability: ComparabilityConfig = ComparabilityConfig()
    output_format: Literal["parquet", "csv", "bids"] = "parquet"
    progress: bool = True

    def updated(self, names: Mapping[str, str] | None = None, **dotted: object) -> Config:
        """A copy with ``section.key`` values replaced (None values are ignored), validated.

        ``names``: how the user gave each setting (``{"input.stride": "--stride"}``); a bad value
        is named so, not by its setting.
        """
        data = self.model_dump()
        for key, value in dotted.items():
            if value is None:
                continue
            node = data
            *parents, leaf = key.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value
        if names is None:
            return _validate(data, "command-line options")
        given = {k: v for k, v in names.items() if dotted.get(k) is not None}
        return _validate(data, "", given)

    def families(self) -> tuple[FamilyConfig, ...]:
        """Each component family's settings, in the registry's order (frown, smile)."""
        return tuple(getattr(self, f.name) for f in FAMILIES)


def _validate(data: object, origin: str, names: Mapping[str, str] | None = None) -> Config:
    """``data`` as a Config; a ConfigError starts with ``origin`` (when given) and names each setting
    by ``names`` where it has one (see :func:`model_problems`)."""
    prefix = f"{origin}: " if origin else ""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix}expected a mapping of settings, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(prefix + "; ".join(model_problems(exc, Config, names=names))) from None


def model_problems(exc: ValidationError, model: type[BaseModel], show_input: bool = True,
                   names: Mapping[str, str] | None = None) -> list[str]:
    """One line per problem of a settings model (``model``, the one validated):
    ``section.key: message (got value)``, or for a key the model does not have,
    ``[section: ]unknown key 'sesions' (did you mean 'sessions'?); valid keys: ...``.
    ``names`` (``section.key`` -> name, e.g. a command-line option): settings named so instead,
    also where a section's message names them (see :func:`_named`)."""
    problems = []
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            problems.append(unknown_key(model, err["loc"]))
            continue
        got = err.get("input")
        shown = "" if not show_input or isinstance(got, dict) else f" (got {got!r})"
        message = err["msg"].removeprefix("Value error, ")  # a validator's own sentence says it all
        problems.append(_named(model, err["loc"], message, names or {}) + shown)
    return problems


def _named(model: type[BaseModel], loc: tuple, message: str, names: Mapping[str, str]) -> str:
    """``where: message``, with the settings that ``names`` names called so: ``--stride: ...`` for
    ``input.stride``; in a section's own message (``input: end_s (1) must come after start_s (3)``)
    each of its keys, the section left out when no key of it is left (``--end (1) must come after
    --start (3)``)."""
    where = ".".join(str(p) for p in loc)
    if where in names:
        return f"{names[where]}: {message}"
    if not any(key.rpartition(".")[0] == where for key in names):  # names none of this section's keys
        return f"{where or '(top level)'}: {message}"
    keys = {key: re.compile(rf"(?<![\w-]){re.escape(key)}(?![\w-])")  # the key as a word, not in --key
            for key in _section_model(model, list(loc)).model_fields}
    renamed = False
    for key, word in keys.items():
        name = names.get(f"{where}.{key}" if where else key)
        if name is not None:
            message, n = word.subn(name, message)
            renamed = renamed or n > 0
    left = any(word.search(message) for word in keys.values())
    return message if renamed and not left else f"{where or '(top level)'}: {message}"


def unknown_key(model: type[BaseModel], loc: tuple) -> str:
    """The line for a key at ``loc`` that ``model`` does not define: the closest valid key, and
    every valid key of that section."""
    *section, key = loc
    valid = list(_section_model(model, section).model_fields)
    where = ".".join(str(p) for p in section)
    close = closest(key, valid)
    hint = f" (did you mean '{close}'?)" if close else ""
    line = f"unknown key '{key}'{hint}; valid keys{f' of {where}' if where else ''}: {', '.join(valid)}"
    return f"{where}: {line}" if where else line


def _section_model(model: type[BaseModel], section: list) -> type[BaseModel]:
    """The model of the section at ``section`` (field names, with dict keys and list indices
    between them, as pydantic's error locations give them)."""
    parts = list(section)
    while parts:
        name = parts.pop(0)
        annotation = model.model_fields[name].annotation
        stack = [annotation]
        while stack:  # through Optional, dict[str, X] and list[X] to the model X
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                model = t
                break
            origin = typing.get_origin(t)
            if origin in (dict, list) and parts:
                parts.pop(0)  # the dict key or list index
            stack.extend(typing.get_args(t))
    return model


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping: the last one would win
    unseen (a second ``reference_session:`` further down a study file turns every change score
    around; a second ``input:`` block drops the first one's settings)."""

    def flatten_mapping(self, node):
        # Checked as written, before merge keys ("<<: *defaults", which may be overridden) are
        # folded into the mapping, which rewrites it in place; once per mapping.
        checked = self.__dict__.setdefault("_checked", set())
        if id(node) not in checked:
            checked.add(id(node))
            first: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in first:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {key!r} given twice (first at line {first[key] + 1})",
                            key_node.start_mark)
                    first[key] = key_node.start_mark.line
                except TypeError:  # an unhashable key: the base class says so
                    break
        super().flatten_mapping(node)


def read_yaml(path: Path, what: str = "config file") -> object:
    """The parsed content of a YAML file (``{}`` when empty); a ConfigError names the file and line."""
    if problem := path_problem(path, what):
        raise ConfigError(problem)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}  # noqa: S506 (safe)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def default_config_text() -> str:
    """The packaged defaults as YAML, with their comments (``facefeedback/data/default.yaml``)."""
    from importlib.resources import files

    return files("facefeedback").joinpath("data", "default.yaml").read_text(encoding="utf-8")


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a YAML config; None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    return _validate(_with_family_defaults(read_yaml(path)), str(path))


def _with_family_defaults(data: object) -> object:
    """A file's family tables (``weights``, ``full_frown``, ``full_smile``, ``population_neutral``) with the components it
    leaves out at their defaults, as every other key left out keeps its default: ``weights:
    {brow_gap: 0.2}`` changes that one weight. Anything not a mapping is left to validation."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for fam in FAMILIES:
        section = data.get(fam.name)
        if not isinstance(section, dict):
            continue
        section = data[fam.name] = dict(section)
        defaults = getattr(Config(), fam.name)
        for key in ("weights", fam.full_key):
            if isinstance(section.get(key), dict):
                section[key] = {**getattr(defaults, key), **section[key]}
        if isinstance(section.get("population_neutral"), dict):
            section["population_neutral"] = {**defaults.population_neutral.model_dump(),
                                             **section["population_neutral"]}
    return data


def config_hash(config: Config) -> str:
    """A short, stable hash of everything in the config that changes the measurement."""
    data = config.model_dump(exclude={"progress", "output_format"})
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def dump_config(config: Config) -> dict:
    """The resolved config as plain data (saved with every output)."""
    return json.loads(config.model_dump_json())
