"""Reading a study's session features and shaping them for the models.

Every check on user input lives here and raises :class:`AnalysisError` with one
line that names what was asked for and what is available.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..errors import AnalysisError, InputError

logger = logging.getLogger(__name__)

#: Arm names taken as the treated arm when ``treated_arm`` is not given.
TREATED_ARM_PATTERN = re.compile(r"botox|toxin|botulinum|bont|treat|active|verum", re.IGNORECASE)
#: Every task averaged per participant and session.
ALL_TASKS = "all"
MIN_PER_ARM = 3
#: The fields of each record of :attr:`AnalysisData.excluded`.
EXCLUSION_FIELDS = ("participant_id", "arm", "reason")


@dataclass
class StudyInput:
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


@dataclass
class AnalysisData:
    """The per-participant table the models use, and the choices that made it.

    ``wide`` has one row per participant: ``participant_id``, ``arm``,
    ``treated`` (1/0), ``baseline`` (outcome at the reference session),
    ``followup`` (outcome at the analysed session), ``mood_change``,
    ``mood_pct_change``, ``frown_change``, ``frown_baseline`` and the change of
    every frown feature (``<feature>_change``) for the predictive model. ``long``
    has one row per participant and session (``score``, ``frown``, ``session``).
    """

    wide: pd.DataFrame
    long: pd.DataFrame
    outcome: str
    feature: str
    task: str
    session: str
    reference_session: str
    sessions: list[str]
    treated_arm: str
    control_arm: str
    #: Every participant the study holds that the models do not use: one record
    #: (:data:`EXCLUSION_FIELDS`) each, with the reason.
    excluded: list[dict] = field(default_factory=list)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype={"participant_id": str, "session": str, "task": str})
    except Exception as exc:  # noqa: BLE001 - any reader failure is the user's file
        raise InputError(f"{path}: cannot read session features ({exc})") from None
    raise InputError(f"{path}: session features must be a .parquet or .csv file")


def load_study(path) -> StudyInput:
    """Read a study output folder or a session-features file (parquet or csv).

    Session order comes from ``study.json`` when there is one (next to the
    features folder); otherwise the reference session is the one whose rows are
    marked ``is_reference`` and the others follow in order of first appearance.
    """
    path = Path(path)
    root = None
    if path.is_dir():
        root = path
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
        failures = pd.read_csv(root / "failures.csv", dtype=str).fillna("")
    participants = None
    if study.get("participants"):
        participants = pd.DataFrame(study["participants"], columns=["participant_id", "arm"]).astype(str)
    comparability = None
    if root is not None and (root / "features" / "comparability.csv").exists():
        comparability = pd.read_csv(root / "features" / "comparability.csv",
                                    dtype={"participant_id": str, "task": str, "session": str}, keep_default_na=False,
                                    na_values=[""])
    return StudyInput(features, sessions, reference, table_path, root, failures, participants,
                      comparability=comparability, simulation=_simulation(features, study))


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
    return refs + [s for s in present if s != refs[0]], refs[0]


def available_scales(features: pd.DataFrame) -> list[str]:
    """Score columns: those with a change column that are neither ids nor recording features."""
    skip = set(schema.summary_feature_names()) | set(schema.SESSION_ID_COLUMNS)
    return [c for c in features.columns
            if c not in skip and not c.endswith(schema.CHANGE_SUFFIX)
            and c + schema.CHANGE_SUFFIX in features.columns
            and pd.api.types.is_numeric_dtype(features[c])]


def frown_feature_names(features: pd.DataFrame, family: str | None = None) -> list[str]:
    """Recording features present in the table, without the recording-quality ones; with
    ``family``, only that component family's (``frown``, ``smile``)."""
    wanted = None if family is None else set(schema.family_feature_names(family))
    return [f for f in schema.summary_feature_names()
            if f in features.columns and f not in schema.QUALITY_FEATURES and (wanted is None or f in wanted)]


