"""One recording in, its per-frame table, summary and provenance out.

:func:`process_recording` runs the per-frame path over a source and builds the
table once; :func:`facefeedback.recording_outputs.write_recording` writes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .calibration import Calibration, population_calibration
from .config import Config, config_hash, dump_config
from .files import file_sha256
from .io import FrameSource, SourceInfo
from .measure import (
    FrameMeasurer,
    MeasurementBuffer,
    build_frame_table,
    features_ahead,
    measure_frames,
)
from .summary import events_to_json, recording_warnings, summarise

log = logging.getLogger(__name__)


@dataclass
class RecordingResult:
    """Everything :func:`facefeedback.recording_outputs.write_recording` writes for one recording."""

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
            measure_frames(measurer, source, buffer, on_frame=tick, pipelined=pipelined and source.kind != "image",
                           features_queue=features_ahead(info.width, info.height))
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
    summary["warnings"] = ([truncated] if truncated else []) + hdr_warning(info) + recording_warnings(table, config.qc)
    provenance = make_provenance(describe_input(path, info, sha256), config, len(table), run_time_s)
    return RecordingResult(name or path.stem, table, summary, provenance, trials=trials)


def hdr_warning(info: SourceInfo) -> list[str]:
    """A line for a high-dynamic-range video (empty when it is not one)."""
    if not getattr(info, "hdr", None):
        return []
    return [f"HDR video ({info.hdr} transfer, as phones record by default): it is decoded without tone mapping, "
            "so its picture is paler than the scene and glabella_lines and frown_intensity read lower (a third "
            "lower in a test clip); it is not comparable with SDR recordings: convert it to SDR (BT.709) first"]


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
