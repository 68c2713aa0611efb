"""Generate the sample clips in sample_videos/ (synthetic frowns with ground truth).

Usage: python scripts/make_sample_videos.py [--out sample_videos] [--clips NAME,...]
See facefeedback.synthetic.faces for the generative model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from facefeedback.synthetic.faces import DEFAULT_CLIPS, FaceAnchors, neutral_face, write_clip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "sample_videos"))
    ap.add_argument("--clips", default=",".join(spec.name for spec in DEFAULT_CLIPS),
                    help="comma-separated clip names to write (default: all)")
    args = ap.parse_args()
    wanted = set(args.clips.split(","))
    unknown = wanted - {spec.name for spec in DEFAULT_CLIPS}
    if unknown:
        ap.error(f"unknown clip(s) {', '.join(sorted(unknown))}; known: "
                 + ", ".join(spec.name for spec in DEFAULT_CLIPS))
    base = neutral_face()
    anchors = FaceAnchors.find(base)
    for spec in (s for s in DEFAULT_CLIPS if s.name in wanted):
        video, truth = write_clip(spec, args.out, base, anchors)
        print(f"wrote {video} ({video.stat().st_size // 1024} KiB) and {truth.name}")


if __name__ == "__main__":
    main()
