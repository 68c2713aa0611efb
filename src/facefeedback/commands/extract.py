"""``facefeedback extract``: per-frame frown measurements of videos and images."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ..config import load_config
from ..errors import FaceFeedbackError, os_error_line
from . import CONFIG_HELP, add_force_option, features_text, finite_number, with_options

log = logging.getLogger(__name__)


def add_common_input_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that read recordings."""
    p.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    p.add_argument("--stride", type=int, metavar="N", help="process every N-th frame")
    p.add_argument("--start", type=finite_number, metavar="S", dest="start_s", help="start time in seconds")
    p.add_argument("--end", type=finite_number, metavar="S", dest="end_s", help="end time in seconds")
    p.add_argument("--max-side", type=int, metavar="PX", help="downscale frames larger than this")
    p.add_argument("--model", metavar="PATH",
                   help="MediaPipe face_landmarker.task: use the blendshape backend (adds brow blendshapes)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def resolve_config(args: argparse.Namespace):
    config = load_config(args.config)
    return with_options(config, {
        "input.stride": args.stride, "input.start_s": args.start_s, "input.end_s": args.end_s,
        "input.max_side": args.max_side, "landmarks.model_path": args.model,
        "progress": False if args.no_progress else None,
        "output_format": getattr(args, "format", None),
    })


def output_names(paths: list[str]) -> list[str]:
    """One output folder name per input: the file stem, made unique within the call.

    Inputs that share a stem are told apart by what differs: their folders first (as many of the
    innermost folder names as it takes: ``site1_baseline`` and ``site2_baseline``), then their
    types (``baseline_mp4``, ``baseline_avi``); the same file given twice is numbered.
    """
    stems = [Path(p).stem or "input" for p in paths]
    names = list(stems)
    for stem in dict.fromkeys(stems):
        same = [i for i, s in enumerate(stems) if s == stem]
        if len(same) < 2:
            continue
        folders = [_folder_parts(paths[i]) for i in same]
        if len(set(folders)) > 1:
            depth = next(d for d in range(1, max(map(len, folders)) + 1)
                         if len({f[-d:] for f in set(folders)}) == len(set(folders)))
            for i, f in zip(same, folders):
                names[i] = "_".join((*f[-depth:], stem))
        suffixes = {i: Path(paths[i]).suffix.lstrip(".") for i in same}
        twins = {i: {suffixes[j] for j in same if names[j] == names[i]} for i in same}
        for i in same:
            if len(twins[i]) > 1 and suffixes[i]:
                names[i] = f"{names[i]}_{suffixes[i]}"
    seen: set[str] = set()
    for i, name in enumerate(names):
        unique, k = name, 1
        while unique in seen:
            k += 1
            unique = f"{name}_{k}"
        seen.add(unique)
        names[i] = unique
    return names


def _folder_parts(path: str) -> tuple[str, ...]:
    """The names of the folders a file is in, outermost first."""
    folder = Path(os.path.abspath(path)).parent
    return folder.relative_to(folder.anchor).parts


def neutral_reference_text(calibration, path: str | None) -> str:
    """Which neutral reference the frown units are measured from, for the line ``extract`` prints."""
    if calibration is None:
        return "neutral: population default (no --calibration)"
    return (f"neutral: participant calibration {path} ({calibration.method} over {calibration.source}, "
            f"{calibration.n_frames} frames)")


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
    p.add_argument("--strict", action="store_true",
                   help="a truncated video fails like a corrupt one (default: its decoded frames are kept, "
                        "with a warning)")
    p.add_argument("--events", metavar="FILE",
                   help="BIDS events file (onset, duration, trial_type; tab-separated) of the one INPUT: "
                        "writes trials.parquet beside the frames (default: <INPUT stem>_events.tsv when present)")
    add_common_input_options(p)
    add_force_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import bids
    from ..calibration import Calibration
    from ..config import config_hash
    from ..extract import process_recording
    from ..output_folders import check_output_path, plan_output, refuse_study_folder, writing
    from ..recording_outputs import plan_recording, write_recording

    config = resolve_config(args)
    calibration = Calibration.load(args.calibration) if args.calibration else None
    neutral = neutral_reference_text(calibration, args.calibration)
    check_output_path(args.out)
    refuse_study_folder(args.out)
    bids.read_description(args.out)  # refuses a folder that describes another dataset, before any work
    description = plan_output(args.out, bids.DESCRIPTION, [bids.DESCRIPTION_FILE], args.force)
    events = input_events(args.inputs, args.events, config)  # every events file checked before any work
    if config.landmarks.model_path:  # a bundle that cannot be used is said once, before any work
        from ..landmarks import make_backend

        make_backend(static_image_mode=True, max_faces=1, model_path=config.landmarks.model_path).close()
    failures = 0
    for path, name in zip(args.inputs, output_names(args.inputs)):
        entities = bids.name_entities(name)
        bids_name = bids.timeseries_name(entities) if entities else None
        try:  # refused before its work; a failed input never stops the others
            plan_recording(Path(args.out) / name, config.output_format, args.out, bids_name, path in events,
                           args.force)
            trials = events[path][1] if path in events else None
            result = process_recording(path, config, calibration, name=name, strict=args.strict,
                                        trial_events=trials)
            if path in events:
                result.provenance["events_file"] = describe_events(events[path][0])
            result.bids_name = bids_name
            out = write_recording(result, args.out, config.output_format, force=args.force)
        except (FaceFeedbackError, OSError) as exc:
            failures += 1
            print(f"error: {os_error_line(exc) if isinstance(exc, OSError) else exc}", file=sys.stderr)
            continue
        print(f"{path}: {features_text(result.summary['features'])}; {neutral} -> {out}")
        for w in result.summary.get("warnings", []):
            print(f"warning: {path}: {w}", file=sys.stderr)
    if failures < len(args.inputs):
        with writing(description) as staging:
            bids.write_description(args.out, f"{bids.TOOL} frown measurements", config_hash(config),
                                   keep_earlier=True, into=staging)
    if failures:
        print(f"{failures} of {len(args.inputs)} inputs failed", file=sys.stderr)
        return 1
    return 0


def input_events(inputs: list[str], given: str | None, config) -> dict:
    """``input -> (events file, checked trials)`` for the inputs with an events file: ``--events``
    for the one input, else ``<stem>_events.tsv`` beside each. Every file is checked before any
    work; a ValidationError lists every problem of every file."""
    from ..errors import InputError, ValidationError
    from ..eventfiles import check_recording_events, events_beside

    if given is not None and len(inputs) != 1:
        raise InputError(f"--events {given}: give one INPUT with --events (got {len(inputs)}); for several, "
                         "put <video stem>_events.tsv beside each video")
    found = {path: Path(given) if given is not None else events_beside(path) for path in inputs}
    out, problems = {}, []
    for path, file in found.items():
        if file is None:
            continue
        table, issues = check_recording_events(file, path, config.events)
        problems += issues
        out[path] = (file, table)
    if problems:
        raise ValidationError(problems, f"{len(problems)} problem(s) in the events file(s); nothing was processed")
    return out


def describe_events(path: Path) -> dict:
    from ..files import file_sha256

    return {"path": str(path), "sha256": file_sha256(path)}
