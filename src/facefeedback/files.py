"""Writing outputs: nothing half-written under a final name, nothing touched that the tool did not write.

Files
-----
:func:`atomic_write_text` and :func:`write_table` write to a short hidden name beside the
target (``.ff-<hash>.<pid>.tmp<suffix>``, short whatever the length of the target's name)
and rename it into place.

Folders of outputs
------------------
Every folder the tool writes outputs into carries a marker, ``.facefeedback.json``, that
lists per kind of output (``recording``, ``analysis``, ...) the files written there. The
rule, for every command: a file is overwritten or deleted only when the marker lists it
under the command's own kind, or, in a folder written by a version that left no marker,
when the kind's ``legacy`` rule recognises it as that version's output. Anything else in
the folder is someone else's: it is never renamed, moved, opened for writing or deleted,
and an output that would land on it stops the command before any work, with one line
naming the folder and what to do (``--out`` elsewhere, or ``--force``).

:func:`plan_output` makes those checks before any work; :func:`writing` gives a staging
folder and commits it when the work is done:

* a new folder is staged beside its final name and renamed into place in one step;
* into an existing folder, the staging sits inside it. Once complete, a commit journal is
  written into it (the commit point); then each file is renamed into place, the kind's
  earlier files that this run did not write are deleted, and the marker is updated. A
  command killed after the commit point is rolled forward by the next one that plans an
  output there (:func:`recover`); one killed before it leaves the earlier outputs, and its
  staging is removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import OutputError

#: The marker every output folder carries: the files each kind of output wrote there.
MARKER = ".facefeedback.json"
#: Written into a staging folder when it is complete: what to move, what to delete.
JOURNAL = ".ff-commit.json"
#: Staging files and folders: ``.ff-<10 hex>.<pid>.tmp`` (and a suffix for files).
_STAGING = re.compile(r"^\.ff-[0-9a-f]{10}\.(\d+)\.tmp")


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content (hex), read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _tag(name: str) -> str:
    return hashlib.sha1(os.fsencode(name)).hexdigest()[:10]


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


# --------------------------------------------------------------------------- where outputs may go

def _first_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def check_output_path(path: str | os.PathLike, folder: bool = True, option: str = "--out") -> None:
    """Raise :class:`OutputError` unless ``path`` (a folder, or a file when ``folder`` is
    False) can be written: no file in the way, a writable folder, names the file system takes."""
    path = Path(os.path.abspath(path))
    existing = _first_existing(path)
    if existing != path and not existing.is_dir():
        raise OutputError(f"{existing}: is a file, not a folder; choose another {option}")
    if existing == path and folder and not path.is_dir():
        raise OutputError(f"{path}: is a file, not a folder; choose another {option}")
    if existing == path and not folder and path.is_dir():
        raise OutputError(f"{path}: is a folder, not a file; choose another {option}")
    where = path if existing == path and folder else (existing if existing != path else path.parent)
    if not os.access(where, os.W_OK | os.X_OK):
        readonly = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
        why = "read-only file system" if readonly else "no permission to write"
        raise OutputError(f"{where}: cannot write there ({why}); choose another {option}")
    try:
        limit = os.pathconf(existing if existing.is_dir() else existing.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in path.relative_to(existing).parts:
        if len(os.fsencode(part)) > limit:
            raise OutputError(f"{path}: the name {part[:24]}... is {len(os.fsencode(part))} bytes, "
                              f"longer than the file system allows ({limit}); choose a shorter {option}")


def check_file_output(path: str | os.PathLike, what: str, ours: Callable[[Path], bool] | None = None,
                      force: bool = False, option: str = "--out") -> None:
    """Before any work: ``path`` can be written, and an existing file there is ``what`` written
    by facefeedback (``ours``), unless ``force``."""
    path = Path(path)
    check_output_path(path, folder=False, option=option)
    sweep(path.parent)
    if path.exists() and not force and not (ours is not None and ours(path)):
        raise OutputError(f"{path}: exists and is not {what} written by facefeedback; "
                          f"choose another {option}, or --force to overwrite it")


# --------------------------------------------------------------------------- who wrote what

@dataclass(frozen=True)
class OutputKind:
    """A kind of output a command writes into a folder.

    Attributes
    ----------
    name : str
        Its key in the marker (``"recording"``, ``"analysis"``, ...).
    what : str
        Its name in messages (``"a recording's outputs"``).
    legacy : callable, optional
        ``folder -> relative paths``: the files a version that wrote no marker left there.
    last : tuple of str
        Files renamed into place after the others (what a reader checks for currency).
    """

    name: str
    what: str
    legacy: Callable[[Path], Iterable[str]] | None = None
    last: tuple[str, ...] = ()


def read_marker(folder: Path) -> dict[str, list[str]]:
    """The files each kind of output wrote in ``folder`` (empty without a readable marker)."""
    try:
        outputs = json.loads((Path(folder) / MARKER).read_text()).get("outputs", {})
        return {str(k): [str(f) for f in v["files"]] for k, v in outputs.items()}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


def owned_files(folder: str | os.PathLike, kind: OutputKind) -> frozenset[str]:
    """Relative paths in ``folder`` that ``kind`` wrote: by the marker, or by the legacy rule
    in a folder with no marker."""
    folder = Path(folder)
    marker = read_marker(folder)
    if kind.name in marker:
        return frozenset(marker[kind.name])
    if not marker and kind.legacy is not None and folder.is_dir() and not (folder / MARKER).exists():
        return frozenset(kind.legacy(folder))
    return frozenset()


def _blocking(folder: Path, rel: str, owned: frozenset[str]) -> str | None:
    """The part of ``folder/rel`` that writing it would overwrite although ``owned`` does not
    hold it: a file where a folder goes, or a file (or folder) that is not ours."""
    parts = Path(rel).parts
    for i in range(1, len(parts)):
        p = folder.joinpath(*parts[:i])
        if os.path.lexists(p) and not p.is_dir():
            return "/".join(parts[:i])
    target = folder / rel
    if os.path.lexists(target) and (rel not in owned or target.is_dir()):
        return rel
    return None


def foreign_files(folder: Path, kind: OutputKind, files: Iterable[str]) -> list[str]:
    """Those of ``files`` (relative paths) that would land on something ``kind`` did not write."""
    owned = owned_files(folder, kind)
    found = (_blocking(folder, rel, owned) for rel in files)
    return list(dict.fromkeys(f for f in found if f is not None))


def _refusal(folder: Path, kind: OutputKind, clash: list[str], option: str) -> str:
    names = ", ".join(clash[:3]) + (f" and {len(clash) - 3} more" if len(clash) > 3 else "")
    one = len(clash) == 1
    return (f"{folder}: {names} {'is' if one else 'are'} not part of {kind.what} written by facefeedback; "
            f"choose another {option}, or --force to overwrite {'it' if one else 'them'} "
            "(nothing else in the folder is touched)")


# --------------------------------------------------------------------------- planning and committing

@dataclass(frozen=True)
class OutputPlan:
    """Where a command will write one kind of output, checked by :func:`plan_output`."""

    folder: Path
    kind: OutputKind
    force: bool = False
    option: str = "--out"


def plan_output(folder: str | os.PathLike, kind: OutputKind, files: Iterable[str] = (),
                force: bool = False, option: str = "--out") -> OutputPlan:
    """Check, before any work, that ``kind``'s outputs may be written into ``folder``.

    Finishes what a killed command left there (:func:`recover`), then refuses (raises
    :class:`OutputError`, one line) when the folder cannot be written or when any of
    ``files`` (the relative paths the command will write, as far as known in advance) would
    overwrite something ``kind`` did not write; ``force`` allows the latter.
    """
    folder = Path(folder)
    check_output_path(folder, option=option)
    recover(folder)
    clash = foreign_files(folder, kind, files)
    if clash and not force:
        raise OutputError(_refusal(folder, kind, clash, option))
    return OutputPlan(folder, kind, force, option)


@contextlib.contextmanager
def writing(plan: OutputPlan) -> Iterator[Path]:
    """Give a staging folder to write ``plan``'s outputs into; commit it when the block ends.

    On an error inside the block nothing is committed and the staging is removed.
    """
    folder = plan.folder
    if folder.is_dir():
        staging = folder / f".ff-{_tag(plan.kind.name)}.{os.getpid()}.tmp"
    else:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = temporary_name(folder)
    _remove(staging)  # left by an earlier failure of this very process id
    staging.mkdir()
    try:
        yield staging
        _commit(staging, plan)
    except BaseException:
        if not (staging / JOURNAL).exists():
            _remove(staging)
        raise


def _tree(root: Path) -> list[str]:
    """Relative paths of the files under ``root`` (the marker and journal left out)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        files += [(rel / f).as_posix() for f in filenames if dirpath != str(root) or f not in (MARKER, JOURNAL)]
        files += [(rel / d).as_posix() for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
    return sorted(files)


def _commit(staging: Path, plan: OutputPlan) -> None:
    folder, kind = plan.folder, plan.kind
    files = _tree(staging)
    if staging.parent != folder:  # a new folder, staged beside it
        _write_marker(staging, kind.name, files)
        try:
            os.rename(staging, folder)
            return
        except OSError as exc:  # the folder appeared meanwhile: commit into it
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        inside = folder / f".ff-{_tag(kind.name)}.{os.getpid()}.tmp"
        _remove(inside)
        os.rename(staging, inside)
        staging = inside
        (staging / MARKER).unlink()
    owned = owned_files(folder, kind)
    clash = [f for f in (_blocking(folder, rel, owned) for rel in files) if f is not None]
    blocked = [f for f in clash if (folder / f).is_dir() or f not in files]
    if blocked or (clash and not plan.force):
        raise OutputError(_refusal(folder, kind, blocked or clash, plan.option))
    written = set(files)
    ordered = sorted(files, key=lambda f: (f in kind.last, f))
    delete = sorted(f for f in owned if f not in written)
    atomic_write_text(staging / JOURNAL, json.dumps({"kind": kind.name, "files": ordered, "delete": delete}))
    _roll_forward(staging, folder)


def _roll_forward(staging: Path, folder: Path) -> None:
    """Apply a complete staging's journal to ``folder``; safe to repeat after an interruption."""
    journal = json.loads((staging / JOURNAL).read_text())
    for rel in journal["files"]:
        source = staging / rel
        if os.path.lexists(source):
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    for rel in journal["delete"]:
        target = folder / rel
        if os.path.lexists(target) and not target.is_dir():
            target.unlink()
            _prune_empty(target.parent, folder)
    _write_marker(folder, journal["kind"], journal["files"])
    shutil.rmtree(staging)


def _prune_empty(directory: Path, root: Path) -> None:
    """Remove ``directory`` and its parents below ``root`` while they are empty."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _write_marker(folder: Path, kind: str, files: list[str] | None) -> None:
    """Record ``files`` as ``kind``'s in ``folder``'s marker (None: ``kind`` has nothing there)."""
    from . import __version__

    try:
        data = json.loads((folder / MARKER).read_text())
        outputs = dict(data["outputs"])
    except (OSError, ValueError, KeyError, TypeError):
        outputs = {}
    mine = set(files or ())
    for name, entry in list(outputs.items()):  # a file forced over another kind's is no longer theirs
        try:
            outputs[name] = {**entry, "files": [f for f in entry["files"] if f not in mine]}
        except (KeyError, TypeError):
            del outputs[name]
    outputs.pop(kind, None)
    if files is not None:
        outputs[kind] = {"files": sorted(mine), "facefeedback": __version__,
                         "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if not outputs:
        (folder / MARKER).unlink(missing_ok=True)
        return
    note = ("Written by facefeedback: the files it made here, per kind of output. It replaces or "
            "removes only these; anything else in this folder is left as it is.")
    atomic_write_text(folder / MARKER, json.dumps({"note": note, "outputs": outputs}, indent=1) + "\n")


def move_output(folder: str | os.PathLike, dest: str | os.PathLike, kind: OutputKind) -> list[str]:
    """Move ``kind``'s files from ``folder`` to ``dest`` (a new folder), leaving anything else
    where it is; returns what was left behind (relative paths).

    A folder that holds nothing else is renamed as a whole. Otherwise the files go one by
    one, the one a reader checks for currency (``kind.last``) first.
    """
    folder, dest = Path(folder), Path(dest)
    owned = owned_files(folder, kind)
    present = _tree(folder)
    others = [f for f in present if f not in owned]
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not others and set(read_marker(folder)) <= {kind.name}:
        os.rename(folder, dest)
        return []
    mine = sorted((f for f in present if f in owned), key=lambda f: (f not in kind.last, f))
    for rel in mine:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(folder / rel, dest / rel)
        _prune_empty((folder / rel).parent, folder)
    _write_marker(dest, kind.name, mine)
    _write_marker(folder, kind.name, None)
    return others


# --------------------------------------------------------------------------- after a kill

def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink(missing_ok=True)


def sweep(directory: str | os.PathLike) -> None:
    """Finish or remove the staging that killed commands left in ``directory``.

    A complete staging (it holds a commit journal) is rolled forward into ``directory``;
    an incomplete one, or a temporary file, is removed. Only names of the form
    ``.ff-<hash>.<pid>.tmp...`` whose process is gone are looked at.
    """
    directory = Path(directory)
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        found = _STAGING.match(entry.name)
        if not found or _alive(int(found.group(1))):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False) and (path / JOURNAL).is_file():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # tried again next time
                _roll_forward(path, directory)
        else:
            _remove(path)


def recover(folder: str | os.PathLike) -> None:
    """Finish or undo what killed commands left in ``folder`` and beside it."""
    folder = Path(folder)
    for directory in (folder, folder.parent):
        if directory.is_dir():
            sweep(directory)
