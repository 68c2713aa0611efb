"""``facefeedback webcam``: a live frown meter on a camera or a video file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import load_config
from ..errors import ConfigError
from . import CONFIG_HELP, add_force_option, features_text, finite_number


def add_parser(sub) -> None:
    p = sub.add_parser(
        "webcam", help="live frown meter over a camera picture (or a video file)",
        description="Show the frown measurement live: brow and eye landmarks, a frown-intensity meter, "
                    "the corrugator, procerus and glabellar-line components, and the last 10 s. "
                    "Keys: c calibrate, r record, q or Esc quit. On exit the session's frames.parquet, "
                    "summary.json and provenance.json are written to a new subfolder of --out "
                    "(the date and time).")
    p.add_argument("--source", default="0", metavar="0|PATH",
                   help="camera index (0 is the first camera) or a video file (default 0)")
    p.add_argument("--record", metavar="FILE",
                   help="record the overlay to this video (.mp4, .avi); without it, r records to overlay.mp4 "
                        "in the session's folder")
    p.add_argument("--headless", action="store_true",
                   help="no window; the overlay, a video of the face, is written only with --record")
    p.add_argument("--calibrate", type=finite_number, default=3.0, metavar="SECONDS",
                   help="take the first SECONDS as the neutral face (default 3); 0: start from the "
                        "population default (or --calibration) and calibrate only when c is pressed")
    p.add_argument("--calibration", metavar="FILE",
                   help="a neutral reference from 'facefeedback calibrate' to start from")
    p.add_argument("--out", metavar="DIR",
                   help="where sessions are saved, each in a new subfolder DIR/<date-time> (default webcam_output)")
    p.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    add_force_option(p, "the --record file")
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
        calibration=Calibration.load(args.calibration) if args.calibration else None, force=args.force)
    result = run_demo(options, config)
    print(f"{features_text(result.summary['features'])} -> {result.out_dir}")
    for w in result.summary.get("warnings", []):  # e.g. a calibration that did not finish, as extract says
        print(f"warning: {result.out_dir}: {w}", file=sys.stderr)
    if result.video is not None:
        print(f"overlay video -> {result.video}")
    return 0
