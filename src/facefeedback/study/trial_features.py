"""Session features from trials and the maximal frown, their codebook entries and their stamp.

From each recording's ``summary.json`` (``trials`` and ``capacity``, :mod:`facefeedback.trials`):

* ``<p>_response_<trial_type>_mean``: the mean over the recording's included trials of that
  type of ``<p>_response_mean``, for every expression measured (``frown``, and ``smile`` when
  the per-frame table has ``smile_intensity``);
* ``<p>_response_<contrast>``: for a contrast ``NAME: [a, b]`` of the study file, the ``a``
  mean minus the ``b`` mean;
* ``trials_<trial_type>_n``: the included trials of that type;
* on the capacity task's rows, ``frown_capacity``, ``frown_capacity_attempts_n`` and
  ``<component>_at_capacity``, and ``frown_capacity_pct_of_baseline``.

Like every feature they get change columns from the reference session (same participant, same task).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import schema
from ..files import file_sha256, write_table
from ..textrows import as_text, typed_column
from ..trials import TRIALS_FILE, prefix
from .manifest import Study

__all__ = ["TRIALS_FILE", "trial_stamp", "trial_values", "trial_feature_names", "with_capacity_percent",
           "trial_entries", "PCT_OF_BASELINE", "write_study_trials"]

PCT_OF_BASELINE = "frown_capacity_pct_of_baseline"


def trial_stamp(events_path: str | None, capacity: bool) -> dict:
    """What a recording's provenance records of its events file and capacity task (a changed
    events file makes its outputs out of date)."""
    given = isinstance(events_path, str) and events_path  # the recordings table's column: a path, or missing
    return {"events_sha256": file_sha256(events_path) if given else None, "capacity_task": bool(capacity)}


def _families(summary: dict) -> list[str]:
    series = (summary.get("trials") or {}).get("series", [])
    return [prefix(s) for s in series if s.endswith("_intensity")]


def trial_values(study: Study, summary: dict) -> dict[str, float | None]:
    """The trial and capacity features of one recording's summary.json (None where there is no value)."""
    out: dict[str, float | None] = {}
    conditions = (summary.get("trials") or {}).get("conditions", {})
    for p in _families(summary):
        means = {tt: conditions.get(tt, {}).get(f"{p}_response_mean") for tt in study.trial_types}
        out.update({f"{p}_response_{tt}_mean": v for tt, v in means.items()})
        for name, (a, b) in study.spec.contrasts.items():
            ok = means.get(a) is not None and means.get(b) is not None
            out[f"{p}_response_{name}"] = means[a] - means[b] if ok else None
    if conditions:
        # a type the recording's events file does not have is missing, not 0 trials
        out.update({f"trials_{tt}_n": conditions[tt]["included"] if tt in conditions else None
                    for tt in study.trial_types})
    capacity = summary.get("capacity") or {}
    out.update({k: v for k, v in capacity.items() if k != "attempts_from"})
    return out


def trial_feature_names(study: Study, values: dict[str, dict]) -> list[str]:
    """The trial and capacity columns of session_features, given every recording's
    :func:`trial_values` (or summary features holding them)."""
    families = ["frown"] + sorted({k.split("_response_")[0] for v in values.values() for k in v
                                   if "_response_" in k} - {"frown"})
    names = []
    if study.trial_types:
        for p in families:
            names += [f"{p}_response_{tt}_mean" for tt in study.trial_types]
            names += [f"{p}_response_{name}" for name in study.spec.contrasts]
        names += [f"trials_{tt}_n" for tt in study.trial_types]
    if study.spec.capacity_task is not None:
        names += ["frown_capacity", "frown_capacity_attempts_n"]
        names += [f"{c}_at_capacity" for c in schema.COMPONENTS]
    return names


