"""The codebook: every column of session_features and wide.csv, with unit, meaning, range and how computed.

Descriptions are derived from :mod:`facefeedback.schema` (per-frame columns,
recording features, signal statistics, known scales) and the study's declared
scales and covariates, so the codebook cannot drift from the tables. It also
holds what the .sav / .dta exports and the BIDS sidecars say of each column: a
short variable ``label``, the numeric codes (``levels``) of ``arm``, ``session``,
``task`` and true/false columns, and the column's name in SPSS and Stata
(``spss_name``, ``stata_name``: the same name unless the format needs another).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import bids, schema
from ..config import ComparabilityConfig
from ..files import atomic_write_text, write_table
from .comparability import comparability_columns
from .features import WideColumn, session_features, wide_table
from .manifest import Study
from .statformats import CODED, FLAG_LABELS, SPSS, STATA, variable_names
from .trial_features import trial_entries

#: Valid range of a value by its unit (schema units).
UNIT_RANGES = {
    "count": ">= 0", "s": ">= 0", "1/min": ">= 0", "0-1": "0 to 1", "%": "0 to 100", "IOD": "> 0",
    "a.u.": ">= 0", "FU": ">= 0; 0 = at or away from the neutral reference (never negative), 1 = typical full "
          "deliberate frown",
    "SU": ">= 0; 0 = at or away from the neutral reference (never negative), 1 = typical full smile",
    "deg": "-180 to 180", "0-255": "0 to 255", "px": "> 0", "ln": ">= 0", "grey levels": ">= 0",
}
SUMMARY = "from the recording's valid frames (recordings/<recording_id>/summary.json)"
#: Codebook "units" that are kinds of value, not units: no ``Units`` in a sidecar, none in a label.
NOT_UNITS = frozenset({"id", "category", "flag", "as given", "text"})


@dataclass(frozen=True)
class Entry:
    unit: str
    meaning: str
    range: str
    computed: str
    label: str  # short variable label for SPSS and Stata (most telling words first)


def _with_unit(text: str, unit: str) -> str:
    return text if unit in NOT_UNITS else f"{text} ({unit})"


def _feature_entries() -> dict[str, Entry]:
    out = {}
    for name, unit, meaning in schema.RECORDING_FEATURES:
        out[name] = Entry(unit, meaning, UNIT_RANGES.get(unit, "any real"), SUMMARY, _with_unit(meaning, unit))
    for name, unit, meaning in schema.CONDITION_FEATURES:  # medians and spreads: never negative
        out[name] = Entry(unit, f"imaging condition: {meaning}", UNIT_RANGES["0-255"] if unit == "0-255" else ">= 0",
                          "from the recording's frames with a face (recordings/<recording_id>/summary.json)",
                          _with_unit(f"imaging condition: {meaning}", unit))
    frame = {name: (unit, meaning) for name, _, unit, meaning in schema.FRAME_COLUMNS}
    for signal in schema.SUMMARISED_SIGNALS:
        unit, meaning = frame[signal]
        for suffix, stat in schema.signal_statistics(signal):
            out[f"{signal}_{suffix}"] = Entry(unit, f"{signal} ({meaning}): {stat}",
                                              UNIT_RANGES.get(unit, "any real"), SUMMARY,
                                              _with_unit(f"{signal} {stat}", unit))
    return out


def base_entries(study: Study) -> dict[str, Entry]:
    """Descriptions of every column session_features can hold, before change columns."""
    ref = study.reference_session
    out = {
        "participant_id": Entry("id", "participant identifier", "text", "participants table",
                                "participant identifier"),
        "arm": Entry("category", "study arm (e.g. botox, placebo)", "text", "participants table", "study arm"),
        "session": Entry("category", f"visit; order {', '.join(study.sessions)}", "text", "recordings table",
                         "session (visit)"),
        "task": Entry("category", "what the participant did during the recording", "text", "recordings table",
                      "task during the recording"),
        "recording_id": Entry("id", "key of the recording folder DIR/recordings/<recording_id>/; empty in the rows "
                              "of a session with scores but no recording", "text",
                              "<participant_id>_<session>_<task>", "recording key (participant_session_task)"),
        "is_reference": Entry("flag", f"the row belongs to the reference session ({ref})", "true/false",
                              f"session == {ref}", f"row of the reference session ({ref})"),
    }
    for c in study.covariates:
        values = study.participants[c]
        kind = "number" if pd.api.types.is_numeric_dtype(values) else "text"
        out[c] = Entry("as given", f"participant covariate '{c}'", kind, "participants table, as given",
                       f"participant covariate {c}")
    out.update(_feature_entries())
    for name, (lo, hi, cutoff, meaning) in study.scales.items():
        note = f"; remission at or below {cutoff:g}" if cutoff is not None else ""
        out[name] = Entry("points", f"{meaning}{note}", f"{lo:g} to {hi:g}",
                          "scores table, at this session (the same on every task row; NaN when not taken)",
                          f"{name} score: {meaning}{note}")
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
                unit = "percentage points" if base.unit == "%" else base.unit  # a change of a percentage
                return Entry(unit, f"change of {x} from the reference session ({ref})",
                             f"difference of two values of {x} ({base.range})",
                             f"{x} minus {x} at {ref} ({where}); 0 at {ref}",
                             _with_unit(f"change in {x} from {ref}", unit))
            return Entry("%", f"percent change of {x} from the reference session ({ref})", "any real",
                         f"100 * ({x} - {x} at {ref}) / {x} at {ref} ({where}); NaN when the {ref} value is "
                         "not above 0 or missing", f"% change in {x} from {ref}")
    raise KeyError(f"no codebook entry for column {column!r}")


def codebook(study: Study, long: pd.DataFrame, wide: pd.DataFrame, wide_columns: list[WideColumn],
             comparability: pd.DataFrame | None = None, bounds: ComparabilityConfig | None = None) -> pd.DataFrame:
    """One row per column of session_features, of wide.csv and (when given) of comparability.csv."""
    entries = base_entries(study)
    entries.update(trial_entries(study, list(long.columns), Entry))
    levels = study.levels
    rows, parts = [], []
    for col in long.columns:
        rows.append(_row("session_features", col, describe(col, entries, study), long[col], levels))
        parts.append((col,))
    for wc in wide_columns:
        e = describe(wc.source, entries, study)
        at = "".join(f", {k} {v}" for k, v in (("session", wc.session), ("task", wc.task)) if v)
        where = " ".join(v for v in (wc.session, wc.task) if v)
        e = Entry(e.unit, f"{e.meaning} [{wc.source}{at}]", e.range, e.computed,
                  f"{where}: {e.label}" if where else e.label)
        rows.append(_row("wide", wc.name, e, wide[wc.name], levels))
        parts.append((wc.source, wc.session, wc.task))
    book = pd.DataFrame(rows)
    for fmt in (SPSS, STATA):
        names = pd.Series("", index=book.index)
        for table in ("session_features", "wide"):
            pick = book["table"] == table
            columns = [(n, p) for n, p, keep in zip(book["name"], parts, pick) if keep]
            names[pick] = variable_names(columns, fmt)
        book[f"{fmt.key}_name"] = names
    if comparability is not None:  # not exported to .sav / .dta: no codes; its names fit both formats
        extra = pd.DataFrame([_row("comparability", name, Entry(unit, meaning, valid_range, computed,
                                                                 _with_unit(meaning, unit)), comparability[name], levels)
                              for name, unit, meaning, valid_range, computed
                              in comparability_columns(bounds or ComparabilityConfig())])
        extra["levels"] = ""
        extra["spss_name"] = extra["stata_name"] = extra["name"]
        book = pd.concat([book, extra], ignore_index=True)
    return book


def _codes(name: str, values: pd.Series, levels: dict[str, list[str]]) -> dict[int, str]:
    """The numeric codes of a column in the .sav / .dta exports: code -> value."""
    if name in CODED:
        return {i + 1: v for i, v in enumerate(levels[name])}
    if pd.api.types.is_bool_dtype(values):
        return dict(FLAG_LABELS)
    return {}


def _row(table: str, name: str, e: Entry, values: pd.Series, levels: dict[str, list[str]]) -> dict:
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    codes = _codes(name, values, levels)
    return {"table": table, "name": name, "type": _kind(values), "unit": e.unit, "meaning": e.meaning,
            "label": e.label, "levels": "; ".join(f"{k} = {v}" for k, v in codes.items()),
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
                          "participant x session x task)"), ("wide", "features/wide.csv (one row per participant with recordings)"),
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
    lines += ["## In the .sav and .dta files", "",
              "Each variable's label is the `label` column of codebook.csv (cut to 256 bytes in SPSS, "
              "80 characters in Stata). Numeric codes:", ""]
    coded = book.drop_duplicates("name").loc[lambda b: b["levels"] != ""]
    lines += [f"- `{r.name}`: {r.levels}" for r in coded.itertuples(index=False)] + [""]
    renamed = book[(book["spss_name"] != book["name"]) | (book["stata_name"] != book["name"])]
    if len(renamed):
        lines += ["Names that SPSS (64 bytes) or Stata (32 characters) does not accept are changed, the same "
                  "way every time:", "", "| table | name | SPSS name | Stata name |", "|---|---|---|---|"]
        lines += [f"| {r.table} | `{r.name}` | `{r.spss_name}` | `{r.stata_name}` |"
                  for r in renamed.itertuples(index=False)]
        lines.append("")
    return "\n".join(lines)


#: What each column of codebook.csv holds (its own sidecar, codebook.json).
CODEBOOK_FIELDS = {
    "table": "session_features, wide or comparability", "name": "column name in the table",
    "type": "boolean, integer, number or text", "unit": "unit, or the kind of value (id, category, flag)",
    "meaning": "what the column holds", "label": "variable label in the .sav and .dta files (cut to their limits)",
    "levels": "numeric codes in the .sav and .dta files (code = value)", "range": "valid range",
    "computed": "how the value is computed", "observed_min": "smallest value in this study",
    "observed_max": "largest value in this study", "n_missing": "number of missing values",
    "spss_name": "the column's name in the .sav file", "stata_name": "the column's name in the .dta file",
}


def table_sidecar(book: pd.DataFrame, table: str, study: Study) -> dict:
    """The BIDS sidecar of a feature table: every column's description, units and levels, from the codebook."""
    out = {}
    for r in book[book["table"] == table].itertuples(index=False):
        levels = None
        if r.name in CODED:
            ref = {study.reference_session: ", the reference session"} if r.name == "session" else {}
            levels = {v: f"{r.name} {v}{ref.get(v, '')} (code {k} in .sav and .dta)"
                      for k, v in enumerate(study.levels[r.name], start=1)}
        elif r.type == "boolean":
            levels = {str(bool(k)): f"{v} (code {k} in .sav and .dta)" for k, v in FLAG_LABELS.items()}
        out[r.name] = bids.column_entry(
            r.meaning, None if r.unit in NOT_UNITS else r.unit, levels,
            SPSSName=r.spss_name if r.spss_name != r.name else "",
            StataName=r.stata_name if r.stata_name != r.name else "")
    return out


def write_feature_outputs(study: Study, summaries: dict[str, dict], folder: Path,
                          comparability: pd.DataFrame | None = None,
                          bounds: ComparabilityConfig | None = None) -> pd.DataFrame:
    """Write session_features (.parquet, .csv), wide.csv, comparability.csv (when given), codebook.csv and
    codebook.md into ``folder``.

    Each table gets its BIDS sidecar (``session_features.json``, ``wide.json``, ``comparability.json``,
    ``codebook.json``).
    """
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
    for table in ("session_features", "wide"):
        bids.write_sidecar(folder / f"{table}.csv", table_sidecar(book, table, study))
    if comparability is not None:
        bids.write_sidecar(folder / "comparability.csv",
                           {r.name: bids.column_entry(r.meaning, None if r.unit in NOT_UNITS else r.unit)
                            for r in book[book["table"] == "comparability"].itertuples(index=False)})
    bids.write_sidecar(folder / "codebook.csv", {k: bids.column_entry(v) for k, v in CODEBOOK_FIELDS.items()})
    return long
