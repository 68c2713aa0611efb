"""The worker task of a study run: one recording hashed, and measured unless it is cached.

:func:`measure_recording` runs in a worker process (or on a Dask worker) for each recording of
the study (:mod:`.pipeline`); what it sends back, :class:`Measured`, says where the raw
measurements are in the cache (:mod:`.cache`), or why there are none.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ..config import Config
from ..errors import FaceFeedbackError
from .cache import RawCache, raw_key, software, software_text
from .parallel import limit_threads
from .progress import FrameReporter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeasureTask:
    """One recording to measure: what a worker is sent."""

    recording_id: str
    path: str
    config: Config
    cache_root: str
    strict: bool = False  # a truncated video fails (its decoded frames are cached all the same)
    progress_file: str | None = None  # where the worker reports frames measured (see .progress)
    #: The run's software (:func:`.cache.software`): a worker with other versions (a cluster
    #: machine not upgraded) measures nothing, rather than mixing its measurements into the run's.
    software: dict | None = None


@dataclass(frozen=True)
class Measured:
    """What a worker sends back: where the raw measurements are, or why there are none."""

    recording_id: str
    sha256: str | None = None
    key: str | None = None
    measured: bool = False  # False: found in the cache
    error: str | None = None
    frames: int = 0  # rows of the raw measurements


def measure_recording(task: MeasureTask) -> Measured:
    """Worker task: hash the file and measure it unless its raw measurements are cached."""
    from ..extract import file_sha256, read_raw

    limit_threads()
    try:
        mine = software()
        if task.software is not None and mine != task.software:
            return Measured(task.recording_id, error=f"{task.path}: not measured: this worker has {software_text(mine)}, "
                                                     f"the run {software_text(task.software)}; every worker needs "
                                                     "the run's versions")
        sha = file_sha256(task.path)
        key = raw_key(sha, task.config)
        cache = RawCache(task.cache_root)
        entry, measured = cache.get(key), False
        if entry is None:
            started = time.perf_counter()
            report = FrameReporter(task.progress_file) if task.progress_file else None
            # One thread of work per recording: the pool's workers keep the cores busy.
            info, raw = read_raw(task.path, task.config, progress=False, pipelined=False, on_frame=report)
            entry, measured = cache.put(key, raw, info, time.perf_counter() - started), True
        if task.strict and entry.info.truncated:
            return Measured(task.recording_id, measured=measured, error=f"{task.path}: {entry.info.truncation()}")
        return Measured(task.recording_id, sha, key, measured=measured, frames=entry.frames)
    except FaceFeedbackError as exc:
        return Measured(task.recording_id, error=str(exc))
    except Exception as exc:
        log.exception("%s: unexpected failure", task.path)
        return Measured(task.recording_id, error=f"{task.path}: {type(exc).__name__}: {exc}")