def choose_arms(arms: list[str], treated: str | None, control: str | None) -> tuple[str, str]:
    """The treated and control arm among ``arms`` (see :data:`TREATED_ARM_PATTERN`)."""
    listed = ", ".join(arms)
    if len(arms) < 2:
        raise AnalysisError(f"the study has one arm only ({listed}); the analysis compares a treated "
                            "arm with a control arm")
    if treated is None:
        matches = [a for a in arms if TREATED_ARM_PATTERN.search(a)]
        if len(matches) != 1:
            raise AnalysisError(f"cannot tell the treated arm; name it with --treated-arm "
                                f"(arms: {listed})")
        treated = matches[0]
    if treated not in arms:
        raise AnalysisError(f"treated arm {treated!r} is not in the data; arms: {listed}")
    others = [a for a in arms if a != treated]
    if control is None:
        if len(others) != 1:
            raise AnalysisError(f"the study has {len(arms)} arms; name the control arm with "
                                f"--control-arm (arms: {listed})")
        control = others[0]
    if control not in others:
        raise AnalysisError(f"control arm {control!r} is not one of the other arms: {', '.join(others)}")
    return treated, control


def _select_task(features: pd.DataFrame, task: str | None) -> tuple[pd.DataFrame, str, list[str]]:
    """The rows of ``task`` (or, for ``"all"``, their mean per participant and session), the
    task, and the tasks the rows come from."""
    tasks = sorted(features["task"].unique())
    if task is None:
        if len(tasks) > 1:
            raise AnalysisError(f"the study has several tasks; choose one with --task (tasks: "
                                f"{', '.join(tasks)}), or --task {ALL_TASKS} to average them")
        task = tasks[0]
    if task == ALL_TASKS:
        # Averaged: the tasks recorded at every session (a baseline-only task has no change).
        common = sorted(set.intersection(*(set(t) for _, t in features.groupby("session")["task"])))
        if not common:
            raise AnalysisError(f"no task is recorded at every session, so --task {ALL_TASKS} has "
                                f"nothing to average; choose one with --task ({', '.join(tasks)})")
        if common != tasks:
            logger.warning("--task %s averages the tasks recorded at every session (%s); not %s",
                           ALL_TASKS, ", ".join(common), ", ".join(t for t in tasks if t not in common))
        tasks, features = common, features[features["task"].isin(common)]
        # A participant's session is the mean over every task, or missing: the mean of
        # the tasks that happen to be there would mix tasks between participants.
        numeric = [c for c in features.columns
                   if pd.api.types.is_numeric_dtype(features[c]) and c != "is_reference"]
        measured = set(schema.summary_feature_names())
        per_recording = [c for c in numeric if c in measured or c.removesuffix(
            schema.PCT_CHANGE_SUFFIX).removesuffix(schema.CHANGE_SUFFIX) in measured]
        keys = ["participant_id", "arm", "session"]
        grouped = features.groupby(keys, sort=False)
        averaged = grouped[numeric].mean()
        complete = grouped[per_recording].count() == len(tasks)
        averaged[per_recording] = averaged[per_recording].where(complete)
        averaged = averaged.reset_index()
        averaged["task"] = ALL_TASKS
        return averaged, task, tasks
    if task not in tasks:
        raise AnalysisError(f"task {task!r} is not in the data; tasks: {', '.join(tasks)}")
    return features[features["task"] == task].copy(), task, [task]


