"""What one family of components (the smile, by default) costs ``extract``, timed part by part.

Wall-time comparisons of two versions (``bench_versions.py``) swing by ±10-20 % from one run to
the next on a shared machine, more than a small change costs; this times the family's own work
directly, in CPU time, on the clip's real landmarks, and prints it as a share of the CPU time
that measuring the clip takes:

* a frame: the family's components measured from the aligned landmarks (the registry's
  functions, on every frame's landmarks of the clip);
* a recording: its intensity against the calibration (with the pose model) and its event flags,
  and the whole summary (every family's events and statistics, the real ``summarise``: an upper
  bound of the family's part).

Usage: python scripts/bench_family_cost.py VIDEO [--family smile] [--repeats 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from facefeedback.calibration import population_calibration
from facefeedback.components.registry import FAMILIES, REGISTRY, measure_function
from facefeedback.config import Config
from facefeedback.extract import read_raw
from facefeedback.geometry import align
from facefeedback.io import FrameSource
from facefeedback.landmarks import make_backend
from facefeedback.measure import build_frame_table
from facefeedback.summary import frowning_mask, summarise


def cpu_per_call(run, repeats: int) -> float:
    started = time.process_time()
    for _ in range(repeats):
        run()
    return (time.process_time() - started) / repeats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", type=Path)
    ap.add_argument("--family", default="smile", choices=[f.name for f in FAMILIES])
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    config = Config().updated(progress=False)
    family = next(f for f in FAMILIES if f.name == args.family)
    params = config.families()[list(FAMILIES).index(family)]

    started = time.process_time()
    raw = read_raw(args.video, config, progress=False)[1]
    measuring = time.process_time() - started
    n = len(raw)

    aligned = []
    with FrameSource(args.video) as source, make_backend(static_image_mode=False, max_faces=1) as backend:
        for frame in source:
            points = backend.detect(frame.image, frame.timestamp_s).points
            if points is not None:
                aligned.append(align(points).aligned)
    functions = [measure_function(c) for c in REGISTRY.values()
                 if c.family == family.name and c.measured_from == "landmarks"]

    def components() -> None:
        for a in aligned:
            for f in functions:
                f(a)

    per_frame = cpu_per_call(components, max(1, args.repeats // 10)) / max(len(aligned), 1)

    calibration = population_calibration(*config.families())
    table = build_frame_table(raw, calibration, config)
    t, valid = table["timestamp_s"].to_numpy(float), table["valid"].to_numpy(bool)
    yaw, pitch = raw["yaw"].to_numpy(float), raw["pitch"].to_numpy(float)

    def recording() -> None:
        # what build_frame_table does for one family: its intensity and its event flags
        x = calibration.score({k: raw[k].to_numpy(np.float64) for k in family.names}, yaw, pitch, params)
        frowning_mask(t, x, valid, config.events)

    per_recording = cpu_per_call(recording, args.repeats)
    # the whole summary (every family's events and statistics): an upper bound of this family's part
    summary = cpu_per_call(lambda: summarise(table, config.events), args.repeats)
    share_frames = 100 * per_frame * n / measuring
    share = 100 * (per_frame * n + per_recording + summary) / measuring
    print(f"{args.video.name}: {n} frames; measuring them (extract's frame loop) {measuring:.2f} s CPU, "
          f"{1000 * measuring / n:.2f} ms a frame")
    print(f"{family.name} family: components {1e6 * per_frame:.1f} us a frame ({len(functions)} from the landmarks, "
          f"{share_frames:.2f} % of measuring); intensity and event flags {1000 * per_recording:.2f} ms a recording, "
          f"the whole summary (every family) {1000 * summary:.2f} ms; together at most {share:.2f} % of extract's "
          "measuring CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
