"""Per-frame tables with OpenFace 2 column names, so a lab's OpenFace-reading scripts keep working.

Columns named as OpenFace's ``FeatureExtraction`` names them, where the meaning is the same:

=============  =====================================================================
``frame``      1-based frame number (OpenFace counts from 1): our 0-based index + 1
``face_id``    0 (the participant; one face per recording)
``timestamp``  seconds from the start of the video (our ``timestamp_s``)
``confidence`` 1.0 when a face was found, 0.0 otherwise (MediaPipe Face Mesh gives no
               per-frame score; a found face passed its detection threshold)
``success``    1 when a face was found, 0 otherwise (our ``face_detected``)
``pose_Rx``    head pitch in radians, OpenFace's sign: positive = looking down
               (chin down), so ``pose_Rx = -radians(pitch)``
``pose_Ry``    head yaw in radians, positive = face turned to the image left
               (the participant's right): ``pose_Ry = radians(yaw)``
``pose_Rz``    head roll in radians, positive = clockwise in the image:
               ``pose_Rz = radians(roll)``
=============  =====================================================================

OpenFace's rotations are about the camera's axes (x right, y down, z forward);
the signs above were checked against OpenFace 2.0.6 output on its own sample
videos (correlations 0.87-0.99 on a clip with head turns). The frown columns
follow under their own names (``brow_gap``, ``brow_lowering``,
``glabella_lines``, ``frown_intensity``, ``frowning``, ``valid``, QC values):
OpenFace's ``AU04_r`` is a different measure and is not imitated. As in
OpenFace's files, the header and cells are separated by ", "; a frame with no
face has empty cells where OpenFace would write 0 (a missing value, not a zero).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..bids import frames_table
from ..errors import InputError, os_error_line
from ..files import atomic_write_text, path_problem, read_table
from ..output_folders import OutputKind, plan_output, settle, writing

log = logging.getLogger(__name__)

OPENFACE_COLUMNS = ("frame", "face_id", "timestamp", "confidence", "success", "pose_Rx", "pose_Ry", "pose_Rz")
#: Our columns that OpenFace's names replace.
MAPPED = ("frame", "timestamp_s", "face_detected", "yaw", "pitch", "roll")


def openface_table(frames: pd.DataFrame) -> pd.DataFrame:
    """A per-frame table (``schema.FRAME_COLUMNS``) with OpenFace's columns first, then the frown columns."""
    found = frames["face_detected"].to_numpy(bool)
    out = pd.DataFrame({
        "frame": frames["frame"].to_numpy(np.int64) + 1,
        "face_id": np.zeros(len(frames), np.int64),
        "timestamp": frames["timestamp_s"].to_numpy(float),
        "confidence": found.astype(float),
        "success": found.astype(np.int64),
        "pose_Rx": -np.radians(frames["pitch"].to_numpy(float)),
        "pose_Ry": np.radians(frames["yaw"].to_numpy(float)),
        "pose_Rz": np.radians(frames["roll"].to_numpy(float)),
    })
    for name in frames.columns:
        if name not in MAPPED:
            values = frames[name]
            out[name] = values.astype(np.int64) if values.dtype == bool else values
    return out


def to_openface_csv(table: pd.DataFrame) -> str:
    """CSV text as OpenFace writes it: ", " between cells, 3 decimals for time and pose."""
    formats = {"timestamp": "{:.3f}", "confidence": "{:.2f}", "pose_Rx": "{:.3f}", "pose_Ry": "{:.3f}",
               "pose_Rz": "{:.3f}"}
    cols = []
    for name in table.columns:
        values = table[name]
        fmt = formats.get(name, "{:.6g}" if values.dtype.kind == "f" else "{}")
        cols.append(["" if v != v else fmt.format(v) for v in values.tolist()])  # NaN -> empty
    lines = [", ".join(table.columns)] + [", ".join(row) for row in zip(*cols)]
    return "\n".join(lines) + "\n"


