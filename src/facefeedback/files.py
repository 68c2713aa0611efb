"""Writing single files so that nothing half-written is ever left under its final name.

:func:`atomic_write_text`, :func:`write_json` and :func:`write_table` write to a short
hidden name beside the target (:func:`temporary_name`: ``.ff-<hash>.<pid>.tmp<suffix>``,
short whatever the length of the target's name) and rename it into place. Folders of
outputs, and which files in them facefeedback may replace, are
:mod:`facefeedback.output_folders`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .errors import InputError

#: Names :func:`temporary_name` gives: ``.ff-<10 hex>.<pid>.tmp`` (and a suffix for files).
TEMPORARY = re.compile(r"^\.ff-[0-9a-f]{10}\.(\d+)\.tmp")


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content (hex), read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _tag(name: str) -> str:
    return hashlib.sha1(os.fsencode(name)).hexdigest()[:10]


def path_problem(path: Path, what: str, folder: bool = False) -> str | None:
    """Why ``path`` cannot be read as ``what`` (a file; a folder with ``folder``), in one line
    naming it; None when it can. A folder given for a file, or a file for a folder, is said so
    (it read "no such file")."""
    if path.is_dir() if folder else path.is_file():
        return None
    if not path.exists():  # a broken link too
        return f"{path}: no such {what}"
    if folder:
        return f"{path}: a file, not a {what}"
    return f"{path}: a folder, not a {what}" if path.is_dir() else f"{path}: not a regular file, not a {what}"


def find_path(path: str | os.PathLike) -> Path:
    """``path`` as it is written on disk, whatever the Unicode normal form it was written in.

    A name typed or stored in one form ("ö" composed, NFC, as most systems write it, or
    decomposed, NFD, as macOS can) and saved on disk in the other looks the same but does not
    match byte for byte. Each part that does not exist as written is looked up among its
    folder's entries by its NFC form. Returns ``path`` unchanged when nothing matches.
    """
    path = Path(path)
    if path.exists():
        return path
    found = Path(path.anchor)
    for part in path.parts[1:] if path.anchor else path.parts:
        candidate = found / part
        if not candidate.exists() and part not in (".", "..") and found.is_dir():
            wanted = unicodedata.normalize("NFC", part)
            try:
                matches = [e for e in os.listdir(found) if unicodedata.normalize("NFC", e) == wanted]
            except OSError:
                return path
            if len(matches) != 1:
                return path
            candidate = found / matches[0]
        found = candidate
    return found


def temporary_name(path: Path) -> Path:
    """The staging name of ``path``: hidden, short whatever ``path``'s length, same suffix
    (formats go by suffix)."""
    suffix = path.suffix if len(path.suffix) <= 16 else ""
    return path.with_name(f".ff-{_tag(path.name)}.{os.getpid()}.tmp{suffix}")


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary path)``, then rename the temporary file to ``path``.

    The temporary file keeps ``path``'s suffix, so writers that go by suffix choose the same format.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


#: Missing values in tab-separated tables, as BIDS writes them.
TSV_MISSING = "n/a"


def json_safe(value):
    """``value`` as standard JSON can hold it: NaN and infinities become None (``null``),
    NumPy scalars and arrays plain numbers and lists, tuples lists."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # NumPy scalars, arrays
        return json_safe(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def json_text(value) -> str:
    """Standard JSON (``null`` for missing, never ``NaN``) of ``value``, indented."""
    return json.dumps(json_safe(value), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike, value) -> None:
    """Write ``value`` as standard JSON (:func:`json_text`) through a temporary file and a rename."""
    atomic_write_text(path, json_text(value))


#: BIDS's compressed tabular files: no header row; the columns are listed under ``Columns`` in the
#: JSON sidecar of the same name (BIDS 1.10, common principles).
COMPRESSED_TSV = ".tsv.gz"
#: Table suffixes a sidecar replaces (longest first: ``.tsv.gz`` before ``.gz``).
TABLE_SUFFIXES = (COMPRESSED_TSV, ".parquet", ".csv", ".tsv", ".sav", ".dta")


def sidecar_path(table: str | os.PathLike) -> Path:
    """The JSON sidecar beside a table: the table's name with its table suffix replaced by ``.json``."""
    table = Path(table)
    for suffix in TABLE_SUFFIXES:
        if table.name.endswith(suffix):
            return table.with_name(table.name[: -len(suffix)] + ".json")
    raise ValueError(f"{table}: not a table file ({', '.join(TABLE_SUFFIXES)})")


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table as Parquet, CSV or TSV (``.tsv``, ``.tsv.gz``; by suffix), through a temporary file.

    TSV follows BIDS: tab-separated, ``n/a`` for a missing value, a header row in ``.tsv``; a
    ``.tsv.gz`` has none (its sidecar lists the columns under ``Columns``: see
    :func:`facefeedback.bids.frame_sidecar`) and is gzip-compressed with no time stamp inside, so
    the same table gives the same bytes.
    """
    path = Path(path)
    if path.suffix == ".csv":
        write_atomically(path, lambda tmp: table.to_csv(tmp, index=False))
    elif path.name.endswith((".tsv", COMPRESSED_TSV)):
        compressed = path.name.endswith(COMPRESSED_TSV)
        gzip = {"method": "gzip", "mtime": 0} if compressed else None
        write_atomically(path, lambda tmp: table.to_csv(tmp, sep="\t", index=False, header=not compressed,
                                                        na_rep=TSV_MISSING, compression=gzip))
    else:
        write_atomically(path, lambda tmp: table.to_parquet(tmp, index=False))


def compressed_columns(path: str | os.PathLike) -> list[str] | None:
    """The columns of a ``.tsv.gz`` table from ``Columns`` in its JSON sidecar; None when the
    sidecar lists none (a table written before version 0.6.6, with a header row). Without a
    readable sidecar the columns are unknown: that raises :class:`~facefeedback.errors.InputError`
    (reading the first row as the names would lose it and name the columns by its values)."""
    path = Path(path)
    sidecar = sidecar_path(path)
    try:
        described = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: its columns are named in {sidecar.name}, which cannot be read "
                         f"({type(exc).__name__}); a .tsv.gz table has no header row") from None
    columns = described.get("Columns") if isinstance(described, dict) else None
    return list(columns) if isinstance(columns, list) else None


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table :func:`write_table` wrote (Parquet, CSV or TSV, by suffix)."""
    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.name.endswith(COMPRESSED_TSV):
        names = compressed_columns(path)
        return pd.read_csv(path, sep="\t", header=None if names else 0, names=names,
                           na_values=[TSV_MISSING], keep_default_na=False)
    if path.name.endswith(".tsv"):
        return pd.read_csv(path, sep="\t", na_values=[TSV_MISSING], keep_default_na=False)
    return pd.read_parquet(path)
