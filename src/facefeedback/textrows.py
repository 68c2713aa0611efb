"""Reading a CSV or TSV file so that every problem can name its file and row.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is
row 2. Values are kept as stripped strings; the caller decides what each column means.
Problems are collected, never raised one at a time. The study's tables
(:mod:`facefeedback.study.tables`) and events files (:mod:`facefeedback.eventfiles`) are
read with :func:`read_rows`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Identifiers (participant, session, task) become folder and column names: keep them plain.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: Cell values read as "missing" (BIDS writes n/a; R and pandas write NA and NaN).
MISSING_VALUES = frozenset({"", "n/a", "na", "nan"})


def is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING_VALUES


#: A number written with a leading zero ("01", "-007") is a code: kept as text, its zeros kept.
LEADING_ZERO = re.compile(r"^[+-]?0\d")


def parse_number(value: str) -> float | None:
    """The number in a cell, or None when it is not a finite number. Python reads '1_2' as 12: a
    cell with an underscore is a code, not a number."""
    if "_" in value:
        return None
    try:
        x = float(value)
    except ValueError:
        return None
    return x if x == x and abs(x) != float("inf") else None


def as_text(value) -> str | None:
    """A typed cell back as text: None when missing, a whole number without '.0' (12.0 -> '12')."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def typed_column(values: list[str]) -> list:
    """A column of cells as its values: numbers (missing cells NaN) where every cell that is not
    missing is a number and none is written with a leading zero; otherwise text (missing cells
    None), so a site code '01' or a postcode '01067' keeps its zeros and BIDS's 'n/a' is missing,
    not the text 'n/a'."""
    cells = [None if is_missing(v) else v for v in values]
    numbers = [float("nan") if v is None else parse_number(v) for v in cells]
    coded = any(v is not None and LEADING_ZERO.match(v.strip()) for v in cells)  # a code, not an amount
    return numbers if not coded and all(n is not None for n in numbers) else cells


@dataclass
class Rows:
    """The rows of one file: ``rows[i]`` maps column to string; ``line[i]`` is its spreadsheet row;
    ``rejected`` holds the cells of the rows left out for their number of cells."""

    path: Path
    columns: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    rejected: list[list[str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def where(self, i: int) -> str:
        """Where row ``i`` is, for a problem: ``<file> row <n>``."""
        return f"{self.name} row {self.line[i]}"

    def where_many(self, idx: list[int]) -> str:
        lines = [self.line[i] for i in idx]
        if len(lines) == 1:
            return f"{self.name} row {lines[0]}"
        return f"{self.name} rows {', '.join(str(n) for n in lines)}"

    def rejected_values(self, column: str) -> set[str]:
        """The cells under ``column`` of the rows left out for their number of cells (those that reach
        it): what such a row most likely names, so that other files naming it are not blamed too."""
        k = self.columns.index(column)
        return {cells[k].strip() for cells in self.rejected if len(cells) > k}

    def __len__(self) -> int:
        return len(self.rows)


def case_clashes(found, what: str, advice: str = "write one spelling") -> list[str]:
    """Names that differ only by case (``Week6`` and ``week6``), which would be two sessions, tasks
    or conditions: one line per such name, with where each spelling is (``found``: ``(value, where,
    row)`` triples, row 0 for a file without rows), ending with ``advice``."""
    spellings: dict[str, dict[str, dict[str, list[int]]]] = {}
    for value, where, line in found:
        spellings.setdefault(value.casefold(), {}).setdefault(value, {}).setdefault(where, []).append(line)
    return [f"{what} differ only by case: "
            + " and ".join(f"'{v}' ({'; '.join(rows_text(w, lines) for w, lines in at.items())})"
                           for v, at in forms.items()) + f"; {advice}"
            for forms in spellings.values() if len(forms) > 1]


def rows_text(where: str, lines: list[int]) -> str:
    """``file``, ``file row 3`` or ``file rows 3, 5`` (row 0: the file itself)."""
    lines = sorted(set(lines))
    if lines == [0]:
        return where
    return f"{where} row{'s' if len(lines) > 1 else ''} {', '.join(str(n) for n in lines)}"


def closest(value: str, choices, cutoff: float = 0.6) -> str | None:
    """The choice most like ``value`` (a misspelt key, session or arm), or None when none is near."""
    import difflib

    like = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=cutoff)
    return like[0] if like else None


_DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _other_delimiter(columns: list[str], delimiter: str, path: Path) -> str:
    """`` (...)`` saying the header is separated by another character than ``delimiter`` (a .csv
    saved by a spreadsheet with ';' in a European locale, a comma-separated .tsv), when it is."""
    if len(columns) != 1:
        return ""
    for other, name in _DELIMITER_NAMES.items():
        if other != delimiter and other in columns[0]:
            kind = f"a {path.suffix} file" if path.suffix else "this file"
            return f" (the header is separated by {name}; {kind} is read as separated by {_DELIMITER_NAMES[delimiter]})"
    return ""


def read_rows(path: Path, delimiter: str, required: tuple[str, ...], problems: list[str], *,
              kind: str = "file", hint: str = "") -> Rows | None:
    """The rows of a delimited text file with a header row; None (with a problem added) when it
    cannot be used: no such file, empty, not UTF-8, unreadable, a required column missing or a
    column named twice. A row with another number of cells than the header is a problem and left out.

    ``kind`` names the file in "no such ..." (``"events file"``); ``hint`` is added, in
    parentheses, where a wrong delimiter is the likely cause (a row's cell count, missing columns).
    """
    said = f" ({hint})" if hint else ""
    if not path.is_file():
        problems.append(f"{path}: no such {kind}")
        return None
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                problems.append(f"{path}: the file is empty (expected a header row with {', '.join(required)})")
                return None
            read = Rows(path, [h.strip() for h in header])
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue  # blank line
                if len(cells) != len(read.columns):
                    problems.append(f"{path.name} row {reader.line_num}: {len(cells)} cells, "
                                    f"the header has {len(read.columns)}{said}")
                    read.rejected.append(cells)
                    continue
                read.rows.append({c: v.strip() for c, v in zip(read.columns, cells)})
                read.line.append(reader.line_num)
    except UnicodeDecodeError:
        problems.append(f"{path}: not UTF-8 text; save it as UTF-8")
        return None
    except (OSError, csv.Error) as exc:
        problems.append(f"{path}: cannot be read ({exc})")
        return None
    columns = read.columns
    missing = [c for c in required if c not in columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if missing:
        said = said or _other_delimiter(columns, delimiter, path)
        problems.append(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}{said}")
    if dupes:
        problems.append(f"{path}: column(s) {', '.join(dupes)} appear more than once")
    return None if missing or dupes else read
