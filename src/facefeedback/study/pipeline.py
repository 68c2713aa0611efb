"""A whole study: measure every recording once, calibrate each participant, write everything.

The order of work, which is what makes a rerun cheap:

1. every recording is a task (:func:`.measure_task.measure_recording`, run in parallel by
   :mod:`.parallel`): hash the file, and measure it unless its raw measurements
   are already cached (:mod:`.cache`);
2. as soon as a participant's baseline recordings are in, their neutral
   reference is fitted (the study file's calibration rule) and saved to
   ``DIR/calibration/<participant_id>.json``;
3. each of that participant's recordings is then calibrated against it and
   written to ``DIR/recordings/<recording_id>/`` (with ``--format bids`` the
   per-frame table goes to ``DIR/sub-<label>/ses-<label>/beh/``), unless an
   identical output is already there;
4. the session features, wide table, codebook and their sidecars are built from
   the summaries, then ``study.json`` and ``dataset_description.json``, then the
   requested .sav / .dta exports.

A recording that fails goes to ``DIR/failures.csv`` and the batch goes on. Before any
work the whole output is checked (:func:`.outputs.check_study_output`); outputs of rows
that left the tables, and of recordings that failed, move to ``DIR/stale/``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pandas as pd

from .. import bids
from ..calibration import Calibration, calibrate, population_calibration
from ..config import Config, config_hash, dump_config
from ..errors import ConfigError, FaceFeedbackError, InputError
from ..files import json_text, write_json, write_table
from ..measure import build_frame_table
from ..output_folders import RUN_LOCK, plan_output, sweep, writing
from ..output_marker import mark_written, owned_files
from ..provenance import created, measurement_versions
from .cache import RawCache, RawEntry, is_current, software, stamp
from .manifest import Study
from .measure_task import Measured, MeasureTask, measure_recording
from .openface import OPENFACE, export_openface
from .outputs import (
    CALIBRATION,
    FEATURE_FILES,
    FEATURES,
    STUDY,
    STUDY_FILES,
    StaleOutputs,
    check_study_output,
)
from .parallel import Executor, default_workers, run_tasks
from .progress import StudyProgress
from .trial_features import TRIALS_FILE, trial_stamp, trial_values, write_study_trials

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """Counts of what a run did, for the command's summary line."""

    out: Path
    recordings: int = 0
    measured: int = 0  # MediaPipe ran
    written: int = 0  # recording outputs (re)written
    kept: int = 0  # recording outputs already current
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    compared: int = 0  # later recordings compared with the reference visit's imaging conditions
    not_comparable: int = 0  # of which recorded under conditions beyond the validated range
    stale: Path | None = None  # where outputs that are no longer current were moved


