"""A study run killed with SIGKILL leaves only complete outputs and no worker processes; the next run
finishes only what is missing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from study_helpers import write_study


def finished(out: Path) -> list[str]:
    folder = out / "recordings"
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def run_cli(study: Path, out: Path, workers: int = 2, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facefeedback.cli", "run", str(study), "--out", str(out),
                             "--workers", str(workers), "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def assert_complete(folder: Path) -> None:
    frames = pd.read_parquet(folder / "frames.parquet")
    summary = json.loads((folder / "summary.json").read_text())
    provenance = json.loads((folder / "provenance.json").read_text())
    assert len(frames) == summary["features"]["n_frames"] == provenance["frames_processed"] > 0


def test_sigkill_then_resume(tmp_path, samples):
    clips = sorted(samples.glob("*.mp4"))
    recordings = [(f"P0{i}", session, "rest", clips[(i + k) % len(clips)])
                  for i in range(1, 4) for k, session in enumerate(["baseline", "week6"])]
    study = write_study(tmp_path / "study", recordings)
    out = tmp_path / "out"
    proc = run_cli(study, out, start_new_session=True)  # own process group: the pool dies with it
    deadline = time.monotonic() + 120
    while len(finished(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the batch ended before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done = finished(out)
    assert 2 <= len(done) < 6, done
    for rid in done:
        assert_complete(out / "recordings" / rid)
    assert not (out / "features" / "session_features.parquet").exists()
    before = {rid: (out / "recordings" / rid / "frames.parquet").stat() for rid in done}

    proc = run_cli(study, out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"{len(done)} already up to date" in stdout
    assert finished(out) == sorted(f"{p}_{s}_{t}" for p, s, t, _ in recordings)
    for rid in done:  # not redone: the very same files
        after = (out / "recordings" / rid / "frames.parquet").stat()
        assert (after.st_ino, after.st_mtime_ns) == (before[rid].st_ino, before[rid].st_mtime_ns)
    for rid in finished(out):
        assert_complete(out / "recordings" / rid)
    long = pd.read_parquet(out / "features" / "session_features.parquet")
    assert len(long) == 6 and long["frown_intensity_mean"].notna().all()
    leftovers = [p for p in out.rglob(".*") if ".tmp" in p.name or ".old-" in p.name]
    assert not leftovers
    assert pd.read_csv(out / "failures.csv").empty


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """State, parent and start time (clock ticks since boot) of a process, from /proc; None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


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


def cached(out: Path) -> list[str]:
    folder = out / "cache" / "raw"
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


#: A process that asks to end with its parent, then reads back the signal it will get (PR_GET_PDEATHSIG).
ASK_TO_END = """
import ctypes, os, sys
from facefeedback.study.parallel import end_with_parent
print(end_with_parent(os.getppid() if sys.argv[1] == "alive" else os.getppid() + 1), flush=True)
signal = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(signal), 0, 0, 0)
print(signal.value)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_worker_whose_parent_already_died_ends_at_once():
    run = [sys.executable, "-c", ASK_TO_END]
    asked = subprocess.run([*run, "alive"], capture_output=True, text=True, timeout=60)
    assert (asked.returncode, asked.stdout.split()) == (0, ["True", str(int(signal.SIGKILL))]), asked.stderr
    # Its parent died before it asked (it was re-parented): the signal will never come, so it ends now.
    orphan = subprocess.run([*run, "dead"], capture_output=True, text=True, timeout=60)
    assert (orphan.returncode, orphan.stdout) == (-signal.SIGKILL, ""), orphan.stderr


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="processes are listed from /proc (Linux)")
def test_workers_end_with_a_run_killed_by_sigkill(tmp_path, samples):
    """Only the run is killed (not its process group, as a shell's Ctrl-C would): its workers must
    not wait for tasks for ever, holding their memory and the run's output."""
    clips = samples / "demo_study" / "clips"  # 4 s each: the test is about processes, not measuring
    recordings = [(f"P0{i}", session, "rest", clips / f"sub-0{i}_{session}_rest.mp4")
                  for i in (1, 2) for session in ("baseline", "week6")]
    study = write_study(tmp_path / "study", recordings)
    out = tmp_path / "out"
    proc = run_cli(study, out, start_new_session=True)  # own group, for the cleanup only
    tree: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 120
        while not cached(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        tree = process_tree(proc.pid)  # the workers and multiprocessing's resource tracker
        assert proc.poll() is None, "the batch ended before it could be killed; make it longer"
        workers = [pid for pid in tree if "multiprocessing.spawn" in cmdline(pid)]
        assert len(workers) == 2, tree
        os.kill(proc.pid, signal.SIGKILL)  # the run alone, as the out-of-memory killer would
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(alive(pid, started) for pid, started in tree.items()) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid, started in tree.items() if alive(pid, started)]
        assert not left, [cmdline(pid) for pid in left]
        proc.communicate(timeout=10)  # nothing holds its output open: a '| tee log' ends too
    finally:
        for pid, started in tree.items():  # a failed check leaves nothing running either
            if alive(pid, started):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done = cached(out)  # final: no worker is left to add to it
    assert 1 <= len(done) < 4, done

    proc = run_cli(study, out, workers=1)  # one worker starts sooner on a busy machine
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"4 recordings: {4 - len(done)} measured," in stdout  # nothing finished is measured again
    assert len(pd.read_parquet(out / "features" / "session_features.parquet")) == 4
