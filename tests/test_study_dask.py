"""A Dask deployment as a lab starts it: ``dask scheduler`` and two ``dask worker`` processes from
the command line, and ``facefeedback run --executor dask --scheduler tcp://...``.

The features must be identical to the local pool's, and a worker killed mid-study must cost
only the recording it was measuring: the rest is redone elsewhere, nothing finished is lost.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from study_helpers import write_study

from facefeedback.config import load_config
from facefeedback.study.manifest import load_study
from facefeedback.study.pipeline import run_study

STRIDE = 2
DASK = Path(sys.executable).parent / "dask"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def deployment():
    """A scheduler and two single-threaded workers, each its own process, as started on a cluster."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]
    procs += [subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard",
                                "--name", f"w{k}"], **quiet) for k in (1, 2)]
    try:
        client = Client(address, timeout="120s")
        client.wait_for_workers(2, timeout=240)
        yield address, client
        client.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def study(samples, tmp_path_factory) -> Path:
    """Three participants, two visits: six different files (the sample clips, each also with a
    byte appended: the same frames in another file)."""
    folder = tmp_path_factory.mktemp("dask_study")
    clips = []
    for k, clip in enumerate(sorted(samples.glob("*.mp4")) * 2):
        copy = folder / f"clip{k}.mp4"
        copy.write_bytes(clip.read_bytes() + (b"\x00" if k >= 3 else b""))
        clips.append(copy)
    recordings = [(f"P0{i}", session, "rest", clips[2 * (i - 1) + k])
                  for i in range(1, 4) for k, session in enumerate(["baseline", "week6"])]
    return write_study(folder, recordings)


@pytest.fixture(scope="module")
def local_out(study, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local")
    config = load_config().updated(**{"input.stride": STRIDE, "progress": False})
    report = run_study(load_study(study), config, out, executor="local", workers=2)
    assert report.measured == 6 and not report.failures
    return out


def run_cli(study: Path, out: Path, address: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facefeedback.cli", "run", str(study), "--out", str(out),
                             "--stride", str(STRIDE), "--executor", "dask", "--scheduler", address,
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_same_outputs(a: Path, b: Path) -> None:
    names = sorted(p.parent.name for p in (a / "recordings").glob("*/frames.parquet"))
    assert names == sorted(p.parent.name for p in (b / "recordings").glob("*/frames.parquet")) and len(names) == 6
    for rid in names:
        pd.testing.assert_frame_equal(pd.read_parquet(a / "recordings" / rid / "frames.parquet"),
                                      pd.read_parquet(b / "recordings" / rid / "frames.parquet"), check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(a / "features" / "session_features.parquet"),
                                  pd.read_parquet(b / "features" / "session_features.parquet"), check_exact=True)


def test_command_line_deployment_gives_the_local_features(deployment, study, local_out, tmp_path):
    address, _ = deployment
    out = tmp_path / "dask"
    proc = run_cli(study, out, address)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert "6 recordings: 6 measured, 6 written" in stdout
    assert_same_outputs(local_out, out)
    run = json.loads((out / "study.json").read_text())["run"]
    assert run["executor"] == "dask"


def cache_entries(out: Path) -> dict[str, tuple[int, int]]:
    folder = out / "cache" / "raw"
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()
            if not p.name.startswith(".")} if folder.is_dir() else {}


def test_a_worker_killed_mid_study_costs_only_its_recording(deployment, study, local_out, tmp_path):
    address, client = deployment
    out = tmp_path / "killed"
    proc = run_cli(study, out, address)
    busy, deadline = None, time.monotonic() + 300
    while busy is None and proc.poll() is None and time.monotonic() < deadline:
        # Mid-study: a recording finished, and a worker is measuring another.
        if cache_entries(out):
            busy = next((w for w, keys in client.processing().items() if keys), None)
        time.sleep(0.05)
    assert busy is not None, "the study ended before a worker could be killed; make it longer"
    pid = client.run(os.getpid, workers=[busy])[busy]
    os.kill(pid, signal.SIGKILL)
    finished = cache_entries(out)  # measured before the kill (the killed worker can finish nothing more)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert "6 written" in stdout and "0 failed" in stdout, stdout
    assert_same_outputs(local_out, out)
    after = cache_entries(out)
    assert len(after) == 6
    for key, stamp in finished.items():  # nothing finished was measured again
        assert after[key] == stamp
    assert pd.read_csv(out / "failures.csv").empty
