"""``facefeedback export``: per-frame tables in other tools' layouts."""

from __future__ import annotations

import argparse
import sys

from . import add_force_option


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="write per-frame tables with OpenFace column names",
        description="Write one CSV per recording with OpenFace 2's column names where they mean the same "
                    "(frame, face_id, timestamp, confidence, success, pose_Rx/Ry/Rz) plus the frown "
                    "columns, so scripts that read OpenFace output keep working. See docs/study.md.")
    p.add_argument("--openface", required=True, metavar="DIR",
                   help="study output folder (facefeedback run) or extract output folder")
    p.add_argument("--out", metavar="OUTDIR", help="where the CSVs go (default: DIR/openface)")
    add_force_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..study.openface import export_openface

    written, problems = export_openface(args.openface, args.out, args.force)
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    print(f"{len(written)} OpenFace-style CSV files -> {written[0].parent}")
    return 1 if problems else 0
