"""The study file (YAML) and its three tables, checked as a whole before any work.

:func:`load_study` reads ``STUDY.yaml``, the participants, recordings and scores
tables it names, and checks everything that can be checked without measuring a
frame. Every problem is collected, each naming its file and row, and raised at
once as a :class:`~facefeedback.errors.ValidationError`; nothing is processed
until the study is clean. The tables' rows are checked by :mod:`.table_checks`.
See ``docs/study.md`` for the format.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..config import Config
from ..errors import ValidationError
from ..files import find_path
from ..textrows import case_clashes, closest, is_missing
from .spec import StudySpec, read_study_spec
from .table_checks import check_participants, check_recordings, check_scores, shadows
from .tables import ID_PATTERN, Table, read_table
from .trialspec import check_trials


@dataclass
class Study:
    """A checked study: tables as DataFrames, resolved paths, the session order and the scales."""

    path: Path
    spec: StudySpec
    participants: pd.DataFrame  # participant_id, arm, covariates...
    recordings: pd.DataFrame  # recording_id, participant_id, session, task, path, row
    scores: pd.DataFrame  # participant_id, session, scale, score, row
    sessions: list[str]
    scales: dict[str, tuple[float, float, float | None, str]]
    covariates: list[str]
    config_path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    #: recording_id -> its checked events file's trials (facefeedback.eventfiles), for those with one.
    events: dict[str, pd.DataFrame] = field(default_factory=dict)
    trial_types: list[str] = field(default_factory=list)

    @property
    def reference_session(self) -> str:
        return self.spec.reference_session

    @property
    def levels(self) -> dict[str, list[str]]:
        """The values of ``arm``, ``session`` and ``task`` in the study's order.

        Arms and tasks in the order they are first listed (participants and recordings tables),
        sessions in the session order. The numeric codes of the .sav and .dta exports follow it.
        """
        return {"arm": list(dict.fromkeys(self.participants["arm"])), "session": list(self.sessions),
                "task": list(dict.fromkeys(self.recordings["task"]))}

    def calibration_config(self, config: Config) -> Config:
        """``config`` with the study's calibration rule applied."""
        return config.updated(**self.spec.calibration.config_updates())

    def calibration_rows(self, participant_id: str) -> pd.DataFrame:
        """The participant's baseline recordings whose frames define the neutral reference, in the
        order of the study file's calibration tasks (with ``all``, the study's task order): the
        calibration keeps every n-th of their frames, so the rows' order in the recordings table
        must not decide which."""
        r = self.recordings
        pick = (r["participant_id"] == participant_id) & (r["session"] == self.reference_session)
        tasks = self.spec.calibration.tasks
        if tasks != "all":
            pick &= r["task"].isin(tasks)
        order = {t: i for i, t in enumerate(tasks if tasks != "all" else dict.fromkeys(r["task"]))}
        rows = r[pick]
        return rows.iloc[np.argsort(rows["task"].map(order).to_numpy(), kind="stable")]

    def unrecorded_visits(self) -> list[tuple[str, str]]:
        """``(participant, session)`` of the visits with scores but no recording, of participants
        with recordings (the others are left out of the study)."""
        rec, s = self.recordings, self.scores
        recorded = set(zip(rec["participant_id"], rec["session"]))
        with_recordings = set(rec["participant_id"])
        return [(p, v) for p, v in dict.fromkeys(zip(s["participant_id"], s["session"]))
                if (p, v) not in recorded and p in with_recordings]

    def to_json(self) -> dict:
        """What study.json records about the design."""
        return {"study_file": str(self.path), "name": self.spec.name,
                "study": self.spec.model_dump(mode="json"),
                "sessions": self.sessions, "reference_session": self.reference_session, "levels": self.levels,
                "scales": {k: {"min": v[0], "max": v[1], "cutoff": v[2], "meaning": v[3]}
                           for k, v in self.scales.items()},
                "covariates": self.covariates, "n_participants": len(self.participants),
                "participants": self.participants[["participant_id", "arm"]].to_dict("records"),
                "n_recordings": len(self.recordings), "warnings": self.warnings,
                "trial_types": self.trial_types, "recordings_with_events": sorted(self.events)}


