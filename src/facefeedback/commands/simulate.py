"""``facefeedback simulate``: a study with known truth, in the study pipeline's layout."""

from __future__ import annotations

import argparse

from . import add_force_option, finite_number, seed_number


def add_effect_option(p: argparse.ArgumentParser) -> None:
    """``--effect NAME=VALUE ...``, shared with ``facefeedback power``."""
    p.add_argument(
        "--effect", nargs="+", metavar="NAME=VALUE",
        help="effects at the last visit: frown=FU (toxin effect on frown_intensity_mean, "
             "default -0.25), direct=POINTS (HAM-D effect not through frowning, default -3.5), "
             "mediated=POINTS (HAM-D effect through frowning, default -6.25), "
             "placebo=POINTS (change in both arms, default -2.25); 'none' for no effect")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model change|levels`` and the levels model's settings, shared with ``power``."""
    p.add_argument(
        "--model", choices=("change", "levels"), default="change",
        help="generative model: 'change' (mood change follows the change in frowning; default) "
             "or 'levels' (follow-up mood follows the follow-up frown level and the baseline "
             "frown; frowning regresses to the mean); equations in docs/analysis.md")
    p.add_argument("--frown-stability", type=finite_number, default=None, metavar="RHO",
                   help="levels model: slope of the follow-up frown level on the baseline frown "
                        "(default 0.5)")
    p.add_argument("--frown-baseline-effect", type=finite_number, default=None, metavar="POINTS",
                   help="levels model: HAM-D points at follow-up per frown unit of baseline "
                        "frown, at a given follow-up frown (default 15)")
    p.add_argument("--frown-scale", choices=("additive", "proportional"), default="additive",
                   help="how frowning varies: 'additive' (normal parts, the same toxin effect for "
                        "everyone; a level can fall below 0, which no recording gives; default) or "
                        "'proportional' (log-normal levels, the toxin leaves the same share of each "
                        "participant's frowning, so who frowns little loses little); the same true "
                        "effects either way")


def model_settings(args: argparse.Namespace) -> dict:
    """The :class:`SimulationSettings` fields set by :func:`add_model_options` (the levels model's
    own options are refused with the change model, which would leave them unused)."""
    from ..errors import AnalysisError

    given = [name for name in ("frown_stability", "frown_baseline_effect") if getattr(args, name) is not None]
    if given and args.model != "levels":
        raise AnalysisError(f"{', '.join('--' + n.replace('_', '-') for n in given)}: only the levels model "
                            "(--model levels) uses it")
    levels = {name: getattr(args, name) for name in given}
    return {"model": args.model, "frown_scale": args.frown_scale, **levels}


def warn_below_zero(settings) -> None:
    """Say on stderr when the additive scale puts toxin follow-up frown levels below 0 (more than 1 %)."""
    import sys

    share = settings.share_below_zero()
    if share > 0.01:
        print(f"warning: with these settings {100 * share:.0f} % of the toxin arm's follow-up frown levels are below 0, "
              "which no recording gives; --frown-scale proportional keeps them above 0 (docs/analysis.md)",
              file=sys.stderr)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "simulate", help="write a simulated study with known effects",
        description="Simulate baseline scores, placebo response, the toxin effect on frowning "
                    "and a direct and a frown-mediated effect on mood, from the change or the "
                    "levels model; write session features, study.json and per-recording frames "
                    "as 'facefeedback run' does. A folder holding a measured study is refused; "
                    "a simulated one is replaced.")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--n-per-arm", type=int, default=40, metavar="N",
                   help="participants per arm (default 40)")
    add_effect_option(p)
    add_model_options(p)
    p.add_argument("--sessions", nargs="+", default=["baseline", "week3", "week6"],
                   metavar="NAME", help="visits, reference first (default baseline week3 week6)")
    p.add_argument("--arms", nargs=2, default=["botox", "placebo"], metavar=("TREATED", "CONTROL"),
                   help="arm names (default botox placebo)")
    p.add_argument("--trials-per-condition", type=int, default=0, metavar="N",
                   help="add a 'faces' task with N negative and N neutral trials per recording, with known "
                        "response amplitudes and latency (default 0: none; analyse with --task rest)")
    p.add_argument("--capacity", action="store_true",
                   help="add a 'max_frown' capacity task with a known toxin effect on the maximal frown "
                        "(the manipulation check and the unblinding AUC)")
    p.add_argument("--seed", type=seed_number, default=0, help="random seed (default 0)")
    add_force_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import AnalysisError
    from ..schema import MIN_PER_ARM
    from ..study.simulated import write_simulated_study
    from ..synthetic.studies import Effects, SimulationSettings

    if args.n_per_arm < MIN_PER_ARM:  # a study the analysis would refuse
        raise AnalysisError(f"--n-per-arm: at least {MIN_PER_ARM} per arm, as 'facefeedback analyze' needs, "
                            f"got {args.n_per_arm}")
    settings = SimulationSettings(n_per_arm=args.n_per_arm, effects=Effects.parse(args.effect),
                                  sessions=tuple(args.sessions), arms=tuple(args.arms),
                                  trials_per_condition=args.trials_per_condition, capacity=args.capacity,
                                  **model_settings(args))
    study = write_simulated_study(args.out, settings, args.seed, args.force)
    warn_below_zero(settings)
    truth = study["simulation"]["truth"]
    print(f"simulated {2 * args.n_per_arm} participants x {len(args.sessions)} sessions in "
          f"{args.out} ({args.model} model, {args.frown_scale} frowning); true frown slope {truth['frown_slope']:g}, "
          f"indirect effect {truth['indirect_effect']:g}, direct {truth['direct_effect']:g} "
          f"{truth['outcome']} points")
    if "capacity" in truth:
        cap = truth["capacity"]
        print(f"maximal frown: true change {cap['capacity_change_treated']:g} FU with toxin, "
              f"{cap['capacity_change_control']:g} with placebo; true unblinding AUC {cap['unblinding_auc']:.3f}")
    return 0
