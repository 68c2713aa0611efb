"""One recording in, its per-frame table, summary and provenance out.

:func:`process_recording` runs the per-frame path over a source and builds the
table once; :func:`write_recording` writes ``frames.parquet`` (or ``.csv``),
``summary.json`` and ``provenance.json`` through :func:`facefeedback.files.writing`,
so a failed or killed run never leaves a half-written output and files in the
recording's folder that facefeedback did not write are left as they are.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .config import Config, config_hash, dump_config
from .files import OutputKind, file_sha256, plan_output, write_table, writing
from .frown import Calibration, population_calibration
from .io import FrameSource, SourceInfo
from .measure import FrameMeasurer, MeasurementBuffer, build_frame_table, measure_frames
from .summary import events_to_json, summarise

log = logging.getLogger(__name__)


@dataclass
class RecordingResult:
    """Everything :func:`write_recording` writes for one recording."""

    name: str
    frames: pd.DataFrame
    summary: dict
    provenance: dict = field(default_factory=dict)


def versions() -> dict[str, str]:
    import cv2
    import mediapipe

    return {"facefeedback": __version__, "mediapipe": mediapipe.__version__, "opencv": cv2.__version__,
            "numpy": np.__version__, "pandas": pd.__version__, "python": platform.python_version()}


def measure_source(source: FrameSource, config: Config, progress: bool = False,
                   pipelined: bool = True) -> pd.DataFrame:
    """Raw per-frame measurements of an open source (before calibration).

    ``pipelined`` overlaps the features of one frame with the landmarks of the next
    (:func:`facefeedback.measure.measure_frames`): right for one recording on a free
    machine; a batch that already keeps every core busy with one recording per worker
    gains nothing from it and passes False.
    """
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    info = source.info
    total = None
    if info.n_frames:
        total = int(np.ceil(info.n_frames / source.stride))
    buffer = MeasurementBuffer(blendshapes=config.landmarks.model_path is not None)
    # One BLAS thread: the per-frame 3x3 algebra gains nothing from more, and spinning
    # BLAS threads compete with the landmark model's own for the cores.
    with threadpool_limits(1, user_api="blas"), \
            FrameMeasurer(config, static_image_mode=source.kind == "image") as measurer:
        bar = tqdm(total=total, desc=info.name, unit="frame", disable=(not progress) or None, leave=False)
        try:
            measure_frames(measurer, source, buffer, on_frame=bar.update,
                           pipelined=pipelined and source.kind != "image")
        finally:
            bar.close()
    return buffer.raw_table()


def process_recording(path: str | os.PathLike, config: Config, calibration: Calibration | None = None,
                      name: str | None = None, progress: bool | None = None) -> RecordingResult:
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

    Raises
    ------
    InputError
        The file is missing, not a video or image, corrupt, truncated or undecodable.
    """
    path = Path(path)
    started = time.perf_counter()
    info, raw = read_raw(path, config, progress)
    return recording_result(path, info, raw, config, calibration, name, time.perf_counter() - started)


def read_raw(path: str | os.PathLike, config: Config, progress: bool | None = None,
             pipelined: bool = True) -> tuple[SourceInfo, pd.DataFrame]:
    """What the source says about itself, and its raw per-frame measurements (before calibration).

    The raw table does not depend on the calibration, so a study can measure once and
    calibrate later (see :func:`recording_result`).
    """
    inp = config.input
    with FrameSource(path, stride=inp.stride, start_s=inp.start_s, end_s=inp.end_s, max_side=inp.max_side) as src:
        info = src.info
        raw = measure_source(src, config, config.progress if progress is None else progress, pipelined)
    return info, raw


def recording_result(path: str | os.PathLike | int, info: SourceInfo, raw: pd.DataFrame, config: Config,
                     calibration: Calibration | None = None, name: str | None = None,
                     run_time_s: float = 0.0, sha256: str | None = None) -> RecordingResult:
    """Calibrate raw measurements and build the recording's table, summary and provenance.

    ``run_time_s`` is the time the measurement took; ``sha256`` the file's hash when already known.
    """
    path = Path(str(path))  # a camera is named by its index
    calibration = calibration or population_calibration(config.frown)
    table = build_frame_table(raw, calibration, config)
    features, events = summarise(table, config.events)
    summary = {
        "source": str(path),
        "features": features,
        "events": events_to_json(events),
        "calibration": calibration.to_json(),
    }
    provenance = make_provenance(describe_input(path, info, sha256), config, len(table), run_time_s)
    return RecordingResult(name or path.stem, table, summary, provenance)


def describe_input(spec: str | os.PathLike | int, info: SourceInfo, sha256: str | None = None) -> dict:
    """The provenance record of a source: a file's path, hash and size, or a camera's index."""
    record = {"path": None, "kind": info.kind, "width": info.width, "height": info.height,
              "declared_fps": info.fps, "declared_frames": info.n_frames}
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


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=True, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _earlier_recording(folder: Path) -> list[str]:
    """A recording folder written before output markers: known by its provenance.json."""
    try:
        versions = json.loads((folder / "provenance.json").read_text())["versions"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(versions, dict) or "facefeedback" not in versions:
        return []
    return [f for f in ("frames.parquet", "frames.csv", "summary.json", "provenance.json") if (folder / f).is_file()]


#: A recording's outputs (extract, a study's recordings, a webcam session). Provenance goes
#: last: a study reads it to tell whether the folder is current.
RECORDING = OutputKind("recording", "a recording's outputs", legacy=_earlier_recording, last=("provenance.json",))


def recording_files(fmt: str = "parquet") -> tuple[str, ...]:
    """The files :func:`write_recording_files` writes."""
    return ("frames.csv" if fmt == "csv" else "frames.parquet", "summary.json", "provenance.json")


def write_recording_files(result: RecordingResult, folder: Path, fmt: str = "parquet") -> None:
    """Write a recording's table, summary and provenance into ``folder`` (a staging folder)."""
    table, summary, provenance = recording_files(fmt)
    write_table(result.frames, folder / table)
    _write_json(folder / summary, result.summary)
    _write_json(folder / provenance, result.provenance)


def write_recording(result: RecordingResult, out_dir: str | os.PathLike, fmt: str = "parquet",
                    force: bool = False) -> Path:
    """Write a recording's outputs into ``out_dir/<name>/``, atomically and beside what is there.

    Raises
    ------
    OutputError
        A file there that facefeedback did not write would be overwritten (unless ``force``),
        or the folder cannot be written.
    """
    plan = plan_output(Path(out_dir) / result.name, RECORDING, recording_files(fmt), force)
    with writing(plan) as staging:
        write_recording_files(result, staging, fmt)
    return plan.folder