def load_study(path: str | os.PathLike, config_file: str | os.PathLike | None = None) -> Study:
    """Read and check a study file and its tables (and its recordings' events files, against the
    trial windows of ``config_file``, else of the study file's ``config``).

    Raises
    ------
    ConfigError
        The study file is missing or not YAML.
    ValidationError
        One or more problems in the study file or its tables; ``problems`` lists
        them all, each naming its file and row.
    """
    path = Path(path).resolve()
    spec = read_study_spec(path)
    root = path.parent
    problems: list[str] = []
    scales = _scales(spec, path, problems)
    sessions = _sessions(spec, path, problems)

    ptable = read_table(find_path(root / spec.participants), ("participant_id", "arm"), problems)
    rtable = read_table(find_path(root / spec.recordings), ("participant_id", "session", "task", "path"),
                        problems)
    stable = read_table(find_path(root / spec.scores), ("participant_id", "session", "scale", "score"),
                        problems) if spec.scores else None

    ptable, rtable, stable = (_with_rows(t, problems) for t in (ptable, rtable, stable))
    participants, covariates = check_participants(ptable, problems, scales) if ptable else (None, [])
    # a participant whose row was left out for its shape is said once, not again in every other table
    known = set(participants["participant_id"]) | ptable.rejected_values("participant_id") if ptable else None
    recordings = check_recordings(rtable, spec, path, known, sessions, ptable, problems) if rtable else None
    if sessions is None and recordings is not None:
        present = list(dict.fromkeys(recordings["session"]))
        sessions = [spec.reference_session] + [s for s in present if s != spec.reference_session]
    scores = check_scores(stable, known, sessions, scales, ptable, problems) if stable else None
    _check_case(path, spec, ptable, rtable, stable, problems)
    events, types = check_trials(path, spec, rtable, recordings, config_file, problems)
    if problems:
        raise ValidationError(problems, f"{path}: {len(problems)} problem(s); nothing was processed")
    if scores is None:
        scores = pd.DataFrame({"participant_id": [], "session": [], "scale": [], "score": [], "row": []})
    config_path = find_path(root / spec.config) if spec.config else None
    study = Study(path, spec, participants, recordings, scores, sessions or [spec.reference_session],
                  {k: v for k, v in scales.items() if k in set(scores["scale"])}, covariates, config_path)
    study.warnings = _warnings(study)
    study.events, study.trial_types = events, types
    return study


def _with_rows(table: Table | None, problems: list[str]) -> Table | None:
    """The table, or None with a problem when it holds a header row and nothing else."""
    if table is not None and not len(table):
        problems.append(f"{table.path}: only a header row ({', '.join(table.columns)}); "
                        "the table needs one row per entry")
        return None
    return table


def _check_case(path: Path, spec: StudySpec, ptable: Table | None, rtable: Table | None,
                stable: Table | None, problems: list[str]) -> None:
    """Session, task and arm names that differ only by case would make separate sessions,
    tasks and arms (and columns such as ``HAMD17_Week6`` beside ``HAMD17_week6``); participant
    ids that do, output folders that are one folder on a case-insensitive file system (macOS,
    Windows: one participant's tables over the other's) and BIDS labels that collide."""
    def rows(table: Table | None, column: str) -> list[tuple[str, str, int]]:
        return [] if table is None else [(r[column], table.name, n) for r, n in zip(table.rows, table.line)
                                         if not is_missing(r[column])]

    in_file = [(v, path.name, 0) for v in [spec.reference_session, *(spec.sessions or [])] if not is_missing(v)]
    for what, found in (("session", in_file + rows(rtable, "session") + rows(stable, "session")),
                        ("task", rows(rtable, "task")), ("arm", rows(ptable, "arm"))):
        problems.extend(case_clashes(found, f"{what} names"))
    problems.extend(case_clashes(rows(ptable, "participant_id"), "participant ids",
                                 "give each its own id (their output folders would be one folder on a "
                                 "case-insensitive file system, as on macOS and Windows, and their BIDS "
                                 "labels one label)"))


def _scales(spec: StudySpec, path: Path, problems: list[str]) -> dict[str, tuple[float, float, float | None, str]]:
    scales = dict(schema.KNOWN_SCALES)
    for name, s in spec.scales.items():
        if name in schema.KNOWN_SCALES:
            lo, hi = schema.KNOWN_SCALES[name][:2]
            problems.append(f"{path}: scales.{name} is a known scale (range {lo:g}-{hi:g}); "
                            "give custom scales a name of their own")
        elif not (name[:1].isalpha() and name.replace("_", "").isalnum() and name.isascii()):
            problems.append(f"{path}: scales.{name}: a scale name may hold only letters, digits and '_' "
                            "and must start with a letter")
        elif shadows(name, [other for other in spec.scales if other != name], changes=True):
            problems.append(f"{path}: scales.{name}: the name or its change columns ({name}{schema.CHANGE_SUFFIX}, "
                            f"{name}{schema.PCT_CHANGE_SUFFIX}) are taken by a session-features column (a feature, "
                            "a scale or a change of one)")
        else:
            scales[name] = (s.min, s.max, s.cutoff, s.meaning or "custom scale declared in the study file")
    return scales


