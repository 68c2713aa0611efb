"""Where the time of ``facefeedback extract`` goes: CPU time a frame of each stage of the per-frame
path, one recording measured one frame at a time in one thread (no stage overlaps another), and
of what follows it (the table, summary and writing).

Stages: decoding (OpenCV, grab and retrieve), BGR -> RGB, landmarks (Face Mesh and the sampled
face count), and the features, split into their parts: alignment, the brow tracker, the glabella
(patch, ridge energy, tone, clipping), the noise estimate of the face box, image quality,
imaging conditions (with the cheek noise), occlusion, and the rest (grey face box, QC flags,
the buffer). Each part is timed by wrapping the function the per-frame path calls, so the parts
add up to the features' total less the rest. CPU time is the process's (every thread: Face
Mesh and the video decoder have threads of their own), which running one stage at a time makes
the stage's.

Usage: python scripts/bench_stages.py VIDEO [--stride 1]
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from facefeedback import conditions, extract, measure, occlusion, recording_outputs
from facefeedback.components.brows import BrowTracker
from facefeedback.components.glabella import GlabellaFilter
from facefeedback.config import load_config
from facefeedback.io import FrameSource

#: (owner, attribute, label): the functions the per-frame path calls, timed where it calls them.
PARTS = [
    (measure, "align", "alignment"),
    (BrowTracker, "__call__", "brow tracker (brow_gap)"),
    (measure, "landmark_brow_gap", "brow landmarks (landmark gap)"),
    (GlabellaFilter, "patch", "glabella: patch"),
    (GlabellaFilter, "energy", "glabella: ridge energy"),
    (GlabellaFilter, "tone", "glabella: tone reference"),
    (GlabellaFilter, "clipped", "glabella: clipping"),
    (measure, "noise_level", "noise estimate (noise_sd)"),
    (measure, "image_quality", "image quality (sharpness, brightness)"),
    (measure, "frame_conditions", "imaging conditions (log_contrast, focus, noise)"),
    (conditions, "_cheek_noise", "  of which cheek noise (noise)"),
    (occlusion.OcclusionDetector, "__call__", "occlusion"),
]

CPU: collections.Counter = collections.Counter()


def timing(label: str, fn):
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            CPU[label] += time.process_time() - started
    return timed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", type=Path)
    ap.add_argument("--stride", type=int, default=1)
    args = ap.parse_args()
    for owner, name, label in PARTS:
        setattr(owner, name, timing(label, getattr(owner, name)))
    config = load_config().updated(**{"input.stride": args.stride, "progress": False})
    n = 0
    wall = time.perf_counter()
    with threadpool_limits(1, user_api="blas"), extract.opencv_threads(1), \
            FrameSource(args.video, stride=args.stride, prefetch=0) as source, \
            measure.FrameMeasurer(config) as measurer:
        buffer = measure.MeasurementBuffer()
        frames = iter(source)
        while True:
            started = time.process_time()
            frame = next(frames, None)
            if frame is None:
                break
            after_decoding = time.process_time()
            frame.rgb  # noqa: B018 - made and kept on the frame, as the decoding thread does
            after_rgb = time.process_time()
            obs = measurer.landmarks(frame)
            after_landmarks = time.process_time()
            buffer.append(measurer.features(frame, obs))
            for label, since, until in (("decoding", started, after_decoding), ("BGR -> RGB", after_decoding, after_rgb),
                                        ("landmarks", after_rgb, after_landmarks),
                                        ("features", after_landmarks, time.process_time())):
                CPU[label] += until - since
            n += 1
        info = source.info
    wall = time.perf_counter() - wall
    started = time.process_time()
    result = extract.recording_result(args.video, info, buffer.raw_table(), config)
    with tempfile.TemporaryDirectory() as out:
        recording_outputs.write_recording(result, out)
    writing = time.process_time() - started
    per_frame = sum(CPU[k] for k in ("decoding", "BGR -> RGB", "landmarks", "features"))
    print(f"{args.video.name}: {n} frames of {info.width}x{info.height}, stride {args.stride}; "
          f"{1000 * per_frame / n:.2f} ms of CPU a frame, {1000 * wall / n:.2f} ms wall "
          f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
    for label in ("decoding", "BGR -> RGB", "landmarks", "features"):
        print(f"  {label:<48} {1000 * CPU[label] / n:6.2f} ms  {100 * CPU[label] / per_frame:4.0f} %")
        if label == "features":
            parts = [p[2] for p in PARTS]
            for part in parts:
                print(f"    {part:<46} {1000 * CPU[part] / n:6.2f} ms")
            counted = sum(CPU[p] for p in parts if not p.startswith("  "))
            print(f"    {'the rest (grey box, QC flags, buffer)':<46} {1000 * (CPU['features'] - counted) / n:6.2f} ms")
    print(f"  table, summary, provenance and writing: {writing:.2f} s once (the file's hash included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
