"""Coverage of the manipulation check's intervals and of the unblinding AUC's, and the sensitivity
analysis at the true confounding, on studies drawn from the simulator's generative models.

    python scripts/calibrate_blinding.py [--studies 200] [--n-per-arm 40] [--n-boot 1000] [--seed 7]

1. Maximal frown (the generative model of :mod:`facefeedback.synthetic.trial_study`, capacity
   change of -30 % with visit sd 25 %, so the arms overlap): how often the 95 % intervals of each
   arm's mean capacity change and of the unblinding AUC hold the truth (the AUC's by Monte Carlo,
   :func:`facefeedback.synthetic.trial_study.capacity_truth`).
2. Sensitivity: mediator and outcome errors correlated at rho = 0.4; the mean unadjusted indirect
   effect and the mean indirect effect read at the true rho, against the true a * b.

Draws the capacity values directly (the measurement of the maximal frown is checked separately in
tests/test_trials_extract.py), so a study takes milliseconds.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from facefeedback.analysis.blinding import manipulation_model
from facefeedback.analysis.data import AnalysisData
from facefeedback.analysis.sensitivity import sensitivity_curve
from facefeedback.synthetic.trial_study import TrialEffects, capacity_truth


def capacity_study(eff: TrialEffects, n: int, rng: np.random.Generator) -> AnalysisData:
    treated = np.repeat([1, 0], n)
    c0 = rng.normal(eff.capacity_fu, eff.capacity_sd, 2 * n)
    follow = c0 * (1 + eff.toxin_capacity * treated + rng.normal(0, eff.capacity_visit_sd, 2 * n))
    cap = pd.DataFrame({"participant_id": [f"p{i}" for i in range(2 * n)],
                        "arm": np.where(treated == 1, "botox", "placebo"), "treated": treated,
                        "capacity_baseline": c0, "capacity_followup": follow})
    cap["capacity_change"] = follow - c0
    cap["capacity_pct"] = 100 * follow / c0
    cap["lost_half"] = cap["capacity_pct"] <= 50
    return AnalysisData(wide=pd.DataFrame(), long=pd.DataFrame(), outcome="HAMD17", feature="frown_intensity_mean",
                        task="rest", session="week6", reference_session="baseline", sessions=["baseline", "week6"],
                        treated_arm="botox", control_arm="placebo", capacity=cap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--n-per-arm", type=int, default=40)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    eff = TrialEffects(toxin_capacity=-0.3, capacity_visit_sd=0.25)
    truth = capacity_truth(eff)
    rng = np.random.default_rng(args.seed)
    held = {"treated change": 0, "control change": 0, "AUC": 0}
    aucs = []
    for k in range(args.studies):
        man = manipulation_model(capacity_study(eff, args.n_per_arm, rng), args.n_boot, rng, seed=k)
        t, c = man.arms["botox"]["capacity_change"]["ci"], man.arms["placebo"]["capacity_change"]["ci"]
        held["treated change"] += t[0] <= truth["capacity_change_treated"] <= t[1]
        held["control change"] += c[0] <= 0.0 <= c[1]
        held["AUC"] += man.auc_ci[0] <= truth["unblinding_auc"] <= man.auc_ci[1]
        aucs.append(man.auc)
    print(f"maximal frown, {args.studies} studies of {args.n_per_arm} per arm, true AUC "
          f"{truth['unblinding_auc']:.3f}, mean estimated AUC {np.mean(aucs):.3f}")
    for name, k in held.items():
        print(f"  95 % interval of the {name} holds the truth in {100 * k / args.studies:.1f} %")
    a, b, rho, naive, adjusted = -0.5, 2.0, 0.4, [], []
    for _ in range(args.studies):
        n = 2 * args.n_per_arm
        t = np.repeat([1.0, 0.0], args.n_per_arm)
        e = rng.multivariate_normal([0, 0], [[1, rho * 1.5], [rho * 1.5, 2.25]], n)
        m = a * t + e[:, 0]
        y = b * m + t + e[:, 1]
        curve, _ = sensitivity_curve(np.column_stack([np.ones(n), t]), m, y, np.array([0.0, rho]))
        naive.append(curve[0])
        adjusted.append(curve[1])
    print(f"sensitivity, rho = {rho}: true indirect {a * b:.3f}, unadjusted mean {np.mean(naive):.3f}, "
          f"adjusted at the true rho mean {np.mean(adjusted):.3f} (sd {np.std(adjusted):.3f})")


if __name__ == "__main__":
    main()
