"""The demo's loop: a source, a window (or none), recording, and the session's outputs.

:func:`run_demo` reads frames from a camera or a video file, draws each through
:class:`~facefeedback.demo.overlay.Overlay`, shows it in an OpenCV window (keys: ``c``
calibrate, ``r`` record, ``q``/Esc quit) or, headless, writes it to a video, and on
exit saves ``frames.parquet``, ``summary.json`` and ``provenance.json`` as ``extract``
does, in a new subfolder of its own under the output folder (the date and time), so a
session never writes over anything. A source that fails part-way (a camera unplugged, a
truncated file) still leaves what was measured before it saved, and is then reported as
an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..calibration import Calibration
from ..config import Config
from ..errors import FaceFeedbackError, InputError
from ..extract import recording_result
from ..files import temporary_name
from ..io import FrameSource
from ..output_folders import (
    check_file_output,
    check_output_path,
    plan_output,
    refuse_study_folder,
    writing,
)
from ..recording_outputs import RECORDING, recording_files, write_recording_files
from .live import LiveSession
from .overlay import Overlay

log = logging.getLogger(__name__)

#: Seconds of neutral face taken when ``c`` is pressed and ``--calibrate`` was 0.
DEFAULT_CALIBRATE_S = 3.0
WINDOW_TITLE = "facefeedback: frown meter (c calibrate, r record, q quit)"
#: Video containers the recording can be written to, and the codec used for each.
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
KEY_QUIT = {ord("q"), ord("Q"), 27}


class DisplayError(FaceFeedbackError):
    """No window can be opened (no display, or the display cannot be reached)."""


@dataclass
class DemoOptions:
    """What :func:`run_demo` does; the ``facefeedback webcam`` options, one for one.

    ``source`` is a camera index, a video path, or an open :class:`~facefeedback.io.FrameSource`
    (the demo closes it). ``out_dir`` is where sessions go, each in a new subfolder (default
    ``webcam_output``). ``calibrate_s`` = 0 means no calibration at the start: the reference is
    ``calibration`` (the population default when None) until ``c`` is pressed. ``force``
    allows ``record`` to overwrite an existing file.
    """

    source: str | int | FrameSource = 0
    out_dir: Path | None = None
    record: Path | None = None
    headless: bool = False
    calibrate_s: float = 3.0
    calibration: Calibration | None = None
    force: bool = False


@dataclass
class DemoResult:
    """What a session left behind."""

    out_dir: Path | None  # the session's own folder
    video: Path | None
    table: pd.DataFrame
    summary: dict
    live_frowning: np.ndarray = field(repr=False)


def default_out_dir() -> Path:
    return Path("webcam_output")


def new_session_folder(root: Path) -> Path:
    """A subfolder of ``root`` that nothing uses yet: the date and time, numbered when taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, k = root / stamp, 1
    while os.path.lexists(folder):
        k += 1
        folder = root / f"{stamp}-{k}"
    return folder


def check_display() -> None:
    """Raise :class:`DisplayError` unless an OpenCV window can be opened.

    Qt aborts the whole process when it cannot reach a display, so the check opens a
    window in a separate process first.
    """
    hint = "run with --headless to write the overlay to a video instead, or start the demo from a desktop session"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DisplayError(f"no display to open a window on (DISPLAY is not set): {hint}")
    probe = "import cv2, numpy; cv2.imshow('probe', numpy.zeros((8, 8, 3), numpy.uint8)); cv2.waitKey(1)"
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise DisplayError(f"the display did not answer within 30 s: {hint}") from None
    if proc.returncode != 0:
        where = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or "the desktop"
        raise DisplayError(f"cannot open a window on {where}: {hint}")


class Window:
    """The OpenCV window, and the keys pressed in it (call :func:`check_display` first)."""

    def __init__(self) -> None:
        cv2.namedWindow(WINDOW_TITLE, cv2.WINDOW_AUTOSIZE)
        self.open = True

    def show(self, canvas: np.ndarray, wait_ms: int = 1) -> int:
        """Show a canvas; return the key pressed (-1 for none)."""
        cv2.imshow(WINDOW_TITLE, canvas)
        key = cv2.waitKey(max(1, wait_ms))
        if cv2.getWindowProperty(WINDOW_TITLE, cv2.WND_PROP_VISIBLE) < 1:
            self.open = False  # closed with the window's own button
        return key & 0xFF if key >= 0 else -1

    def close(self) -> None:
        cv2.destroyWindow(WINDOW_TITLE)
        cv2.waitKey(1)


