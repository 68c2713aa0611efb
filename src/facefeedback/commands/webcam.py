"""``facefeedback webcam``: a live frown meter on a camera or a video file."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import load_config
from ..errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "webcam", help="live frown meter over a camera picture (or a video file)",
        description="Show the frown measurement live: brow and eye landmarks, a frown-intensity meter, "
                    "the corrugator, procerus and glabellar-line components, and the last 10 s. "
                    "Keys: c calibrate, r record, q or Esc quit. On exit the session's frames.parquet, "
                    "summary.json and provenance.json are written to --out.")
    p.add_argument("--source", default="0", metavar="0|PATH",
                   help="camera index (0 is the first camera) or a video file (default 0)")
    p.add_argument("--record", metavar="FILE",
                   help="record the overlay to this video (.mp4, .avi); without it, r records to DIR/overlay.mp4")
    p.add_argument("--headless", action="store_true",
                   help="no window: write the overlay to a video (--record, default DIR/overlay.mp4)")
    p.add_argument("--calibrate", type=float, default=3.0, metavar="SECONDS",
                   help="take the first SECONDS as the neutral face (default 3); 0: start from the "
                        "population default (or --calibration) and calibrate only when c is pressed")
    p.add_argument("--calibration", metavar="FILE",
                   help="a neutral reference from 'facefeedback calibrate' to start from")
    p.add_argument("--out", metavar="DIR", help="session output folder (default webcam_output/<date-time>)")
    p.add_argument("--config", metavar="FILE", help="YAML settings (defaults: configs/default.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..calibration import Calibration
    from ..demo import DemoOptions, run_demo

    if args.calibrate < 0:
        raise ConfigError(f"--calibrate: expected 0 or more seconds, got {args.calibrate:g}")
    config = load_config(args.config)
    options = DemoOptions(
        source=args.source, out_dir=Path(args.out) if args.out else None,
        record=Path(args.record) if args.record else None, headless=args.headless,
        calibrate_s=args.calibrate,
        calibration=Calibration.load(args.calibration) if args.calibration else None)
    result = run_demo(options, config)
    f = result.summary["features"]
    print(f"{int(f['n_frames'])} frames, valid {f['valid_fraction']:.0%}, "
          f"frown_intensity mean {f['frown_intensity_mean']:.3f}, {int(f['frown_events_n'])} frown events "
          f"-> {result.out_dir}")
    if result.video is not None:
        print(f"overlay video -> {result.video}")
    return 0
