"""Time a full analysis of a simulated study (default: 200 participants, 5000 resamples, a trial task
with 20 negative and 20 neutral trials per recording and a maximal-frown task).

    python scripts/bench_analysis.py [--n-per-arm 100] [--n-boot 5000] [--trials-per-condition 20] [--no-report]

Prints the wall time of each model and in total; the budget is 60 s on two cores (simulating the
study is not timed).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from facefeedback.analysis.analyze import AnalysisSettings, run_analysis
from facefeedback.report import write_report
from facefeedback.study.simulated import write_simulated_study
from facefeedback.synthetic.studies import SimulationSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-arm", type=int, default=100)
    parser.add_argument("--n-boot", type=int, default=5000)
    parser.add_argument("--n-perm", type=int, default=5000)
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials-per-condition", type=int, default=20,
                        help="trials of each of 2 conditions per trial recording (0: no trial task)")
    parser.add_argument("--no-capacity", action="store_true", help="no maximal-frown task")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_simulated_study(tmp, SimulationSettings(n_per_arm=args.n_per_arm,
                                                      trials_per_condition=args.trials_per_condition,
                                                      capacity=not args.no_capacity), args.seed)
        start = time.perf_counter()
        res = run_analysis(tmp, "HAMD17", task="rest", settings=AnalysisSettings(
            n_boot=args.n_boot, n_perm=args.n_perm, seed=args.seed), report=None if args.no_report else write_report)
        total = time.perf_counter() - start
    print(f"participants: {2 * args.n_per_arm}, bootstrap resamples: {args.n_boot}, "
          f"permutations: {args.n_perm}, trials per condition: {args.trials_per_condition}")
    for name, seconds in res.timings_s.items():
        print(f"  {name:<11} {seconds:6.2f} s")
    print(f"models {res.analysis_time_s:.2f} s; total with loading, tables"
          f"{'' if args.no_report else ' and report'}: {total:.2f} s (budget 60 s)")


if __name__ == "__main__":
    main()
