"""Processes read from /proc (Linux): a command's process tree, and killing the command alone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

#: Whether processes can be listed from /proc (Linux); tests that need it skip elsewhere.
HAS_PROC = Path("/proc/self/stat").is_file()


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from its third field (the state) on; None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """State, parent and start time (clock ticks since boot) of a process, from /proc; None if gone."""
    fields = stat_fields(pid)
    return None if fields is None else (fields[0], int(fields[1]), int(fields[19]))


def cpu_ticks(pid: int) -> int:
    """User and system CPU time of a process so far, in clock ticks (0 if it is gone)."""
    fields = stat_fields(pid)
    return 0 if fields is None else int(fields[11]) + int(fields[12])


def process_tree(root: int) -> dict[int, int]:
    """Every process descended from ``root``, with its start time (which tells a reused PID apart)."""
    stats = {int(p.name): proc_stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    tree, parents = {}, {root}
    while parents:
        children = {pid: st[2] for pid, st in stats.items() if st and st[1] in parents and pid not in tree}
        tree.update(children)
        parents = set(children)
    return tree


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def alive(pid: int, started: int) -> bool:
    """The very process (not a later one given its PID) still runs; a zombie has ended."""
    st = proc_stat(pid)
    return st is not None and st[2] == started and st[0] != "Z"


def kill_alone_once_working(proc: subprocess.Popen, working: Callable[[dict[int, int]], bool],
                            timeout: float = 120) -> list[str]:
    """SIGKILL the command ``proc`` alone (not its process group, as a shell's Ctrl-C would; as the
    out-of-memory killer would) once ``working(its process tree)`` holds; return the command lines
    of the processes it started that still run 10 s later. Whatever is left is killed afterwards,
    and the command's output must have been closed by every process that held it.

    ``proc`` must run in its own session (``start_new_session=True``), for the cleanup only.
    """
    tree: dict[int, int] = {}
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            tree = process_tree(proc.pid)
            if working(tree):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the command ended before it could be killed; make it longer"
        assert working(tree), f"not working after {timeout} s: {[cmdline(pid) for pid in tree]}"
        tree = process_tree(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(alive(pid, started) for pid, started in tree.items()) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [cmdline(pid) for pid, started in tree.items() if alive(pid, started)]
        if not left:
            proc.communicate(timeout=10)  # nothing holds its output open: a '| tee log' ends too
        return left
    finally:
        for pid, started in tree.items():  # a failed check leaves nothing running either
            if alive(pid, started):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