def prepare(study: StudyInput, outcome: str, feature: str = "frown_intensity_mean",
            task: str | None = None, session: str | None = None,
            treated_arm: str | None = None, control_arm: str | None = None) -> AnalysisData:
    """Check the requested analysis against the data and build :class:`AnalysisData`.

    Parameters
    ----------
    study : StudyInput
        From :func:`load_study`.
    outcome : str
        Questionnaire scale (a score column such as ``HAMD17``).
    feature : str
        Recording feature whose change is the facial measure (a frown feature, or a smile
        feature such as ``smile_intensity_mean`` for the control expression).
    task : str, optional
        Task to analyse; required when there are several (``"all"`` averages them).
    session : str, optional
        Session compared with the reference; default the last one.
    treated_arm, control_arm : str, optional
        Arm names; see :func:`choose_arms`.

    Raises
    ------
    AnalysisError
        When the outcome, feature, task, session or arms are not in the data, or
        an arm has fewer than three participants with complete data.
    """
    table = study.features
    scales = available_scales(table)
    if outcome not in scales:
        raise AnalysisError(f"outcome scale {outcome!r} is not in the data; scales available: "
                            f"{', '.join(scales) or 'none'}")
    features = frown_feature_names(table)
    if feature not in features or feature + schema.CHANGE_SUFFIX not in table:
        raise AnalysisError(f"feature {feature!r} does not exist; features available: "
                            f"{', '.join(features)}")
    treated, control = choose_arms(sorted(table["arm"].unique()), treated_arm, control_arm)
    compared = table[table["arm"].isin([treated, control])]
    table, task, used_tasks = _select_task(compared, task)
    reference = study.reference_session
    later = [s for s in study.sessions if s != reference]
    if not later:
        raise AnalysisError(f"the data hold only the reference session {reference!r}; "
                            "a change needs a later session")
    session = session or later[-1]
    if session not in later:
        raise AnalysisError(f"session {session!r} is not a session after the reference; "
                            f"sessions: {', '.join(later)}")
    base = table[table["session"] == reference].set_index("participant_id")
    follow = table[table["session"] == session].set_index("participant_id")
    # the predictive model takes the changes of every feature of the measure's family (frown or smile)
    family = frown_feature_names(table, schema.feature_family(feature))
    change_cols = [f + schema.CHANGE_SUFFIX for f in family if f + schema.CHANGE_SUFFIX in follow]
    wide = pd.DataFrame({
        "arm": follow["arm"],
        "followup": follow[outcome],
        "mood_change": follow[outcome + schema.CHANGE_SUFFIX],
        "mood_pct_change": follow.get(outcome + schema.PCT_CHANGE_SUFFIX,
                                      pd.Series(np.nan, index=follow.index)),
        "frown_change": follow[feature + schema.CHANGE_SUFFIX],
    })
    wide["baseline"] = base[outcome].reindex(wide.index)
    wide["frown_baseline"] = base[feature].reindex(wide.index)
    wide = wide.join(follow[change_cols].add_prefix("x_"))
    # Every participant of the compared arms, those without a follow-up row too.
    arms = compared.drop_duplicates("participant_id").set_index("participant_id")["arm"]
    wide = wide.reindex(wide.index.append(arms.index.difference(wide.index, sort=False)))
    wide["arm"] = arms.reindex(wide.index)
    needed = ["baseline", "followup", "mood_change", "frown_change", "frown_baseline"]
    complete = wide[needed].notna().all(axis=1)
    failed = {} if study.failures is None else dict(zip(study.failures["recording_id"],
                                                        study.failures["error"]))
    labels = {"baseline": f"{outcome} at {reference}", "followup": f"{outcome} at {session}",
              "mood_change": f"{outcome}{schema.CHANGE_SUFFIX} at {session}",
              "frown_change": f"{feature}{schema.CHANGE_SUFFIX} at {session}"}
    excluded = [{"participant_id": pid, "arm": wide.at[pid, "arm"],
                 "reason": _why_left_out(compared[compared["participant_id"] == pid], used_tasks,
                                         (reference, session), outcome, feature, failed)
                 or "no " + ", ".join(labels[c] for c in needed if pd.isna(wide.at[pid, c]))}
                for pid in wide.index[~complete]]
    excluded = sorted(excluded + _not_in_the_data(study, treated, control),
                      key=lambda e: e["participant_id"])
    if excluded:
        logger.warning("%d participants left out: %s", len(excluded),
                       "; ".join(f"{e['participant_id']} ({e['reason']})" for e in excluded))
    wide = wide[complete].rename_axis("participant_id").reset_index()
    wide["treated"] = (wide["arm"] == treated).astype(int)
    counts = wide["arm"].value_counts()
    for arm in (treated, control):
        if counts.get(arm, 0) < MIN_PER_ARM:
            raise AnalysisError(
                f"arm {arm!r} has {counts.get(arm, 0)} participants with {outcome} and {feature} at "
                f"{reference} and {session}; at least {MIN_PER_ARM} per arm are needed")
    keep = set(wide["participant_id"])
    long = table[table["participant_id"].isin(keep)][
        ["participant_id", "arm", "session", outcome, feature]].rename(
        columns={outcome: "score", feature: "frown"})
    long = long[long["session"].isin(study.sessions)].dropna(subset=["score", "frown"])
    long["visit"] = long["session"].map({s: i for i, s in enumerate(study.sessions)})
    long["treated"] = (long["arm"] == treated).astype(int)
    return AnalysisData(wide=wide, long=long.sort_values(["participant_id", "visit"]),
                        outcome=outcome, feature=feature, task=task, session=session,
                        reference_session=reference, sessions=study.sessions,
                        treated_arm=treated, control_arm=control, excluded=excluded)


