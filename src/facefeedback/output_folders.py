"""Folders of outputs: nothing touched that facefeedback did not write, nothing lost to a kill.

Every folder the tool writes outputs into carries a marker, ``.facefeedback.json``, that
lists per kind of output (``recording``, ``analysis``, ...) the files written there
(:mod:`facefeedback.output_marker`). The rule, for every command: a file is overwritten or
deleted only when the marker lists it under the command's own kind, or, in a folder written
by a version that left no marker, when the kind's ``legacy`` rule recognises it as that
version's output. Anything else in the folder is someone else's: it is never renamed,
moved, opened for writing or deleted, and an output that would land on it stops the command
before any work, with one line naming the folder and what to do (``--out`` elsewhere, or
``--force``).

:func:`plan_output` makes those checks before any work; :func:`writing` gives a staging
folder and commits it when the work is done:

* a new folder is staged beside its final name and renamed into place in one step;
* into an existing folder, the staging sits inside it. Once complete, a commit journal is
  written into it (the commit point); then each file is renamed into place, the kind's
  earlier files that this run did not write are deleted, and the marker is updated. A
  command killed after the commit point is rolled forward by the next one that plans an
  output there (:func:`recover`); one killed before it leaves the earlier outputs, and its
  staging is removed.

A plan can carry others (``also``): outputs of the same piece of work that go into other
folders (a recording's BIDS table under ``sub-*/beh/``). They are staged inside the main
staging and listed in the same journal, so they are committed, or rolled forward, with it:
a kill never leaves one without the other. A new folder with such companions is committed
through the journal too (the companions first, then the folder renamed into place).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError
from .files import TEMPORARY, atomic_write_text, temporary_name
from .output_marker import MARKER, OutputKind, owned_files, read_marker, write_marker

#: Written into a staging folder when it is complete: what to move, what to delete.
JOURNAL = ".ff-commit.json"
#: Held while 'facefeedback run' writes into its folder, and left there: it marks a study's folder,
#: finished or interrupted, which no other command's outputs may join (see :func:`refuse_study_folder`).
RUN_LOCK = ".run.lock"
#: Inside a staging folder: where the outputs of a plan's companions (``also``) are staged.
ALSO = ".ff-also-"


# --------------------------------------------------------------------------- where outputs may go

def _first_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _another(option: str) -> str:
    """The way out a message offers: another ``option`` (none where the place is not the user's
    choice: an empty ``option``)."""
    return f"; choose another {option}" if option else ""


def check_output_path(path: str | os.PathLike, folder: bool = True, option: str = "--out") -> None:
    """Raise :class:`OutputError` unless ``path`` (a folder, or a file when ``folder`` is
    False) can be written: no file in the way, a writable folder, names the file system takes."""
    path = Path(os.path.abspath(path))
    existing = _first_existing(path)
    if existing != path and not existing.is_dir():
        raise OutputError(f"{existing}: is a file, not a folder{_another(option)}")
    if existing == path and folder and not path.is_dir():
        raise OutputError(f"{path}: is a file, not a folder{_another(option)}")
    if existing == path and not folder and path.is_dir():
        raise OutputError(f"{path}: is a folder, not a file{_another(option)}")
    where = path if existing == path and folder else (existing if existing != path else path.parent)
    if not os.access(where, os.W_OK | os.X_OK):
        readonly = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
        why = "read-only file system" if readonly else "no permission to write"
        raise OutputError(f"{where}: cannot write there ({why}){_another(option)}")
    try:
        limit = os.pathconf(existing if existing.is_dir() else existing.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in path.relative_to(existing).parts:
        if len(os.fsencode(part)) > limit:
            raise OutputError(f"{path}: the name {part[:24]}... is {len(os.fsencode(part))} bytes, "
                              f"longer than the file system allows ({limit}); choose a shorter {option}")


def refuse_study_folder(path: str | os.PathLike, option: str = "--out") -> None:
    """Refuse a study's output folder (it holds :data:`RUN_LOCK`) as the folder of another command's
    outputs: one written into an interrupted study made 'facefeedback run' refuse to finish it."""
    if (Path(path) / RUN_LOCK).exists():
        raise OutputError(f"{path}: the output folder of a study ('facefeedback run'; run it again to finish "
                          f"an interrupted one); choose another {option}")


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


# --------------------------------------------------------------------------- what a command may overwrite

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
    it = "it" if one else "them"
    instead = f"choose another {option}" if option else f"move {it} away"
    return (f"{folder}: {names} {'is' if one else 'are'} not part of {kind.what} written by facefeedback; "
            f"{instead}, or --force to overwrite {it} "
            "(nothing else in the folder is touched)")


# --------------------------------------------------------------------------- planning and committing

@dataclass(frozen=True)
class OutputPlan:
    """Where a command will write one kind of output, checked by :func:`plan_output`."""

    folder: Path
    kind: OutputKind
    force: bool = False
    option: str = "--out"
    #: Outputs of the same work in other folders, committed with these (:func:`also_staging`).
    also: tuple[OutputPlan, ...] = ()


def plan_output(folder: str | os.PathLike, kind: OutputKind, files: Iterable[str] = (),
                force: bool = False, option: str = "--out", also: Iterable[OutputPlan] = ()) -> OutputPlan:
    """Check, before any work, that ``kind``'s outputs may be written into ``folder``.

    Finishes what a killed command left there (:func:`recover`), then refuses (raises
    :class:`OutputError`, one line) when the folder cannot be written or when any of
    ``files`` (the relative paths the command will write, as far as known in advance) would
    overwrite something ``kind`` did not write; ``force`` allows the latter. ``also``: plans
    of other folders (made by this function too) whose outputs are committed with these.
    """
    folder = Path(folder)
    check_output_path(folder, option=option)
    recover(folder)
    clash = foreign_files(folder, kind, files)
    if clash and not force:
        raise OutputError(_refusal(folder, kind, clash, option))
    return OutputPlan(folder, kind, force, option, tuple(also))


def also_staging(staging: Path, index: int) -> Path:
    """Where the outputs of ``plan.also[index]`` are staged, inside the staging :func:`writing` gave."""
    return staging / f"{ALSO}{index}"


@contextlib.contextmanager
def writing(plan: OutputPlan) -> Iterator[Path]:
    """Give a staging folder to write ``plan``'s outputs into; commit it when the block ends.

    On an error inside the block nothing is committed and the staging is removed.
    """
    folder = plan.folder
    if folder.is_dir():
        staging = temporary_name(folder / plan.kind.name)
    else:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = temporary_name(folder)
    _remove(staging)  # left by an earlier failure of this very process id
    staging.mkdir()
    for i in range(len(plan.also)):
        also_staging(staging, i).mkdir()
    try:
        yield staging
        _commit(staging, plan)
    except BaseException:
        if not (staging / JOURNAL).exists():
            _remove(staging)
        raise


def _tree(root: Path) -> list[str]:
    """Relative paths of the files under ``root`` (the marker, the journal and the companions'
    staging left out)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == str(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(ALSO)]
        rel = Path(dirpath).relative_to(root)
        files += [(rel / f).as_posix() for f in filenames if dirpath != str(root) or f not in (MARKER, JOURNAL)]
        files += [(rel / d).as_posix() for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
    return sorted(files)


def _checked(folder: Path, plan: OutputPlan, files: list[str]) -> dict:
    """The journal entry of ``plan``'s ``files`` in ``folder``: what to move, what to delete;
    raises when something ``plan.kind`` did not write has come into their way since the plan."""
    kind = plan.kind
    owned = owned_files(folder, kind)
    clash = [f for f in (_blocking(folder, rel, owned) for rel in files) if f is not None]
    blocked = [f for f in clash if (folder / f).is_dir() or f not in files]
    if blocked or (clash and not plan.force):
        raise OutputError(_refusal(folder, kind, blocked or clash, plan.option))
    written = set(files)
    ordered = sorted(files, key=lambda f: (f in kind.last, f))
    return {"kind": kind.name, "files": ordered, "delete": sorted(f for f in owned if f not in written)}


def _commit(staging: Path, plan: OutputPlan) -> None:
    folder, kind = plan.folder, plan.kind
    files = _tree(staging)
    also = [{**_checked(other.folder, other, _tree(also_staging(staging, i))), "staged": also_staging(staging, i).name,
             "folder": os.path.relpath(other.folder, folder)}
            for i, other in enumerate(plan.also)]
    if staging.parent != folder:  # a new folder, staged beside it
        write_marker(staging, kind.name, files)
        if also:  # committed through the journal: the companions, then the folder renamed into place
            atomic_write_text(staging / JOURNAL, json.dumps({"kind": kind.name, "files": files, "delete": [],
                                                             "folder": folder.name, "also": also}))
            _roll_forward(staging, folder.parent)
            return
        try:
            os.rename(staging, folder)
            return
        except OSError as exc:  # the folder appeared meanwhile: commit into it
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        inside = temporary_name(folder / kind.name)
        _remove(inside)
        os.rename(staging, inside)
        staging = inside
        (staging / MARKER).unlink()
    journal = {**_checked(folder, plan, files), "also": also}
    atomic_write_text(staging / JOURNAL, json.dumps(journal))
    _roll_forward(staging, folder)


def _move(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``; where they are on different file systems (a BIDS tree on
    another disk than the recordings), copy it under a temporary name beside ``target``, rename
    that, then remove ``source``. Safe to repeat: ``source`` goes last."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temporary = temporary_name(target)
        shutil.copy2(source, temporary)
        os.replace(temporary, target)
        source.unlink()


def _apply(source: Path, folder: Path, entry: dict, companion: bool = False) -> None:
    """Move a journal entry's files from ``source`` into ``folder``, delete its earlier files,
    record the files in the marker; safe to repeat."""
    for rel in entry["files"]:
        if os.path.lexists(source / rel):
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _move(source / rel, target)
    for rel in entry["delete"]:
        target = folder / rel
        if os.path.lexists(target) and not target.is_dir():
            target.unlink()
            _prune_empty(target.parent, folder)
    if folder.is_dir():
        write_marker(folder, entry["kind"], entry["files"] or (None if companion else []))


def _roll_forward(staging: Path, directory: Path) -> None:
    """Apply a complete staging's journal (in ``directory``, or, for a new folder staged beside
    its final name, to that folder); safe to repeat after an interruption."""
    journal = json.loads((staging / JOURNAL).read_text())
    folder = directory / journal["folder"] if "folder" in journal else directory
    for entry in journal.get("also", []):
        target = Path(os.path.normpath(folder / entry["folder"]))
        _apply(staging / entry["staged"], target, entry, companion=True)
        if not entry["files"]:  # a folder left empty by what was deleted goes too
            _prune_empty(target, Path(os.path.commonpath([target, folder])))
        shutil.rmtree(staging / entry["staged"], ignore_errors=True)
    if "folder" in journal:
        try:
            os.rename(staging, folder)
        except OSError as exc:  # the folder appeared meanwhile: commit into it
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        else:
            (folder / JOURNAL).unlink()  # a kill before this leaves it to recover()
            return
    _apply(staging, folder, journal)
    shutil.rmtree(staging)


def _prune_empty(directory: Path, root: Path) -> None:
    """Remove ``directory`` and its parents below ``root`` while they are empty."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


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
    write_marker(dest, kind.name, mine)
    write_marker(folder, kind.name, None)
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
        found = TEMPORARY.match(entry.name)
        if not found or _alive(int(found.group(1))):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False) and (path / JOURNAL).is_file():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):  # tried again next time
                _roll_forward(path, directory)
        else:
            _remove(path)


def settle(folder: str | os.PathLike) -> None:
    """Before outputs in ``folder`` are read: finish or undo what killed commands left in it,
    beside it, in its subfolders and in a study's ``recordings/*``, so that a reader never takes
    a half-committed folder (new tables beside the old ones they replace) for a whole one."""
    recover(folder)
    for sub in _subfolders(Path(folder)):
        sweep(sub)
        if sub.name == "recordings":
            for recording in _subfolders(sub):
                sweep(recording)


def _subfolders(folder: Path) -> list[Path]:
    """The folders in ``folder`` (not hidden ones, not through symlinks; none if it cannot be read)."""
    try:
        return [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)
                and not e.name.startswith(".")]
    except OSError:
        return []


def recover(folder: str | os.PathLike) -> None:
    """Finish or undo what killed commands left in ``folder`` and beside it."""
    folder = Path(folder)
    for directory in (folder, folder.parent):
        if directory.is_dir():
            sweep(directory)
    # A new folder's journal comes with it when it is renamed into place, everything done.
    with contextlib.suppress(OSError):
        (folder / JOURNAL).unlink(missing_ok=True)
