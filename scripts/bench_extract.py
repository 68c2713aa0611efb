"""Benchmark `extract` against bare MediaPipe Face Mesh, and its memory against video length.

Prints ratios measured in one run (the machine may be shared, so absolute times
mean little): end-to-end extraction frames per second / bare Face Mesh frames
per second on the same decoded frames (target >= 0.85), and the peak RSS of
extracting a video 10x longer / a short one (target <= 1.10).

Usage: python scripts/bench_extract.py [--video PATH] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = [ROOT.parent / "shared/data/openface_samples/default.wmv", ROOT / "sample_videos/moving_frown.mp4"]


def decoded(path: Path) -> list:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


def bare_facemesh_fps(frames: list, max_faces: int) -> float:
    from mediapipe.python.solutions import face_mesh

    t0 = time.perf_counter()  # model start-up counts on both sides
    with face_mesh.FaceMesh(static_image_mode=False, max_num_faces=max_faces, refine_landmarks=True) as mesh:
        for img in frames:
            mesh.process(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        return len(frames) / (time.perf_counter() - t0)


def extract_fps(path: Path) -> float:
    from facefeedback.config import Config
    from facefeedback.extract import process_recording

    config = Config().updated(progress=False)
    t0 = time.perf_counter()
    result = process_recording(path, config)
    elapsed = time.perf_counter() - t0
    return len(result.frames) / elapsed


def long_video(frames: list, copies: int, folder: Path) -> Path:
    """The clip repeated ``copies`` times (forward then backward, so motion stays smooth)."""
    h, w = frames[0].shape[:2]
    path = folder / f"x{copies}.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
    for k in range(copies):
        for img in (frames if k % 2 == 0 else frames[::-1]):
            writer.write(img)
    writer.release()
    return path


# VmHWM, the process's own peak resident set: ru_maxrss would carry over the high-water
# mark of the benchmark process that forked the child.
PEAK_RSS = """
import sys
from facefeedback.config import Config
from facefeedback.extract import process_recording
r = process_recording(sys.argv[1], Config().updated(progress=False))
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(len(r.frames), int(hwm.split()[1]))
"""


def peak_rss_kib(path: Path) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path)], capture_output=True, text=True, check=True)
    n, rss = out.stdout.split()[-2:]
    return int(n), int(rss)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=next((p for p in DEFAULT_VIDEOS if p.is_file()), None))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from facefeedback.config import Config

    clip = decoded(args.video)
    tmp_dir = tempfile.TemporaryDirectory()
    # Three passes of the clip, so that start-up costs weigh as in a real recording.
    video = long_video(clip, 3, Path(tmp_dir.name))
    frames = decoded(video)
    h, w = frames[0].shape[:2]
    print(f"video: {args.video.name} x3, {len(frames)} frames, {w}x{h}")
    max_faces = Config().landmarks.max_faces
    bare, ours = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        bare.append(bare_facemesh_fps(frames, max_faces))
        ours.append(extract_fps(video))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"bare Face Mesh on decoded frames: {b:7.1f} fps (runs: {', '.join(f'{x:.1f}' for x in bare)})")
    print(f"facefeedback extract end to end:  {o:7.1f} fps (runs: {', '.join(f'{x:.1f}' for x in ours)})")
    print(f"ratio extract / bare = {o / b:.3f}  (target >= 0.85)")

    with tempfile.TemporaryDirectory() as tmp:
        short = long_video(clip, 1, Path(tmp))
        longer = long_video(clip, 10, Path(tmp))
        n1, rss1 = peak_rss_kib(short)
        n10, rss10 = peak_rss_kib(longer)
    print(f"peak RSS: {n1} frames {rss1 / 1024:.0f} MiB, {n10} frames {rss10 / 1024:.0f} MiB")
    print(f"ratio peak RSS 10x / 1x = {rss10 / rss1:.3f}  (target <= 1.10)")
    tmp_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
