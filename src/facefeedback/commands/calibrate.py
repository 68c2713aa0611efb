"""``facefeedback calibrate``: a participant's neutral reference from a baseline recording."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import add_force_option, finite_number, with_options
from .extract import add_common_input_options, resolve_config


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="make a participant's neutral reference from a recording",
                       description="Measure a baseline recording and save its neutral reference: the median "
                                   "of each component over a neutral segment (--segment) or over the least "
                                   "frowning frames (--percentile), re-centred on the frames that are not "
                                   "frowning, and how it changes with head pose when the recording covers "
                                   "enough of it. Pass the file to 'extract --calibration'.")
    p.add_argument("input", help="baseline video (a still image of a neutral face is one frame, fewer than "
                   "calibration.min_frames asks for: set it to 1 in a --config to calibrate from one)")
    p.add_argument("--out", required=True, metavar="FILE", help="calibration file to write (JSON)")
    p.add_argument("--participant", metavar="ID", help="participant id stored in the file")
    p.add_argument("--segment", nargs=2, type=finite_number, metavar=("START", "END"),
                   help="neutral segment in seconds")
    p.add_argument("--percentile", type=finite_number, metavar="P",
                   help="neutral = frames at or below this percentile of frowning (default 20)")
    add_common_input_options(p)
    add_force_option(p, "the calibration file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..calibration import CALIBRATE, calibrate
    from ..components.registry import REGISTRY
    from ..errors import ConfigError
    from ..extract import process_recording
    from ..output_folders import check_file_output
    from ..output_marker import mark_written, owned_files

    out = Path(args.out)
    check_file_output(out, "a calibration", lambda p: p.name in owned_files(p.parent, CALIBRATE), args.force)
    if args.segment and args.percentile is not None:
        raise ConfigError("give either --segment or --percentile, not both")
    config = resolve_config(args)
    segment = args.segment or (None, None)
    config = with_options(config, {"calibration.percentile": args.percentile,
                                   "calibration.segment_start_s": segment[0],
                                   "calibration.segment_end_s": segment[1]})
    result = process_recording(args.input, config, strict=True)  # no neutral from a broken file
    cal = calibrate(result.frames, config.families(), config.calibration, source=str(args.input),
                    participant_id=args.participant)
    out.parent.mkdir(parents=True, exist_ok=True)
    mark_written(out.parent, CALIBRATE, [out.name])  # before the file: a kill leaves nothing of ours unlisted
    cal.save(out)
    n = cal.neutral
    if cal.pose is None:
        pose = "pose-independent (the recording covers too little head movement to say how pose changes it)"
    else:
        p = cal.pose
        ranges = []
        if p.yaw_max_deg > p.yaw_dead_deg:
            ranges.append(f"|yaw| up to {p.yaw_max_deg:.0f} deg")
        if p.pitch_max_deg > p.pitch_min_deg:
            ranges.append(f"pitch {p.pitch_ref_deg + p.pitch_min_deg:+.0f} to {p.pitch_ref_deg + p.pitch_max_deg:+.0f} deg")
        pose = "follows head pose over " + " and ".join(ranges)
    scatter = "" if cal.noise is None else "; relaxed scatter " + ", ".join(
        f"{'ln ' if REGISTRY[k].change == 'log_ratio' else ''}{k} {v:.3f}" for k, v in cal.noise.items())
    print(f"{args.input}: neutral from {cal.n_frames} frames ({cal.method}): brow_gap {n.brow_gap:.4f}, "
          f"brow_lowering {n.brow_lowering:.4f}, glabella_lines {n.glabella_lines:.4f}; {pose}{scatter} -> {args.out}")
    return 0
