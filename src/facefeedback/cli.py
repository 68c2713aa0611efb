"""The ``facefeedback`` command. Thin: it parses arguments and calls the stages.

Each subcommand lives in a module that defines ``add_parser(subparsers)``, which
registers the subcommand and sets ``func`` (called with the parsed arguments,
returning an exit status). Known errors print as one line, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from . import __version__
from .console import native_output_silenced
from .errors import FaceFeedbackError, os_error_line

#: Modules that register subcommands, in the order ``--help`` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "facefeedback.commands.extract",
    "facefeedback.commands.calibrate",
    "facefeedback.commands.run_study",
    "facefeedback.commands.export",
    "facefeedback.commands.simulate", "facefeedback.commands.analyze", "facefeedback.commands.power",
    "facefeedback.commands.webcam", "facefeedback.commands.config",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facefeedback",
        description="Measure frowning in participant videos and relate it to mood.",
    )
    parser.add_argument("--version", action="version", version=f"facefeedback {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


#: Quiet the native libraries' own logging, so that a problem prints as our one line
#: (set before they load; a user's own settings win).
NATIVE_LOG_QUIET = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3", "OPENCV_LOG_LEVEL": "FATAL",
                    "OPENCV_FFMPEG_LOGLEVEL": "-8"}


class _CurrentStderrHandler(logging.StreamHandler):
    """Log to whatever ``sys.stderr`` is at the time (it is swapped while native output is silenced)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _LogFormatter(logging.Formatter):
    """``warning: ...``, as an error prints ``error: ...``; with ``--verbose`` also the logger's name
    (``info facefeedback.extract: ...``), which says which part of the tool speaks."""

    def __init__(self, verbose: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s" if verbose else "%(levelname)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(logging.makeLogRecord({**record.__dict__,
                                                             "levelname": record.levelname.lower()}))


def main(argv: list[str] | None = None) -> int:
    for key, value in NATIVE_LOG_QUIET.items():
        os.environ.setdefault(key, value)
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = _CurrentStderrHandler()
    handler.setFormatter(_LogFormatter(args.verbose))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    try:
        with native_output_silenced(enabled=not args.verbose):
            return int(args.func(args) or 0)
    except FaceFeedbackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the file system refused: a full disk, a path that vanished
        logging.getLogger(__name__).debug("file system error", exc_info=True)
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
