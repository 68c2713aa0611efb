"""The analysis of trials and the maximal frown on simulated studies with known truth: the
manipulation check and the unblinding AUC, specificity, sensitivity to confounding, the
trial-level mixed model and the time courses."""

from __future__ import annotations

import numpy as np
import pytest

from facefeedback.analysis.analyze import analyze_data
from facefeedback.analysis.data import prepare
from facefeedback.analysis.sensitivity import acme_at, sensitivity_curve
from facefeedback.analysis.settings import AnalysisSettings
from facefeedback.analysis.study_features import load_study_features
from facefeedback.study.simulated import write_simulated_study
from facefeedback.synthetic.studies import SimulationSettings
from facefeedback.synthetic.trial_study import TrialEffects, capacity_truth

# a capacity change that leaves the arms overlapping, so the AUC is not at its ceiling
EFFECTS = TrialEffects(toxin_capacity=-0.3, capacity_visit_sd=0.25)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("trials")
    settings = SimulationSettings(n_per_arm=30, sessions=("baseline", "week6"), trials_per_condition=4,
                                  capacity=True, trial_effects=EFFECTS)
    truth = write_simulated_study(root, settings, seed=3)["simulation"]["truth"]
    data = prepare(load_study_features(root), "HAMD17", task="rest")
    models, _ = analyze_data(data, AnalysisSettings(n_boot=1000, n_perm=200, n_perm_predictive=5))
    return root, truth, data, models


def test_capacity_change_and_unblinding_auc_are_recovered_within_their_intervals(study):
    _, truth, data, models = study
    man = models["manipulation"]
    cap = truth["capacity"]
    assert cap == capacity_truth(EFFECTS)
    treated = man.arms[data.treated_arm]["capacity_change"]
    control = man.arms[data.control_arm]["capacity_change"]
    assert treated["ci"][0] <= cap["capacity_change_treated"] <= treated["ci"][1]
    assert control["ci"][0] <= cap["capacity_change_control"] <= control["ci"][1]
    assert man.auc_ci[0] <= cap["unblinding_auc"] <= man.auc_ci[1]
    assert 0.6 < man.auc < 0.95 and man.risk in ("moderate", "high")
    # the share losing half: ~ P(toxin_capacity + e <= -0.5) in the toxin arm
    assert man.arms[data.control_arm]["lost_half"]["share"] < man.arms[data.treated_arm]["lost_half"]["share"]


def test_task_all_leaves_the_capacity_task_out(study):
    root, _, data, _ = study
    averaged = prepare(load_study_features(root), "HAMD17", task="all")
    features = load_study_features(root).features
    week6 = features[features["session"] == "week6"]
    rest_and_faces = week6[week6["task"].isin(["rest", "faces"])].groupby("participant_id")[
        "frown_intensity_mean_change"].mean()
    got = averaged.wide.set_index("participant_id")["frown_change"]
    np.testing.assert_allclose(got.to_numpy(), rest_and_faces.reindex(got.index).to_numpy())


def test_specificity_holds_the_true_indirect_effects(study):
    _, truth, data, models = study
    spec = models["specificity"]
    assert spec.mediators == ["frown_intensity_mean", "smile_intensity_mean"]
    # frowning carries the simulated indirect effect; the smile carries none
    assert spec.frown_indirect["ci"][0] <= truth["indirect_effect"] <= spec.frown_indirect["ci"][1]
    assert spec.control_indirect["ci"][0] <= 0 <= spec.control_indirect["ci"][1]
    assert "parallel mediator" in spec.sentence


def test_trial_mixed_model_and_time_courses_see_the_simulated_responses(study):
    _, truth, data, models = study
    trial = models["trial_mixed"]
    rows = {r["term"]: r for r in trial.rows()}
    # neutral trials respond less than negative ones; the toxin shrinks the response at follow-up
    assert rows["condition[T.neutral]"]["ci_high"] < 0
    assert rows["session[T.week6]:arm[botox]"]["ci_high"] < 0
    courses = models["time_courses"]
    t = np.asarray(courses.time_s)
    assert t[0] == pytest.approx(-1.0) and t[-1] == pytest.approx(1.5)
    placebo = next(c for c in courses.curves if c["arm"] == "placebo" and c["session"] == "baseline"
                   and c["trial_type"] == "negative")
    peak = int(np.nanargmax(placebo["mean"]))
    assert t[peak] == pytest.approx(truth["trials"]["latency_s"], abs=0.1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sensitivity_at_the_true_confounding_recovers_the_true_indirect_effect(seed):
    """Mediator and outcome errors correlated at a known rho: the unadjusted indirect effect is
    biased; the one read off the curve at the true rho is the true a * b."""
    rng = np.random.default_rng(seed)
    n, a, b, c, rho = 20000, -0.5, 2.0, 1.0, 0.4
    t = np.repeat([1.0, 0.0], n // 2)
    cov = rng.normal(0, 1, n)
    e = rng.multivariate_normal([0, 0], [[1, rho * 1.5], [rho * 1.5, 2.25]], n)
    m = a * t + 0.3 * cov + e[:, 0]
    y = b * m + c * t - 0.5 * cov + e[:, 1]
    x = np.column_stack([np.ones(n), t, cov])
    grid = np.array([0.0, rho])
    curve, rho_zero = sensitivity_curve(x, m, y, grid)
    assert abs(curve[0] - a * b) > 0.2  # the naive estimate carries the confounding (a rho sd3 / sd2 = -0.3)
    assert curve[1] == pytest.approx(a * b, abs=0.06)
    assert float(acme_at(rho_zero, a, 1.0, 1.0, rho_zero)) == pytest.approx(0.0, abs=1e-12)
