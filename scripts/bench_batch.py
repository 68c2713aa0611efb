"""Benchmark the study batch: workers and frame stride, ratios from one run.

Usage: python scripts/bench_batch.py [--clips 8] [--workers 2] [--stride 3]

Builds N clips of 24 s (each the three sample videos joined in a different
order, mirrored for the second six: different files, realistic length; a lab's
recordings run for minutes, so the fixed cost per recording, MediaPipe's graph
set-up and the worker start-up, should not dominate), makes a study of them,
one recording per participant, and runs it into fresh output folders three times: 1 worker at stride 1, ``--workers`` workers at stride 1,
1 worker at ``--stride``. Wall time covers the whole batch (worker start-up,
hashing, measuring, calibrating, writing, features). Prints the times and the
two speed-up ratios.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import resource
import tempfile
import time
from pathlib import Path

import cv2

from facefeedback.config import load_config
from facefeedback.study.manifest import load_study
from facefeedback.study.pipeline import run_study

ROOT = Path(__file__).resolve().parents[1]


def make_clips(folder: Path, n: int) -> list[Path]:
    """``n`` distinct clips, each the sample videos' frames joined in a different order."""
    sources = sorted((ROOT / "sample_videos").glob("*.mp4"))
    if len(sources) < 3:
        raise SystemExit("sample_videos/ needs its three clips: run scripts/make_sample_videos.py")
    frames = []
    for path in sources[:3]:
        cap = cv2.VideoCapture(str(path))
        fps = cap.get(cv2.CAP_PROP_FPS)
        clip = []
        while (got := cap.read())[0]:
            clip.append(got[1])
        cap.release()
        frames.append(clip)
    orders = list(itertools.permutations(range(3)))
    out = []
    for k in range(n):
        path = folder / f"clip_{k + 1:02d}.mp4"
        h, w = frames[0][0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        for i in orders[k % len(orders)]:
            for image in frames[i]:
                writer.write(image[:, ::-1] if (k // len(orders)) % 2 else image)
        writer.release()
        out.append(path)
    return out


def write_study(folder: Path, paths: list[Path]) -> Path:
    ids = [f"b{i + 1:02d}" for i in range(len(paths))]
    (folder / "participants.tsv").write_text("participant_id\tarm\n" + "".join(f"{p}\tx\n" for p in ids))
    (folder / "recordings.tsv").write_text("participant_id\tsession\ttask\tpath\n"
                                           + "".join(f"{p}\tbaseline\trest\t{c}\n" for p, c in zip(ids, paths)))
    (folder / "study.yaml").write_text("participants: participants.tsv\nrecordings: recordings.tsv\n")
    return folder / "study.yaml"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the pool's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(study_file: Path, out: Path, workers: int, stride: int) -> tuple[float, float, int]:
    """Wall time, CPU time, recordings."""
    config = load_config().updated(**{"input.stride": stride, "progress": False})
    cpu, started = cpu_seconds(), time.perf_counter()
    report = run_study(load_study(study_file), config, out, executor="local", workers=workers)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if report.failures or report.measured != report.recordings:
        raise SystemExit(f"benchmark run did not measure every clip: {report}")
    return elapsed, cpu, report.recordings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--stride", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        study_file = write_study(tmp, make_clips(tmp, args.clips))
        t1, c1, n = timed(study_file, tmp / "w1", 1, 1)
        tw, cw, _ = timed(study_file, tmp / f"w{args.workers}", args.workers, 1)
        ts, cs, _ = timed(study_file, tmp / f"s{args.stride}", 1, args.stride)
    # CPU / wall = cores kept busy: about the worker count when nothing else competes for the machine.
    print(f"batch of {n} clips ({os.cpu_count()} cores; load average before: {load:.1f}):")
    for label, t, c in (("1 worker, stride 1", t1, c1), (f"{args.workers} workers, stride 1", tw, cw),
                        (f"1 worker, stride {args.stride}", ts, cs)):
        print(f"  {label:<22} {t:6.1f} s wall, {c:6.1f} s CPU, {c / t:4.2f} cores busy")
    print(f"workers speed-up ({args.workers} vs 1):    {t1 / tw:.2f}x")
    print(f"stride speed-up ({args.stride} vs 1, 1 worker): {t1 / ts:.2f}x")


if __name__ == "__main__":
    main()
