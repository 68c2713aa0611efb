"""Time a full analysis of a simulated study (default: 200 participants, 5000 resamples).

    python scripts/bench_analysis.py [--n-per-arm 100] [--n-boot 5000] [--report]

Prints the wall time of each model and in total; the budget is 30 s on two cores.
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_simulated_study(tmp, SimulationSettings(n_per_arm=args.n_per_arm), args.seed)
        start = time.perf_counter()
        res = run_analysis(tmp, "HAMD17", settings=AnalysisSettings(
            n_boot=args.n_boot, n_perm=args.n_perm, seed=args.seed), report=None if args.no_report else write_report)
        total = time.perf_counter() - start
    print(f"participants: {2 * args.n_per_arm}, bootstrap resamples: {args.n_boot}, "
          f"permutations: {args.n_perm}")
    for name, seconds in res.timings_s.items():
        print(f"  {name:<11} {seconds:6.2f} s")
    print(f"models {res.analysis_time_s:.2f} s; total with loading, tables"
          f"{'' if args.no_report else ' and report'}: {total:.2f} s (budget 30 s)")


if __name__ == "__main__":
    main()