class VideoRecorder:
    """Writes canvases to a video under a temporary name; :meth:`finish` renames it into place."""

    def __init__(self, path: Path, staging: Path, fps: float, size: tuple[int, int]) -> None:
        check_video_path(path)
        suffix = path.suffix.lower()
        staging.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.staging = path, staging
        self.writer = cv2.VideoWriter(str(staging), cv2.VideoWriter_fourcc(*VIDEO_CODECS[suffix]), fps, size)
        if not self.writer.isOpened():
            raise InputError(f"{path}: cannot write a video there (folder not writable, or no {suffix} encoder)")
        self.n_frames = 0

    def write(self, canvas: np.ndarray) -> None:
        self.writer.write(canvas)
        self.n_frames += 1

    def release(self) -> None:
        self.writer.release()

    def finish(self) -> Path:
        """Rename the video into place (one inside the session's folder goes with the session)."""
        if self.staging == temporary_name(self.path.absolute()):  # staged beside it (a relative path too)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.staging, self.path)
        return self.path


def check_video_path(path: Path) -> None:
    """Raise :class:`InputError` unless a recording can be written in ``path``'s format."""
    suffix = path.suffix.lower()
    if suffix not in VIDEO_CODECS:
        raise InputError(f"{path}: cannot record to '{suffix or path.name}' "
                         f"(use one of {', '.join(sorted(VIDEO_CODECS))})")


def staging_path(final: Path, session_dir: Path, staging: Path) -> Path:
    """Where a video is written until the session ends: inside the session's staging folder
    when it belongs to the session, else under a temporary name beside ``final``."""
    final, session_dir = final.absolute(), session_dir.absolute()
    if final.is_relative_to(session_dir):
        return staging / final.relative_to(session_dir)
    return temporary_name(final)


class _Fps:
    """Frames per second of the loop, smoothed over the last second or so."""

    def __init__(self) -> None:
        self.last: float | None = None
        self.value: float | None = None

    def tick(self) -> float | None:
        now = time.perf_counter()
        if self.last is not None and now > self.last:
            fps = 1.0 / (now - self.last)
            self.value = fps if self.value is None else 0.9 * self.value + 0.1 * fps
        self.last = now
        return self.value


def run_demo(options: DemoOptions, config: Config) -> DemoResult:
    """Run the live frown meter until the source ends or the user quits, then save the session.

    Parameters
    ----------
    options : DemoOptions
    config : Config

    Returns
    -------
    DemoResult

    Raises
    ------
    DisplayError
        A window was wanted and no display can be reached.
    InputError
        The source cannot be opened, or it failed part-way (after the session so far was saved).
    """
    with blas_threads(1):
        return _run(options, config)


def blas_threads(n: int | None):
    """Limit the BLAS thread pool to ``n`` threads for a ``with`` block (None: leave it).

    On a laptop's few cores, OpenBLAS threads spinning on the per-frame 3x3 solves compete
    with the landmark model's own threads and cost milliseconds a frame; one is plenty.
    """
    return threadpool_limits(n, user_api="blas") if n else contextlib.nullcontext()


def _run(options: DemoOptions, config: Config) -> DemoResult:
    root = Path(options.out_dir) if options.out_dir else default_out_dir()
    check_output_path(root)
    refuse_study_folder(root)
    session_dir = new_session_folder(root)
    record_path = Path(options.record) if options.record else session_dir / "overlay.mp4"
    check_video_path(record_path)
    if options.record:
        check_file_output(record_path, "a recording", force=options.force, option="--record")
    plan = plan_output(session_dir, RECORDING, recording_files(session_dir.name, config.output_format))
    if not options.headless:
        check_display()
    source = options.source
    if not isinstance(source, FrameSource):
        source = FrameSource(source, max_side=config.input.max_side)
    with writing(plan) as staging:
        result, failure, recorder = _session(options, config, source, session_dir, staging, record_path)
    if result.video is not None:
        recorder.finish()  # a video outside the session's folder follows the session
    if failure:
        raise InputError(f"{failure}; the {len(result.table)} frames measured before it are saved in "
                         f"{session_dir}")
    return result


