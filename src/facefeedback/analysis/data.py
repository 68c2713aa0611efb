"""Shaping a study's session features (:mod:`.study_features`) into the table the models use.

Every check of the requested analysis against the data lives here and raises
:class:`AnalysisError` with one line that names what was asked for and what is available.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import schema
from ..errors import AnalysisError
from .study_features import StudyFeatures

logger = logging.getLogger(__name__)

#: Arm names taken as the treated arm when ``treated_arm`` is not given.
TREATED_ARM_PATTERN = re.compile(r"botox|toxin|botulinum|bont|treat|active|verum", re.IGNORECASE)
#: Every task averaged per participant and session.
ALL_TASKS = "all"
MIN_PER_ARM = schema.MIN_PER_ARM
#: The fields of each record of :attr:`AnalysisData.excluded`.
EXCLUSION_FIELDS = ("participant_id", "arm", "reason")


@dataclass
class AnalysisData:
    """The per-participant table the models use, and the choices that made it.

    ``wide`` has one row per participant: ``participant_id``, ``arm``,
    ``treated`` (1/0), ``baseline`` (outcome at the reference session),
    ``followup`` (outcome at the analysed session), ``mood_change``,
    ``mood_pct_change``, ``frown_change``, ``frown_baseline`` and the change of
    every frown feature (``<feature>_change``) for the predictive model; with a measured control
    expression also ``control_change`` and ``control_baseline`` (its value at the reference
    session). ``long``
    has one row per participant and session with both measured (``score``, ``frown``,
    ``session``), for every participant of the compared arms, those ``wide`` leaves out for a
    missing visit too (the repeated-visits model uses every visit there is).
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
    #: The control expression's feature; ``wide["control_change"]`` is its change, when measured.
    control_feature: str | None = None
    #: The maximal frown per participant (:func:`~.trial_data.capacity_table`), None without one.
    capacity: pd.DataFrame | None = None
    #: The included trials of the compared participants (:func:`~.trial_data.compared_trials`).
    trials: pd.DataFrame | None = None
    #: The study output folder (per-frame tables for the time courses), and the trial baseline window.
    root: object = None
    baseline_window_s: tuple[float, float] = (-1.0, 0.0)
    #: The study file's contrasts (name: [condition, reference condition]): the trial-level
    #: model's reference condition (:func:`~.trial_data.condition_order`).
    contrasts: dict[str, list[str]] = field(default_factory=dict)
    #: The outcome's remission cut-off (the study file's for a custom scale), None when it has none.
    remission_cutoff: float | None = None


def available_scales(features: pd.DataFrame) -> list[str]:
    """Score columns: those with a change column that are neither ids nor recording features."""
    skip = set(schema.summary_feature_names()) | set(schema.SESSION_ID_COLUMNS)
    return [c for c in features.columns
            if c not in skip and not c.endswith(schema.CHANGE_SUFFIX) and not schema.is_trial_feature(c)
            and c + schema.CHANGE_SUFFIX in features.columns
            and pd.api.types.is_numeric_dtype(features[c])]


def frown_feature_names(features: pd.DataFrame, family: str | None = None) -> list[str]:
    """Recording features present in the table, without the recording-quality ones; with
    ``family``, only that component family's (``frown``, ``smile``)."""
    wanted = None if family is None else set(schema.family_feature_names(family))
    measured = [f for f in schema.summary_feature_names()
                if f in features.columns and f not in schema.QUALITY_FEATURES and (wanted is None or f in wanted)]
    trials = [f for f in features.columns
              if schema.is_trial_feature(f) and (family is None or f.startswith(f"{family}_"))]
    return measured + trials


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


def _select_task(features: pd.DataFrame, task: str | None, capacity_task: str | None = None
                 ) -> tuple[pd.DataFrame, str, list[str]]:
    """The rows of ``task`` (or, for ``"all"``, their mean per participant and session), the
    task, and the tasks the rows come from. The capacity task (maximal frowns on request) is no
    sample of a participant's frowning: ``"all"`` and the default leave it out."""
    tasks = sorted(features["task"].unique())
    if task in (None, ALL_TASKS) and capacity_task in tasks and len(tasks) > 1:
        features = features[features["task"] != capacity_task]
        tasks = [t for t in tasks if t != capacity_task]
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
        # one new frame, not a column at a time (pandas warns of a fragmented frame on every analysis)
        averaged = pd.concat([averaged.drop(columns=per_recording), averaged[per_recording].where(complete)],
                             axis=1)[averaged.columns]
        averaged = averaged.reset_index()
        averaged["task"] = ALL_TASKS
        return averaged, task, tasks
    if task not in tasks:
        raise AnalysisError(f"task {task!r} is not in the data; tasks: {', '.join(tasks)}")
    return features[features["task"] == task].copy(), task, [task]


