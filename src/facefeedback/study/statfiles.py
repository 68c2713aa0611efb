"""The feature tables as SPSS (.sav) and Stata (.dta) files that open with every label in place.

:func:`export_statfiles` writes ``features/session_features.sav`` and
``features/wide.sav`` (``--spss``), or ``.dta`` (``--stata``), from a study
output folder. Everything a file says comes from the codebook
(``features/codebook.csv``), which :mod:`.codebook` derives from the schema:

* variable label: the codebook's ``label``, cut to the format's limit;
* ``arm``, ``session`` and ``task``: numeric codes 1, 2, ... with value labels,
  in the study's order (``study.json`` ``levels``; sessions in session order);
  true/false columns: 0/1 with value labels ``no``/``yes``;
* SPSS measurement level: nominal (ids, arm, task, flags), ordinal (session),
  scale (numbers);
* missing numbers are system-missing (SPSS) or ``.`` (Stata); missing text is "";
* variable names: the codebook's ``spss_name`` / ``stata_name`` (see
  :func:`.statformats.variable_names`); SPSS files list every changed name in their notes,
  Stata files say in their label that names were shortened.

Each format's limits and its variable names: :mod:`.statformats`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..files import path_problem, write_atomically
from ..output_folders import plan_output, settle, writing
from ..output_marker import OutputKind
from .statformats import CODED, FLAG_LABELS, FORMATS, SPSS_NOTE_BYTES, StatFormat, wrap_bytes

#: Codebook columns this module needs (older codebooks lack them).
CODEBOOK_COLUMNS = ("table", "name", "type", "label", "spss_name", "stata_name")
TABLES = {"session_features": "session_features.parquet", "wide": "wide.csv"}


def statfile_names(key: str) -> list[str]:
    """The files one format's export writes into ``features/``."""
    return [f"{table}{FORMATS[key].suffix}" for table in TABLES]


def _made_here(path: Path) -> bool:
    """The .sav or .dta file says facefeedback made it: SPSS notes, or the Stata data label."""
    import pyreadstat

    try:
        if path.suffix == ".sav":
            _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
            return bool(meta.notes) and meta.notes[0].startswith("Made by facefeedback")
        _, meta = pyreadstat.read_dta(str(path), metadataonly=True)
    except Exception:  # noqa: BLE001 - unreadable as such a file: not ours
        return False
    label = meta.file_label or ""
    return label.endswith(f": {path.stem}") or label.startswith(f"{path.stem} (names cut to ")


def _earlier_export(key: str):
    """An export written before output markers: the files that say facefeedback made them."""
    def found(folder: Path) -> list[str]:
        return [name for name in statfile_names(key) if (folder / name).is_file() and _made_here(folder / name)]
    return found


#: Each format's files in ``features/``, replaced by the next export of that format only.
STATFILE_KINDS = {key: OutputKind(f"{key} export", f"the {fmt.title} export", _earlier_export(key))
                  for key, fmt in FORMATS.items()}


def _codes(levels: list[str]) -> dict[str, int]:
    return {level: i + 1 for i, level in enumerate(levels)}


def stat_table(table: pd.DataFrame, book: pd.DataFrame, levels: dict[str, list[str]], fmt: StatFormat,
               where: str) -> tuple[pd.DataFrame, dict]:
    """The table as ``fmt`` stores it (renamed, coded) and the keyword arguments that label it.

    ``book`` holds the codebook rows of this table, in column order.
    """
    if list(book["name"]) != list(table.columns):
        raise InputError(f"{where}: its columns do not match features/codebook.csv; run 'facefeedback run' "
                         "again to rebuild the feature tables")
    data, labels, value_labels, measure, formats = {}, {}, {}, {}, {}
    for row in book.itertuples(index=False):
        values = table[row.name]
        out = getattr(row, f"{fmt.key}_name")
        labels[out] = fmt.cut(row.label, fmt.max_variable_label)
        if row.name in CODED and row.name in levels:
            codes = _codes(levels[row.name])
            unknown = sorted(set(values.dropna()) - set(codes))
            if unknown:
                raise InputError(f"{where}: {row.name} value(s) {', '.join(map(str, unknown))} are not in "
                                 f"study.json's levels ({', '.join(levels[row.name])})")
            data[out] = values.map(codes).astype("float64")
            value_labels[out] = {float(k): fmt.cut(v, fmt.max_value_label) for v, k in codes.items()}
            measure[out] = "ordinal" if row.name == "session" else "nominal"
            formats[out] = "F8.0"
        elif row.type == "boolean":
            data[out] = values.map({True: 1.0, False: 0.0}).astype("float64")
            value_labels[out] = {float(k): v for k, v in FLAG_LABELS.items()}
            measure[out], formats[out] = "nominal", "F8.0"
        elif row.type == "text":
            data[out] = values.astype(object).where(values.notna(), "").astype(str)
            measure[out] = "nominal"
        else:
            data[out] = pd.to_numeric(values, errors="raise").astype("float64")
            measure[out] = "scale"
            whole = data[out].dropna()
            formats[out] = "F12.0" if len(whole) and np.all(np.mod(whole, 1) == 0) and whole.abs().max() < 1e11 \
                else "F12.4"
    # Stata and SPSS store whole-number codes as numbers with value labels; NaN stays missing.
    frame = pd.DataFrame(data)
    for name, labelled in value_labels.items():
        if frame[name].notna().all():
            frame[name] = frame[name].astype("int32")
            value_labels[name] = {int(k): v for k, v in labelled.items()}
    kwargs = {"column_labels": labels, "variable_value_labels": value_labels}
    if fmt.key == "spss":
        kwargs.update(variable_measure=measure, variable_format=formats)
    return frame, kwargs


