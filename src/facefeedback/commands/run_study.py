"""``facefeedback run``: a whole study, from its study file to session features and a codebook."""

from __future__ import annotations

import argparse
import sys

from . import add_force_option, with_options


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run", help="run a study: measure every recording, calibrate, write session features",
        description="Check the study file and its tables (nothing runs if any problem is found), measure "
                    "every recording in parallel, calibrate each participant on their baseline, and write "
                    "DIR/recordings/, DIR/calibration/, DIR/features/ (session features, wide.csv, codebook, "
                    "with BIDS sidecars), DIR/dataset_description.json and DIR/failures.csv. Run it again to "
                    "finish an interrupted study: finished recordings are skipped. Outputs of rows no longer "
                    "in the tables, and of recordings that failed, are moved to DIR/stale/. See docs/study.md.")
    p.add_argument("study", metavar="STUDY.yaml", help="study file")
    p.add_argument("--out", required=True, metavar="DIR", help="study output folder")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: the number of cores)")
    p.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="local process pool (default) or a Dask distributed cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address (tcp://host:8786); default: a LocalCluster on this machine")
    p.add_argument("--config", metavar="FILE",
                   help="measurement settings (YAML), instead of the study file's 'config:'; either overrides "
                        "any subset of the packaged defaults, which 'facefeedback config --show' prints")
    p.add_argument("--stride", type=int, metavar="N", help="process every N-th frame")
    p.add_argument("--format", choices=["parquet", "csv", "bids"],
                   help="per-frame table format (default parquet); bids: ..._desc-frown_timeseries.tsv.gz under "
                        "DIR/sub-<label>/ses-<label>/beh/")
    p.add_argument("--export", metavar="FORMATS",
                   help="also write the feature tables for statistics packages: spss, stata or spss,stata")
    p.add_argument("--strict", action="store_true",
                   help="a truncated video fails like a corrupt one (default: its decoded frames are kept, "
                        "with a warning)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_force_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..errors import ConfigError
    from ..study.manifest import load_study
    from ..study.pipeline import run_study
    from ..study.statformats import FORMATS, parse_formats

    export = parse_formats(args.export) if args.export is not None else ()
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be 1 or more, got {args.workers}")
    if args.scheduler and args.executor != "dask":
        raise ConfigError("--scheduler needs --executor dask")
    study = load_study(args.study, args.config)
    config = load_config(args.config or study.config_path)
    config = with_options(config, {"input.stride": args.stride, "progress": False, "output_format": args.format})
    report = run_study(study, config, args.out, executor=args.executor, workers=args.workers,
                       scheduler=args.scheduler, progress=not args.no_progress, export=export,
                       force=args.force, strict=args.strict)
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for rid, path, error in report.failures:
        print(f"failed: {rid}: {error}", file=sys.stderr)
    if report.stale is not None:
        print(f"outputs no longer current moved to {report.stale} (see its NOTE.txt)", file=sys.stderr)
    print(f"{report.recordings} recordings: {report.measured} measured, {report.written} written, "
          f"{report.kept} already up to date, {len(report.failures)} failed ({report.elapsed_s:.1f} s) "
          f"-> {report.out}")
    print(f"session features: {report.out / 'features' / 'session_features.parquet'} "
          f"(codebook: {report.out / 'features' / 'codebook.md'})")
    if report.compared:
        print(f"visit comparability: {report.not_comparable} of {report.compared} later recordings were made under "
              f"imaging conditions beyond the validated range -> {report.out / 'features' / 'comparability.csv'}")
    for fmt in (FORMATS[key] for key in export):
        print(f"{fmt.title}: {report.out / 'features'}/session_features{fmt.suffix}, wide{fmt.suffix}")
    return 1 if report.failures else 0
