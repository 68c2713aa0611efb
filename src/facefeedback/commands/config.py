"""``facefeedback config``: the settings a command runs with, as YAML."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "config", help="print the default settings (YAML), or those a settings file resolves to",
        description="Print the packaged default settings, with their comments: copy the file, keep the "
                    "keys you want to change, and pass it as --config FILE (every key left out keeps its "
                    "default; unknown keys are rejected). With --config FILE, print the settings that file "
                    "resolves to: the defaults with its values on top.")
    p.add_argument("--show", action="store_true", required=True, help="print the settings")
    p.add_argument("--config", metavar="FILE", help="a settings file to resolve against the defaults")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import yaml

    from ..config import default_config_text, dump_config, load_config

    if args.config is None:
        print(default_config_text(), end="")
    else:
        print(yaml.safe_dump(dump_config(load_config(args.config)), sort_keys=False), end="")
    return 0
