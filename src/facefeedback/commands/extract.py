"""``facefeedback extract``: per-frame frown measurements of videos and images."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..config import load_config
from ..errors import FaceFeedbackError

log = logging.getLogger(__name__)


def add_common_input_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that read recordings."""
    p.add_argument("--config", metavar="FILE", help="YAML settings (defaults: configs/default.yaml)")
    p.add_argument("--stride", type=int, metavar="N", help="process every N-th frame")
    p.add_argument("--start", type=float, metavar="S", dest="start_s", help="start time in seconds")
    p.add_argument("--end", type=float, metavar="S", dest="end_s", help="end time in seconds")
    p.add_argument("--max-side", type=int, metavar="PX", help="downscale frames larger than this")
    p.add_argument("--model", metavar="PATH",
                   help="MediaPipe face_landmarker.task: use the blendshape backend (adds brow blendshapes)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def resolve_config(args: argparse.Namespace):
    config = load_config(args.config)
    return config.updated(**{
        "input.stride": args.stride, "input.start_s": args.start_s, "input.end_s": args.end_s,
        "input.max_side": args.max_side, "landmarks.model_path": args.model,
        "progress": False if args.no_progress else None,
        "output_format": getattr(args, "format", None),
    })


def output_names(paths: list[str]) -> list[str]:
    """One output folder name per input: the file stem, made unique within the call."""
    names, seen = [], set()
    for p in paths:
        stem = Path(p).stem or "input"
        name, k = stem, 1
        while name in seen:
            k += 1
            name = f"{stem}_{Path(p).suffix.lstrip('.') or k}" if k == 2 else f"{stem}_{k}"
        seen.add(name)
        names.append(name)
    return names


def add_parser(sub) -> None:
    p = sub.add_parser("extract", help="measure frowning in videos or images, frame by frame",
                       description="Measure frowning in each INPUT and write DIR/<name>/frames.parquet "
                                   "(with its column sidecar frames.json), summary.json and provenance.json, "
                                   "and DIR/dataset_description.json (BIDS derivatives).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video or image files")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--calibration", metavar="FILE",
                   help="the participant's neutral reference (from 'facefeedback calibrate')")
    p.add_argument("--format", choices=["parquet", "csv", "bids"],
                   help="per-frame table format (default parquet); bids: <name>_desc-frown_timeseries.tsv.gz, "
                        "under sub-<label>/[ses-<label>/]beh/ when the input is named sub-<label>[_ses-<label>]...")
    add_common_input_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import bids
    from ..calibration import Calibration
    from ..config import config_hash
    from ..extract import process_recording, write_recording

    config = resolve_config(args)
    calibration = Calibration.load(args.calibration) if args.calibration else None
    bids.read_description(args.out)  # refuses a folder that describes another dataset, before any work
    failures = 0
    for path, name in zip(args.inputs, output_names(args.inputs)):
        try:
            result = process_recording(path, config, calibration, name=name)
            entities = bids.name_entities(name)
            result.bids_name = bids.timeseries_name(entities) if entities else None
            out = write_recording(result, args.out, config.output_format)
        except FaceFeedbackError as exc:
            failures += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        f = result.summary["features"]
        print(f"{path}: {int(f['n_frames'])} frames, valid {f['valid_fraction']:.0%}, "
              f"frown_intensity mean {f['frown_intensity_mean']:.3f}, "
              f"{int(f['frown_events_n'])} frown events -> {out}")
        for warning in result.summary["warnings"]:
            print(f"warning: {path}: {warning}", file=sys.stderr)
    if failures < len(args.inputs):
        bids.write_description(args.out, f"{bids.TOOL} frown measurements", config_hash(config),
                               keep_earlier=True)
    if failures:
        print(f"{failures} of {len(args.inputs)} inputs failed", file=sys.stderr)
        return 1
    return 0
