"""``facefeedback analyze``: models of change in frowning vs change in mood, and the report."""

from __future__ import annotations

import argparse
import logging

from . import add_force_option, seed_number

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "analyze", help="test whether less frowning goes with better mood; write the report",
        description="Fit the primary, arm, mediation, responder, predictive and (with more than "
                    "two sessions) mixed models on a study output folder or a session-features "
                    "file; write DIR/analysis/results.json, tables/*.csv and report.html (what an "
                    "earlier analysis left there and this one does not write is removed).")
    p.add_argument("path", metavar="DIR_OR_FILE",
                   help="study output folder, or features/session_features.parquet or .csv")
    p.add_argument("--outcome", required=True, metavar="SCALE", help="mood scale, e.g. HAMD17")
    p.add_argument("--feature", default="frown_intensity_mean", metavar="NAME",
                   help="recording feature whose change measures frowning "
                        "(default frown_intensity_mean)")
    p.add_argument("--control-feature", default=None, metavar="NAME",
                   help="the control expression's feature, the second mediator of the specificity model "
                        "(default smile_intensity_mean)")
    p.add_argument("--task", metavar="NAME",
                   help="task to analyse; needed when there are several ('all' averages them)")
    p.add_argument("--session", metavar="NAME",
                   help="session compared with the reference (default: the last one)")
    p.add_argument("--treated-arm", metavar="ARM",
                   help="treated arm (default: the arm named like botox/toxin/treatment)")
    p.add_argument("--control-arm", metavar="ARM", help="control arm (needed with 3+ arms)")
    p.add_argument("--model", choices=("ancova", "change-score"), default="ancova",
                   help="model of change: 'ancova' adjusts every model for the baseline score "
                        "and the baseline frown (Valente & MacKinnon 2017); 'change-score' for "
                        "the baseline score only, as in analyses that used change scores "
                        "(default %(default)s)")
    p.add_argument("--n-boot", type=int, default=5000, metavar="N", help="bootstrap resamples (default %(default)s)")
    p.add_argument("--n-perm", type=int, default=5000, metavar="N",
                   help="permutations of the primary test (default %(default)s)")
    p.add_argument("--n-perm-predictive", type=int, default=200, metavar="N",
                   help="permutations of the predictive model's test (default %(default)s)")
    p.add_argument("--seed", type=seed_number, default=0, help="random seed (default %(default)s)")
    p.add_argument("--out", metavar="DIR", help="output folder (default DIR/analysis)")
    p.add_argument("--no-report", action="store_true", help="results and tables only")
    add_force_option(p)
    p.set_defaults(func=run)


#: Fewer bootstrap resamples or permutations than this get a warning: fine for a quick look only.
FEWEST_REPORTED = 999


def run(args: argparse.Namespace) -> int:
    from ..analysis.analyze import AnalysisSettings, run_analysis
    from ..errors import AnalysisError
    from ..report import write_report
    from ..report.page import left_out_sentence, not_estimable_notes

    for name in ("n_boot", "n_perm", "n_perm_predictive"):
        if getattr(args, name) < 1:
            raise AnalysisError(f"--{name.replace('_', '-')} must be at least 1")
    if args.control_feature is not None and args.control_feature == args.feature:  # given so, not by default
        raise AnalysisError(f"--control-feature {args.control_feature} is the measure analysed (--feature) itself; "
                            "the control is another expression's measure, e.g. smile_intensity_mean")
    few = [f"--{name.replace('_', '-')} {getattr(args, name)}" for name in ("n_boot", "n_perm")
           if getattr(args, name) < FEWEST_REPORTED]
    if few:
        logging.getLogger(__name__).warning(
            "%s: below %d resamples the intervals and p-values move from seed to seed by more than their "
            "reported digits (the Monte Carlo standard error of a p near 0.05 is %.3f); for results to "
            "report, keep the default %d", " and ".join(few), FEWEST_REPORTED,
            (0.05 * 0.95 / min(args.n_boot, args.n_perm)) ** 0.5, 5000)
    settings = AnalysisSettings(n_boot=args.n_boot, n_perm=args.n_perm,
                                n_perm_predictive=args.n_perm_predictive, seed=args.seed,
                                model=args.model)
    res = run_analysis(args.path, args.outcome, args.feature, args.task, args.session,
                       args.treated_arm, args.control_arm, settings=settings, out_dir=args.out,
                       report=None if args.no_report else write_report, force=args.force,
                       control_feature=args.control_feature or "smile_intensity_mean")
    d, prim, med = res.data, res.primary, res.mediation
    if d["simulated"]:
        print("simulated data ('facefeedback simulate'): no participant was measured")
    lo, hi = prim.frown_slope_ci
    ilo, ihi = med.indirect["ci"]
    print(f"model: {res.model['name']}, adjusted for "
          f"{' and '.join(res.model['baseline_covariates'])}")
    print(f"{d['outcome']} change per unit of {d['feature']} change: {prim.frown_slope:.3g} "
          f"[{lo:.3g}, {hi:.3g}], permutation p = {prim.p_permutation:.3g} (n = {prim.n})")
    print(f"indirect effect of {d['treated_arm']} through {d['feature']}: "
          f"{med.indirect['estimate']:.3g} [{ilo:.3g}, {ihi:.3g}]")
    man, spec = res.models.get("manipulation"), res.models.get("specificity")
    if getattr(man, "auc", None) is not None:
        print(f"unblinding AUC (arm from the maximal frown's change): {man.auc_text} "
              f"[{man.auc_ci[0]:.2f}, {man.auc_ci[1]:.2f}], risk {man.risk}"
              + (" (complete separation)" if man.separation_complete else ""))
    trial = res.models.get("trial_mixed")
    if getattr(trial, "converged", True) is False:
        print(trial.sentence)
    if getattr(spec, "sentence", None):
        print(spec.sentence)
    for note in not_estimable_notes(res):
        print(note)
    excluded = d["excluded_participants"]
    if excluded:
        print(f"{left_out_sentence(excluded)} (tables/excluded_participants.csv):")
        for e in excluded:
            print(f"  {e['participant_id']}: {e['reason']}")
    print(f"results: {res.provenance.get('output', '')}".rstrip(": "))
    return 0
