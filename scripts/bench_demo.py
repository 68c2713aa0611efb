"""Per-frame time of the webcam demo (measure + drawing) at 640x480.

    python scripts/bench_demo.py [CLIP] [--size 640x480] [--passes 2]

Prints the mean and 95th percentile; a 30 fps camera needs <= 33 ms at the 95th percentile.
"""

import argparse
from pathlib import Path

from facefeedback.demo.bench import benchmark

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", default=str(ROOT / "sample_videos" / "frontal_frown.mp4"))
    parser.add_argument("--size", default="640x480", help="picture size WIDTHxHEIGHT")
    parser.add_argument("--passes", type=int, default=2, help="times through the clip")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads, as the demo sets them (0: the library's default)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    result = benchmark(args.clip, size=(width, height), passes=args.passes, blas_threads=args.blas_threads or None)
    print(result.describe())
    budget = 1000 / 30
    print(f"30 fps budget {budget:.1f} ms at p95: {'fits' if result.p95_ms <= budget else 'too slow'}")
