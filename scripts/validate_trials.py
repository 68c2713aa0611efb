"""Event-locked recovery on synthetic trial clips: known frown heights at known peak times.

Usage: python scripts/validate_trials.py [--fps 15] [--seeds 0 1] [--out FOLDER]
Prints, per seed, each trial's drawn height, the ruler's measured frown units for it, the
trial's peak and the errors; then the largest peak error (%) and latency error (frames).
See facefeedback.synthetic.trials.recovery.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from facefeedback.synthetic.trials import recovery


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--out", help="keep the clips here (default: a temporary folder)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            folder = Path(args.out or tmp) / f"seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            rows.append(recovery(folder, fps=args.fps, seed=seed).assign(seed=seed))
    table = pd.concat(rows, ignore_index=True)
    print(table.round(3).to_string(index=False))
    used = table[table["included"]]
    print(f"{len(used)} of {len(table)} trials included; largest |peak error| {used['peak_error_pct'].abs().max():.1f} %, "
          f"largest |latency error| {used['latency_error_frames'].abs().max():.2f} frames (at {args.fps:g} fps)")


if __name__ == "__main__":
    main()
