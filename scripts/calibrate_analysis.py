"""Full-setting calibration of the primary and mediation tests on simulated studies.

    python scripts/calibrate_analysis.py [--studies 400] [--n-per-arm 40] [--jobs 2]

1. No effect: how often the primary permutation test rejects at alpha = 0.05
   (should be 3-7 %).
2. Default effects, 40 per arm: how often the mediation interval excludes 0
   (should be >= 80 %), and the mean bias of the estimates relative to the truth
   (should be within 10 %).

Prints the figures and exits non-zero when one is outside its bound.
"""

from __future__ import annotations

import argparse
import sys
import time

from statsmodels.stats.proportion import proportion_confint

from facefeedback.analysis.power import simulate_many
from facefeedback.analysis.simulate import Effects, SimulationSettings


def rate(flags) -> str:
    k, n = int(flags.sum()), len(flags)
    low, high = proportion_confint(k, n, method="wilson")
    return f"{k}/{n} = {k / n:.3f} (95 % CI {low:.3f}-{high:.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--n-per-arm", type=int, default=40)
    parser.add_argument("--n-perm", type=int, default=999)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    ok = True

    start = time.perf_counter()
    null = simulate_many(SimulationSettings(n_per_arm=args.n_per_arm,
                                            effects=Effects.parse(["none"])),
                         args.studies, args.seed, args.n_perm, 0, n_jobs=args.jobs)
    size = null["primary_rejects"].mean()
    ok &= 0.03 <= size <= 0.07
    print(f"no effect, {args.n_per_arm} per arm: primary test rejects "
          f"{rate(null['primary_rejects'])}  [bound 0.03-0.07]")

    truth = Effects()
    sims = simulate_many(SimulationSettings(n_per_arm=args.n_per_arm), args.studies,
                         args.seed + 1, args.n_perm, args.n_boot, n_jobs=args.jobs)
    power = sims["mediation_rejects"].mean()
    ok &= power >= 0.80
    print(f"default effects, {args.n_per_arm} per arm: mediation interval excludes 0 in "
          f"{rate(sims['mediation_rejects'])}  [bound >= 0.80]")
    print(f"  primary test rejects {rate(sims['primary_rejects'])}")
    for column, true in (("indirect", truth.mediated), ("direct", truth.direct),
                         ("slope", truth.slope), ("a", truth.frown)):
        mean = sims[column].mean()
        rel = (mean - true) / abs(true)
        ok &= abs(rel) <= 0.10
        print(f"  {column:<9} true {true:8.3f}  mean estimate {mean:8.3f}  "
              f"bias {100 * rel:+5.1f} %  [bound +-10 %]")
    print(f"{args.studies} studies per setting, {args.n_perm} permutations, {args.n_boot} "
          f"bootstrap resamples, seed {args.seed}: {time.perf_counter() - start:.0f} s")
    print("calibration " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
