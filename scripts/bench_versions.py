"""Two versions of facefeedback compared on what a user meets: the ``facefeedback extract``
command against the bare loop (as ``bench_extract.py`` times them) and the webcam demo's
per-frame time at its 95th percentile (as ``bench_demo.py``), run in turn so all see the same
machine load.

Each version is a source folder (a checkout's ``src``) put first on ``PYTHONPATH`` for its
runs; the interpreter, MediaPipe and the clip are the same. Use it to check that a change costs
no more than it should, e.g. the smile family against the version before it::

    git worktree add --detach /tmp/before 9cc5e45^
    git worktree add --detach /tmp/after 9cc5e45
    python scripts/bench_versions.py /tmp/before/src /tmp/after/src --repeats 5

Prints, per version, the medians of extract's wall time and CPU time (every thread), extract /
bare loop (the speed ratio of ``bench_extract.py``) and the demo's p95, each run pair's ratio with
the load average, and the second version over the first. Ratios are of medians measured in one
run. On a shared machine the CPU time varies far less than the wall time (which swings with what
else runs), so a small difference between versions shows in it first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_extract as be  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

DEMO_P95 = """
import sys
from facefeedback.demo.bench import benchmark
print(benchmark(sys.argv[1], size=(640, 480), passes=1).p95_ms)
"""


def with_source(src: Path, run):
    """``run()`` with ``src`` first on PYTHONPATH (the subprocesses it starts inherit it)."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(src) + (os.pathsep + before if before else "")
    try:
        return run()
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


def demo_p95(clip: Path) -> float:
    return float(be.timed([sys.executable, "-c", DEMO_P95, str(clip)])[2].split()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("first", type=Path, help="source folder of the first version (its src/)")
    ap.add_argument("second", type=Path, help="source folder of the second version")
    ap.add_argument("--video", type=Path, default=next((p for p in be.DEFAULT_VIDEOS if p.is_file()), None))
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the 640x360 benchmark clip")
    ap.add_argument("--demo-clip", type=Path, default=ROOT / "sample_videos" / "frontal_frown.mp4")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-demo", action="store_true", help="extract only (the demo's p95 swings most with load)")
    args = ap.parse_args()
    versions = {"first": args.first.resolve(), "second": args.second.resolve()}
    for name, src in versions.items():
        if not (src / "facefeedback" / "__init__.py").is_file():
            raise SystemExit(f"{src}: not a source folder with the facefeedback package")
    for src in versions.values():
        with_source(src, be.byte_compiled)
    frames, fps = be.read_clip(args.video)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = be.write_video(frames, fps, int(args.seconds * fps), (640, 360), tmp / "clip_640x360.mp4")
        runs = {"bare": lambda: be.bare(clip)}
        for name, src in versions.items():
            runs[f"extract {name}"] = (lambda s=src, n=name: with_source(s, lambda: be.extract(clip, tmp / n)))
            if not args.no_demo:
                runs[f"demo {name}"] = (lambda s=src: with_source(s, lambda: demo_p95(args.demo_clip)))
        results = be.alternate(runs, args.repeats)
    bare_s = [r.wall_s for r in results["bare"]]
    print(f"640x360, {int(args.seconds * fps)} frames, {args.repeats} rounds in turn; "
          f"load at each round's start: {be.listed([r.load for r in results['bare']])}")
    summary = {}
    for name, src in versions.items():
        wall = [r.wall_s for r in results[f"extract {name}"]]
        cpu = [r.cpu_s for r in results[f"extract {name}"]]
        pairs = [b / w for b, w in zip(bare_s, wall)]
        p95 = results.get(f"demo {name}") or [float("nan")]
        summary[name] = (statistics.median(wall), statistics.median(bare_s) / statistics.median(wall),
                         statistics.median(p95), statistics.median(cpu))
        print(f"{name} ({src}): extract {summary[name][0]:.2f} s wall, {summary[name][3]:.2f} s CPU "
              f"({be.listed(cpu, 2)}), extract / bare {summary[name][1]:.3f} "
              f"(pairs {be.listed(pairs, 2)}); demo p95 {summary[name][2]:.1f} ms ({be.listed(p95)})")
    (w1, r1, d1, c1), (w2, r2, d2, c2) = summary["first"], summary["second"]
    print(f"second / first: extract wall time x{w2 / w1:.3f}, CPU time x{c2 / c1:.3f}, speed ratio x{r2 / r1:.3f}, "
          f"demo p95 x{d2 / d1:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
