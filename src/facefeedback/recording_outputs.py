"""A recording's outputs on disk: its folder, and its BIDS table under ``sub-*/[ses-*/]beh/``.

:func:`write_recording` writes ``frames.parquet`` (or ``.csv``, or a BIDS-style
``..._desc-frown_timeseries.tsv.gz``) with its JSON sidecar, ``summary.json`` and
``provenance.json`` through :func:`facefeedback.output_folders.writing`, so a failed or
killed run never leaves a half-written output, and files that facefeedback did not write
are left as they are. A table placed in a BIDS folder is staged and committed with the
recording's folder, and that folder's marker lists it under a key naming the recording
(:func:`table_kind`), so each recording replaces only its own table there.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import bids
from .files import COMPRESSED_TSV, write_json, write_table
from .output_folders import (
    OutputPlan,
    also_staging,
    check_output_path,
    plan_output,
    recover,
    writing,
)
from .output_marker import OutputKind, owned_files, read_marker

if TYPE_CHECKING:
    from .extract import RecordingResult

log = logging.getLogger(__name__)


def _earlier_recording(folder: Path) -> list[str]:
    """A recording folder written before output markers: known by its provenance.json; the
    files that version wrote there (table, its sidecar, summary, provenance)."""
    try:
        provenance = json.loads((folder / "provenance.json").read_text())
        made_by_us = "facefeedback" in provenance["versions"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not made_by_us:
        return []
    tables = [*bids.LEGACY_TABLES, bids.in_folder_name(folder.name)]
    named = provenance.get("frames_table")
    if isinstance(named, str) and "/" not in named:
        tables.append(named)
    files = {"summary.json", "provenance.json"} | set(tables) | {bids.sidecar_path(t).name for t in tables}
    return sorted(f for f in files if (folder / f).is_file())


#: A recording's outputs (extract, a study's recordings, a webcam session). Provenance goes
#: last: a study reads it to tell whether the folder is current.
RECORDING = OutputKind("recording", "a recording's outputs", legacy=_earlier_recording, last=("provenance.json",))


def own_table(name: str, fmt: str = "parquet") -> str:
    """The per-frame table's name inside the recording's folder ``name``, in format ``fmt``."""
    if fmt == "bids":
        return bids.in_folder_name(name)
    return "frames.csv" if fmt == "csv" else "frames.parquet"


def recording_files(name: str, fmt: str = "parquet", table_elsewhere: bool = False,
                    trials: bool = False) -> tuple[str, ...]:
    """The files :func:`write_recording` writes into the recording's folder ``name`` (its table
    and the table's sidecar stay out of it when ``--format bids`` places them elsewhere)."""
    table = None if table_elsewhere else own_table(name, fmt)
    tables = (table, bids.sidecar_path(table).name) if table else ()
    return (*tables, *(("trials.parquet",) if trials else ()), "summary.json", "provenance.json")


def table_kind(final: Path, folder: Path) -> OutputKind:
    """The per-frame table (and sidecar) that the recording in ``final`` keeps in ``folder``
    (``sub-*/[ses-*/]beh/``): its key in that folder's marker names the recording's folder,
    relative to it. Written before markers, it is the table the recording's provenance names."""
    where = Path(os.path.relpath(final, folder)).as_posix()

    def earlier(beh: Path) -> list[str]:
        if "provenance.json" not in owned_files(final, RECORDING):
            return []
        table = bids.frames_table(final)
        if table is None or Path(os.path.abspath(table.parent)) != Path(os.path.abspath(beh)):
            return []
        return [p.name for p in (table, bids.sidecar_path(table)) if p.is_file()]

    return OutputKind(f"recording at {where}", "a recording's outputs", legacy=earlier)


def _is_frame_sidecar(path: Path) -> bool:
    """A per-frame table's sidecar as facefeedback writes it (how an earlier version's table is known)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"frame", "timestamp_s"} <= set(data) \
        and all(isinstance(v, dict) and "Description" in v for k, v in data.items() if k != "Columns")


def _other_recordings_table(target: Path, kind: OutputKind) -> str | None:
    """Which other recording's table stands at ``target`` (a BIDS table's place): by the
    folder's marker, or, written before markers, a per-frame table known by its sidecar; None
    when the place is free, the recording's own, or a file facefeedback did not write."""
    names = {target.name, bids.sidecar_path(target).name}
    if names & owned_files(target.parent, kind):
        return None
    for key, files in read_marker(target.parent).items():
        if key != kind.name and names & set(files):
            return f"the recording in {key.removeprefix('recording at ')}"
    if target.is_file() and _is_frame_sidecar(bids.sidecar_path(target)):
        return "another recording"
    return None


