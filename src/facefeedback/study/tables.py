"""Reading a study's CSV/TSV tables so that every problem can name its file and row.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first
data row is row 2. Values are kept as stripped strings; the caller decides
what each column means. Problems are collected, never raised one at a time.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Cell values read as "missing" (BIDS writes n/a; R and pandas write NA and NaN).
MISSING_VALUES = frozenset({"", "n/a", "na", "nan"})
#: Identifiers (participant, session, task) become folder and column names: keep them plain.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
DELIMITERS = {".csv": ",", ".tsv": "\t"}


def is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_VALUES


@dataclass
class Table:
    """Rows of one table: ``rows[i]`` maps column to string; ``line[i]`` is its spreadsheet row."""

    path: Path
    columns: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)
    line: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def where(self, i: int) -> str:
        return f"{self.name} row {self.line[i]}"

    def where_many(self, idx: list[int]) -> str:
        lines = [self.line[i] for i in idx]
        if len(lines) == 1:
            return f"{self.name} row {lines[0]}"
        return f"{self.name} rows {', '.join(str(n) for n in lines)}"

    def __len__(self) -> int:
        return len(self.rows)


def read_table(path: Path, required: tuple[str, ...], problems: list[str]) -> Table | None:
    """Read a CSV (``.csv``) or TSV (``.tsv``) table; None (with a problem added) when it cannot be used."""
    delimiter = DELIMITERS.get(path.suffix.lower())
    if delimiter is None:
        problems.append(f"{path}: a study table must be a .csv or .tsv file")
        return None
    if not path.is_file():
        problems.append(f"{path}: no such file")
        return None
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                problems.append(f"{path}: the file is empty (expected a header row with {', '.join(required)})")
                return None
            columns = [h.strip() for h in header]
            table = Table(path, columns)
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # blank line
                if len(cells) != len(columns):
                    problems.append(f"{path.name} row {reader.line_num}: {len(cells)} cells, "
                                    f"the header has {len(columns)}")
                    continue
                table.rows.append({c: v.strip() for c, v in zip(columns, cells)})
                table.line.append(reader.line_num)
    except UnicodeDecodeError:
        problems.append(f"{path}: not UTF-8 text; save the table as UTF-8 CSV or TSV")
        return None
    except (OSError, csv.Error) as exc:
        problems.append(f"{path}: cannot be read ({exc})")
        return None
    missing = [c for c in required if c not in columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if missing:
        problems.append(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}")
    if dupes:
        problems.append(f"{path}: column(s) {', '.join(dupes)} appear more than once")
    return None if missing or dupes else table


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


def parse_number(value: str) -> float | None:
    """The number in a cell, or None when it is not a finite number."""
    try:
        x = float(value)
    except ValueError:
        return None
    return x if x == x and abs(x) != float("inf") else None
