"""A study's session features and what is known about the study around them: the analysis input.

:func:`load_study_features` reads a study output folder (its ``features/session_features``
table, ``study.json``, ``failures.csv`` and ``features/comparability.csv``) or a session-features
file alone, into :class:`StudyFeatures`. What the models use is shaped from it by
:func:`facefeedback.analysis.data.prepare`.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import schema
from ..errors import InputError
from ..output_folders import settle

logger = logging.getLogger(__name__)


@dataclass
class StudyFeatures:
    """A session-features table and what is known about the study around it."""

    features: pd.DataFrame
    sessions: list[str]
    reference_session: str
    source: Path | None
    root: Path | None = None  # study output folder, when the input is one
    failures: pd.DataFrame | None = None
    #: Every participant of the study (participant_id, arm), from study.json; None when unknown.
    participants: pd.DataFrame | None = None
    comparability: pd.DataFrame | None = None  # features/comparability.csv, when the study folder has one
    simulation: dict | None = None  # the seed and known truth, when 'facefeedback simulate' made it
    #: The maximal-frown task of the study file (``capacity_task``), None when it has none.
    capacity_task: str | None = None
    #: Every trial of the study (``features/trials.parquet``), None when no recording has events.
    trials: pd.DataFrame | None = None
    #: A trial's baseline window (s from onset) the study was measured with.
    baseline_window_s: tuple[float, float] = (-1.0, 0.0)
    #: The study file's contrasts (name: [condition, reference condition]), in its order.
    contrasts: dict[str, list[str]] = field(default_factory=dict)
    #: The study's scales as study.json records them (``min``, ``max``, ``cutoff``, ``meaning``);
    #: empty without one (the known scales' are in ``schema.KNOWN_SCALES``).
    scales: dict[str, dict] = field(default_factory=dict)

    def remission_cutoff(self, scale: str) -> float | None:
        """The remission cut-off of ``scale``: the study file's for a custom scale, else the known
        scale's; None when it has none."""
        given = (self.scales.get(scale) or {}).get("cutoff")
        if given is not None:
            return float(given)
        return schema.KNOWN_SCALES.get(scale, (None, None, None))[2]


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix not in (".parquet", ".csv"):
        raise InputError(f"{path}: session features must be a .parquet or .csv file")
    table = _read_side(path, "session features", lambda p: (
        pd.read_parquet(p) if p.suffix == ".parquet" else _read_csv(p, {"participant_id": str, "session": str,
                                                                        "task": str})))
    if table.empty:
        raise InputError(f"{path}: session features with no rows")
    return table


def _read_csv(path: Path, dtype, **options) -> pd.DataFrame:
    """A CSV file whose header names each column once (pandas would read a second HAMD17 as
    HAMD17.1, and the analysis would silently use the first)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    repeated = sorted({c for c in header if c.strip() and header.count(c) > 1})  # blank: a spreadsheet's spare column
    if repeated:
        raise InputError(f"{path}: column(s) {', '.join(repeated)} appear more than once; keep one of each")
    return pd.read_csv(path, dtype=dtype, **options)


def _read_side(path: Path, what: str, reader) -> pd.DataFrame:
    """``reader(path)``; a file it cannot read is the user's, named in one line."""
    try:
        return reader(path)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is the user's file
        raise InputError(f"{path}: cannot read {what} ({exc})") from None