def _notes(table: str, source: str, renamed: list[tuple[str, str]]) -> list[str]:
    lines = [f"Made by facefeedback {__version__} from features/{source}.",
             "Variable and value labels: features/codebook.csv (label, levels).",
             "Missing numbers are system-missing; missing text is empty."]
    if renamed:
        lines.append(f"Names changed for SPSS (codebook.csv spss_name), {table} name = original:")
        lines += [f"{new} = {old}" for new, old in renamed]
    # an SPSS note line holds 80 bytes: a long name goes on over the next lines, whole
    return [part for line in lines for part in wrap_bytes(line, SPSS_NOTE_BYTES)]


def _file_label(table: str, study_name: str, fmt: StatFormat, renamed: bool) -> str:
    """The dataset's label; in Stata, which has no notes pyreadstat can write, it says when names changed."""
    if renamed and fmt.key == "stata":
        return fmt.cut(f"{table} (names cut to {fmt.max_name}: see codebook.csv stata_name): {study_name}",
                       fmt.max_file_label)
    return fmt.cut(f"{study_name}: {table}", fmt.max_file_label)


def write_statfile(table: pd.DataFrame, book: pd.DataFrame, levels: dict[str, list[str]], fmt: StatFormat,
                   path: Path, study_name: str, source: str) -> Path:
    """Write one table as ``fmt`` to ``path`` (atomically)."""
    import pyreadstat

    frame, kwargs = stat_table(table, book, levels, fmt, str(path))
    renamed = [(new, old) for new, old in zip(frame.columns, book["name"]) if new != old]
    kwargs["file_label"] = _file_label(path.stem, study_name, fmt, bool(renamed))
    if fmt.key == "spss":
        write_atomically(path, lambda tmp: pyreadstat.write_sav(frame, tmp, note=_notes(path.stem, source, renamed),
                                                                **kwargs))
    else:
        # version 14 = .dta format 118: Unicode, read by Stata 14 and later.
        write_atomically(path, lambda tmp: pyreadstat.write_dta(frame, tmp, version=14, **kwargs))
    return path


def _read_inputs(folder: Path) -> tuple[dict, pd.DataFrame, dict[str, pd.DataFrame]]:
    features = folder / "features"
    study_json, book_csv = folder / "study.json", features / "codebook.csv"
    for path in (study_json, book_csv, *(features / f for f in TABLES.values())):
        if not path.is_file():
            raise InputError(f"{path}: not found; --spss and --stata export the feature tables of a study "
                             "output folder (facefeedback run)")
    try:
        study = json.loads(study_json.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise InputError(f"{study_json}: cannot be read ({exc})") from None
    try:
        book = pd.read_csv(book_csv, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{book_csv}: cannot be read ({exc})") from None
    missing = [c for c in CODEBOOK_COLUMNS if c not in book]
    if missing or "levels" not in study:
        raise InputError(f"{book_csv if missing else study_json}: made by an older facefeedback (no "
                         f"{', '.join(missing) or 'levels'}); run 'facefeedback run' again to update the "
                         "feature tables (nothing is measured again)")
    wide_book = book[book["table"] == "wide"]
    text = [n for n, t in zip(wide_book["name"], wide_book["type"]) if t == "text"]
    try:
        tables = {"session_features": pd.read_parquet(features / TABLES["session_features"]),
                  "wide": pd.read_csv(features / TABLES["wide"], dtype={c: str for c in text},
                                      keep_default_na=False, na_values=[""])}
    except (ValueError, OSError) as exc:
        raise InputError(f"{features}: cannot read the feature tables ({exc})") from None
    return study, book, tables


def export_statfiles(folder: str | os.PathLike, formats: tuple[str, ...], force: bool = False) -> list[Path]:
    """Write ``features/session_features`` and ``features/wide`` as .sav and/or .dta.

    Each format's files replace that format's earlier export (:mod:`facefeedback.output_folders`);
    nothing else in ``features/`` is touched.

    Parameters
    ----------
    folder : path
        A study output folder (``facefeedback run``).
    formats : tuple of {"spss", "stata"}
    force : bool
        Overwrite files in the way that facefeedback did not write.

    Returns
    -------
    list of Path
        The files written.
    """
    folder = Path(folder)
    if problem := path_problem(folder, "folder", folder=True):
        raise InputError(f"{problem} (give a study output folder)")
    settle(folder)  # a run killed while committing: finish it before reading
    study, book, tables = _read_inputs(folder)
    name = study.get("name") or Path(study.get("study_file", "study")).stem
    plans = {key: plan_output(folder / "features", STATFILE_KINDS[key], statfile_names(key), force, option="")
             for key in formats}
    written = []
    for key, plan in plans.items():
        fmt = FORMATS[key]
        with writing(plan) as staging:
            for table, data in tables.items():
                rows = book[book["table"] == table]
                write_statfile(data, rows, study["levels"], fmt, staging / f"{table}{fmt.suffix}", name,
                               TABLES[table])
        written += [plan.folder / f"{table}{fmt.suffix}" for table in tables]
    return written
