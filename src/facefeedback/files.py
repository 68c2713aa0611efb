"""Writing outputs so that nothing half-written is ever left under its final name.

Every file is written to a temporary name beside its target (``.<name>.tmp-<pid>``,
which a study run's clean-up recognises) and renamed into place; a folder of
outputs is staged the same way and swapped in by :func:`replace_dir`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content (hex), read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def temporary_name(path: Path) -> Path:
    """The staging name of ``path``: hidden, marked temporary, same suffix (formats go by suffix)."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


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


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table as Parquet, CSV or TSV (``.tsv``, ``.tsv.gz``; by suffix), through a temporary file.

    TSV follows BIDS: tab-separated, a header row, ``n/a`` for a missing value; ``.tsv.gz`` is
    gzip-compressed with no time stamp inside, so the same table gives the same bytes.
    """
    path = Path(path)
    if path.suffix == ".csv":
        write_atomically(path, lambda tmp: table.to_csv(tmp, index=False))
    elif path.name.endswith((".tsv", ".tsv.gz")):
        gzip = {"method": "gzip", "mtime": 0} if path.suffix == ".gz" else None
        write_atomically(path, lambda tmp: table.to_csv(tmp, sep="\t", index=False, na_rep=TSV_MISSING,
                                                        compression=gzip))
    else:
        write_atomically(path, lambda tmp: table.to_parquet(tmp, index=False))


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table :func:`write_table` wrote (Parquet, CSV or TSV, by suffix)."""
    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.name.endswith((".tsv", ".tsv.gz")):
        return pd.read_csv(path, sep="\t", na_values=[TSV_MISSING], keep_default_na=False)
    return pd.read_parquet(path)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished temporary folder to ``final``, replacing an older one."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
