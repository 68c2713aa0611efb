"""A study's CSV/TSV tables, read with :func:`facefeedback.textrows.read_rows` so that every
problem names its file and row, and the checks of their identifiers and numbers.
"""

from __future__ import annotations

from pathlib import Path

from ..textrows import ID_PATTERN, Rows, is_missing, read_rows

DELIMITERS = {".csv": ",", ".tsv": "\t"}


#: A study table: the rows of a CSV or TSV file, read by :func:`read_table`.
Table = Rows


def read_table(path: Path, required: tuple[str, ...], problems: list[str]) -> Table | None:
    """Read a CSV (``.csv``) or TSV (``.tsv``) table; None (with a problem added) when it cannot be used."""
    delimiter = DELIMITERS.get(path.suffix.lower())
    if delimiter is None:
        problems.append(f"{path}: a study table must be a .csv or .tsv file")
        return None
    return read_rows(path, delimiter, required, problems)


def check_ids(table: Table, columns: tuple[str, ...], problems: list[str]) -> list[int]:
    """Rows whose identifier columns are all present and plain; problems for the others."""
    good = []
    for i, row in enumerate(table.rows):
        ok = True
        for col in columns:
            value = row[col]
            if is_missing(value):
                problems.append(f"{table.where(i)}: {col} is empty")
                ok = False
            elif not ID_PATTERN.match(value):
                problems.append(f"{table.where(i)}: {col} '{value}' may hold only letters, digits, '.', '-' "
                                "and '_', and must start with a letter or digit")
                ok = False
        if ok:
            good.append(i)
    return good


def check_duplicates(table: Table, rows: list[int], key: tuple[str, ...], problems: list[str]) -> list[int]:
    """Rows whose key was not seen before; a problem for each repeat, naming the first row."""
    first: dict[tuple, int] = {}
    keep = []
    for i in rows:
        k = tuple(table.rows[i][c] for c in key)
        if k in first:
            shown = ", ".join(f"{c} {v}" for c, v in zip(key, k))
            problems.append(f"{table.where(i)}: duplicate row ({shown}), first at row {table.line[first[k]]}")
        else:
            first[k] = i
            keep.append(i)
    return keep


