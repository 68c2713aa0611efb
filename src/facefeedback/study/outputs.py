"""A study output folder: whose it is, whether it may be written, and what is no longer current.

A measured study (``facefeedback run``) and a simulated one (``facefeedback simulate``)
are told apart by their marker (:mod:`facefeedback.output_marker`) or, in a folder written by a
version without markers, by ``study.json``: a ``run`` entry in a measured study, a
``simulation`` entry in a simulated one. Neither command writes into the other's folder.

After a run, ``recordings/`` and ``calibration/`` hold exactly what the study tables
define: the outputs of rows that left the tables, and of recordings that failed in this
run, are moved to ``stale/<date-time>/`` with a note (:class:`StaleOutputs`), never read
again by a later step. Only what the markers give to facefeedback is moved.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import OutputError, ValidationError
from ..files import atomic_write_text
from ..output_folders import check_output_path, move_output, plan_output
from ..output_marker import OutputKind, owned_files, write_marker

if TYPE_CHECKING:
    from .manifest import Study

#: What a run writes at the top of the study folder.
STUDY_FILES = ("dataset_description.json", "failures.csv", "study.json")
#: What a run writes into ``features/``: the tables, their BIDS sidecars, the codebook.
FEATURE_FILES = ("session_features.parquet", "session_features.csv", "session_features.json", "wide.csv",
                 "wide.json", "comparability.csv", "comparability.json", "codebook.csv", "codebook.json",
                 "codebook.md", "trials.parquet")


def read_study_json(folder: Path) -> dict:
    """``folder/study.json`` as a dict (empty when absent or unreadable)."""
    try:
        data = json.loads((Path(folder) / "study.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _present(folder: Path, names) -> list[str]:
    return [f for f in names if (folder / f).is_file()]


def _earlier_study(folder: Path) -> list[str]:
    return _present(folder, STUDY_FILES) if "run" in read_study_json(folder) else []


def _earlier_simulation(folder: Path) -> list[str]:
    if "simulation" not in read_study_json(folder):
        return []
    files = _present(folder, [*STUDY_FILES, "features/session_features.parquet", "features/session_features.csv"])
    for rec in sorted((folder / "recordings").glob("*/")):
        files += [f"recordings/{rec.name}/{f}" for f in _present(rec, ("frames.parquet", "summary.json"))]
    return files


def _earlier_calibrations(folder: Path) -> list[str]:
    """Calibrations a version without markers wrote: ``<participant_id>.json`` holding that
    participant's calibration (a copy under another name is not one of them)."""
    from ..calibration import calibration_files  # the measurement stack loads only when needed

    return calibration_files(folder, named_by_participant=True)


def _earlier_features(folder: Path) -> list[str]:
    if not ((folder / "session_features.parquet").is_file() and (folder / "codebook.md").is_file()):
        return []
    return _present(folder, FEATURE_FILES)


STUDY = OutputKind("study", "a measured study", _earlier_study, last=("study.json",))
SIMULATED_STUDY = OutputKind("simulated study", "a simulated study", _earlier_simulation, last=("study.json",))
FEATURES = OutputKind("features", "a study's feature tables", _earlier_features)
#: ``calibration/<participant_id>.json``, one file at a time (:func:`facefeedback.output_marker.mark_written`).
CALIBRATION = OutputKind("calibration", "a study's calibrations", _earlier_calibrations)


def is_simulated_study(folder: Path) -> bool:
    return bool(owned_files(folder, SIMULATED_STUDY))


def is_measured_study(folder: Path) -> bool:
    """The folder holds a study's measurements: its study files, or any measured recording."""
    from ..recording_outputs import RECORDING

    if owned_files(folder, STUDY):
        return True
    recordings = Path(folder) / "recordings"
    return recordings.is_dir() and any(owned_files(p, RECORDING) for p in recordings.iterdir() if p.is_dir())