def load_study_features(path) -> StudyFeatures:
    """Read a study output folder or a session-features file (parquet or csv).

    Session order comes from ``study.json`` when there is one (next to the
    features folder); otherwise the reference session is the one whose rows are
    marked ``is_reference`` and the others follow in order of first appearance.
    """
    path = Path(path)
    root = None
    if path.is_dir():
        root = path
        settle(root)  # a run killed while committing: finish it before reading
        candidates = [path / "features" / "session_features.parquet",
                      path / "features" / "session_features.csv"]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise InputError(f"{path}: no features/session_features.parquet or .csv; "
                             "give a study output folder or a session-features file")
        table_path = found[0]
    elif path.exists():
        table_path = path
        if path.parent.name == "features" and (path.parent.parent / "study.json").exists():
            root = path.parent.parent
            settle(root)
    else:
        raise InputError(f"{path}: no such file or folder")
    features = _read_table(table_path)
    missing = [c for c in (*schema.SESSION_ID_COLUMNS, "is_reference") if c not in features]
    if missing:
        raise InputError(f"{table_path}: not a session-features table; missing {', '.join(missing)}")
    for col in schema.SESSION_ID_COLUMNS:
        features[col] = features[col].astype(str)
    study = _study_json(root)
    sessions, reference = _session_order(features, study)
    failures = None
    if root is not None and (root / "failures.csv").exists():
        failures = _read_side(root / "failures.csv", "the failures table",
                              lambda p: _read_csv(p, str).fillna(""))
    participants = None
    if study.get("participants"):
        participants = pd.DataFrame(study["participants"], columns=["participant_id", "arm"]).astype(str)
    comparability = None
    if root is not None and (root / "features" / "comparability.csv").exists():
        comparability = _read_side(root / "features" / "comparability.csv", "the comparability table",
                                   lambda p: _read_csv(p, {"participant_id": str, "task": str, "session": str},
                                                       keep_default_na=False, na_values=[""]))
    trials = None
    if root is not None and (root / "features" / "trials.parquet").exists():
        trials = _read_side(root / "features" / "trials.parquet", "the trials table", pd.read_parquet)
        for col in schema.SESSION_ID_COLUMNS:
            trials[col] = trials[col].astype(str)
    design = study.get("study") or {}
    events = ((study.get("run") or {}).get("config") or {}).get("events") or {}
    window = tuple(float(v) for v in events.get("baseline_window_s") or (-1.0, 0.0))
    return StudyFeatures(features, sessions, reference, table_path, root, failures, participants,
                         comparability=comparability, simulation=_simulation(features, study),
                         capacity_task=design.get("capacity_task") or study.get("capacity_task"),
                         trials=trials, baseline_window_s=window,
                         contrasts={str(k): [str(x) for x in v] for k, v in (design.get("contrasts") or {}).items()},
                         scales={str(k): dict(v) for k, v in (study.get("scales") or {}).items()})


def _simulation(features: pd.DataFrame, study: dict) -> dict | None:
    """What ``facefeedback simulate`` recorded, when it made the study (its study.json, or the
    table's own Parquet metadata when the table travels alone)."""
    if study.get("simulated") or "simulation" in study:
        return dict(study.get("simulation") or {})
    if (features.attrs.get("facefeedback") or {}).get("simulated"):
        return {}
    return None


def _study_json(root: Path | None) -> dict:
    if root is None or not (root / "study.json").exists():
        return {}
    try:
        return json.loads((root / "study.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{root / 'study.json'}: cannot be read ({exc})") from None


def _session_order(features: pd.DataFrame, study: dict) -> tuple[list[str], str]:
    present = list(dict.fromkeys(features["session"]))
    if study:
        if study.get("sessions"):
            listed = [str(s) for s in study["sessions"]]
            reference = str(study.get("reference_session", listed[0]))
            return [s for s in listed if s in present], reference
    refs = list(dict.fromkeys(features.loc[features["is_reference"].astype(bool), "session"]))
    if len(refs) != 1:
        raise InputError(f"cannot tell the reference session: rows marked is_reference belong to "
                         f"{refs or 'no session'}")
    order = refs + [s for s in present if s != refs[0]]
    if len(order) > 2:  # the order of the later visits decides the session compared and the mixed model's visits
        logger.warning("visit order taken from the order of the table's rows (no study.json beside it): %s; "
                       "if that is not the order of the visits, pass --session", ", ".join(order))
    return order, refs[0]