class _Participants:
    """Per participant: which raw measurements are in, the calibration once it can be fitted."""

    def __init__(self, study: Study, config: Config, cache: RawCache, out: Path, report: RunReport,
                 stale: StaleOutputs, force: bool = False) -> None:
        self.study, self.config, self.cache, self.out, self.report = study, config, cache, out, report
        self.stale, self.force = stale, force
        self.rows = {r.recording_id: r for r in study.recordings.itertuples(index=False)}
        self.done: dict[str, Measured] = {}
        self.calibration: dict[str, Calibration] = {}
        self.written: set[str] = set()
        self.bids_names = bids.study_timeseries_names(study.recordings)

    def add(self, m: Measured) -> None:
        self.done[m.recording_id] = m
        row = self.rows[m.recording_id]
        if m.error:
            self._failed(m.recording_id, m.error)
        pid = row.participant_id
        if pid not in self.calibration:
            needed = list(self.study.calibration_rows(pid)["recording_id"])
            if not all(r in self.done for r in needed):
                return
            self.calibration[pid] = self._calibrate(pid, needed)
        for rid, done in self.done.items():
            if rid not in self.written and not done.error and self.rows[rid].participant_id == pid:
                self._write(rid, done, self.calibration[pid])

    def _failed(self, rid: str, error: str) -> None:
        """Record a failure; the recording's outputs of an earlier run are no longer current."""
        self.report.failures.append((rid, self.rows[rid].path, error))
        log.debug("%s failed: %s", rid, error)  # the report carries it: 'run' prints it once
        self.stale.recording(rid, f"failed in this run: {error}")

    def _calibrate(self, pid: str, needed: list[str]) -> Calibration:
        """The participant's neutral reference, saved to ``calibration/<pid>.json``.

        When it cannot be fitted, a calibration of the participant's own from an earlier run is
        kept (never replaced by the population default); without one, the population default.
        When only some of the calibration recordings failed, an earlier calibration over more of
        them is kept; without one, the calibration rests on those read. Each case is a warning.
        """
        ok = [r for r in needed if not self.done[r].error]
        failed = [r for r in needed if r not in ok]
        population = population_calibration(*self.config.families())
        cal, problem = None, f"no calibration recording could be read ({', '.join(needed)})"
        if ok:
            frames = pd.concat([build_frame_table(self.cache.get(self.done[r].key).table(), population, self.config)
                                for r in ok], ignore_index=True)
            try:
                cal = calibrate(frames, self.config.families(), self.config.calibration, source=", ".join(ok),
                                participant_id=pid)
            except FaceFeedbackError as exc:
                problem = str(exc)
        folder = self.out / "calibration"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{pid}.json"
        try:
            earlier = Calibration.load(target)
        except InputError:  # absent or unreadable
            earlier = None
        own = earlier is not None and earlier.method != "population"
        fuller = own and failed and len(set(earlier.source.split(", ")) & set(needed)) > len(ok)
        if own and (cal is None or fuller):
            if cal is not None:
                problem = f"calibration recording(s) {', '.join(failed)} could not be read"
            self.report.warnings.append(
                f"participant {pid}: {problem}; keeping the participant's calibration of an earlier run "
                f"({earlier.method} over {earlier.source}, {earlier.n_frames} frames) in {target}")
            return earlier
        if cal is not None and failed:
            self.report.warnings.append(
                f"participant {pid}: calibration recording(s) {', '.join(failed)} could not be read; the "
                f"calibration rests on {', '.join(ok)} only ({cal.n_frames} frames)")
        if cal is None:
            self.report.warnings.append(f"participant {pid}: {problem}; using the population reference")
            cal = Calibration(population.neutral, "population", population.source, 0, pid)
        mark_written(folder, CALIBRATION, [target.name])  # before the file: a kill leaves nothing unlisted
        if earlier != cal:
            cal.save(target)
        return cal

    def _write(self, rid: str, m: Measured, cal: Calibration) -> None:
        from ..extract import recording_result
        from ..recording_outputs import write_recording

        self.written.add(rid)
        row = self.rows[rid]
        folder = self.out / "recordings" / rid
        bids_name = self.bids_names.get(rid)
        trials = self.study.events.get(rid)
        capacity = row.task == self.study.spec.capacity_task
        wanted = json.loads(json_text({**stamp(m.sha256, m.key, self.config, cal.to_json(), bids_name),
                                       **trial_stamp(row.events, capacity)}))
        if is_current(folder, wanted) and (trials is None or (folder / TRIALS_FILE).is_file()):
            self.report.kept += 1
            return
        entry: RawEntry = self.cache.get(m.key)
        result = recording_result(row.path, entry.info, entry.table(), self.config, cal, name=rid,
                                  run_time_s=entry.run_time_s, sha256=m.sha256, trial_events=trials,
                                  capacity=capacity)
        result.provenance["study_stamp"] = wanted
        result.provenance["study"] = {"participant_id": row.participant_id, "session": row.session,
                                      "task": row.task, "study_file": str(self.study.path), "table_row": row.row}
        result.bids_name = bids_name
        try:
            write_recording(result, self.out / "recordings", self.config.output_format, root=self.out,
                            force=self.force)
        except FaceFeedbackError as exc:  # something was put in its way since the check
            self.written.discard(rid)
            self._failed(rid, str(exc))
            return
        self.report.written += 1


