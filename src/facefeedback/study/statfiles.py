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
  :func:`variable_names`); SPSS files list every changed name in their notes,
  Stata files say in their label that names were shortened.

Format limits (IBM SPSS Statistics and Stata 14+ documentation): SPSS names 64
bytes, variable labels 256 bytes, value labels 120 bytes, file label 64 bytes,
note lines 80 bytes; Stata (.dta format 118, Unicode) names 32 characters,
variable and data labels 80 characters, value labels 32,000 bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..files import write_atomically
from .features import SPSS_RESERVED, wide_name

#: Stata's reserved words (case-sensitive); ``str1`` ... ``str2045`` are reserved too.
STATA_RESERVED = frozenset({"_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long",
                            "_n", "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with"})
#: A word of a name is never trimmed below this many characters.
MIN_WORD = 3
CODED = ("arm", "session", "task")
FLAG_LABELS = {0: "no", 1: "yes"}
#: Codebook columns this module needs (older codebooks lack them).
CODEBOOK_COLUMNS = ("table", "name", "type", "label", "spss_name", "stata_name")
TABLES = {"session_features": "session_features.parquet", "wide": "wide.csv"}


@dataclass(frozen=True)
class StatFormat:
    """A statistics package's file format and its limits."""

    key: str
    title: str
    suffix: str
    max_name: int
    max_variable_label: int
    max_value_label: int
    max_file_label: int
    bytes_limits: bool  # limits count UTF-8 bytes (SPSS), not characters (Stata)

    def is_reserved(self, name: str) -> bool:
        if self.key == "spss":
            return name.upper() in SPSS_RESERVED
        return name in STATA_RESERVED or re.fullmatch(r"str[0-9]+", name) is not None

    def cut(self, text: str, limit: int) -> str:
        """``text`` within ``limit`` (bytes or characters), ending in '...' when it had to be cut."""
        return cut(text, limit, self.bytes_limits)


SPSS = StatFormat("spss", "SPSS", ".sav", max_name=64, max_variable_label=256, max_value_label=120,
                  max_file_label=64, bytes_limits=True)
STATA = StatFormat("stata", "Stata", ".dta", max_name=32, max_variable_label=80, max_value_label=32000,
                   max_file_label=80, bytes_limits=False)
FORMATS = {f.key: f for f in (SPSS, STATA)}
SPSS_NOTE_BYTES = 80


def cut(text: str, limit: int, in_bytes: bool = False) -> str:
    """``text`` within ``limit`` characters (or UTF-8 bytes), ending in '...' when it had to be cut."""
    size = (lambda t: len(t.encode("utf-8"))) if in_bytes else len
    if size(text) <= limit:
        return text
    keep = text[:limit]
    while size(keep.rstrip() + "...") > limit:
        keep = keep[:-1]
    return keep.rstrip() + "..."


# -- names ----------------------------------------------------------------------------


def _clean(part: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", part)).strip("_")


def _trim_words(text: str, budget: int) -> str | None:
    """``text`` within ``budget`` characters by shortening its longest words (to MIN_WORD at least)."""
    words = text.split("_")
    while len("_".join(words)) > budget:
        longest = max(range(len(words)), key=lambda i: (len(words[i]), -i))
        if len(words[longest]) <= MIN_WORD:
            return None
        words[longest] = words[longest][:-1]
    return "_".join(words)


def _digest(text: str, n: int = 6) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


def short_name(parts: tuple[str, ...], fmt: StatFormat) -> str:
    """A valid name for ``fmt`` made from ``parts`` (a column, then its session and task, if any).

    Letters, digits and '_' only, starting with a letter, not a reserved word. When the joined
    name is too long, the column part's longest words are shortened (the session and task
    parts are kept whole, so they stay readable), and when that is not enough the column part
    is cut and ends in a short hash of the whole name. The same parts always give the same name.

    >>> short_name(("frown_intensity_mean", "week6", "sad_film"), STATA)
    'frown_intens_mean_week6_sad_film'
    """
    head, *tail = [c for c in (_clean(p) for p in parts if p) if c] or ["v"]
    if not head[0].isalpha():
        head = f"v_{head}"
    ending = "".join(f"_{t}" for t in tail)
    name = head + ending
    if fmt.is_reserved(name):
        name = f"{name}_v"
    if len(name) <= fmt.max_name:
        return name
    budget = fmt.max_name - len(ending)
    trimmed = _trim_words(head, budget) if budget > 0 else None
    if trimmed is not None:
        return trimmed + ending
    digest = _digest(name)
    if budget >= 8:
        return f"{head[:budget - 7].rstrip('_')}_{digest}{ending}"
    return f"{name[:fmt.max_name - 7].rstrip('_')}_{digest}"


def unique_names(candidates: list[str], originals: list[str], fmt: StatFormat) -> list[str]:
    """``candidates`` made unique (ignoring case, as SPSS does): clashing ones end in a hash of their original."""
    names = list(candidates)
    for n in range(6, 41, 2):
        seen: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            seen.setdefault(name.lower(), []).append(i)
        clashes = [i for group in seen.values() if len(group) > 1 for i in group]
        if not clashes:
            return names
        for i in clashes:
            names[i] = f"{candidates[i][:fmt.max_name - n - 1].rstrip('_')}_{_digest(originals[i], n)}"
    raise ValueError(f"cannot make {fmt.title} names unique: {sorted(set(candidates))}")  # pragma: no cover


def variable_names(columns: list[tuple[str, tuple[str, ...]]], fmt: StatFormat) -> list[str]:
    """The ``fmt`` name of every column of a table: ``(name, parts)`` pairs in, names out.

    A name that is already valid is kept. SPSS names follow :func:`~.features.wide_name`
    (the wide table's names are valid SPSS names already); Stata's follow :func:`short_name`.
    """
    if fmt.key == "spss":
        candidates = [wide_name(name) for name, _ in columns]
    else:
        candidates = [short_name(parts, fmt) for _, parts in columns]
    return unique_names(candidates, [name for name, _ in columns], fmt)


# -- writing ------------------------------------------------------------------------


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
    return [cut(line, SPSS_NOTE_BYTES, in_bytes=True) for line in lines]


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


def parse_formats(text: str) -> tuple[str, ...]:
    """``"spss,stata"`` -> ``("spss", "stata")``; an unknown name is a one-line error."""
    from ..errors import ConfigError

    names = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ConfigError(f"--export {text!r}: give spss, stata or spss,stata")
    return names


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


def export_statfiles(folder: str | os.PathLike, formats: tuple[str, ...]) -> list[Path]:
    """Write ``features/session_features`` and ``features/wide`` as .sav and/or .dta.

    Parameters
    ----------
    folder : path
        A study output folder (``facefeedback run``).
    formats : tuple of {"spss", "stata"}

    Returns
    -------
    list of Path
        The files written.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (give a study output folder)")
    study, book, tables = _read_inputs(folder)
    name = study.get("name") or Path(study.get("study_file", "study")).stem
    written = []
    for key in formats:
        fmt = FORMATS[key]
        for table, data in tables.items():
            path = folder / "features" / f"{table}{fmt.suffix}"
            rows = book[book["table"] == table]
            written.append(write_statfile(data, rows, study["levels"], fmt, path, name, TABLES[table]))
    return written
