"""Generate the demo study in sample_videos/demo_study/ (clips, participants, recordings, scores).

Usage: python scripts/make_demo_study.py [--out sample_videos/demo_study] [--seed 7]
Run it with: facefeedback run configs/demo_study.yaml --out demo_output
See facefeedback.synthetic.example_study for what the study contains.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facefeedback.synthetic.example_study import write_demo_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "sample_videos" / "demo_study"))
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    clips = write_demo_study(args.out, args.seed)
    total = sum(c.stat().st_size for c in clips)
    print(f"wrote {len(clips)} clips ({total / 1e6:.1f} MB) and the study tables to {args.out}")


if __name__ == "__main__":
    main()
