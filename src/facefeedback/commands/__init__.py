"""Subcommands of the ``facefeedback`` command, one module each (see ``facefeedback.cli``)."""

from __future__ import annotations

import argparse

#: The ``--config`` option's help: what a settings file overrides, and where the defaults are.
CONFIG_HELP = ("YAML settings overriding any subset of the packaged defaults, which "
               "'facefeedback config --show' prints")


def add_force_option(p: argparse.ArgumentParser, what: str = "its outputs") -> None:
    """``--force``: write where files facefeedback did not write are in the way (one rule, every command)."""
    p.add_argument("--force", action="store_true",
                   help=f"overwrite files named like {what} even when facefeedback did not write them "
                        "(nothing else is touched)")
