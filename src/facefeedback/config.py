"""Settings: a YAML file loaded into a typed, versioned model; unknown keys are rejected.

``configs/default.yaml`` holds the shipped defaults (the same values as the
models below); a user's file overrides any subset. Every output saves the
resolved config next to it, and :func:`config_hash` keys cached results.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError

CONFIG_VERSION = 1


class StrictModel(BaseModel):
    """Settings models reject unknown keys and are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)




class InputConfig(StrictModel):
    stride: int = Field(1, ge=1, description="keep every n-th frame of a video")
    start_s: float | None = Field(None, ge=0, description="first time to read (s)")
    end_s: float | None = Field(None, gt=0, description="time to stop reading (s)")
    max_side: int | None = Field(1920, ge=64, description="downscale frames whose longer side exceeds this "
                                 "(px): 1080p is measured as recorded, 4K at 1920x1080")


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
    min_sharpness: float = Field(15.0, ge=0, description="variance of the Laplacian below which a frame is blurred")
    min_brightness: float = Field(25.0, ge=0, le=255, description="face too dark below this mean grey level")
    max_brightness: float = Field(240.0, ge=0, le=255, description="face washed out above this mean grey level")

    @model_validator(mode="after")
    def _brightness_order(self) -> QCConfig:
        if self.min_brightness >= self.max_brightness:
            raise ValueError("min_brightness must be below max_brightness")
        return self


class NeutralReference(StrictModel):
    """Values of the three components on a neutral face (the zero of frown_intensity)."""

    brow_gap: float = Field(gt=0)
    brow_lowering: float = Field(gt=0)
    glabella_lines: float = Field(gt=0)


class FrownConfig(StrictModel):
    """How the components combine into frown_intensity (see the README's formula)."""

    weights: dict[Literal["brow_gap", "brow_lowering", "glabella_lines"], float] = Field(
        default_factory=lambda: {"brow_gap": 0.15, "brow_lowering": 0.25, "glabella_lines": 0.6})
    #: Change of each component in a typical full deliberate frown (relative for the two
    #: distances, natural-log ratio for the lines): the unit of frown_intensity.
    full_frown: dict[Literal["brow_gap", "brow_lowering", "glabella_lines"], float] = Field(
        default_factory=lambda: {"brow_gap": 0.12, "brow_lowering": 0.30, "glabella_lines": 0.9})
    population_neutral: NeutralReference = NeutralReference(
        brow_gap=0.444, brow_lowering=0.310, glabella_lines=0.645)

    @model_validator(mode="after")
    def _complete(self) -> FrownConfig:
        for name in ("weights", "full_frown"):
            table = getattr(self, name)
            if set(table) != {"brow_gap", "brow_lowering", "glabella_lines"}:
                raise ValueError(f"{name} must give brow_gap, brow_lowering and glabella_lines")
            if any(v < 0 for v in table.values()) or (name == "full_frown" and any(v <= 0 for v in table.values())):
                raise ValueError(f"{name} values must be positive")
        if sum(self.weights.values()) <= 0:
            raise ValueError("weights must not all be 0")
        return self


class CalibrationConfig(StrictModel):
    percentile: float = Field(20.0, gt=0, le=50, description="neutral = frames at or below this percentile of frowning")
    segment_start_s: float | None = Field(None, ge=0, description="neutral segment start (s), instead of the percentile")
    segment_end_s: float | None = Field(None, gt=0, description="neutral segment end (s)")
    min_frames: int = Field(5, ge=1, description="valid frames needed to calibrate")


class EventConfig(StrictModel):
    on_threshold: float = Field(0.35, gt=0, description="frown_intensity that starts an event")
    off_threshold: float = Field(0.20, ge=0, description="frown_intensity below which an event ends")
    min_duration_s: float = Field(0.3, ge=0, description="shorter episodes are not events")
    max_gap_s: float = Field(0.25, ge=0, description="invalid or missing frames bridged inside an event")

    @model_validator(mode="after")
    def _order(self) -> EventConfig:
        if self.off_threshold > self.on_threshold:
            raise ValueError("off_threshold must not exceed on_threshold")
        return self


class ComparabilityConfig(StrictModel):
    """How far two visits' imaging conditions may differ and stay within the range the measure is
    validated for; each bound is what the validated re-renderings did to that condition on real
    recordings (docs/study.md, "Visit comparability"; scripts/derive_comparability_bounds.py).
    A ratio bound r accepts follow-up / baseline between 1/r and r."""

    min_iod_px: float = Field(60.0, ge=0, description="smallest validated face: inter-ocular distance (px)")
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
    calibration: CalibrationConfig = CalibrationConfig()
    events: EventConfig = EventConfig()
    comparability: ComparabilityConfig = ComparabilityConfig()
    output_format: Literal["parquet", "csv", "bids"] = "parquet"
    progress: bool = True

    def updated(self, **dotted: object) -> Config:
        """A copy with ``section.key`` values replaced (None values are ignored), validated."""
        data = self.model_dump()
        for key, value in dotted.items():
            if value is None:
                continue
            node = data
            *parents, leaf = key.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value
        return _validate(data, "command-line options")


def _validate(data: object, origin: str) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: " + "; ".join(model_problems(exc))) from None


def model_problems(exc: ValidationError, show_input: bool = True) -> list[str]:
    """One line per problem of a settings model: ``section.key: message (got value)``."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        got = err.get("input")
        shown = "" if not show_input or isinstance(got, dict) else f" (got {got!r})"
        problems.append(f"{where}: {err['msg']}{shown}")
    return problems


def read_yaml(path: Path, what: str = "config file") -> object:
    """The parsed content of a YAML file (``{}`` when empty); a ConfigError names the file and line."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such {what}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate a YAML config; None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    return _validate(read_yaml(path), str(path))


def config_hash(config: Config) -> str:
    """A short, stable hash of everything in the config that changes the measurement."""
    data = config.model_dump(exclude={"progress", "output_format"})
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def dump_config(config: Config) -> dict:
    """The resolved config as plain data (saved with every output)."""
    return json.loads(config.model_dump_json())