def _earlier_export(folder: Path) -> list[str]:
    """CSVs an export wrote before output markers: known by OpenFace's first columns."""
    head = ", ".join(OPENFACE_COLUMNS[:5])
    found = []
    for path in sorted(folder.glob("*.csv")):
        try:
            with open(path, encoding="utf-8") as fh:
                if fh.readline().startswith(head):
                    found.append(path.name)
        except (OSError, UnicodeDecodeError):
            continue
    return found


#: ``openface/``: one CSV per recording, replaced as a whole by each export.
OPENFACE = OutputKind("openface", "an OpenFace-style export", _earlier_export)


def recording_folders(folder: Path) -> list[Path]:
    """Recording folders under a study output folder (``recordings/*``) or an extract output folder (``*``).

    Of a study, only the recordings of its current tables (``features/session_features``):
    outputs a run moved aside, or left by an older version, are not exported.
    """
    base = folder / "recordings" if (folder / "recordings").is_dir() else folder
    found = sorted(p for p in base.iterdir()
                   if p.is_dir() and not p.name.startswith(".") and frames_table(p) is not None)
    current = _current_recordings(folder)
    return found if current is None else [p for p in found if p.name in current]


def _current_recordings(folder: Path) -> set[str] | None:
    features = folder / "features" / "session_features.parquet"
    if not features.is_file():
        return None
    try:
        return set(pd.read_parquet(features, columns=["recording_id"])["recording_id"].astype(str))
    except Exception as exc:  # noqa: BLE001 - any reader failure: a damaged table
        raise InputError(f"{features}: cannot read the study's recordings ({type(exc).__name__}: {exc})") from None


def export_openface(folder: str | os.PathLike, out: str | os.PathLike | None = None,
                    force: bool = False) -> tuple[list[Path], list[str]]:
    """Write ``<out>/<recording>.csv`` in OpenFace's layout for every recording under ``folder``.

    The export replaces an earlier one as a whole (CSVs of recordings no longer in the study are
    removed); files in ``out`` that facefeedback did not write are left as they are.

    Parameters
    ----------
    folder : path
        A study output folder (``facefeedback run``) or an extract output folder.
    out : path, optional
        Where the CSVs go (default: ``folder/openface``).
    force : bool
        Overwrite files in the way that facefeedback did not write.

    Returns
    -------
    written : list of Path
        The CSV files.
    problems : list of str
        One line per recording that could not be exported (the others are).
    """
    folder = Path(folder)
    if problem := path_problem(folder, "folder", folder=True):
        raise InputError(f"{problem} (give a study output folder or an extract output folder)")
    settle(folder)  # a command killed while committing there: finish it before reading
    recordings = recording_folders(folder)
    if not recordings:
        raise InputError(f"{folder}: no recordings found (expected <name>/frames.parquet or "
                         "recordings/<name>/frames.parquet)")
    out = Path(out) if out is not None else folder / "openface"
    plan = plan_output(out, OPENFACE, [f"{rec.name}.csv" for rec in recordings], force)
    written, problems = [], []
    with writing(plan) as staging:
        for rec in recordings:
            try:
                atomic_write_text(staging / f"{rec.name}.csv", to_openface_csv(openface_table(_frames(rec))))
            except InputError as exc:
                problems.append(str(exc))
            except OSError as exc:
                problems.append(f"{rec}: cannot export: {os_error_line(exc)}")
            else:
                written.append(out / f"{rec.name}.csv")
        if not written:
            raise InputError(f"{folder}: no recording could be exported; {problems[0]}")
    return written, problems


def _frames(rec: Path) -> pd.DataFrame:
    try:
        frames = read_table(frames_table(rec))
    except Exception as exc:  # noqa: BLE001 - any reader failure: a damaged table
        raise InputError(f"{rec}: cannot read the per-frame table ({type(exc).__name__}: {exc})") from None
    missing = [c for c in schema.FRAME_COLUMN_NAMES if c not in frames]
    if missing:
        raise InputError(f"{rec}: not a facefeedback per-frame table (missing {', '.join(missing)})")
    return frames
