"""Full-setting calibration of the primary and mediation tests on simulated studies.

    python scripts/calibrate_analysis.py [--studies 400] [--n-per-arm 40] [--jobs 2]
        [--generative change levels] [--frown-scale additive|proportional]
        [--model ancova|change-score] [--effect NAME=VALUE ...] [--seed 2024] [--save DIR]
        [--mixed] [--n-perm 999] [--n-boot 1000]

For each generative model (``facefeedback simulate --model change|levels``):

1. No effect: how often the primary permutation test rejects at alpha = 0.05
   (should be 3-7 %).
2. The effects (default: the simulator's defaults): the mean of the frown slope,
   the path ``a``, the indirect and the direct effect against the truth (each
   within 10 %), how often their 95 % intervals hold the truth (93-97 %), and,
   with the default effects and the additive frown scale, how often the
   mediation interval excludes 0 (at least 80 %).
3. With ``--mixed``, the repeated-visits mixed model of the same studies (three visits): how
   often its frown test rejects with no effect (3-7 %), and its frown coefficient's mean and
   Wald interval coverage against the truth (``mixed_slope``, the same bounds). ``--n-boot 0``
   leaves out the bootstrap and with it the mediation figures (a check of the mixed model alone).

The studies without an effect have seeds from ``--seed``, those with effects
from ``--seed + 1`` (:func:`facefeedback.analysis.power.simulate_many`). Prints
one table per generative model (mean and SD of each estimate across studies,
bias, coverage, intervals wholly below or above the truth, estimates of the
wrong sign) and exits non-zero when a figure is outside its bound.
``--model change-score`` runs the same checks on the change-score analysis, to
show where it fails. ``--save DIR`` writes every study's estimates and intervals
to ``DIR/<generative>_<model>_<none|effects>.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from facefeedback.analysis.power import calibration_table, simulate_many
from facefeedback.analysis.responders import rate_with_interval
from facefeedback.files import write_table
from facefeedback.synthetic.studies import (
    FROWN_SCALES,
    GENERATIVE_MODELS,
    Effects,
    SimulationSettings,
)

SIZE_BOUNDS = (0.03, 0.07)
BIAS_BOUND_PCT = 10.0
COVERAGE_BOUNDS = (0.93, 0.97)
POWER_BOUND = 0.80  # of the mediation test, with the default effects and 40 per arm


def rate(flags) -> str:
    k, n = int(flags.sum()), len(flags)
    r = rate_with_interval(k, n)
    return f"{k}/{n} = {r['rate']:.3f} (95 % CI {r['ci'][0]:.3f}-{r['ci'][1]:.3f})"


def calibrate(generative: str, args, effects: Effects) -> bool:
    """Both checks for one generative model; prints its table, returns whether it passed."""
    ok = True
    print(f"== generative model: {generative} ({args.frown_scale} frowning); analysis model: {args.model}; "
          f"{args.n_per_arm} per arm, {args.studies} studies")
    null = simulate_many(SimulationSettings(n_per_arm=args.n_per_arm, model=generative,
                                            effects=Effects.parse(["none"]), frown_scale=args.frown_scale),
                         args.studies, args.seed, args.n_perm, 0, n_jobs=args.jobs,
                         model=args.model, mixed=args.mixed)
    save(null, args, generative, "none")
    for test, column in (("primary", "primary_rejects"), ("mixed model's frown", "mixed_rejects")):
        if column in null:
            size = null[column].mean()
            ok &= SIZE_BOUNDS[0] <= size <= SIZE_BOUNDS[1]
            print(f"no effect: {test} test rejects {rate(null[column])}  "
                  f"[bound {SIZE_BOUNDS[0]:.2f}-{SIZE_BOUNDS[1]:.2f}]")
    sims = simulate_many(SimulationSettings(n_per_arm=args.n_per_arm, model=generative,
                                            effects=effects, frown_scale=args.frown_scale),
                         args.studies, args.seed + 1, args.n_perm, args.n_boot, n_jobs=args.jobs,
                         model=args.model, mixed=args.mixed)
    save(sims, args, generative, "effects")
    print(f"effects {effects}: primary test rejects {rate(sims['primary_rejects'])}"
          + (f"; mixed model's frown test rejects {rate(sims['mixed_rejects'])}" if args.mixed else ""))
    if "mediation_rejects" in sims:
        power = sims["mediation_rejects"].mean()
        # The power bound is that of the defaults; proportional frowning has less power at the same effects
        bounded = effects == Effects() and args.frown_scale == "additive"
        if bounded:
            ok &= power >= POWER_BOUND
        print(f"  mediation interval excludes 0 in {rate(sims['mediation_rejects'])}"
              + (f"  [bound >= {POWER_BOUND:.2f}]" if bounded else ""))
    table = calibration_table(sims, effects)
    print(f"  {'estimate':<11} {'truth':>8} {'mean':>8} {'sd':>7} {'bias':>7}   "
          f"{'95 % interval coverage':<36} {'below':>6} {'above':>6} {'wrong sign':>10}")
    for r in table.itertuples():
        bias_ok = abs(r.bias_pct) <= BIAS_BOUND_PCT
        cover_ok = COVERAGE_BOUNDS[0] <= r.coverage <= COVERAGE_BOUNDS[1]
        ok &= bias_ok and cover_ok
        coverage = (f"{r.covered}/{r.studies} = {r.coverage:.3f} "
                    f"({r.coverage_low:.3f}-{r.coverage_high:.3f})")
        print(f"  {r.estimate:<11} {r.truth:8.3f} {r.mean:8.3f} {r.sd:7.3f} {r.bias_pct:+6.1f}%"
              f"{'' if bias_ok else '!'}  {coverage:<36}{'' if cover_ok else '!'}"
              f" {r.below:6.3f} {r.above:6.3f} {r.wrong_sign:10.3f}")
    print(f"  [bounds: bias within +-{BIAS_BOUND_PCT:g} %, coverage "
          f"{COVERAGE_BOUNDS[0]:.2f}-{COVERAGE_BOUNDS[1]:.2f}; below/above: share of intervals "
          "wholly below/above the truth; wrong sign: share of estimates of the opposite sign]")
    return ok


def save(sims, args, generative: str, setting: str) -> None:
    """Every study's figures, when ``--save`` asks for them."""
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        scale = "" if args.frown_scale == "additive" else f"_{args.frown_scale}"
        write_table(sims, args.save / f"{generative}{scale}_{args.model}_{setting}.csv")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--n-per-arm", type=int, default=40)
    parser.add_argument("--n-perm", type=int, default=999)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--generative", nargs="+", choices=GENERATIVE_MODELS,
                        default=list(GENERATIVE_MODELS))
    parser.add_argument("--frown-scale", choices=FROWN_SCALES, default="additive",
                        help="how frowning varies, as in 'facefeedback simulate' (default additive)")
    parser.add_argument("--model", choices=("ancova", "change-score"), default="ancova",
                        help="analysis model (default ancova)")
    parser.add_argument("--effect", nargs="+", metavar="NAME=VALUE",
                        help="effects as in 'facefeedback simulate' (default: its defaults)")
    parser.add_argument("--mixed", action="store_true",
                        help="also fit the repeated-visits mixed model of each study and check it")
    parser.add_argument("--save", type=Path, metavar="DIR",
                        help="write every study's estimates and intervals as CSV to DIR")
    args = parser.parse_args()
    effects = Effects.parse(args.effect)
    start = time.perf_counter()
    ok = True
    for generative in args.generative:
        ok &= calibrate(generative, args, effects)
    print(f"{args.n_perm} permutations, {args.n_boot} bootstrap resamples, seeds {args.seed} "
          f"(no effect) and {args.seed + 1} (effects), "
          f"{args.jobs} processes: {time.perf_counter() - start:.0f} s")
    print("calibration " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
