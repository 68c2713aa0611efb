"""``facefeedback power``: Monte Carlo power of the primary and mediation tests."""

from __future__ import annotations

import argparse

from ..schema import MIN_PER_ARM
from . import add_force_option, finite_number, seed_number
from .simulate import add_effect_option, add_model_options, model_settings, warn_below_zero


def add_parser(sub) -> None:
    p = sub.add_parser(
        "power", help="Monte Carlo power for several study sizes",
        description="Simulate studies of each size (participants per arm) from a generative "
                    "model of 'facefeedback simulate' (--model change or levels) and report how "
                    "often the primary permutation test and the mediation bootstrap interval "
                    "of the default (ANCOVA) analysis reject.")
    p.add_argument("--n", nargs="+", type=int, required=True, metavar="N",
                   help="participants per arm, e.g. --n 20 30 50 80")
    add_effect_option(p)
    add_model_options(p)
    p.add_argument("--sims", type=int, default=200, metavar="K",
                   help="simulated studies per size (default 200)")
    p.add_argument("--n-perm", type=int, default=999, metavar="N",
                   help="permutations of the primary test per study (default 999)")
    p.add_argument("--n-boot", type=int, default=500, metavar="N",
                   help="bootstrap resamples of the mediation test per study (default 500)")
    p.add_argument("--alpha", type=finite_number, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--seed", type=seed_number, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, metavar="J", help="worker processes")
    p.add_argument("--out", metavar="DIR", default="power",
                   help="folder for power.csv, power.json, power.png and power.svg (default ./power)")
    add_force_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..analysis.power import (
        POWER,
        POWER_FILES,
        describe_settings,
        plot_power,
        power_record,
        power_table,
    )
    from ..errors import AnalysisError
    from ..files import write_json
    from ..output_folders import plan_output, writing
    from ..synthetic.studies import Effects, SimulationSettings

    if min(args.n) < MIN_PER_ARM:
        raise AnalysisError(f"--n: every size must be at least {MIN_PER_ARM} per arm, got {min(args.n)}")
    repeated = sorted({n for n in args.n if args.n.count(n) > 1})
    if repeated:  # each would be simulated again and written as a second row of power.csv
        raise AnalysisError(f"--n: {', '.join(map(str, repeated))} given more than once")
    if args.sims < 1 or args.n_perm < 1 or args.n_boot < 1:
        raise AnalysisError("--sims, --n-perm and --n-boot must be at least 1")
    if not 0 < args.alpha < 1:
        raise AnalysisError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if 1 / (args.n_perm + 1) >= args.alpha:  # the permutation p-value is at least 1 / (permutations + 1)
        raise AnalysisError(f"--n-perm {args.n_perm}: the smallest permutation p-value is 1/{args.n_perm + 1}, not "
                            f"below --alpha {args.alpha:g}, so the primary test could never reject; give at least "
                            f"{int(1 / args.alpha)} permutations")
    if args.jobs < 1:
        raise AnalysisError(f"--jobs must be 1 or more, got {args.jobs}")
    settings = SimulationSettings(effects=Effects.parse(args.effect), **model_settings(args))
    plan = plan_output(args.out, POWER, POWER_FILES, args.force)
    warn_below_zero(settings)
    table = power_table(settings, args.n, args.sims, args.seed, args.n_perm, args.n_boot,
                        args.alpha, args.jobs)
    out = Path(args.out)
    with writing(plan) as staging:
        table.to_csv(staging / "power.csv", index=False)
        write_json(staging / "power.json", power_record(settings, args.n, args.sims, args.seed, args.n_perm,
                                                        args.n_boot, args.alpha))
        plot_power(table, staging / "power", args.alpha, describe_settings(settings))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"({describe_settings(settings)})")
    print("written: " + ", ".join(str(out / name) for name in POWER_FILES))
    return 0
