"""Worker processes that end with the command that started them.

A pool's workers wait for tasks on a pipe that each of them also holds open for writing, so when
the process that started them is killed (SIGKILL, the out-of-memory killer) they never see it
close: they would wait for ever, holding their memory and the command's output (``facefeedback
run ... | tee log`` would never end). Both of facefeedback's process pools, a study's local workers
(:mod:`facefeedback.study.parallel`) and the simulations of ``facefeedback power``
(:mod:`facefeedback.analysis.power`), start each worker with :func:`end_with_parent`.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

#: prctl's option that has the kernel signal a process when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def end_with_parent(parent_pid: int) -> bool:
    """Have the kernel kill this process when its parent, ``parent_pid``, dies (Linux).

    Meant as a pool's ``initializer``, with ``initargs=(os.getpid(),)``. The parent may already
    have died before this is set, in which case this process is re-parented and ends at once.
    SIGKILL, not SIGTERM, because no handler can delay it and nothing in a worker needs cleaning
    up: what a worker writes goes to a temporary name and is renamed when complete, and the next
    run sweeps what was left half-written; Multiprocessing's resource tracker, which the workers
    also keep open, then ends by itself once they have.

    The kernel sends the signal when the *thread* that started this process ends, which is the
    thread that submitted the pool's tasks: both pools submit from the command's own thread.
    Returns whether it was set (False off Linux, or where libc has no ``prctl``: the worker then
    outlives a killed parent).
    """
    import sys

    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return False
    if prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0),
             ctypes.c_ulong(0)) != 0:  # pragma: no cover - a kernel that refuses it
        log.debug("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return False
    if os.getppid() != parent_pid:  # died before it was set: no signal will come
        os.kill(os.getpid(), signal.SIGKILL)
    return True
