"""``facefeedback export``: tables in other tools' formats (SPSS, Stata, OpenFace)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="write the feature tables for SPSS or Stata, or per-frame tables with OpenFace names",
        description="--spss / --stata: write DIR/features/session_features and wide as .sav / .dta, with every "
                    "variable's label from the codebook, value labels for arm, session and task, and missing "
                    "values as system-missing. --openface: write one CSV per recording with OpenFace 2's column "
                    "names where they mean the same (frame, face_id, timestamp, confidence, success, "
                    "pose_Rx/Ry/Rz) plus the frown columns. See docs/study.md.")
    p.add_argument("folder", nargs="?", metavar="DIR",
                   help="study output folder (facefeedback run); for --openface also an extract output folder")
    p.add_argument("--spss", action="store_true", help="features/*.sav for SPSS (and R's haven::read_sav)")
    p.add_argument("--stata", action="store_true", help="features/*.dta for Stata 14 or later (haven::read_dta)")
    p.add_argument("--openface", nargs="?", const=True, metavar="DIR",
                   help="per-frame CSVs with OpenFace column names ('--openface DIR' names the folder too)")
    p.add_argument("--out", metavar="OUTDIR", help="where the OpenFace CSVs go (default: DIR/openface)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError

    folder = args.folder
    if isinstance(args.openface, str):  # the older form: export --openface DIR
        if folder is not None and folder != args.openface:
            raise ConfigError(f"export: two folders given ({folder}, {args.openface}); give DIR once")
        folder = args.openface
    if folder is None:
        raise ConfigError("export: give the output folder DIR (facefeedback export DIR --spss)")
    formats = tuple(f for f, wanted in (("spss", args.spss), ("stata", args.stata)) if wanted)
    if not formats and not args.openface:
        raise ConfigError("export: choose what to write: --spss, --stata and/or --openface")
    if args.out is not None and not args.openface:
        raise ConfigError("export: --out is where the OpenFace CSVs go; the .sav / .dta files go to DIR/features")
    if formats:
        from ..study.statfiles import export_statfiles

        written = export_statfiles(folder, formats)
        print(f"{len(written)} files -> {written[0].parent} ({', '.join(p.name for p in written)})")
    if args.openface:
        from ..study.openface import export_openface

        written = export_openface(folder, args.out)
        print(f"{len(written)} OpenFace-style CSV files -> {written[0].parent}")
    return 0
