"""One progress bar for a whole study, in frames, fed by the workers wherever they run.

A worker measuring a recording writes how many frames it has measured to a small file,
``DIR/cache/progress/<recording_id>``, every couple of seconds (:class:`FrameReporter`). The
study's folder is shared with every worker anyway (they write the raw measurements beside it),
so this works the same for the local pool and for Dask workers on other machines, and costs a
clock reading per frame. The command's process reads those files once a second
(:class:`StudyProgress`) and shows one bar: frames measured of the study's frames, frames
per second, the time left, and the recordings done and failed.

The study's frames are counted from what each container declares (frames, or the duration
of ``start_s``..``end_s``, divided by the stride), in the background, so the bar starts at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

from ..config import Config

#: Seconds between two progress files a worker writes for the same recording.
REPORT_EVERY_S = 2.0
#: Seconds between two readings of the progress files by the command.
POLL_EVERY_S = 1.0


class FrameReporter:
    """Called once per measured frame in the worker; writes the count every ``every_s`` seconds."""

    def __init__(self, path: str | os.PathLike, every_s: float = REPORT_EVERY_S) -> None:
        self.path = Path(path)
        self.every_s = every_s
        self.frames = 0
        self._next = time.monotonic() + every_s

    def __call__(self) -> None:
        self.frames += 1
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            self.write()

    def write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with contextlib.suppress(OSError):  # progress is never worth failing a recording for
            tmp.write_text(str(self.frames))
            os.replace(tmp, self.path)


def expected_frames(path: str | os.PathLike, config: Config) -> int | None:
    """The frames measuring ``path`` with ``config`` will give, from what its container declares."""
    from ..errors import FaceFeedbackError
    from ..io import FrameSource

    inp = config.input
    try:
        with FrameSource(path, prefetch=0) as source:
            info = source.info
    except FaceFeedbackError:
        return None
    if info.kind == "image":
        return 1
    if not info.n_frames:
        return None
    n = info.n_frames
    if info.fps and (inp.start_s is not None or inp.end_s is not None):
        start = inp.start_s or 0.0
        end = min(inp.end_s, n / info.fps) if inp.end_s is not None else n / info.fps
        n = max(0, int(round((end - start) * info.fps)))
    return -(-n // inp.stride)


class StudyProgress:
    """The study's progress bar: frames of all recordings, and the recordings done and failed.

    Parameters
    ----------
    folder : path
        Where the workers' progress files go (made here, removed by :meth:`close`).
    recordings : dict
        ``recording_id -> path`` of every recording to measure.
    config : Config
        The measurement settings (stride, start and end times) the frames are counted with.
    enabled : bool
        Show the bar (on a terminal; ``file`` forces it on another stream).
    """

    def __init__(self, folder: str | os.PathLike, recordings: dict[str, str], config: Config,
                 enabled: bool = True, file=None) -> None:
        from tqdm import tqdm

        self.folder = Path(folder)
        self.enabled = enabled
        self.recordings = dict(recordings)
        self.done: dict[str, int] = {}  # recording -> frames measured (counted in the bar)
        self.failed = 0
        self._expected: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not enabled:
            return
        self.bar = tqdm(total=None, desc="frames", unit="frame", unit_scale=True, dynamic_ncols=True,
                        disable=None if file is None else False, file=file, mininterval=POLL_EVERY_S)
        if self.bar.disable:  # not a terminal: no bar, and no progress files either
            self.enabled = False
            return
        shutil.rmtree(self.folder, ignore_errors=True)  # what a killed run left
        self.folder.mkdir(parents=True, exist_ok=True)
        self._refresh()
        self._thread = threading.Thread(target=self._run, args=(config,), name="study-progress", daemon=True)
        self._thread.start()

    def reporter(self, recording_id: str) -> str | None:
        """The progress file a worker writes for ``recording_id`` (None when the bar is off)."""
        return str(self.folder / recording_id) if self.enabled else None

    def finished(self, recording_id: str, frames: int, failed: bool) -> None:
        """A recording is done (measured, found in the cache, or failed)."""
        with self._lock:
            self.done[recording_id] = frames
            self.failed += failed
        if self.enabled:
            with contextlib.suppress(OSError):
                (self.folder / recording_id).unlink()
            self._refresh()

    def _run(self, config: Config) -> None:
        total = 0
        for rid, path in self.recordings.items():  # counted in the background: the bar starts at once
            if self._stop.is_set():
                return
            n = expected_frames(path, config)
            with self._lock:
                self._expected[rid] = n or 0
                total += n or 0
        with self._lock:
            self.bar.total = total
        while not self._stop.wait(POLL_EVERY_S):
            self._refresh()

    def _running(self) -> int:
        frames = 0
        for rid in self.recordings:
            if rid in self.done:
                continue
            with contextlib.suppress(OSError, ValueError):
                frames += int((self.folder / rid).read_text())
        return frames

    def _refresh(self) -> None:
        with self._lock:  # called from the command's thread and from the reading thread
            measured = sum(self.done.values()) + self._running()
            done, failed, n = len(self.done) - self.failed, self.failed, len(self.recordings)
            if self.bar.total is not None and measured > self.bar.total:
                self.bar.total = measured  # a container that declared too few frames
            self.bar.n = measured
            self.bar.set_postfix_str(f"recordings: {done} of {n} done, {failed} failed", refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.enabled:
            self._refresh()
            self.bar.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> StudyProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