def _newer_version(folder: Path) -> str | None:
    """The facefeedback version that wrote the study in ``folder``, when newer than this one."""
    theirs = str(((read_study_json(folder).get("run") or {}).get("versions") or {}).get("facefeedback", ""))

    def parts(version: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", version)[:3])
    return theirs if theirs and parts(theirs) > parts(__version__) else None


def check_study_output(study: Study, out: Path, fmt: str = "parquet", export: tuple[str, ...] = (),
                       force: bool = False) -> None:
    """Before any work: everything a run of ``study`` will write into ``out`` may be written
    (``fmt``: the per-frame tables' format; ``export``: the statistics packages' files asked for).

    Raises
    ------
    OutputError, ValidationError
        One line per folder or file that cannot be written, or that holds files facefeedback
        did not write (unless ``force``); a folder holding a simulated study, always.
    """
    from .. import bids
    from ..recording_outputs import plan_recording
    from .statfiles import STATFILE_KINDS, statfile_names

    out = Path(out)
    check_output_path(out)
    if out.is_dir() and is_simulated_study(out):
        raise OutputError(f"{out}: holds a simulated study ('facefeedback simulate'); a measured study "
                          "is never written over it: choose another --out")
    newer = _newer_version(out)
    if newer and not force:
        raise OutputError(f"{out}: written by facefeedback {newer}, newer than this one ({__version__}); a run would "
                          "replace its measurements with older ones: run it with that version, or --force")
    plan_output(out, STUDY, STUDY_FILES, force)
    checks = [lambda: plan_output(out / "features", FEATURES, FEATURE_FILES, force)]
    checks += [lambda key=key: plan_output(out / "features", STATFILE_KINDS[key], statfile_names(key), force)
               for key in export]
    names = bids.study_timeseries_names(study.recordings)
    checks += [lambda rid=rid: plan_recording(out / "recordings" / rid, fmt, out, names.get(rid),
                                              rid in study.events, force)
               for rid in study.recordings["recording_id"]]
    checks += [lambda: plan_output(out / "calibration", CALIBRATION,
                                   [f"{pid}.json" for pid in study.participants["participant_id"]], force)]
    problems = []
    for check in checks:
        try:
            check()
        except OutputError as exc:
            problems.append(str(exc))
    problems = list(dict.fromkeys(problems))
    if len(problems) == 1:
        raise OutputError(problems[0])
    if problems:
        raise ValidationError(problems, f"{out}: {len(problems)} output problem(s); nothing was processed")


class StaleOutputs:
    """Moves outputs that are no longer current into ``DIR/stale/<date-time>/``, with a note.

    Only what facefeedback wrote is moved (a recording folder's own files, calibration
    files); anything else stays where it is, and the note says so.
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.folder: Path | None = None
        self.lines: list[str] = []

    def _target(self) -> Path:
        if self.folder is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            folder, k = self.out / "stale" / stamp, 1
            while os.path.lexists(folder):
                k += 1
                folder = self.out / "stale" / f"{stamp}-{k}"
            self.folder = folder
        return self.folder

    def removed_rows(self, study: Study) -> None:
        """Move the outputs of recordings and participants that are no longer in the tables."""
        rids = set(study.recordings["recording_id"])
        pids = set(study.participants["participant_id"])
        recordings, calibration = self.out / "recordings", self.out / "calibration"
        for rec in sorted(recordings.iterdir() if recordings.is_dir() else []):
            if rec.name not in rids and not rec.name.startswith(".") and rec.is_dir():
                self.recording(rec.name, "no longer in the study tables")
        owned = owned_files(calibration, CALIBRATION)
        gone = sorted(f for f in owned if Path(f).stem not in pids and (calibration / f).is_file())
        if not gone:
            return
        dest = self._target() / "calibration"
        dest.mkdir(parents=True, exist_ok=True)
        for name in gone:
            os.replace(calibration / name, dest / name)
            self.lines.append(f"calibration/{name}: participant no longer in the study tables")
        write_marker(dest, CALIBRATION.name, gone)
        write_marker(calibration, CALIBRATION.name, sorted(owned.difference(gone)))

    def recording(self, rid: str, why: str) -> None:
        """Move a recording's outputs (if any), saying why; the per-frame table (and sidecar) it
        wrote elsewhere in the study folder (BIDS) goes with it, to the same relative place."""
        from .. import bids
        from ..recording_outputs import RECORDING, table_kind

        folder = self.out / "recordings" / rid
        if not owned_files(folder, RECORDING):
            return
        table = bids.frames_table(folder)
        if table is not None and not table.resolve().is_relative_to(folder.resolve()) \
                and table.resolve().is_relative_to(self.out.resolve()):
            beh, kind = table.parent, table_kind(folder, table.parent)
            mine = sorted(f for f in owned_files(beh, kind) if (beh / f).is_file())
            dest = self._target() / beh.resolve().relative_to(self.out.resolve())
            dest.mkdir(parents=True, exist_ok=True)
            for name in mine:
                os.replace(beh / name, dest / name)
            write_marker(dest, kind.name, mine)  # the same key: the recording's folder is as near
            write_marker(beh, kind.name, None)
        left = move_output(folder, self._target() / "recordings" / rid, RECORDING)
        kept = f" ({', '.join(left)} left in recordings/{rid}: not written by facefeedback)" if left else ""
        self.lines.append(f"recordings/{rid}: {why}{kept}")

    def finish(self) -> Path | None:
        """Write the note; the folder the outputs went to (None when nothing moved)."""
        if not self.lines:
            return None
        text = ("Outputs moved here by 'facefeedback run' on " + time.strftime("%Y-%m-%d %H:%M:%S")
                + " because they no longer describe the current study. No later step reads them;\n"
                  "delete this folder when you no longer need them.\n\n" + "\n".join(self.lines) + "\n")
        atomic_write_text(self._target() / "NOTE.txt", text)
        return self.folder
