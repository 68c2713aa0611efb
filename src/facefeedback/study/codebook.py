"""The codebook: every column of session_features and wide.csv, with unit, meaning, range and how computed.

Descriptions are derived from :mod:`facefeedback.schema` (per-frame columns,
recording features, signal statistics, known scales) and the study's declared
scales and covariates, so the codebook cannot drift from the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import schema
from ..config import ComparabilityConfig
from ..files import atomic_write_text, write_table
from .comparability import comparability_columns
from .features import WideColumn, session_features, wide_table
from .manifest import Study

#: Valid range of a value by its unit (schema units).
UNIT_RANGES = {
    "count": ">= 0", "s": ">= 0", "1/min": ">= 0", "0-1": "0 to 1", "%": "0 to 100", "IOD": "> 0",
    "a.u.": ">= 0", "FU": "any real; 0 = neutral reference, 1 = typical full deliberate frown, < 0 = less than neutral",
    "deg": "-180 to 180", "0-255": "0 to 255", "px": "> 0", "ln": ">= 0", "grey levels": ">= 0",
}
SUMMARY = "from the recording's valid frames (recordings/<recording_id>/summary.json)"


@dataclass(frozen=True)
class Entry:
    unit: str
    meaning: str
    range: str
    computed: str


def _feature_entries() -> dict[str, Entry]:
    out = {}
    for name, unit, meaning in schema.RECORDING_FEATURES:
        out[name] = Entry(unit, meaning, UNIT_RANGES.get(unit, "any real"), SUMMARY)
    for name, unit, meaning in schema.CONDITION_FEATURES:  # medians and spreads: never negative
        out[name] = Entry(unit, f"imaging condition: {meaning}", UNIT_RANGES["0-255"] if unit == "0-255" else ">= 0",
                          "from the recording's frames with a face (recordings/<recording_id>/summary.json)")
    frame = {name: (unit, meaning) for name, _, unit, meaning in schema.FRAME_COLUMNS}
    for signal in schema.SUMMARISED_SIGNALS:
        unit, meaning = frame[signal]
        for suffix, stat in schema.SIGNAL_STATISTICS:
            out[f"{signal}_{suffix}"] = Entry(unit, f"{signal} ({meaning}): {stat}",
                                              UNIT_RANGES.get(unit, "any real"), SUMMARY)
    return out


def base_entries(study: Study) -> dict[str, Entry]:
    """Descriptions of every column session_features can hold, before change columns."""
    ref = study.reference_session
    out = {
        "participant_id": Entry("id", "participant identifier", "text", "participants table"),
        "arm": Entry("category", "study arm (e.g. botox, placebo)", "text", "participants table"),
        "session": Entry("category", f"visit; order {', '.join(study.sessions)}", "text", "recordings table"),
        "task": Entry("category", "what the participant did during the recording", "text", "recordings table"),
        "recording_id": Entry("id", "key of the recording folder DIR/recordings/<recording_id>/", "text",
                              "<participant_id>_<session>_<task>"),
        "is_reference": Entry("flag", f"the row belongs to the reference session ({ref})", "true/false",
                              f"session == {ref}"),
    }
    for c in study.covariates:
        values = study.participants[c]
        kind = "number" if pd.api.types.is_numeric_dtype(values) else "text"
        out[c] = Entry("as given", f"participant covariate '{c}'", kind, "participants table, as given")
    out.update(_feature_entries())
    for name, (lo, hi, cutoff, meaning) in study.scales.items():
        note = f"; remission at or below {cutoff:g}" if cutoff is not None else ""
        out[name] = Entry("points", f"{meaning}{note}", f"{lo:g} to {hi:g}",
                          "scores table, at this session (the same on every task row; NaN when not taken)")
    return out


def describe(column: str, entries: dict[str, Entry], study: Study) -> Entry:
    """The entry for a session_features column, including change columns."""
    if column in entries:
        return entries[column]
    ref = study.reference_session
    for suffix in (schema.PCT_CHANGE_SUFFIX, schema.CHANGE_SUFFIX):  # _pct_change also ends in _change
        if column.endswith(suffix) and column[:-len(suffix)] in entries:
            x = column[:-len(suffix)]
            base = entries[x]
            where = "same participant" + ("" if x in study.scales else ", same task")
            if suffix == schema.CHANGE_SUFFIX:
                return Entry(base.unit, f"change of {x} from the reference session ({ref})",
                             f"difference of two values of {x} ({base.range})",
                             f"{x} minus {x} at {ref} ({where}); 0 at {ref}")
            return Entry("%", f"percent change of {x} from the reference session ({ref})", "any real",
                         f"100 * ({x} - {x} at {ref}) / {x} at {ref} ({where}); NaN when the {ref} value is 0 "
                         "or missing")
    raise KeyError(f"no codebook entry for column {column!r}")


def codebook(study: Study, long: pd.DataFrame, wide: pd.DataFrame, wide_columns: list[WideColumn],
             comparability: pd.DataFrame | None = None, bounds: ComparabilityConfig | None = None) -> pd.DataFrame:
    """One row per column of session_features, of wide.csv and (when given) of comparability.csv."""
    entries = base_entries(study)
    rows = []
    for col in long.columns:
        rows.append(_row("session_features", col, describe(col, entries, study), long[col]))
    for wc in wide_columns:
        e = describe(wc.source, entries, study)
        at = "".join(f", {k} {v}" for k, v in (("session", wc.session), ("task", wc.task)) if v)
        e = Entry(e.unit, f"{e.meaning} [{wc.source}{at}]", e.range, e.computed)
        rows.append(_row("wide", wc.name, e, wide[wc.name]))
    if comparability is not None:
        for name, unit, meaning, valid_range, computed in comparability_columns(bounds or ComparabilityConfig()):
            rows.append(_row("comparability", name, Entry(unit, meaning, valid_range, computed), comparability[name]))
    return pd.DataFrame(rows)


def _row(table: str, name: str, e: Entry, values: pd.Series) -> dict:
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return {"table": table, "name": name, "type": _kind(values), "unit": e.unit, "meaning": e.meaning,
            "range": e.range, "computed": e.computed,
            "observed_min": values.min() if numeric and values.notna().any() else None,
            "observed_max": values.max() if numeric and values.notna().any() else None,
            "n_missing": int(values.isna().sum())}


def _kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_integer_dtype(values):
        return "integer"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    return "text"


def codebook_markdown(book: pd.DataFrame, study: Study) -> str:
    lines = [f"# Codebook: {study.spec.name or study.path.stem}", "",
             f"Reference session: `{study.reference_session}`; sessions in order: "
             f"{', '.join(f'`{s}`' for s in study.sessions)}. Missing values are empty cells (CSV) or NaN.", ""]
    for table, title in (("session_features", "features/session_features.parquet / .csv (one row per "
                          "participant x session x task)"), ("wide", "features/wide.csv (one row per participant)"),
                         ("comparability", "features/comparability.csv (one row per recording after the "
                          "reference session: its imaging conditions beside the reference visit's)")):
        part = book[book["table"] == table]
        if not len(part):
            continue
        lines += [f"## {title}", "", "| name | type | unit | meaning | range | how computed |",
                  "|---|---|---|---|---|---|"]
        for r in part.itertuples(index=False):
            cells = [f"`{r.name}`", r.type, r.unit, r.meaning, r.range, r.computed]
            lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_feature_outputs(study: Study, summaries: dict[str, dict], folder: Path,
                          comparability: pd.DataFrame | None = None,
                          bounds: ComparabilityConfig | None = None) -> pd.DataFrame:
    """Write session_features (.parquet, .csv), wide.csv, comparability.csv (when given), codebook.csv and
    codebook.md into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    long = session_features(study, summaries)
    wide, wide_columns = wide_table(study, long)
    book = codebook(study, long, wide, wide_columns, comparability, bounds)
    write_table(long, folder / "session_features.parquet")
    write_table(long, folder / "session_features.csv")
    write_table(wide, folder / "wide.csv")
    if comparability is not None:
        write_table(comparability, folder / "comparability.csv")
    write_table(book, folder / "codebook.csv")
    atomic_write_text(folder / "codebook.md", codebook_markdown(book, study))
    return long
