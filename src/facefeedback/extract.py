"""One recording in, its per-frame table, summary and provenance out.

:func:`process_recording` runs the per-frame path over a source and builds the
table once; :func:`write_recording` writes ``frames.parquet`` (or ``.csv``, or
a BIDS-style ``..._desc-frown_timeseries.tsv.gz``) with its JSON sidecar,
``summary.json`` and ``provenance.json`` through :func:`facefeedback.output_folders.writing`,
so a failed or killed run never leaves a half-written output and files in the
recording's folder that facefeedback did not write are left as they are.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, bids
from .calibration import Calibration, population_calibration
from .config import Config, config_hash, dump_config
from .files import file_sha256, write_json, write_table
from .io import FrameSource, SourceInfo
from .measure import FrameMeasurer, MeasurementBuffer, build_frame_table, measure_frames
from .output_folders import OutputKind, plan_output, writing
from .summary import events_to_json, recording_warnings, summarise

log = logging.getLogger(__name__)


@dataclass
class RecordingResult:
    """Everything :func:`write_recording` writes for one recording."""

    name: str
    frames: pd.DataFrame
    summary: dict
    provenance: dict = field(default_factory=dict)
    #: Where ``--format bids`` puts the per-frame table, relative to the dataset and without
    #: extension (:func:`facefeedback.bids.timeseries_name`); None keeps it in the recording's folder.
    bids_name: str | None = None
    #: One row per trial of the recording's events file (:mod:`facefeedback.trials`); None without one.
    trials: pd.DataFrame | None = None


def versions() -> dict[str, str]:
    import cv2
    import mediapipe

    return {"facefeedback": __version__, "mediapipe": mediapipe.__version__, "opencv": cv2.__version__,
            "numpy": np.__version__, "pandas": pd.__version__, "python": platform.python_version()}


def measure_source(source: FrameSource, config: Config, progress: bool = False,
                   pipelined: bool = True, on_frame: Callable[[], None] | None = None) -> pd.DataFrame:
    """Raw per-frame measurements of an open source (before calibration).

    ``pipelined`` overlaps the features of one frame with the landmarks of the next
    (:func:`facefeedback.measure.measure_frames`): right for one recording on a free
    machine; a batch that already keeps every core busy with one recording per worker
    gains nothing from it and passes False. ``on_frame`` is called after each frame
    (a study's progress report).
    """
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    info = source.info
    total = None
    if info.n_frames:
        total = int(np.ceil(info.n_frames / source.stride))
    buffer = MeasurementBuffer(blendshapes=config.landmarks.model_path is not None)
    # One BLAS thread and one OpenCV thread: the per-frame work is on face-sized patches, which
    # gain nothing from more (measured: the features' CPU time and speed are the same with 1 and
    # 2 OpenCV threads, at 640x360 and 1080p), and the stages already run in threads of their own
    # (decoding, landmarks, features), as a study's workers do.
    with threadpool_limits(1, user_api="blas"), opencv_threads(1), \
            FrameMeasurer(config, static_image_mode=source.kind == "image") as measurer:
        bar = tqdm(total=total, desc=info.name, unit="frame", disable=(not progress) or None, leave=False)
        try:
            tick = bar.update if on_frame is None else lambda: (bar.update(), on_frame())
            measure_frames(measurer, source, buffer, on_frame=tick, pipelined=pipelined and source.kind != "image")
        finally:
            bar.close()
    return buffer.raw_table()


@contextlib.contextmanager
def opencv_threads(n: int) -> Iterator[None]:
    """OpenCV's own thread pool limited to ``n`` threads (the video decoder's threads are not
    affected), restored on exit."""
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def process_recording(path: str | os.PathLike, config: Config, calibration: Calibration | None = None,
                      name: str | None = None, progress: bool | None = None,
                      strict: bool = False, trial_events: pd.DataFrame | None = None,
                      capacity: bool = False) -> RecordingResult:
    """Measure one video or image file.

    Parameters
    ----------
    path : path
        The recording.
    config : Config
    calibration : Calibration, optional
        The participant's neutral reference; the population default when None.
    name : str, optional
        Output name (default: the file's stem).
    progress : bool, optional
        Show a progress bar (default: ``config.progress``).
    strict : bool
        A truncated video is an error. Otherwise the frames decoded are kept, and the summary and
        provenance say it was truncated, and where (``truncated``, a line in ``warnings``).
    trial_events, capacity
        The recording's checked events file, and whether it is a maximal-frown task
        (:func:`recording_result`).

    Raises
    ------
    InputError
        The file is missing, not a video or image, corrupt or undecodable (or, with ``strict``,
        truncated).
    """
    path = Path(path)
    started = time.perf_counter()
    info, raw = read_raw(path, config, progress, strict=strict)
    return recording_result(path, info, raw, config, calibration, name, time.perf_counter() - started,
                            trial_events=trial_events, capacity=capacity)


def read_raw(path: str | os.PathLike, config: Config, progress: bool | None = None,
             pipelined: bool = True, strict: bool = False, on_frame: Callable[[], None] | None = None
             ) -> tuple[SourceInfo, pd.DataFrame]:
    """What the source says about itself (and whether it was truncated), and its raw per-frame
    measurements (before calibration).

    The raw table does not depend on the calibration, so a study can measure once and
    calibrate later (see :func:`recording_result`). ``strict``: a truncated video is an
    :class:`InputError` instead of the frames decoded.
    """
    inp = config.input
    with FrameSource(path, stride=inp.stride, start_s=inp.start_s, end_s=inp.end_s, max_side=inp.max_side,
                     keep_truncated=not strict) as src:
        raw = measure_source(src, config, config.progress if progress is None else progress, pipelined, on_frame)
        info = src.info  # after reading: it says whether the video ended early
    return info, raw


def recording_result(path: str | os.PathLike | int, info: SourceInfo, raw: pd.DataFrame, config: Config,
                     calibration: Calibration | None = None, name: str | None = None,
                     run_time_s: float = 0.0, sha256: str | None = None,
                     trial_events: pd.DataFrame | None = None,
                     capacity: bool = False) -> RecordingResult:
    """Calibrate raw measurements and build the recording's table, summary and provenance.

    ``run_time_s`` is the time the measurement took; ``sha256`` the file's hash when already known.
    ``trial_events`` (:func:`facefeedback.eventfiles.check_events`) adds the trials table and the
    summary's ``trials``; ``capacity`` the summary's ``capacity`` (:mod:`facefeedback.trials`).
    """
    from .trials import trial_outputs

    path = Path(str(path))  # a camera is named by its index
    calibration = calibration or population_calibration(*config.families())
    table = build_frame_table(raw, calibration, config)
    features, events = summarise(table, config.events)
    summary = {
        "source": str(path),
        # A truncated video keeps the frames decoded up to where decoding stopped.
        "truncated": info.truncated,
        "truncated_at_frame": info.decoded_frames if info.truncated else None,
        "features": features,
        "events": events_to_json(events["frown"]),
        "smile_events": events_to_json(events["smile"]),
        "calibration": calibration.to_json(),
    }
    trials, extra = trial_outputs(table, trial_events, config.events, capacity)
    summary.update(extra)
    # One line per problem with the recording (empty when there is none).
    truncated = truncation_warning(info)
    summary["warnings"] = ([truncated] if truncated else []) + recording_warnings(table, config.qc)
    provenance = make_provenance(describe_input(path, info, sha256), config, len(table), run_time_s)
    return RecordingResult(name or path.stem, table, summary, provenance, trials=trials)


def truncation_warning(info: SourceInfo) -> str | None:
    """The warning of a truncated video whose decoded frames were kept (None when complete)."""
    line = info.truncation()
    if line is None:
        return None
    return f"{line}; the {info.decoded_frames} frames decoded are kept (--strict refuses a truncated video)"


def describe_input(spec: str | os.PathLike | int, info: SourceInfo, sha256: str | None = None) -> dict:
    """The provenance record of a source: a file's path, hash and size, or a camera's index, and
    whether (and where) a truncated video stopped."""
    record = {"path": None, "kind": info.kind, "width": info.width, "height": info.height,
              "declared_fps": info.fps, "declared_frames": info.n_frames, "truncated": info.truncated,
              "truncated_at_frame": info.decoded_frames if info.truncated else None,
              "truncated_at_s": info.decoded_s if info.truncated else None}
    if info.kind != "camera":
        path = Path(spec)
        record.update(path=str(path), sha256=sha256 or file_sha256(path), bytes=path.stat().st_size)
    return record


def make_provenance(input_record: dict, config: Config, n_frames: int, run_time_s: float, **extra) -> dict:
    """How an output was made: input, resolved config and its hash, backend, versions, timing."""
    return {
        "input": input_record,
        "config": dump_config(config),
        "config_hash": config_hash(config),
        "backend": "face_landmarker" if config.landmarks.model_path else "facemesh",
        "versions": versions(),
        "frames_processed": int(n_frames),
        "run_time_s": round(run_time_s, 3),
        "processing_fps": round(n_frames / run_time_s, 2) if run_time_s > 0 else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }


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


def recording_files(name: str, fmt: str = "parquet", bids_name: str | None = None,
                    trials: bool = False) -> tuple[str, ...]:
    """The files :func:`write_recording` writes into the recording's folder ``name`` (its table
    and the table's sidecar stay out of it when a BIDS name puts them elsewhere)."""
    if fmt == "bids":
        table = None if bids_name else bids.in_folder_name(name)
    else:
        table = "frames.csv" if fmt == "csv" else "frames.parquet"
    tables = (table, bids.sidecar_path(table).name) if table else ()
    return (*tables, *(("trials.parquet",) if trials else ()), "summary.json", "provenance.json")


def write_recording_files(result: RecordingResult, staging: Path, final: Path, fmt: str = "parquet",
                          root: Path | None = None) -> tuple[Path, Path | None]:
    """Write the outputs of the recording folder ``final`` into ``staging``.

    A table that goes outside the folder (``--format bids``, under ``root``) is written in
    place, atomically. Returns where the table is and where the folder's earlier table was.
    """
    previous = bids.frames_table(final)
    table = _table_path(result, final, fmt, root if root is not None else final.parent, previous)
    if table.parent == final:
        staged = staging / table.name
    else:
        table.parent.mkdir(parents=True, exist_ok=True)
        staged = table
    write_table(result.frames, staged)
    bids.write_sidecar(staged, bids.frame_sidecar(result.frames.columns))
    provenance = {**result.provenance, "frames_table": Path(os.path.relpath(table, final)).as_posix()}
    if result.trials is not None:
        write_table(result.trials, staging / "trials.parquet")
    write_json(staging / "summary.json", result.summary)
    write_json(staging / "provenance.json", provenance)
    return table, previous


def write_recording(result: RecordingResult, out_dir: str | os.PathLike, fmt: str = "parquet",
                    root: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Write a recording's outputs into ``out_dir/<name>/``, atomically and beside what is there.

    Parameters
    ----------
    fmt : {"parquet", "csv", "bids"}
        The per-frame table's format. ``bids`` writes ``..._desc-frown_timeseries.tsv.gz`` under
        ``root/<result.bids_name>`` when the recording has one and no other recording's table is
        there, and in the recording's folder otherwise.
    root : path, optional
        The dataset folder ``bids_name`` is relative to (default: ``out_dir``).
    force : bool
        Overwrite files in the folder that facefeedback did not write.

    The table's JSON sidecar (:func:`facefeedback.bids.frame_sidecar`) is written beside it, and
    ``provenance.json`` names the table (``frames_table``, relative to the recording's folder).

    Raises
    ------
    OutputError
        A file there that facefeedback did not write would be overwritten (unless ``force``),
        or the folder cannot be written.
    """
    out_dir = Path(out_dir)
    final = out_dir / result.name
    plan = plan_output(final, RECORDING, recording_files(result.name, fmt, result.bids_name,
                                                         result.trials is not None), force)
    with writing(plan) as staging:
        table, previous = write_recording_files(result, staging, final, fmt,
                                                Path(root) if root is not None else out_dir)
    old = previous.resolve() if previous is not None else None
    if old is not None and not old.is_relative_to(final.resolve()) and old != table.resolve():
        # The table moved (another format): the old one outside the folder, its own, would be stale.
        for stale in (old, bids.sidecar_path(old)):
            stale.unlink(missing_ok=True)
    return final


def _table_path(result: RecordingResult, final: Path, fmt: str, root: Path, previous: Path | None) -> Path:
    if fmt != "bids":
        return final / ("frames.csv" if fmt == "csv" else "frames.parquet")
    if result.bids_name:
        target = root / (result.bids_name + bids.TIMESERIES_EXTENSION)
        if not target.exists() or (previous is not None and previous.resolve() == target.resolve()):
            return target
        log.warning("%s is another recording's table; %s keeps its table in its own folder", target, result.name)
    return final / bids.in_folder_name(result.name)
