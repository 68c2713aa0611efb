"""The study file (``STUDY.yaml``) as a typed model: :class:`StudySpec` and its parts.

:func:`read_study_spec` reads and validates the file alone (unknown keys are rejected); the
tables it names are read and checked with it by :func:`facefeedback.study.manifest.load_study`.
See ``docs/study.md`` for the format.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from ..config import StrictModel, model_problems, read_yaml
from ..errors import ConfigError, ValidationError

STUDY_VERSION = 1
URL_SCHEMES = ("http", "https", "ftp", "s3", "gs", "file")
DOI_PATTERN = re.compile(r"^(?:doi:)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)


class ScaleSpec(StrictModel):
    """A questionnaire that is not in ``schema.KNOWN_SCALES``: its valid range."""

    min: float
    max: float
    cutoff: float | None = Field(None, description="remission cut-off (score at or below = remitted)")
    meaning: str = ""

    @model_validator(mode="after")
    def _order(self) -> ScaleSpec:
        if self.min >= self.max:
            raise ValueError("min must be below max")
        if self.cutoff is not None and not self.min <= self.cutoff <= self.max:
            raise ValueError(f"cutoff {self.cutoff:g} is outside the scale's range {self.min:g}-{self.max:g}")
        return self


def _as_names(value):
    """Numbers where names are expected (``sessions: [0, 6]`` in YAML) are read as names."""
    def name(v):
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
    return [name(v) for v in value] if isinstance(value, list) else name(value)


class CalibrationRule(StrictModel):
    """Which baseline frames define each participant's neutral face, and how."""

    tasks: list[str] | Literal["all"] = Field(
        "all", description="baseline task(s) whose frames are used; 'all' = every baseline recording")
    percentile: float | None = Field(None, gt=0, le=50, description="neutral = the least frowning P percent")
    segment_s: tuple[float, float] | None = Field(None, description="neutral segment [start, end] in seconds")
    min_frames: int | None = Field(None, ge=1, description="valid neutral frames needed")

    _task_names = field_validator("tasks", mode="before")(_as_names)

    @model_validator(mode="after")
    def _one_rule(self) -> CalibrationRule:
        if self.percentile is not None and self.segment_s is not None:
            raise ValueError("give either percentile or segment_s, not both")
        if self.segment_s is not None and not 0 <= self.segment_s[0] < self.segment_s[1]:
            raise ValueError("segment_s must be [start, end] with 0 <= start < end")
        return self

    def config_updates(self) -> dict[str, object]:
        """The rule as ``Config.updated`` arguments (``calibration.*``)."""
        seg = self.segment_s
        return {"calibration.percentile": self.percentile, "calibration.min_frames": self.min_frames,
                "calibration.segment_start_s": seg[0] if seg else None,
                "calibration.segment_end_s": seg[1] if seg else None}


class SourceDataset(StrictModel):
    """A dataset the recordings come from (BIDS ``SourceDatasets``): its URL and/or DOI, and version."""

    url: str | None = Field(None, description="where the dataset is (http, https, ftp, s3, gs or file URL)")
    doi: str | None = Field(None, description="its DOI: doi:10.xxxx/... (a bare 10.xxxx/... is accepted)")
    version: str | None = Field(None, description="the dataset's version")

    @model_validator(mode="after")
    def _check(self) -> SourceDataset:
        if self.url is None and self.doi is None:
            raise ValueError("give the source dataset's url or doi (or both)")
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in URL_SCHEMES or not (parts.netloc or (parts.scheme == "file" and parts.path)):
                raise ValueError(f"url {self.url!r} is not a URL ({', '.join(URL_SCHEMES)}://...)")
        if self.doi is not None and not DOI_PATTERN.match(self.doi):
            raise ValueError(f"doi {self.doi!r} is not a DOI (doi:10.<registrant>/<suffix>)")
        if self.version is not None and not self.version.strip():
            raise ValueError("version is empty")
        return self

    def to_bids(self) -> dict[str, str]:
        """The record as BIDS writes it (``URL``, ``DOI`` as a ``doi:`` URI, ``Version``)."""
        doi = None if self.doi is None else "doi:" + DOI_PATTERN.match(self.doi).group(1)
        return {k: v for k, v in (("URL", self.url), ("DOI", doi), ("Version", self.version)) if v is not None}


class StudySpec(StrictModel):
    """The study file. Paths are relative to the study file's folder."""

    study_version: Literal[1] = STUDY_VERSION
    name: str = ""
    participants: str
    recordings: str
    scores: str | None = None
    reference_session: str = "baseline"
    sessions: list[str] | None = Field(None, description="session order (the reference first)")
    calibration: CalibrationRule = CalibrationRule()
    scales: dict[str, ScaleSpec] = Field(default_factory=dict)
    config: str | None = Field(None, description="measurement settings (YAML), as for 'extract --config'")
    source_datasets: list[SourceDataset] = Field(
        default_factory=list, description="datasets the recordings come from (BIDS SourceDatasets)")
    contrasts: dict[str, tuple[str, str]] = Field(
        default_factory=dict, description="NAME: [trial type, trial type]: the first's mean response minus the "
                                          "second's (frown_response_NAME)")
    capacity_task: str | None = Field(None, description="the maximal-frown task (frown_capacity)")

    _session_names = field_validator("reference_session", "sessions", mode="before")(_as_names)
    _task_name = field_validator("capacity_task", mode="before")(_as_names)


def read_study_spec(path: Path) -> StudySpec:
    """The study file at ``path``, validated; every problem named at once."""
    data = read_yaml(path, "study file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (participants:, recordings:, ...), "
                          f"got {type(data).__name__}")
    try:
        return StudySpec.model_validate(data)
    except PydanticError as exc:
        problems = [f"{path}: {p}" for p in model_problems(exc, StudySpec, show_input=False)]
        raise ValidationError(problems, f"{path}: {len(problems)} problem(s) in the study file") from None
