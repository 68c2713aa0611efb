"""Writing outputs so that nothing half-written is ever left under its final name.

Every file is written to a temporary name beside its target (``.<name>.tmp-<pid>``,
which a study run's clean-up recognises) and renamed into place; a folder of
outputs is staged the same way and swapped in by :func:`replace_dir`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
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


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
    return json.dumps(json_safe(value), indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, value) -> None:
    """Write ``value`` as standard JSON (:func:`json_text`) through a temporary file and a rename."""
    atomic_write_text(path, json_text(value))


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table as Parquet or CSV (by suffix), through a temporary file and a rename."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        if path.suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished temporary folder to ``final``, replacing an older one."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
