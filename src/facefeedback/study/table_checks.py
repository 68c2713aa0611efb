"""The participants, recordings and scores tables of a study, checked row by row.

Each check takes a table read by :func:`.tables.read_table`, adds a problem naming the file and
row for every bad row, and returns the good rows as a DataFrame; :func:`.manifest.load_study`
runs them with the checks of the study file and raises every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .. import schema
from ..changes import with_changes
from ..files import find_path
from ..textrows import closest, is_missing, parse_number, typed_column
from .spec import StudySpec
from .tables import Table, check_duplicates, check_ids

#: The ids of session_features (they have no change columns).
ID_COLUMNS = frozenset({*schema.SESSION_ID_COLUMNS, "recording_id", "is_reference"})
#: Columns of session_features that a participant covariate or a custom scale must not shadow.
RESERVED_COLUMNS = ID_COLUMNS | frozenset(schema.summary_feature_names())


def shadows(name: str, scales: Iterable[str] = (), changes: bool = False) -> bool:
    """Whether a column ``name`` (a covariate; a custom scale, with ``changes``: its change and
    percent change columns too) would clash with a column that session_features makes: an id, a
    recording feature, a trial feature, one of ``scales`` (and the known ones), or the change or
    percent change of any of these (a scale MOOD_pct's percent change would be MOOD's)."""
    taken = ID_COLUMNS | with_changes(RESERVED_COLUMNS - ID_COLUMNS | set(schema.KNOWN_SCALES) | set(scales))
    made = with_changes([name]) if changes else {name}
    stems = {x[:-len(suffix)] if suffix and x.endswith(suffix) else x
             for x in made for suffix in ("", schema.CHANGE_SUFFIX, schema.PCT_CHANGE_SUFFIX)}
    return bool(made & taken) or any(schema.is_trial_feature(stem) for stem in stems)


def check_participants(t: Table, problems: list[str], scales: Iterable[str] = ()
                       ) -> tuple[pd.DataFrame, list[str]]:
    """The participants (id, arm, covariates: numbers where every value is one and none is written
    with a leading zero, like a site code '01' or a postcode '01067', which stay text) and the covariates'
    names, none of which may be that of a session-features column (:func:`shadows`; ``scales``: the
    study's)."""
    rows = check_ids(t, ("participant_id",), problems)
    for i in list(rows):
        if is_missing(t.rows[i]["arm"]):
            problems.append(f"{t.where(i)}: arm is empty")
    rows = check_duplicates(t, rows, ("participant_id",), problems)
    covariates = [c for c in t.columns if c not in ("participant_id", "arm")]
    for c in covariates:
        if c in scales and c not in schema.KNOWN_SCALES:
            problems.append(f"{t.name}: column '{c}' is also the name of a scale of the study file; rename one")
        elif shadows(c, scales):
            problems.append(f"{t.name}: column '{c}' has the name of a session-features column (a feature, a "
                            "scale or a change of one); rename it")
    df = pd.DataFrame([t.rows[i] for i in rows], columns=t.columns)
    for c in covariates:
        df[c] = typed_column(list(df[c]))
    return df, covariates


def check_recordings(t: Table, spec: StudySpec, study_file: Path, known: set[str] | None,
                     sessions: list[str] | None, ptable: Table | None, problems: list[str]) -> pd.DataFrame:
    """The recordings (id, participant, session, task, path, row) of known participants and sessions,
    each with a readable file and every participant with a baseline recording (``study_file``: the
    study file, named when its reference session or calibration tasks are in no recording)."""
    rows = check_ids(t, ("participant_id", "session", "task"), problems)
    # a participant with a row left out for an empty or malformed id: that row may be its baseline
    said = {t.rows[i]["participant_id"] for i in set(range(len(t.rows))) - set(rows)}
    rows = check_duplicates(t, rows, ("participant_id", "session", "task"), problems)
    keep, ids, strange = [], {}, {}
    for i in rows:
        row = t.rows[i]
        _check_media(t, i, problems)
        if known is not None and row["participant_id"] not in known:
            problems.append(f"{t.where(i)}: participant {row['participant_id']} is not in {ptable.name}")
            continue
        if sessions is not None and row["session"] not in sessions:
            strange.setdefault(row["session"], []).append(i)
        rid = f"{row['participant_id']}_{row['session']}_{row['task']}"
        if rid in ids:
            problems.append(f"{t.where(i)}: recording id {rid} is also made by row {t.line[ids[rid]]}; "
                            "rename a participant, session or task")
        ids[rid] = i
        keep.append(i)
    _unknown_sessions(t, strange, sessions, "in the study file's sessions", problems)
    df = pd.DataFrame({
        "recording_id": [f"{t.rows[i]['participant_id']}_{t.rows[i]['session']}_{t.rows[i]['task']}" for i in keep],
        "participant_id": [t.rows[i]["participant_id"] for i in keep],
        "session": [t.rows[i]["session"] for i in keep],
        "task": [t.rows[i]["task"] for i in keep],
        "path": [str(_media_path(t, i)) for i in keep],
        "row": [t.line[i] for i in keep]})
    _check_baselines(t, df, spec, study_file, problems, said)
    return df


def _media_path(t: Table, i: int) -> Path:
    """Recording paths are relative to the recordings table's folder."""
    return find_path((t.path.parent / t.rows[i]["path"]).resolve())


def _check_media(t: Table, i: int, problems: list[str]) -> None:
    raw = t.rows[i]["path"]
    if is_missing(raw):
        problems.append(f"{t.where(i)}: path is empty")
        return
    media = _media_path(t, i)
    if not media.exists():
        problems.append(f"{t.where(i)}: recording file {media} does not exist")
    elif not media.is_file():
        problems.append(f"{t.where(i)}: recording path {media} is not a file")
    else:
        try:
            with open(media, "rb") as fh:
                first = fh.read(1)
        except OSError as exc:
            problems.append(f"{t.where(i)}: recording file {media} cannot be read ({exc.strerror or exc})")
            return
        if not first:
            problems.append(f"{t.where(i)}: recording file {media} is empty (0 bytes)")


def _check_baselines(t: Table, df: pd.DataFrame, spec: StudySpec, study_file: Path, problems: list[str],
                     said: set[str] = frozenset()) -> None:
    """Every participant has a recording at the reference session, of a calibration task. A reference
    session or calibration task that no recording has is a mistake of the study file: one line naming
    it, with the values the table has, and no line per participant for it. Participants in ``said``
    (and those of rows left out for their number of cells) have a row already named as a problem,
    which may be their baseline: no second line for them."""
    ref = spec.reference_session
    sessions = _values(t, "session")
    if ref not in sessions:
        # else the sessions check has named it, or rows left out (and said so) may hold it
        if (spec.sessions is None or ref in spec.sessions) and not said and not t.rejected:
            problems.append(f"{study_file}: reference_session '{ref}' is not a session of {t.name} "
                            f"({', '.join(sessions)})")
        return
    cal_tasks = spec.calibration.tasks
    if cal_tasks != "all":
        tasks = _values(t, "task", session=ref)
        absent = [x for x in cal_tasks if x not in tasks]
        if absent and tasks:  # none: every row at the reference session was left out, and said so
            verb = "is not a task" if len(absent) == 1 else "are not tasks"
            problems.append(f"{study_file}: calibration.tasks {', '.join(repr(x) for x in absent)} {verb} of the "
                            f"'{ref}' recordings in {t.name} ({', '.join(tasks)})")
        cal_tasks = [x for x in cal_tasks if x in tasks]
    line_to_index = {n: k for k, n in enumerate(t.line)}
    said = set(said) | t.rejected_values("participant_id")  # their reference recording may be a row said so
    for pid, group in df.groupby("participant_id", sort=False):
        if pid in said:
            continue
        idx = [line_to_index[n] for n in group["row"]]
        baseline = group[group["session"] == ref]
        if baseline.empty:
            problems.append(f"{t.where_many(idx)}: participant {pid} has sessions "
                            f"{', '.join(dict.fromkeys(group['session']))} but no recording at the reference "
                            f"session '{ref}', so frowning cannot be calibrated or compared with baseline")
        elif cal_tasks != "all" and cal_tasks and not baseline["task"].isin(cal_tasks).any():
            problems.append(f"{t.where_many(idx)}: participant {pid} has no '{ref}' recording of the calibration "
                            f"task(s) {', '.join(cal_tasks)} (has {', '.join(baseline['task'])})")


def _values(t: Table, column: str, session: str | None = None) -> list[str]:
    """The values of ``column`` in the table's rows (at ``session``), in order of first appearance."""
    return list(dict.fromkeys(r[column] for r in t.rows
                              if not is_missing(r[column]) and (session is None or r["session"] == session)))


def check_scores(t: Table, known: set[str] | None, sessions: list[str] | None,
                 scales: dict[str, tuple], ptable: Table | None, problems: list[str]) -> pd.DataFrame:
    """The scores taken (participant, session, scale, score, row), each within its scale's range."""
    rows = check_ids(t, ("participant_id", "session"), problems)
    rows = check_duplicates(t, rows, ("participant_id", "session", "scale"), problems)
    out, strange = [], {}
    for i in rows:
        row = t.rows[i]
        scale, raw = row["scale"], row["score"]
        ok = True
        if known is not None and row["participant_id"] not in known:
            problems.append(f"{t.where(i)}: participant {row['participant_id']} is not in {ptable.name}")
            ok = False
        if sessions is not None and row["session"] not in sessions:
            strange.setdefault(row["session"], []).append(i)
            ok = False
        if scale not in scales:
            problems.append(f"{t.where(i)}: unknown scale '{scale}'; known scales are {', '.join(scales)} "
                            "(declare others under 'scales:' in the study file, with their range)")
            continue
        if is_missing(raw):
            continue  # not taken: NaN in the features, not an error
        score = parse_number(raw)
        lo, hi = scales[scale][:2]
        if score is None:
            problems.append(f"{t.where(i)}: {scale} score '{raw}' is not a number")
        elif not lo <= score <= hi:
            problems.append(f"{t.where(i)}: {scale} score {raw} is outside {lo:g}-{hi:g}")
        elif ok:
            out.append((row["participant_id"], row["session"], scale, score, t.line[i]))
    _unknown_sessions(t, strange, sessions, "a session of the study", problems)
    return pd.DataFrame(out, columns=["participant_id", "session", "scale", "score", "row"])


def _unknown_sessions(t: Table, strange: dict[str, list[int]], sessions: list[str] | None, known_as: str,
                      problems: list[str]) -> None:
    """One line for each session value (``strange``: value -> row indices) that is not among
    ``sessions``, with all its rows and the session it resembles: a misspelt session in the study
    file would otherwise give a line for every row of the table."""
    for value, idx in strange.items():
        like = closest(value, sessions)
        hint = f" (did you mean '{like}'?)" if like else ""
        problems.append(f"{t.where_many(idx)}: session '{value}' is not {known_as} ({', '.join(sessions)}){hint}")