@dataclass(frozen=True)
class RecordingPlan:
    """Where :func:`write_recording` writes a recording: its folder's plan (with the BIDS
    folders' plans in ``plan.also``), and where its table goes."""

    plan: OutputPlan
    table: Path
    #: Why a BIDS table stays in the recording's folder (its place is another recording's).
    warning: str | None = None


def plan_recording(final: str | os.PathLike, fmt: str = "parquet", root: str | os.PathLike | None = None,
                   bids_name: str | None = None, trials: bool = False, force: bool = False) -> RecordingPlan:
    """Check, before any work, that a recording's outputs may be written into ``final``.

    With ``fmt="bids"`` and a ``bids_name``, the table and its sidecar go to
    ``root/<bids_name>.tsv.gz`` (``root``: default ``final``'s parent) unless another recording's
    table is there; a file facefeedback did not write there stops the command like any other
    output (:func:`facefeedback.output_folders.plan_output`), ``force`` overwrites it. The table
    an earlier run put in another BIDS folder is deleted when the new outputs are committed.

    Raises
    ------
    OutputError
        Something facefeedback did not write is in the way (unless ``force``), or a folder
        cannot be written.
    """
    final = Path(final)
    root = Path(root) if root is not None else final.parent
    check_output_path(final)
    recover(final)
    target, warning = None, None
    if fmt == "bids" and bids_name:
        target = root / (bids_name + bids.TIMESERIES_EXTENSION)
        check_output_path(target.parent)
        recover(target.parent)
        other = _other_recordings_table(target, table_kind(final, target.parent))
        if other is not None:
            warning = f"{target} is the table of {other}; {final.name} keeps its table in its own folder"
            target = None
    also = []
    if target is not None:
        also.append(plan_output(target.parent, table_kind(final, target.parent),
                                [target.name, bids.sidecar_path(target).name], force))
    previous = bids.frames_table(final)
    if previous is not None and previous.parent != final and (target is None or previous.parent != target.parent):
        also.append(plan_output(previous.parent, table_kind(final, previous.parent), (), force))  # deletes its own
    plan = plan_output(final, RECORDING, recording_files(final.name, fmt, target is not None, trials), force,
                       also=also)
    table = target if target is not None else final / own_table(final.name, fmt)
    return RecordingPlan(plan, table, warning)


def write_recording_files(result: RecordingResult, staging: Path, final: Path, fmt: str = "parquet",
                          table: Path | None = None) -> Path:
    """Write the outputs of the recording folder ``final`` into ``staging`` (from
    :func:`facefeedback.output_folders.writing`).

    ``table``: where the per-frame table goes (:func:`plan_recording`), default the folder's own
    name for ``fmt``; one outside ``final`` is staged for the first of the plan's other folders
    (:func:`facefeedback.output_folders.also_staging`). Returns where the table is.
    """
    if table is None:
        table = final / own_table(final.name, fmt)
    staged = (staging if table.parent == final else also_staging(staging, 0)) / table.name
    write_table(result.frames, staged)
    bids.write_sidecar(staged, bids.frame_sidecar(result.frames.columns,
                                                   listed=staged.name.endswith(COMPRESSED_TSV)))
    provenance = {**result.provenance, "frames_table": Path(os.path.relpath(table, final)).as_posix()}
    if result.trials is not None:
        write_table(result.trials, staging / "trials.parquet")
    write_json(staging / "summary.json", result.summary)
    write_json(staging / "provenance.json", provenance)
    return table


def write_recording(result: RecordingResult, out_dir: str | os.PathLike, fmt: str = "parquet",
                    root: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Write a recording's outputs into ``out_dir/<name>/``, atomically and beside what is there.

    Parameters
    ----------
    fmt : {"parquet", "csv", "bids"}
        The per-frame table's format. ``bids`` writes ``..._desc-frown_timeseries.tsv.gz`` under
        ``root/<result.bids_name>`` when the recording has one and no other recording's table is
        there, and in the recording's folder otherwise (:func:`plan_recording`).
    root : path, optional
        The dataset folder ``bids_name`` is relative to (default: ``out_dir``).
    force : bool
        Overwrite files that facefeedback did not write where the outputs go.

    The table's JSON sidecar (:func:`facefeedback.bids.frame_sidecar`) is written beside it, and
    ``provenance.json`` names the table (``frames_table``, relative to the recording's folder).
    Everything, the BIDS table included, is staged and committed together: a kill leaves the
    earlier outputs or the new ones.

    Raises
    ------
    OutputError
        A file there that facefeedback did not write would be overwritten (unless ``force``),
        or the folder cannot be written.
    """
    out_dir = Path(out_dir)
    final = out_dir / result.name
    planned = plan_recording(final, fmt, root if root is not None else out_dir, result.bids_name,
                             result.trials is not None, force)
    if planned.warning:
        log.warning(planned.warning)
    with writing(planned.plan) as staging:
        write_recording_files(result, staging, final, fmt, planned.table)
    return final
