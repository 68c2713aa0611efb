"""A study run killed with SIGKILL leaves only complete outputs and no worker processes; the next run
finishes only what is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from process_helpers import HAS_PROC, cmdline, kill_alone_once_working
from study_helpers import write_study


def entries(folder: Path) -> list[str]:
    """The names in ``folder`` that are not hidden ([] while it does not exist)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def finished(out: Path) -> list[str]:
    return entries(out / "recordings")


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


def cached(out: Path) -> list[str]:
    return entries(out / "cache" / "raw")


#: A process that asks to end with its parent, then reads back the signal it will get (PR_GET_PDEATHSIG).
ASK_TO_END = """
import ctypes, os, sys
from facefeedback.processes import end_with_parent
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


@pytest.mark.skipif(not HAS_PROC, reason="processes are listed from /proc (Linux)")
def test_workers_end_with_a_run_killed_by_sigkill(tmp_path, samples):
    """Only the run is killed (not its process group, as a shell's Ctrl-C would): its workers must
    not wait for tasks for ever, holding their memory and the run's output."""
    clips = samples / "demo_study" / "clips"  # 4 s each: the test is about processes, not measuring
    recordings = [(f"P0{i}", session, "rest", clips / f"sub-0{i}_{session}_rest.mp4")
                  for i in (1, 2) for session in ("baseline", "week6")]
    study = write_study(tmp_path / "study", recordings)
    out = tmp_path / "out"
    proc = run_cli(study, out, start_new_session=True)  # own group, for the cleanup only

    def working(tree):  # its 2 workers (and multiprocessing's resource tracker), a recording done
        workers = [pid for pid in tree if "multiprocessing.spawn" in cmdline(pid)]
        return len(workers) == 2 and bool(cached(out))

    left = kill_alone_once_working(proc, working)
    assert not left, left
    done = cached(out)  # final: no worker is left to add to it
    assert 1 <= len(done) < 4, done

    proc = run_cli(study, out, workers=1)  # one worker starts sooner on a busy machine
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"4 recordings: {4 - len(done)} measured," in stdout  # nothing finished is measured again
    assert len(pd.read_parquet(out / "features" / "session_features.parquet")) == 4