def _why_left_out(rows: pd.DataFrame, tasks: list[str], sessions: tuple[str, str], outcome: str,
                  feature: str, failed: dict[str, str]) -> str:
    """Why one participant (``rows``: their session-features rows) has no complete data
    ("" when none of the usual reasons applies)."""
    reasons = []
    for session in sessions:
        at = rows[rows["session"] == session]
        missing = [t for t in tasks if t not in set(at["task"])]
        if missing and len(missing) == len(tasks) > 1:
            reasons.append(f"no recording at {session}")
        elif missing:
            reasons.append(f"no {', '.join(missing)} recording at {session}"
                           + (f" (--task {ALL_TASKS} needs every task)" if len(tasks) > 1 else ""))
        for _, r in at[at["task"].isin(tasks) & at[feature].isna()].iterrows():
            rid = r.get("recording_id", f"{r['participant_id']}_{session}_{r['task']}")
            n, valid = r.get("n_frames", np.nan), r.get("valid_fraction", np.nan)
            if rid in failed:
                reasons.append(f"{rid} failed: {failed[rid]}")
            elif np.isfinite(n) and np.isfinite(valid) and round(valid * n) == 0:
                reasons.append(f"too few valid frames in {rid} (0 of {int(n)})")
            elif np.isfinite(n) and np.isfinite(valid):
                reasons.append(f"no {feature} for {rid} ({round(valid * n)} of {int(n)} frames "
                               "valid)")
            else:
                reasons.append(f"no {feature} for {rid} (not measured)")
        if len(at) and at[outcome].isna().all():
            reasons.append(f"no {outcome} score at {session}")
    return "; ".join(reasons)


def _not_in_the_data(study: StudyInput, treated: str, control: str) -> list[dict]:
    """Participants of other arms, and participants of the study with no recording at all."""
    table = study.features
    held = table.drop_duplicates("participant_id")[["participant_id", "arm"]]
    if study.participants is not None:
        absent = study.participants[~study.participants["participant_id"].isin(held["participant_id"])]
        held = pd.concat([held, absent], ignore_index=True)
    recorded = set(table["participant_id"])
    out = []
    for pid, arm in zip(held["participant_id"], held["arm"]):
        if arm not in (treated, control):
            out.append({"participant_id": pid, "arm": arm,
                        "reason": f"arm {arm} is not compared ({treated} vs {control})"})
        elif pid not in recorded:
            out.append({"participant_id": pid, "arm": arm, "reason": "no recordings"})
    return out
