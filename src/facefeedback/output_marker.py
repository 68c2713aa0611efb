"""The marker of an output folder: which files each kind of output wrote there.

Every folder facefeedback writes outputs into carries ``.facefeedback.json``, listing per kind
of output (``recording``, ``analysis``, ...) the files written there. A command overwrites or
deletes only what the marker gives to its own kind (:mod:`facefeedback.output_folders` holds
the rule and the writing); a folder written by a version that left no marker is read through
the kind's ``legacy`` rule.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_write_text

#: The marker every output folder carries: the files each kind of output wrote there.
MARKER = ".facefeedback.json"


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
    """Relative paths in ``folder`` that ``kind`` wrote: by the marker, or, when the marker has
    no entry for ``kind`` (an older version wrote it), by the legacy rule, never taking a
    file the marker gives to another kind."""
    folder = Path(folder)
    marker = read_marker(folder)
    if kind.name in marker:
        return frozenset(marker[kind.name])
    if kind.legacy is None or not folder.is_dir():
        return frozenset()
    others = {f for files in marker.values() for f in files}
    return frozenset(f for f in kind.legacy(folder) if f not in others)


def write_marker(folder: Path, kind: str, files: list[str] | None) -> None:
    """Record ``files`` as ``kind``'s in ``folder``'s marker (None: ``kind`` has nothing there)."""
    from . import __version__
    from .provenance import created

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
                         "written": created()}
    if not outputs:
        (folder / MARKER).unlink(missing_ok=True)
        return
    note = ("Written by facefeedback: the files it made here, per kind of output. It replaces or "
            "removes only these; anything else in this folder is left as it is.")
    atomic_write_text(folder / MARKER, json.dumps({"note": note, "outputs": outputs}, indent=1) + "\n")


def mark_written(folder: str | os.PathLike, kind: OutputKind, files: Iterable[str]) -> None:
    """Add ``files`` to ``kind``'s files in ``folder``'s marker, keeping those it already has
    there (by the marker, or the legacy rule in a folder an older version wrote).

    For outputs written one file at a time into a folder they share (a study's calibrations,
    ``calibrate --out``): call it before writing the file, so that a kill in between leaves
    nothing of ours unlisted.
    """
    folder = Path(folder)
    write_marker(folder, kind.name, sorted(owned_files(folder, kind) | set(files)))
