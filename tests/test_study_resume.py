"""A study run killed with SIGKILL leaves only complete outputs; the next run finishes only what is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from study_helpers import write_study


def finished(out: Path) -> list[str]:
    folder = out / "recordings"
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def run_cli(study: Path, out: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facefeedback.cli", "run", str(study), "--out", str(out),
                             "--workers", "2", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


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