def _session(options: DemoOptions, config: Config, source: FrameSource, session_dir: Path, staging: Path,
             record_path: Path) -> tuple[DemoResult, str | None, VideoRecorder | None]:
    """The loop; on exit the session's outputs go into ``staging`` (committed by the caller).
    Also returns what made the source fail, if it did, and the video's recorder."""
    window = None
    started = time.perf_counter()
    session = LiveSession(config, options.calibration, options.calibrate_s)
    overlay = recorder = None
    recording = options.record is not None  # the face on video: only when asked for (headless too)
    stopped, failure = "end of source", None
    fps = _Fps()
    t_play0 = None
    try:
        window = None if options.headless else Window()
        frames = iter(source)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                if source.kind == "camera":
                    stopped = "camera stopped"
                    failure = (f"{source.info.name} stopped giving pictures after {len(session)} frames "
                               "(unplugged, or taken by another program?): reconnect it and start again, "
                               "or use --source file.mp4")
                break
            except InputError as exc:
                stopped, failure = "source failed", str(exc)
                if source.kind == "video" and len(session):  # the saved summary says so, as extract's does
                    source.mark_truncated(len(session), session.last_timestamp_s + 1.0 / (source.info.fps or 30.0))
                break
            if overlay is None:
                h, w = frame.image.shape[:2]
                overlay = Overlay(w, h, config, trace_s=session.trace_s, mirror=source.kind == "camera")
            live = session.step(frame)
            canvas = overlay.draw(live, fps.tick(), recording, session.message)
            if recording:
                if recorder is None:
                    lay = overlay.layout
                    try:
                        recorder = VideoRecorder(record_path, staging_path(record_path, session_dir, staging),
                                                 source.info.fps or 30.0, (lay.canvas_w, lay.canvas_h))
                    except InputError as exc:
                        if window is None:  # headless, the video is the point: stop here
                            stopped, failure = "recording failed", str(exc)
                            break
                        log.warning("%s", exc)
                        session.message, recording = "cannot record: see the terminal", False
                if recorder is not None:
                    recorder.write(canvas)
            if window is None:
                continue
            wait_ms = 1
            if source.kind == "video":  # play a file at its own pace
                t_play0 = t_play0 if t_play0 is not None else time.perf_counter() - frame.timestamp_s
                wait_ms = int(1000 * (t_play0 + frame.timestamp_s - time.perf_counter()))
            key = window.show(canvas, wait_ms)
            if key in KEY_QUIT or not window.open:
                stopped = "quit"
                break
            if key in (ord("c"), ord("C")):
                session.start_calibration(options.calibrate_s or DEFAULT_CALIBRATE_S)
            elif key in (ord("r"), ord("R")):
                recording = not recording
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        if window is not None:
            window.close()
        if recorder is not None:
            recorder.release()
        source.close()
        session.close()
    if not len(session):
        raise InputError(failure or f"{source.info.name}: no frame was read")
    return _save(session, source, config, session_dir, staging, recorder, stopped,
                 time.perf_counter() - started), failure, recorder


def _save(session: LiveSession, source: FrameSource, config: Config, session_dir: Path, staging: Path,
          recorder: VideoRecorder | None, stopped: str, elapsed: float) -> DemoResult:
    result = recording_result(source.spec, source.info, session.raw_table(), config, session.calibration,
                              session_dir.name, elapsed)
    if source.kind == "camera":
        result.summary["source"] = source.info.name
    result.summary["calibrations"] = session.calibrations
    result.summary["warnings"] += session.calibration_warnings()
    result.provenance.update(stopped_by=stopped,
                             video=str(recorder.path) if recorder is not None else None)
    write_recording_files(result, staging, session_dir, config.output_format)
    log.info("session saved in %s", session_dir)
    return DemoResult(session_dir, recorder.path if recorder is not None and recorder.n_frames else None,
                      result.frames, result.summary, session.frowning)
