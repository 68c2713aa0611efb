"""Subcommands of the ``facefeedback`` command, one module each (see ``facefeedback.cli``)."""

from __future__ import annotations

import argparse

#: The ``--config`` option's help: what a settings file overrides, and where the defaults are.
CONFIG_HELP = ("YAML settings overriding any subset of the packaged defaults, which "
               "'facefeedback config --show' prints")


#: The setting (``Config.updated``'s ``section.key``) each command-line option sets, and the option
#: as typed: a bad value is named by the option the user gave (``--stride``), not by its setting.
OPTIONS = {"input.stride": "--stride", "input.start_s": "--start", "input.end_s": "--end",
           "input.max_side": "--max-side", "landmarks.model_path": "--model", "progress": "--no-progress",
           "output_format": "--format", "calibration.percentile": "--percentile",
           "calibration.segment_start_s": "--segment START", "calibration.segment_end_s": "--segment END"}


def with_options(config, values: dict[str, object]):
    """``config`` with the values of command-line options (``section.key`` -> value; None: not
    given), validated; a bad value is named by its option (:data:`OPTIONS`)."""
    return config.updated(names=OPTIONS, **values)


def seed_number(text: str) -> int:
    """An argparse type: a random seed, a whole number of at least 0 (NumPy takes no other)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is 0 or more, got {value}")
    return value


def finite_number(text: str) -> float:
    """An argparse type: a number that is neither nan nor infinite."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def features_text(features: dict) -> str:
    """A recording's result in the words ``extract`` and ``webcam`` print:
    ``40 frames, valid 100%, frown_intensity mean 0.105, 1 frown event``."""
    events = features["frown_events_n"]
    return (f"{features['n_frames']} frames, valid {features['valid_fraction']:.0%}, "
            f"frown_intensity mean {features['frown_intensity_mean']:.3f}, "
            f"{events} frown event{'' if events == 1 else 's'}")


def add_force_option(p: argparse.ArgumentParser, what: str = "its outputs") -> None:
    """``--force``: write where files facefeedback did not write are in the way (one rule, every command)."""
    p.add_argument("--force", action="store_true",
                   help=f"overwrite files named like {what} even when facefeedback did not write them "
                        "(nothing else is touched)")
