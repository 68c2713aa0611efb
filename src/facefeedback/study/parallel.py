"""Running per-recording tasks in parallel: local processes or a Dask cluster, same tasks, same results.

:func:`run_tasks` takes a picklable top-level function and its arguments and
yields ``(argument, result or exception)`` as tasks finish, whichever executor
runs them. A task that raises (or whose worker dies) is yielded with the
exception; the other tasks go on.

Each worker process runs one task at a time with OpenCV limited to one thread
(:func:`limit_threads`), so ``N`` workers keep ``N`` cores busy instead of
fighting over them, and with the C allocator keeping the memory of freed frames
for the next ones (:func:`steady_allocator`) whatever the worker's environment says.
A local worker also ends with the process that started it (:func:`facefeedback.processes.end_with_parent`), however
that process ends: a run killed with SIGKILL leaves no idle workers behind.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, TypeVar

from ..processes import end_with_parent

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
Executor = Literal["local", "dask"]
#: Thread-count variables of the numeric libraries, set to 1 in worker processes.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Dask settings of the LocalCluster's processes: its defaults sample each worker's stacks every
#: 10 ms (the statistical profiler of its dashboard), read each worker's memory every 100 ms and
#: check the event loops every 20 ms. With 2 workers that is 15 % of a core even while they wait,
#: which a study's measuring pays for every second it runs; with these, 2.5 %.
QUIET_DASK = {"distributed.worker.profile.enabled": False, "distributed.worker.memory.monitor-interval": "1s",
              "distributed.admin.system-monitor.interval": "2s", "distributed.admin.tick.interval": "200ms"}


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def limit_threads() -> None:
    """Keep a worker process to one thread of numeric work, with a steady allocator (called once
    per worker and per task)."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    import cv2

    cv2.setNumThreads(1)
    steady_allocator()


#: glibc's mallopt parameters, and the values set when a worker's environment fixed them.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's own ceiling for the threshold it adapts by itself
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES
#: Environment variables that turn glibc's adaptive thresholds off.
ALLOCATOR_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def steady_allocator() -> bool:
    """Let a worker reuse the memory of freed frames instead of mapping it anew for each frame.

    Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (its
    ``distributed.nanny.pre-spawn-environ``), which turns off glibc's adaptive thresholds: every
    block over 128 KiB (a decoded frame, its RGB copy, MediaPipe's copy: 6 MB each at 1080p)
    is then mapped from the system when allocated and unmapped when freed, and its pages are
    faulted in and zeroed again for every frame. Measured on `extract` of a 1080p clip: 2.5 s
    of system time instead of 0.35 s for 192 frames, about 17 % more CPU time a frame, which
    was the whole of the Dask workers' excess over local ones. When the environment has set
    any of glibc's thresholds, they are set to what glibc adapts to by itself (frames stay in
    the heap and are reused). Returns whether they were set (False elsewhere, and off glibc).
    """
    import platform

    if not any(name in os.environ for name in ALLOCATOR_VARIABLES) or platform.libc_ver()[0] != "glibc":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        done = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        return libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and done
    except (OSError, AttributeError):  # pragma: no cover - a libc without mallopt
        return False


def _start_local_worker(parent_pid: int) -> None:
    """Initializer of the local pool's workers: end with the run, one thread of numeric work."""
    end_with_parent(parent_pid)
    limit_threads()


def run_tasks(fn: Callable[[T], R], args: Iterable[T], executor: Executor = "local", workers: int | None = None,
              scheduler: str | None = None) -> Iterator[tuple[T, R | BaseException]]:
    """Run ``fn(arg)`` for every argument and yield ``(arg, result)`` as each finishes.

    Parameters
    ----------
    fn : callable
        A top-level function (picklable); it should call :func:`limit_threads`.
    args : iterable
        Picklable arguments, submitted in this order.
    executor : {"local", "dask"}
        ``local``: a pool of worker processes on this machine. ``dask``: a Dask
        distributed cluster, the one at ``scheduler`` or a new ``LocalCluster``.
    workers : int, optional
        Worker processes (local pool or LocalCluster); default: the number of cores.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); only with ``dask``.
    """
    args = list(args)
    if not args:
        return
    workers = workers or default_workers()
    if executor == "local":
        yield from _run_local(fn, args, workers)
    elif executor == "dask":
        yield from _run_dask(fn, args, workers, scheduler)
    else:
        raise ValueError(f"executor must be 'local' or 'dask', got {executor!r}")


def _run_local(fn, args, workers):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a fresh interpreter per worker; forking a parent that may hold MediaPipe or
    # OpenCV threads is not safe.
    context = multiprocessing.get_context("spawn")
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: "1" for k in THREAD_VARIABLES})  # inherited by the workers at spawn
    try:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(args)), mp_context=context,
                                   initializer=_start_local_worker, initargs=(os.getpid(),))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with pool:
        futures = {pool.submit(fn, a): a for a in args}
        try:
            for fut in as_completed(futures):
                exc = fut.exception()
                yield futures[fut], (exc if exc is not None else fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _run_dask(fn, args, workers, scheduler):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - distributed is a dependency
        from ..errors import ConfigError

        raise ConfigError("--executor dask needs the 'distributed' package: pip install distributed") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            from ..errors import ConfigError

            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    else:
        import dask

        # Its worker processes need no end_with_parent: each watches a pipe from this process
        # (distributed's AsyncProcess) and exits when it closes, a SIGKILL of this process included.
        with dask.config.set(QUIET_DASK):  # handed to the worker processes as they start
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, env={k: "1" for k in THREAD_VARIABLES})
        client = Client(cluster)
    log.info("Dask cluster: %s", client)
    try:
        futures = {client.submit(fn, a, pure=False): a for a in args}
        for fut in as_completed(list(futures)):
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - reported with the task, the batch goes on
                result = exc
            yield futures[fut], result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