def prepare(study: StudyFeatures, outcome: str, feature: str = "frown_intensity_mean",
            task: str | None = None, session: str | None = None,
            treated_arm: str | None = None, control_arm: str | None = None,
            control_feature: str = "smile_intensity_mean") -> AnalysisData:
    """Check the requested analysis against the data and build :class:`AnalysisData`.

    Parameters
    ----------
    study : StudyFeatures
        From :func:`~facefeedback.analysis.study_features.load_study_features`.
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
    control_feature : str
        The control expression's feature, the second mediator of the specificity model
        (default ``smile_intensity_mean``); any feature with a change column.

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
    if control_feature + schema.CHANGE_SUFFIX not in table and control_feature != "smile_intensity_mean":
        raise AnalysisError(f"control feature {control_feature!r} has no change column; features available: "
                            f"{', '.join(features)}")
    table, task, used_tasks = _select_task(compared, task, study.capacity_task)
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
        "frown_change": follow[feature + schema.CHANGE_SUFFIX],
    })
    wide["baseline"] = base[outcome].reindex(wide.index)
    # From the change and the baseline, as session features computes it: a table without the
    # percent-change column (a user's own) gives the same responders, not none.
    wide["mood_pct_change"] = 100.0 * wide["mood_change"] / wide["baseline"].where(wide["baseline"] > 0)
    wide["frown_baseline"] = base[feature].reindex(wide.index)
    wide = wide.join(follow[change_cols].add_prefix("x_"))
    if control_feature + schema.CHANGE_SUFFIX in follow:
        wide["control_change"] = follow[control_feature + schema.CHANGE_SUFFIX]
        wide["control_baseline"] = base[control_feature].reindex(wide.index)
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
    # In participant order, whatever the order of the table's rows: the bootstraps, permutations
    # and cross-validation folds draw by row, so the same data in another order drew otherwise.
    wide = wide[complete].rename_axis("participant_id").sort_index(kind="stable").reset_index()
    wide["treated"] = (wide["arm"] == treated).astype(int)
    counts = wide["arm"].value_counts()
    for arm in (treated, control):
        if counts.get(arm, 0) < MIN_PER_ARM:
            raise AnalysisError(
                f"arm {arm!r} has {counts.get(arm, 0)} participants with {outcome} and {feature} at "
                f"{reference} and {session}; at least {MIN_PER_ARM} per arm are needed")
    # Every visit of every participant of the compared arms, those with a visit missing too: the
    # mixed model uses whatever each participant has, which is why it is fitted.
    long = table[table["participant_id"].isin(set(arms.index))][
        ["participant_id", "arm", "session", outcome, feature]].rename(
        columns={outcome: "score", feature: "frown"})
    long = long[long["session"].isin(study.sessions)].dropna(subset=["score", "frown"])
    long["visit"] = long["session"].map({s: i for i, s in enumerate(study.sessions)})
    long["treated"] = (long["arm"] == treated).astype(int)
    from .trial_data import capacity_table, compared_trials

    return AnalysisData(wide=wide, long=long.sort_values(["participant_id", "visit"]),
                        outcome=outcome, feature=feature, task=task, session=session,
                        reference_session=reference, sessions=study.sessions,
                        treated_arm=treated, control_arm=control, excluded=excluded,
                        control_feature=control_feature if "control_change" in wide else None,
                        capacity=capacity_table(study, treated, control, reference, session),
                        trials=compared_trials(study, treated, control), root=study.root,
                        baseline_window_s=study.baseline_window_s, contrasts=study.contrasts,
                        remission_cutoff=study.remission_cutoff(outcome))


def _why_left_out(rows: pd.DataFrame, tasks: list[str], sessions: tuple[str, str], outcome: str,
                  feature: str, failed: dict[str, str]) -> str:
    """Why one participant (``rows``: their session-features rows) has no complete data
    ("" when none of the usual reasons applies)."""
    reasons = []
    for session in sessions:
        visit = rows[rows["session"] == session]
        # A session with scores but no recording has rows without a recording_id.
        at = visit[visit["recording_id"].notna()] if "recording_id" in visit else visit
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
        if len(visit) and visit[outcome].isna().all():
            reasons.append(f"no {outcome} score at {session}")
    return "; ".join(reasons)


def _not_in_the_data(study: StudyFeatures, treated: str, control: str) -> list[dict]:
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