def run_study(study: Study, config: Config, out: str | Path, executor: Executor = "local",
              workers: int | None = None, scheduler: str | None = None, progress: bool | TextIO = False,
              export: tuple[str, ...] = (), force: bool = False, strict: bool = False) -> RunReport:
    """Measure, calibrate and summarise every recording of a checked study into ``out``.

    Parameters
    ----------
    study : Study
        From :func:`facefeedback.study.manifest.load_study`.
    config : Config
        Measurement settings; the study's calibration rule is applied on top.
    out : path
        The study output folder (layout in ``docs/data_contract.md``).
    executor, workers, scheduler
        See :func:`facefeedback.study.parallel.run_tasks`.
    progress : bool or text stream
        One progress bar for the study, on a terminal (or on the stream given): frames measured,
        frames per second, the time left, the recordings done and failed (:mod:`.progress`).
    export : tuple of {"spss", "stata"}
        Also write the feature tables as .sav / .dta (:mod:`facefeedback.study.statfiles`). The
        .sav / .dta files an earlier run wrote are rewritten in any case, so they stay current.
    force : bool
        Write even where files facefeedback did not write are in the way (overwriting them).
    strict : bool
        A truncated video fails like a corrupt one. Otherwise its decoded frames are measured, and
        its summary, the run's warnings and ``study.json`` say it was truncated.

    Raises
    ------
    OutputError, ValidationError
        Before any work, when an output cannot be written (see :func:`.outputs.check_study_output`).
    """
    started = time.perf_counter()
    out = Path(out)
    bids.read_description(out)  # refuses a folder that describes another dataset, before any work
    config = study.calibration_config(config)
    report = RunReport(out, recordings=len(study.recordings), warnings=list(study.warnings))
    if executor == "local" or not scheduler:
        workers = workers or default_workers()
    check_study_output(study, out, config.output_format, export, force)
    for sub in ("recordings", "calibration", "cache"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        return _measure_study(study, config, out, report, executor, workers, scheduler, progress, started, export, force,
                    strict)


@contextlib.contextmanager
def _exclusive(out: Path):
    """One run at a time per output folder (the lock dies with the process, even on SIGKILL)."""
    import fcntl

    with open(out / RUN_LOCK, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"{out}: another 'facefeedback run' is writing into this folder") from None
        yield


def _measure_study(study: Study, config: Config, out: Path, report: RunReport, executor: Executor, workers: int | None,
                   scheduler: str | None, progress: bool | TextIO, started: float, export: tuple[str, ...],
                   force: bool, strict: bool = False) -> RunReport:
    from .codebook import write_feature_outputs
    from .comparability import compare_visits, pair_warnings
    from .statfiles import STATFILE_KINDS, export_statfiles

    for folder in (out, out / "recordings", out / "calibration", out / "features", out / "cache" / "raw",
                   *out.glob(f"sub-*/ses-*/{bids.DATATYPE}"), *out.glob(f"sub-*/{bids.DATATYPE}")):
        sweep(folder)
    stale = StaleOutputs(out)
    stale.removed_rows(study)
    cache = RawCache(out / "cache" / "raw")
    state = _Participants(study, config, cache, out, report, stale, force)
    order = _work_order(study)
    bar = StudyProgress(out / "cache" / "progress", dict(order), config, enabled=bool(progress),
                        file=None if isinstance(progress, bool) else progress)
    versions = software()
    tasks = [MeasureTask(rid, path, config, str(cache.root), strict=strict, progress_file=bar.reporter(rid),
                         software=versions) for rid, path in order]
    try:
        for task, result in run_tasks(measure_recording, tasks, executor, workers, scheduler):
            if isinstance(result, BaseException):  # the worker died, or the task could not be sent
                result = Measured(task.recording_id, error=f"{task.path}: worker failed "
                                                            f"({type(result).__name__}: {result})")
            report.measured += result.measured
            bar.finished(task.recording_id, result.frames, failed=result.error is not None)
            state.add(result)
    finally:
        bar.close()
        report.stale = stale.finish()
    written = [rid for rid in study.recordings["recording_id"] if rid in state.written]
    documents = {rid: json.loads((out / "recordings" / rid / "summary.json").read_text()) for rid in written}
    summaries = {rid: {**doc["features"], **trial_values(study, doc)} for rid, doc in documents.items()}
    report.warnings.extend(f"{rid}: {w}" for rid, doc in documents.items() for w in doc.get("warnings", []))
    comparable = compare_visits(study, summaries, config.comparability, config.qc.min_iod_px)
    report.compared, report.not_comparable = len(comparable), int(comparable["flagged"].sum())
    report.warnings.extend(pair_warnings(comparable))
    with writing(plan_output(out / "features", FEATURES, FEATURE_FILES, force)) as staging:
        write_feature_outputs(study, summaries, staging, comparable, config.comparability)
        write_study_trials(study, out / "recordings", written, staging)
    report.elapsed_s = time.perf_counter() - started
    with writing(plan_output(out, STUDY, STUDY_FILES, force)) as staging:
        write_table(pd.DataFrame(report.failures, columns=["recording_id", "path", "error"]),
                    staging / "failures.csv")
        _write_study_json(study, config, staging, report, executor, workers, strict)
        bids.write_description(staging, study.spec.name or study.path.stem, config_hash(config),
                               [s.to_bids() for s in study.spec.source_datasets])
    # Exports written by an earlier run are rewritten too, so none is left older than the tables.
    earlier = tuple(k for k, kind in STATFILE_KINDS.items() if owned_files(out / "features", kind))
    if export or earlier:
        export_statfiles(out, tuple(dict.fromkeys(export + earlier)), force)
    if owned_files(out / "openface", OPENFACE):  # so is an OpenFace export in its default place
        _, problems = export_openface(out, force=force)
        report.warnings.extend(problems)
    return report


def _work_order(study: Study) -> list[tuple[str, str]]:
    """Each participant's calibration recordings first, so their outputs can be written early."""
    order = []
    for pid in dict.fromkeys(study.recordings["participant_id"]):
        first = list(study.calibration_rows(pid)["recording_id"])
        mine = study.recordings[study.recordings["participant_id"] == pid]
        rest = [r for r in mine["recording_id"] if r not in first]
        order.extend(first + rest)
    paths = dict(zip(study.recordings["recording_id"], study.recordings["path"]))
    return [(rid, paths[rid]) for rid in order]


def _write_study_json(study: Study, config: Config, folder: Path, report: RunReport, executor: str,
                      workers: int | None, strict: bool = False) -> None:
    data = study.to_json()
    data["warnings"] = report.warnings
    data["run"] = {"config": dump_config(config), "config_hash": config_hash(config), "executor": executor,
                   "workers": workers, "versions": measurement_versions(), "recordings": report.recordings,
                   "measured": report.measured, "written": report.written, "kept": report.kept,
                   "failed": len(report.failures), "strict": strict, "run_time_s": round(report.elapsed_s, 3),
                   "visits_compared": report.compared, "visits_not_comparable": report.not_comparable,
                   "created": created()}
    write_json(folder / "study.json", data)