def with_capacity_percent(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``frown_capacity_pct_of_baseline``: 100 * frown_capacity / its value at the reference
    session, where that is above 0 (as every percent change, :mod:`facefeedback.changes`)."""
    change = f"frown_capacity{schema.CHANGE_SUFFIX}"
    if change not in table:
        return table
    reference = table["frown_capacity"] - table[change]
    table[PCT_OF_BASELINE] = 100.0 * table["frown_capacity"] / reference.where(reference > 0)
    return table


def series_unit(prefix: str) -> str:
    """The unit of a measured series named by its prefix (``frown`` -> frown_intensity's FU,
    ``smile`` -> SU, a component by its own), from the per-frame column contract."""
    units = {name: unit for name, _, unit, _ in schema.FRAME_COLUMNS}
    return units.get(f"{prefix}_intensity", units.get(prefix, "a.u."))


def trial_entries(study: Study, columns, entry) -> dict:
    """Codebook entries (built by ``entry(unit, meaning, range, computed, label)``) of the trial
    and capacity columns among ``columns`` (change columns are described from these)."""
    trials = "recordings/<recording_id>/trials.parquet and summary.json (trials)"
    window = "baseline-corrected mean over the response window (events.response_window_s; default 0 s to the " \
             "trial's duration) minus the baseline window's mean (events.baseline_window_s; default -1 to 0 s)"
    out = {}
    for col in columns:
        if col.startswith("trials_") and col.endswith("_n"):
            tt = col[len("trials_"):-2]
            out[col] = entry("count", f"trials of type {tt} included (enough valid frames in both windows)",
                             ">= 0", trials, f"{tt} trials included")
        elif "_response_" in col and not col.endswith((schema.CHANGE_SUFFIX, "_pct_of_baseline")):
            p, rest = col.split("_response_", 1)
            unit = series_unit(p)
            if rest.endswith("_mean") and rest[:-5] in study.trial_types:
                tt = rest[:-5]
                out[col] = entry(unit, f"{p} response to {tt} trials: mean over the included trials of the {window}",
                                 "any real", trials, f"{p} response to {tt} trials")
            elif rest in study.spec.contrasts:
                a, b = study.spec.contrasts[rest]
                out[col] = entry(unit, f"{p} response contrast {rest}: mean response to {a} trials minus to {b} "
                                       "trials", "any real", f"{p}_response_{a}_mean - {p}_response_{b}_mean",
                                 f"{p} response {a} minus {b}")
    task = study.spec.capacity_task
    where = f"the {task} recording's frown attempts (summary.json, capacity)"
    known = {
        "frown_capacity": entry("FU", "maximal frown: mean over attempts of the peak frown_intensity", ">= 0",
                                where, "maximal frown (capacity)"),
        "frown_capacity_attempts_n": entry("count", "maximal-frown attempts found (trials of the task's events "
                                                    "file, else its frown events)", ">= 0", where,
                                           "maximal frown attempts"),
        PCT_OF_BASELINE: entry("%", "maximal frown as a percent of the participant's at the reference session",
                               ">= 0", f"100 * frown_capacity / frown_capacity at {study.reference_session}",
                               "maximal frown, % of baseline"),
    }
    frame = {name: (unit, meaning) for name, _, unit, meaning in schema.FRAME_COLUMNS}
    for c in schema.COMPONENTS:
        unit, meaning = frame[c]
        known[f"{c}_at_capacity"] = entry(unit, f"{c} ({meaning}) at the maximal frown: mean over attempts of its "
                                                "value at each attempt's peak frown", "any real", where,
                                          f"{c} at maximal frown")
    out.update({k: v for k, v in known.items() if k in columns})
    return out


def write_study_trials(study: Study, recordings: Path, written: list[str], folder: Path) -> Path | None:
    """``folder/trials.parquet``: every trial of the study, one row each, for trial-level models:
    ``participant_id``, ``arm``, ``session``, ``task``, ``recording_id``, then the recording's
    ``trials.parquet`` columns (a column some recordings lack, such as an events file's own, is
    empty there). Written only when some recording has trials."""
    arms = dict(zip(study.participants["participant_id"], study.participants["arm"]))
    rows = study.recordings.set_index("recording_id")
    parts = []
    for rid in written:
        path = recordings / rid / TRIALS_FILE
        if rid in study.events and path.is_file():
            row = rows.loc[rid]
            ids = {"participant_id": row["participant_id"], "arm": arms[row["participant_id"]],
                   "session": row["session"], "task": row["task"], "recording_id": rid}
            parts.append(pd.read_parquet(path).assign(**ids))
    if not parts:
        return None
    table = pd.concat(parts, ignore_index=True)
    for column in table.columns:  # an events column typed as numbers in one file and text in another
        kinds = {pd.api.types.is_numeric_dtype(p[column]) for p in parts if column in p and p[column].notna().any()}
        if len(kinds) > 1:
            table[column] = typed_column([as_text(v) or "" for v in table[column]])
    first = ["participant_id", "arm", "session", "task", "recording_id"]
    target = folder / TRIALS_FILE
    write_table(table[first + [c for c in table.columns if c not in first]], target)
    return target