def _sessions(spec: StudySpec, path: Path, problems: list[str]) -> list[str] | None:
    for s in [spec.reference_session, *(spec.sessions or [])]:
        if not ID_PATTERN.match(s):
            problems.append(f"{path}: session '{s}' may hold only letters, digits, '.', '-' and '_'")
    if spec.sessions is None:
        return None
    if spec.reference_session not in spec.sessions:
        problems.append(f"{path}: reference_session '{spec.reference_session}' is not in sessions "
                        f"({', '.join(spec.sessions)})")
    if len(set(spec.sessions)) != len(spec.sessions):
        problems.append(f"{path}: sessions lists a session twice ({', '.join(spec.sessions)})")
    return [spec.reference_session] + [s for s in spec.sessions if s != spec.reference_session]


def _warnings(study: Study) -> list[str]:
    """Things worth saying that do not stop the study."""
    out = []
    if not study.spec.sessions and len(study.sessions) > 2:
        out.append(f"visit order taken from the order first met in {Path(study.spec.recordings).name}: "
                   f"{', '.join(study.sessions)}; give 'sessions:' in the study file if that is not the order "
                   "of the visits (it decides the session analysed by default and the visit numbers)")
    given = study.spec.sessions or []
    before = given[:given.index(study.reference_session)] if study.reference_session in given else []
    if before:
        out.append(f"sessions {', '.join(before)} come before the reference session {study.reference_session} in "
                   f"the study file, but every table orders the reference first ({', '.join(study.sessions)}): "
                   "their session codes, visit numbers and change columns follow it; leave a visit before the "
                   "reference out, or make it the reference")
    with_recordings = set(study.recordings["participant_id"])
    idle = [p for p in study.participants["participant_id"] if p not in with_recordings]
    if idle:
        out.append(f"participants with no recordings (left out): {', '.join(idle)}")
    out += _small_arms(study.participants[study.participants["participant_id"].isin(with_recordings)],
                       Path(study.spec.participants).name)
    table = Path(study.spec.recordings).name
    r = study.recordings
    for path, same in r.groupby(r["path"].map(lambda p: unicodedata.normalize("NFC", p)), sort=False):
        if len(same) > 1:
            given = ", ".join(f"{p} {s} {t}" for p, s, t in zip(same["participant_id"], same["session"],
                                                                 same["task"]))
            lines = ", ".join(str(n) for n in same["row"])
            out.append(f"{table} rows {lines}: one file, {path}, is given for {given}; "
                       "their measurements will be identical")
    s = study.scores
    if len(s):
        ref = s[s["session"] == study.reference_session]
        have = set(zip(ref["participant_id"], ref["scale"]))
        lacking = sorted({f"{p} {c}" for p, c in zip(s["participant_id"], s["scale"]) if (p, c) not in have})
        if lacking:
            out.append(f"no {study.reference_session} score, so no change score, for: {', '.join(lacking)}")
        unrecorded = study.unrecorded_visits()
        if unrecorded:
            out.append(f"scores but no recording at: {', '.join(f'{p} {v}' for p, v in unrecorded)} (the scores are "
                       "kept in session features, in rows without a recording_id)")
    return out


def _small_arms(participants: pd.DataFrame, table: str) -> list[str]:
    """A line for each arm with fewer participants than an analysis needs (often a misspelt arm:
    ``botx`` for ``botox``), naming them and the arm it most resembles."""
    counts = participants["arm"].value_counts(sort=False)
    out = []
    for arm, n in counts.items():
        if n >= schema.MIN_PER_ARM:
            continue
        who = ", ".join(participants.loc[participants["arm"] == arm, "participant_id"])
        others = [a for a in counts.index if a != arm]
        like = closest(arm, others)
        hint = f" (a misspelling of '{like}'?)" if like else ""
        out.append(f"{table}: arm '{arm}' has {n} participant{'s' if n > 1 else ''} with recordings ({who}){hint}; "
                   f"an analysis needs at least {schema.MIN_PER_ARM} in each arm it compares "
                   f"(arms: {', '.join(f'{a} {k}' for a, k in counts.items())})")
    return out
