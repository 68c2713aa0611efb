"""Coverage of the manipulation check's intervals and of the unblinding AUC's, the specificity
model under baseline imbalance, and the sensitivity analysis at the true confounding, on studies
drawn from the simulator's generative models.

    python scripts/calibrate_blinding.py [--studies 200] [--n-per-arm 40] [--n-boot 1000] [--seed 7]

1. Maximal frown (the generative model of :mod:`facefeedback.synthetic.trial_study`, capacity
   change of -30 % with visit sd 25 %, so the arms overlap): how often the 95 % intervals of each
   arm's mean capacity change and of the unblinding AUC hold the truth (the AUC's by Monte Carlo,
   :func:`facefeedback.synthetic.trial_study.capacity_truth`). Then near the ceiling (capacity
   change of -60 % with visit sd 15 %, true AUC 0.996) with 4 and 8 participants per arm, as in
   the demo study: how often the arms separate completely and how often the AUC's interval holds
   the truth. Then with no effect on the muscle (true AUC 0.5), with ``--n-per-arm`` and with 10
   per arm; and for each setting the share of studies whose risk reads low, moderate and high.
2. Specificity (:mod:`facefeedback.synthetic.mediators`: the treated arm starts higher on both
   mediators, changes regress towards the mean): the mean indirect effects through frowning and
   through the smile against the truth, with the shipped model (each mediator's baseline a
   covariate) and without the smile's baseline, and how often the intervals hold the truth.
3. Sensitivity: mediator and outcome errors correlated at rho = 0.4; the mean unadjusted indirect
   effect and the mean indirect effect read at the true rho, against the true a * b.

Draws the values directly (the measurement of the maximal frown is checked separately in
tests/test_trials_extract.py), so a study takes milliseconds.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from facefeedback.analysis.blinding import manipulation_model
from facefeedback.analysis.data import AnalysisData
from facefeedback.analysis.sensitivity import sensitivity_curve
from facefeedback.analysis.specificity import indirect_effects, specificity_model
from facefeedback.synthetic.mediators import TwoMediators, two_mediator_table
from facefeedback.synthetic.trial_study import TrialEffects, capacity_draws, capacity_truth


def study_data(capacity: pd.DataFrame | None = None, wide: pd.DataFrame | None = None) -> AnalysisData:
    """The analysis data of a drawn study: its maximal frown or its per-participant table."""
    return AnalysisData(wide=pd.DataFrame() if wide is None else wide, long=pd.DataFrame(), outcome="HAMD17",
                        feature="frown_intensity_mean", task="rest", session="week6", reference_session="baseline",
                        sessions=["baseline", "week6"], treated_arm="botox", control_arm="placebo",
                        control_feature=None if wide is None else "smile_intensity_mean", capacity=capacity)


def capacity_coverage(eff: TrialEffects, n: int, studies: int, n_boot: int, rng: np.random.Generator) -> None:
    truth = capacity_truth(eff)
    held = {"treated change": 0, "control change": 0, "AUC": 0, "AUC (bootstrap alone)": 0,
            "AUC (score-type alone)": 0}
    aucs, separated, lows, risks = [], 0, [], []
    for k in range(studies):
        man = manipulation_model(study_data(capacity_draws(eff, n, rng)), n_boot, rng)
        t, c = man.arms["botox"]["capacity_change"]["ci"], man.arms["placebo"]["capacity_change"]["ci"]
        held["treated change"] += t[0] <= truth["capacity_change_treated"] <= t[1]
        held["control change"] += c[0] <= 0.0 <= c[1]
        held["AUC"] += man.auc_ci[0] <= truth["unblinding_auc"] <= man.auc_ci[1]
        for part in ("bootstrap", "score"):
            low, high = man.auc_ci_parts[part]
            held[f"AUC ({part}{'-type' if part == 'score' else ''} alone)"] += low <= truth["unblinding_auc"] <= high
        aucs.append(man.auc)
        separated += man.separation_complete
        lows.append(man.auc_ci[0])
        risks.append(man.risk)
    print(f"maximal frown, change {100 * eff.toxin_capacity:.0f} % (visit sd {100 * eff.capacity_visit_sd:.0f} %), "
          f"{studies} studies of {n} per arm, true AUC {truth['unblinding_auc']:.3f}, mean estimated AUC "
          f"{np.mean(aucs):.3f}, complete separation in {100 * separated / studies:.1f} %, mean lower bound "
          f"{np.mean(lows):.3f}")
    for name, k in held.items():
        print(f"  95 % interval of the {name} holds the truth in {100 * k / studies:.1f} %")
    print("  risk: " + ", ".join(f"{band} {100 * risks.count(band) / studies:.1f} %"
                                 for band in ("low", "moderate", "high")))


def specificity_bias(n: int, studies: int, n_boot: int, rng: np.random.Generator) -> None:
    eff = TwoMediators()
    shipped, ignored, held = [], [], np.zeros(2)
    for _ in range(studies):
        wide = two_mediator_table(eff, n, rng)
        spec = specificity_model(study_data(wide=wide), n_boot, rng)
        shipped.append([spec.frown_indirect["estimate"], spec.control_indirect["estimate"]])
        held += [spec.frown_indirect["ci"][0] <= eff.frown_indirect <= spec.frown_indirect["ci"][1],
                 spec.control_indirect["ci"][0] <= eff.control_indirect <= spec.control_indirect["ci"][1]]
        # the same models without the smile's baseline (the earlier specificity model)
        x = wide[["treated", "baseline", "frown_baseline"]].to_numpy(float)
        x = np.column_stack([np.ones(len(x)), x])
        m1, m2, y = (wide[c].to_numpy(float)[None] for c in ("frown_change", "control_change", "mood_change"))
        ignored.append(indirect_effects(x[None], m1, m2, y)[0])
    shipped, ignored = np.array(shipped), np.array(ignored)
    se = shipped.std(axis=0, ddof=1) / np.sqrt(studies)
    print(f"specificity, {studies} studies of {n} per arm, treated arm starting {eff.imbalance_f} FU higher on the "
          f"frown and {eff.imbalance_c} SU on the smile: true indirect effects {eff.frown_indirect:.3f} (frowning) "
          f"and {eff.control_indirect:.3f} (smile)")
    print(f"  each mediator's baseline adjusted: mean {shipped[:, 0].mean():.3f} (MC se {se[0]:.3f}) and "
          f"{shipped[:, 1].mean():.3f} (MC se {se[1]:.3f}); 95 % intervals hold the truth in "
          f"{100 * held[0] / studies:.1f} % and {100 * held[1] / studies:.1f} %")
    print(f"  without the smile's baseline: mean {ignored[:, 0].mean():.3f} and {ignored[:, 1].mean():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--n-per-arm", type=int, default=40)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    capacity_coverage(TrialEffects(toxin_capacity=-0.3, capacity_visit_sd=0.25), args.n_per_arm, args.studies, args.n_boot, rng)
    for n in (4, 8):
        capacity_coverage(TrialEffects(toxin_capacity=-0.6, capacity_visit_sd=0.15), n, args.studies, args.n_boot, rng)
    for n in (args.n_per_arm, 10):  # no effect on the muscle: the true AUC is 0.5
        capacity_coverage(TrialEffects(toxin_capacity=0.0, capacity_visit_sd=0.25), n, args.studies, args.n_boot, rng)
    specificity_bias(args.n_per_arm, args.studies, args.n_boot, rng)
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
