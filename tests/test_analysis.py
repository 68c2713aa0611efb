"""Models, the analyze command and its messages on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from facefeedback.analysis import resample
from facefeedback.analysis.data import prepare
from facefeedback.analysis.models import compare_arms, hedges_g
from facefeedback.analysis.study_features import StudyFeatures
from facefeedback.cli import main
from facefeedback.study.simulated import write_simulated_study
from facefeedback.synthetic.studies import SimulationSettings, simulate_study

FAST = ["--n-boot", "200", "--n-perm", "199", "--n-perm-predictive", "20", "--no-report"]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    write_simulated_study(out, SimulationSettings(n_per_arm=12), seed=2)
    return out


@pytest.fixture(scope="module")
def analysed(study_dir):
    assert main(["analyze", str(study_dir), "--outcome", "HAMD17", *FAST]) == 0
    return json.loads((study_dir / "analysis" / "results.json").read_text())


def test_results_hold_every_model(analysed, study_dir):
    assert analysed["data"]["n"] == {"botox": 12, "placebo": 12}
    assert analysed["data"]["session"] == "week6"
    for key in ("primary", "arms", "mediation", "responders", "predictive", "mixed"):
        assert analysed[key], key
    prim = analysed["primary"]
    assert prim["frown_slope_ci"][0] < prim["frown_slope"] < prim["frown_slope_ci"][1]
    assert 1 / 200 <= prim["p_permutation"] <= 1
    assert analysed["predictive"]["cv"] == "leave-one-out"  # 24 participants
    # 19 frown features of 24 participants: taking the covariates out of the features as well left the
    # ridge model no degrees of freedom, no penalty, and a cross-validated R² of -6.3
    assert len(analysed["predictive"]["features"]) > 15 and analysed["predictive"]["r2"] > -1
    models = pd.read_csv(study_dir / "analysis" / "tables" / "models.csv")
    assert set(models["model"]) >= {"primary", "arms", "mediation", "response", "remission",
                                    "predictive", "mixed"}
    assert models["estimate"].notna().all()


def test_results_are_standard_json(analysed, study_dir):
    from json_helpers import strict_json

    assert strict_json(study_dir / "analysis" / "results.json") == analysed


def test_primary_estimates_are_statsmodels_ols(analysed, study_dir):
    """Both baselines are covariates of the primary and the mediation models (ANCOVA)."""
    wide = pd.read_csv(study_dir / "analysis" / "tables" / "participants.csv")
    x = sm.add_constant(wide[["frown_change", "treated", "baseline", "frown_baseline"]])
    fit = sm.OLS(wide["mood_change"], x).fit()
    estimates = [r["estimate"] for r in analysed["primary"]["rows"]]
    np.testing.assert_allclose(estimates, fit.params.to_numpy(), rtol=1e-10)
    assert [r["term"] for r in analysed["primary"]["rows"]][-2:] == [
        "HAMD17_baseline", "frown_intensity_mean_baseline"]
    med = analysed["mediation"]
    a = sm.OLS(wide["frown_change"],
               sm.add_constant(wide[["treated", "baseline", "frown_baseline"]])).fit()
    assert med["a"] == pytest.approx(a.params["treated"], rel=1e-10)
    assert med["a_ci"][0] < med["a"] < med["a_ci"][1]
    assert med["indirect"]["estimate"] == pytest.approx(a.params["treated"] * fit.params[
        "frown_change"], rel=1e-8)
    assert med["direct"]["estimate"] == pytest.approx(fit.params["treated"], rel=1e-8)
    spec = analysed["model"]
    assert spec["name"] == "ancova"
    assert spec["baseline_covariates"] == ["HAMD17_baseline", "frown_intensity_mean_baseline"]
    assert spec["formulas"]["primary"] == analysed["primary"]["formula"] == (
        "HAMD17_change ~ frown_intensity_mean_change + arm + HAMD17_baseline"
        " + frown_intensity_mean_baseline")
    assert spec["formulas"]["mediator"] == (
        "frown_intensity_mean_change ~ arm + HAMD17_baseline + frown_intensity_mean_baseline")
    assert "frown_intensity_mean_baseline" in analysed["mixed"]["formula"]
    mixed_terms = [r["term"] for r in analysed["mixed"]["rows"]]
    assert "frown_intensity_mean_baseline" in mixed_terms
    odds = analysed["responders"]["response"]["logistic"]
    assert {"HAMD17_baseline (per SD)", "frown_intensity_mean_baseline (per SD)"} <= set(odds)
    assert analysed["provenance"]["settings"]["model"] == "ancova"


def test_few_resamples_are_said_to_be_for_a_quick_look(study_dir, tmp_path, caplog):
    """--n-boot 200 and --n-perm 199 run, and say that their intervals and p-values are not for
    reporting (they were accepted silently, down to --n-boot 1); 999 and more say nothing."""
    assert main(["analyze", str(study_dir), "--outcome", "HAMD17", *FAST, "--out", str(tmp_path / "a")]) == 0
    assert "--n-boot 200 and --n-perm 199: below 999 resamples" in caplog.text
    assert "standard error of a p near 0.05 is 0.015" in caplog.text
    caplog.clear()
    enough = ["--n-boot", "999", "--n-perm", "999", "--n-perm-predictive", "20", "--no-report"]
    assert main(["analyze", str(study_dir), "--outcome", "HAMD17", *enough, "--out", str(tmp_path / "b")]) == 0
    assert "resamples" not in caplog.text


def test_change_score_model_keeps_the_old_models(study_dir, tmp_path, capsys):
    """--model change-score: the score's baseline only, as in change-score analyses."""
    assert main(["analyze", str(study_dir), "--outcome", "HAMD17", "--model", "change-score",
                 "--out", str(tmp_path), *FAST]) == 0
    assert "model: change-score" in capsys.readouterr().out
    res = json.loads((tmp_path / "results.json").read_text())
    wide = pd.read_csv(tmp_path / "tables" / "participants.csv")
    fit = sm.OLS(wide["mood_change"],
                 sm.add_constant(wide[["frown_change", "treated", "baseline"]])).fit()
    np.testing.assert_allclose([r["estimate"] for r in res["primary"]["rows"]],
                               fit.params.to_numpy(), rtol=1e-10)
    a = sm.OLS(wide["frown_change"], sm.add_constant(wide[["treated", "baseline"]])).fit()
    assert res["mediation"]["a"] == pytest.approx(a.params["treated"], rel=1e-10)
    assert res["model"]["name"] == "change-score"
    assert res["model"]["baseline_covariates"] == ["HAMD17_baseline"]
    assert res["primary"]["formula"] == (
        "HAMD17_change ~ frown_intensity_mean_change + arm + HAMD17_baseline")
    assert res["mixed"]["formula"] == (
        "HAMD17_change ~ session * arm + frown_intensity_mean_change + HAMD17_baseline + (1 | participant)")
    assert set(res["responders"]["response"]["logistic"]) == {
        "frown_intensity_mean_change (per SD)", "arm[botox]"}


def test_same_seed_same_numbers_and_csv_input(study_dir, analysed, tmp_path):
    csv = study_dir / "features" / "session_features.csv"
    assert main(["analyze", str(csv), "--outcome", "HAMD17", "--out", str(tmp_path), *FAST]) == 0
    again = json.loads((tmp_path / "results.json").read_text())
    for key in ("primary", "mediation", "arms"):
        # csv keeps 15-17 significant digits: equal up to the last bits
        got = pd.DataFrame(again[key]["rows"]).set_index("term")
        want = pd.DataFrame(analysed[key]["rows"]).set_index("term")
        pd.testing.assert_frame_equal(got, want, rtol=1e-9)


def test_vectorised_bootstrap_equals_refitting():
    rng = np.random.default_rng(0)
    n = 30
    groups = np.repeat([0, 1], n // 2)
    x = np.column_stack([np.ones(n), rng.normal(size=n), groups, rng.normal(size=n)])
    y = x @ [1.0, 2.0, -1.0, 0.5] + rng.normal(size=n)
    idx = resample.stratified_indices(groups, 5, np.random.default_rng(1), replace=True)
    assert all((groups[row] == groups).all() for row in idx)  # arm sizes kept
    stacked = resample.batched_ols(x[idx], y[idx])
    for b in range(5):
        np.testing.assert_allclose(stacked[b], sm.OLS(y[idx[b]], x[idx[b]]).fit().params)


def test_freedman_lane_permutes_within_arm_and_matches_ols_t():
    rng = np.random.default_rng(3)
    n = 40
    groups = np.repeat([0, 1], n // 2)
    x = np.column_stack([np.ones(n), rng.normal(size=n) - groups, groups, rng.normal(size=n)])
    y = x @ [0.0, 0.0, 2.0, 1.0] + rng.normal(size=n)
    t_obs, t_perm = resample.freedman_lane_t(x, y, 1, groups, 500, rng)
    assert t_obs == pytest.approx(sm.OLS(y, x).fit().tvalues[1])
    idx = resample.stratified_indices(groups, 50, rng, replace=False)
    assert all(sorted(row) == list(range(n)) and (groups[row] == groups).all() for row in idx)
    # under this null the permutation t statistics look like a t distribution
    assert abs(np.mean(t_perm)) < 0.2 and 0.8 < np.std(t_perm) < 1.25


def test_hedges_g_and_arm_comparison_against_hand_values():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([0.0, 1.0, 1.0, 2.0])
    pooled = np.sqrt((a.var(ddof=1) * 3 + b.var(ddof=1) * 3) / 6)
    expected = (1 - 3 / (4 * 8 - 9)) * (a.mean() - b.mean()) / pooled
    assert hedges_g(a, b) == pytest.approx(expected)
    res = compare_arms(np.r_[a, b], np.r_[np.ones(4), np.zeros(4)], 300, np.random.default_rng(0))
    assert res["difference"] == pytest.approx(1.5)
    assert res["hedges_g_ci"][0] < res["hedges_g"] < res["hedges_g_ci"][1]
    # P(treated > control) by hand: of the 16 pairs, 12 greater, 3 tied (counted half), 1 smaller
    pairs = [(x > y) + 0.5 * (x == y) for x in a for y in b]
    assert np.mean(pairs) == 13.5 / 16 and res["superiority"] == pytest.approx(13.5 / 16)
    assert res["mann_whitney_p"] == pytest.approx(stats.mannwhitneyu(a, b).pvalue)


def test_each_arms_row_has_the_p_value_of_its_own_estimate(study_dir, analysed):
    """Hedges' g has a bootstrap interval and no test, so no p-value; the Mann-Whitney p stands in
    its own row, beside its own estimate (it stood in g's row, beside an interval it does not go with)."""
    rows = pd.DataFrame(analysed["arms"]["rows"]).set_index("term")
    for variable in ("frown_intensity_mean_change", "HAMD17_change"):
        g = rows.loc[f"{variable}: Hedges' g"]
        assert np.isfinite(g["ci_low"]) and np.isnan(g["p_value"]) and g["test"] == ""
        mw = rows.loc[f"{variable}: P(treated > control)"]
        assert mw["test"] == "Mann-Whitney U" and np.isnan(mw["ci_low"]) and 0 <= mw["estimate"] <= 1
        side = "frown" if variable.startswith("frown") else "mood"
        assert mw["p_value"] == analysed["arms"][side]["mann_whitney_p"]
        assert mw["estimate"] == analysed["arms"][side]["superiority"]


def _features(study_dir):
    return pd.read_parquet(study_dir / "features" / "session_features.parquet")


def _run_bad(path, capsys, *extra):
    code = main(["analyze", str(path), *FAST, *extra])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_outcome_not_in_data(study_dir, capsys):
    err = _run_bad(study_dir, capsys, "--outcome", "BDI2")
    assert "'BDI2' is not in the data" in err and "HAMD17, MADRS" in err


def test_feature_that_does_not_exist(study_dir, capsys):
    err = _run_bad(study_dir, capsys, "--outcome", "HAMD17", "--feature", "frown_volume")
    assert "'frown_volume' does not exist" in err and "frown_intensity_p90" in err


def test_one_arm_only(study_dir, capsys, tmp_path):
    table = _features(study_dir)
    path = tmp_path / "one_arm.csv"
    table[table["arm"] == "botox"].to_csv(path, index=False)
    err = _run_bad(path, capsys, "--outcome", "HAMD17")
    assert "one arm only (botox)" in err


def test_fewer_than_three_per_arm(study_dir, capsys, tmp_path):
    table = _features(study_dir)
    keep = set(table.loc[table["arm"] == "placebo", "participant_id"].unique()[:2])
    path = tmp_path / "small.parquet"
    table[(table["arm"] == "botox") | table["participant_id"].isin(keep)].to_parquet(path)
    err = _run_bad(path, capsys, "--outcome", "HAMD17")
    assert "arm 'placebo' has 2 participants" in err and "at least 3" in err


def test_treated_arm_must_be_named_when_unclear(study_dir, capsys, tmp_path):
    table = _features(study_dir)
    table["arm"] = table["arm"].map({"botox": "A", "placebo": "B"})
    path = tmp_path / "ab.csv"
    table.to_csv(path, index=False)
    err = _run_bad(path, capsys, "--outcome", "HAMD17")
    assert "--treated-arm" in err and "A, B" in err
    assert main(["analyze", str(path), "--outcome", "HAMD17", "--treated-arm", "A",
                 "--out", str(tmp_path / "out"), *FAST]) == 0


def test_several_tasks_need_a_choice(study_dir, capsys, tmp_path):
    table = _features(study_dir)
    other = table.assign(task="sad_film", recording_id=table["recording_id"] + "x")
    path = tmp_path / "tasks.parquet"
    pd.concat([table, other]).to_parquet(path)
    err = _run_bad(path, capsys, "--outcome", "HAMD17")
    assert "rest, sad_film" in err and "--task all" in err
    assert main(["analyze", str(path), "--outcome", "HAMD17", "--task", "all",
                 "--out", str(tmp_path / "out"), *FAST]) == 0


def test_missing_participants_are_left_out_and_listed(study_dir):
    table = _features(study_dir)
    table.loc[(table["participant_id"] == "sub-01") & (table["session"] == "week6"),
              "HAMD17_change"] = np.nan
    study = StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None)
    data = prepare(study, "HAMD17")
    assert [e["participant_id"] for e in data.excluded] == ["sub-01"] and len(data.wide) == 23
    assert data.excluded[0]["reason"] == "no HAMD17_change at week6"


def test_the_mixed_model_keeps_the_visits_of_a_participant_who_missed_the_last(study_dir):
    """Left out of the change models for want of week 6, sub-01 still has baseline and week 3:
    the repeated-visits model uses them (every visit there is), the others' n is unchanged."""
    from facefeedback.analysis.mixed import mixed_model

    table = _features(study_dir)
    full = mixed_model(prepare(StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None),
                               "HAMD17"))
    table = table[~((table["participant_id"] == "sub-01") & (table["session"] == "week6"))]
    data = prepare(StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None), "HAMD17")
    assert len(data.wide) == 23 and "sub-01" not in set(data.wide["participant_id"])
    mixed = mixed_model(data)
    assert full.n_participants == mixed.n_participants == 24
    assert mixed.n_observations == full.n_observations - 1
    assert set(data.long.loc[data.long["participant_id"] == "sub-01", "session"]) == {"baseline", "week3"}


def test_participant_without_a_baseline_frown_is_left_out(study_dir):
    """The baseline frown is a covariate: without it a participant cannot be modelled."""
    table = _features(study_dir)
    table.loc[(table["participant_id"] == "sub-02") & (table["session"] == "baseline"),
              "frown_intensity_mean"] = np.nan
    study = StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None)
    data = prepare(study, "HAMD17")
    assert [e["participant_id"] for e in data.excluded] == ["sub-02"]
    assert data.excluded[0]["reason"] == ("no frown_intensity_mean for sub-02_baseline_rest "
                                          "(194 of 200 frames valid)")
    assert data.wide["frown_baseline"].notna().all()


def test_without_frames_simulation_has_only_the_primary_feature():
    table, signals = simulate_study(SimulationSettings(n_per_arm=3), 0, with_frames=False)
    assert signals is None and table["frown_intensity_mean"].notna().all()
    assert "frown_intensity_p90" not in table and "frown_intensity_mean_change" in table


def test_tiny_study_says_its_mediation_resamples_were_singular():
    from facefeedback.analysis.mediation import mediation_model

    table, _ = simulate_study(SimulationSettings(n_per_arm=3), 5, with_frames=False)
    study = StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None)
    med = mediation_model(prepare(study, "HAMD17"), 300, np.random.default_rng(0))
    assert med.notes and med.notes[0].startswith("mediation: ") and "had a singular design" in med.notes[0]
    big, _ = simulate_study(SimulationSettings(n_per_arm=30), 5, with_frames=False)
    study = StudyFeatures(big, ["baseline", "week3", "week6"], "baseline", source=None)
    assert mediation_model(prepare(study, "HAMD17"), 300, np.random.default_rng(0)).notes == []


def test_expanded_percentile_interval_widens_to_a_t_interval_with_residual_df():
    """Normal draws: the expanded interval's half-width is sqrt(n / (n - p)) t(n - p) SDs."""
    draws = stats.norm.ppf((np.arange(200_000) + 0.5) / 200_000)  # exact normal quantiles
    for n, p in ((80, 5), (24, 4), (400, 5)):
        low, high = resample.percentile_interval(draws, resample.expanded_level(n, p))
        expected = np.sqrt(n / (n - p)) * stats.t.ppf(0.975, n - p)
        assert high == pytest.approx(expected, rel=1e-3) and low == pytest.approx(-expected,
                                                                                 rel=1e-3)
    assert resample.percentile_interval(draws)[1] == pytest.approx(1.96, rel=1e-3)
    assert resample.expanded_level(80, 5) == pytest.approx(0.9604, abs=1e-4)
    assert resample.expanded_level(5, 5) == 0.95  # no residual df: nothing to expand by


def test_expanded_p_value_agrees_with_the_expanded_interval():
    """Whatever the draws, the expanded interval at 1 - alpha excludes 0 exactly when the p-value
    is below alpha; the plain share of draws on the far side (statsmodels' p) is smaller and did
    not (here at alpha 0.05: plain p 0.046, so it said 'significant' beside an interval holding 0)."""
    from statsmodels.stats.mediation import _pvalue

    n, p = 80, 5
    for shift in (1.80, 1.995, 2.02, 2.06, 2.5, 3.2):
        draws = stats.norm.ppf((np.arange(100_000) + 0.5) / 100_000) + shift
        plain = _pvalue(draws)
        matched = resample.expanded_p(plain, n, p)
        assert matched > plain
        for alpha in (0.01, 0.05, 0.1):
            low, high = resample.percentile_interval(draws, resample.expanded_level(n, p, 1 - alpha))
            if abs(matched - alpha) > 1e-3:  # away from the edge, where interpolation decides
                assert (low > 0) == (matched < alpha), (shift, alpha, plain, matched, low)
    assert resample.expanded_p(0.0, n, p) == 0.0 and resample.expanded_p(0.3, 5, 5) == 0.3
    draws = stats.norm.ppf((np.arange(100_000) + 0.5) / 100_000) + 1.995
    low, _ = resample.percentile_interval(draws, resample.expanded_level(n, p))
    assert _pvalue(draws) < 0.05 and low < 0 and resample.expanded_p(_pvalue(draws), n, p) > 0.05


# -- every number defined, every exclusion said ---------------------------------------------

def _modified(study_dir, tmp_path, name, change):
    """The study's session features with ``change`` applied, as a CSV file."""
    table = _features(study_dir)
    path = tmp_path / name
    change(table).to_csv(path, index=False)
    return path


def _no_mood_change(table):
    table["HAMD17"] = table.groupby("participant_id")["HAMD17"].transform("first")
    table["HAMD17_change"] = 0.0
    table["HAMD17_pct_change"] = 0.0
    return table


def test_no_change_in_mood_is_an_error_not_a_p_value(study_dir, tmp_path, capsys):
    path = _modified(study_dir, tmp_path, "flat.csv", _no_mood_change)
    out = tmp_path / "out"
    err = _run_bad(path, capsys, "--outcome", "HAMD17", "--out", str(out))
    assert "HAMD17_change does not vary" in err and "0 for all 24 participants" in err
    assert not out.exists()  # nothing half-made is left


def test_frown_change_that_does_not_vary_is_named(study_dir, tmp_path, capsys):
    def same_change(table):
        table["frown_intensity_mean_change"] = np.where(table["is_reference"], 0.0, 0.05)
        return table

    path = _modified(study_dir, tmp_path, "flat_frown.csv", same_change)
    err = _run_bad(path, capsys, "--outcome", "HAMD17", "--out", str(tmp_path / "out"))
    assert "frown_intensity_mean_change does not vary" in err


def test_frown_change_fixed_by_arm_is_named_as_collinear(study_dir, tmp_path, capsys):
    def by_arm(table):
        later = ~table["is_reference"]
        table["frown_intensity_mean_change"] = np.where(later & (table["arm"] == "botox"), -0.2, 0.0)
        return table

    path = _modified(study_dir, tmp_path, "by_arm.csv", by_arm)
    err = _run_bad(path, capsys, "--outcome", "HAMD17", "--out", str(tmp_path / "out"))
    assert "frown_intensity_mean_change and arm[botox] are collinear" in err


def test_permutation_p_refuses_a_statistic_that_is_not_a_number():
    from facefeedback.errors import NotEstimable

    with pytest.raises(NotEstimable):
        resample.permutation_p(float("nan"), np.zeros(99))
    # permuted statistics that are not numbers are not counted as less extreme
    p = resample.permutation_p(2.0, np.r_[np.full(9, np.nan), np.full(10, 3.0), np.full(10, 1.0)])
    assert p == pytest.approx(11 / 21)
    with pytest.raises(NotEstimable):
        resample.permutation_p(2.0, np.full(9, np.nan))


def test_mixed_model_is_the_primary_model_at_every_later_visit(study_dir):
    """The documented formula, fitted by hand from the session-features table: the change at
    week 3 and week 6 from each participant's baseline, the baselines as covariates, week 6 (the
    analysed session) the reference level; a participant without a baseline visit is left out."""
    import statsmodels.formula.api as smf

    from facefeedback.analysis.mixed import mixed_model

    table = _features(study_dir)
    table = table[~((table["participant_id"] == "sub-02") & (table["session"] == "baseline"))]
    data = prepare(StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None), "HAMD17")
    fitted = mixed_model(data)
    rows = table[table["task"] == data.task][["participant_id", "arm", "session", "HAMD17", "frown_intensity_mean"]]
    base = rows[rows["session"] == "baseline"].set_index("participant_id")
    later = rows[rows["session"] != "baseline"].join(base[["HAMD17", "frown_intensity_mean"]], on="participant_id",
                                                     rsuffix="_0", how="inner")
    later["dS"] = later["HAMD17"] - later["HAMD17_0"]
    later["dF"] = later["frown_intensity_mean"] - later["frown_intensity_mean_0"]
    later["botox"] = (later["arm"] == "botox").astype(int)
    by_hand = smf.mixedlm("dS ~ C(session, Treatment('week6')) * botox + dF + HAMD17_0 + frown_intensity_mean_0",
                          later, groups=later["participant_id"]).fit(reml=True)
    assert fitted.n_participants == 23 == later["participant_id"].nunique()
    assert fitted.n_observations == len(later) == 46
    estimates = {r["term"]: r["estimate"] for r in fitted.rows()}
    assert list(estimates) == ["Intercept", "session[T.week3]", "arm[botox]", "session[T.week3]:arm[botox]",
                               "frown_intensity_mean_change", "HAMD17_baseline", "frown_intensity_mean_baseline"]
    np.testing.assert_allclose(list(estimates.values()), by_hand.fe_params.to_numpy(), rtol=1e-6)


def test_mixed_model_that_cannot_be_fitted_is_marked_with_its_reason(study_dir, tmp_path):
    """No placebo participant came to week 3: the session-by-arm term is not estimable."""
    def no_placebo_week3(table):
        return table[~((table["session"] == "week3") & (table["arm"] == "placebo"))]

    path = _modified(study_dir, tmp_path, "week3.csv", no_placebo_week3)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--outcome", "HAMD17", "--out", str(out), *FAST[:-1]]) == 0
    results = json.loads((out / "results.json").read_text())
    mixed = results["mixed"]
    assert "session[T.week3]" in mixed["not_estimable"] and mixed["rows"] == []
    assert results["primary"]["rows"]  # the other models stand
    assert "Mixed model not estimable" in (out / "report.html").read_text()


def _reasons(data):
    return {e["participant_id"]: e["reason"] for e in data.excluded}


def test_every_participant_left_out_is_listed_with_the_reason(study_dir):
    table = _features(study_dir)
    at = table["session"] == "week6"
    table = table[~((table["participant_id"] == "sub-01") & at)].copy()  # no follow-up recording
    at = table["session"] == "week6"
    two = (table["participant_id"] == "sub-02") & at
    table.loc[two, ["HAMD17", "HAMD17_change", "HAMD17_pct_change"]] = np.nan  # no score
    three = (table["participant_id"] == "sub-03") & at  # a recording without a valid frame
    cols = [c for c in table.columns if c.startswith("frown_intensity")]
    table.loc[three, cols] = np.nan
    table.loc[three, "valid_fraction"] = 0.0
    four = (table["participant_id"] == "sub-04") & at  # a recording that failed
    table.loc[four, cols + ["valid_fraction", "n_frames"]] = np.nan
    failures = pd.DataFrame({"recording_id": ["sub-04_week6_rest"], "path": ["x.mp4"],
                             "error": ["x.mp4: no frame could be decoded"]})
    study = StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None,
                       failures=failures)
    data = prepare(study, "HAMD17")
    reasons = _reasons(data)
    assert sorted(reasons) == ["sub-01", "sub-02", "sub-03", "sub-04"] and len(data.wide) == 20
    assert reasons["sub-01"] == "no rest recording at week6"
    assert reasons["sub-02"] == "no HAMD17 score at week6"
    assert reasons["sub-03"].startswith("too few valid frames in sub-03_week6_rest (0 of ")
    assert reasons["sub-04"] == "sub-04_week6_rest failed: x.mp4: no frame could be decoded"
    arms = table.drop_duplicates("participant_id").set_index("participant_id")["arm"]
    assert all(e["arm"] == arms[e["participant_id"]] for e in data.excluded)


def test_participants_of_an_arm_not_compared_are_listed(study_dir):
    table = _features(study_dir)
    third = table["participant_id"].isin(["sub-01", "sub-02"])
    table.loc[third, "arm"] = "sham"
    study = StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None)
    data = prepare(study, "HAMD17", control_arm="placebo")
    assert _reasons(data) == {p: "arm sham is not compared (botox vs placebo)"
                              for p in ("sub-01", "sub-02")}


def test_excluded_participants_reach_results_tables_report_and_output(study_dir, tmp_path, capsys):
    def drop_followup(table):
        return table[~((table["participant_id"] == "sub-05") & (table["session"] == "week6"))]

    path = _modified(study_dir, tmp_path, "dropped.csv", drop_followup)
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--outcome", "HAMD17", "--out", str(out), *FAST[:-1]]) == 0
    printed = capsys.readouterr().out
    assert "1 participant left out" in printed and "sub-05: no rest recording at week6" in printed
    results = json.loads((out / "results.json").read_text())
    record = {"participant_id": "sub-05", "arm": results["data"]["excluded_participants"][0]["arm"],
              "reason": "no rest recording at week6"}
    assert results["data"]["excluded_participants"] == [record]
    table = pd.read_csv(out / "tables" / "excluded_participants.csv")
    assert table.to_dict("records") == [record]
    page = (out / "report.html").read_text()
    assert "1 participant left out" in page and "no rest recording at week6" in page


def test_task_all_needs_every_task_for_a_participant_and_session(study_dir):
    table = _features(study_dir)
    film = table.assign(task="sad_film", recording_id=table["recording_id"] + "_film")
    film["frown_intensity_mean_change"] = film["frown_intensity_mean_change"] + 0.1
    both = pd.concat([table, film], ignore_index=True)
    lacking = (both["participant_id"] == "sub-06") & (both["session"] == "week6") & (
        both["task"] == "sad_film")
    both = both[~lacking]
    study = StudyFeatures(both, ["baseline", "week3", "week6"], "baseline", source=None)
    data = prepare(study, "HAMD17", task="all")
    assert _reasons(data) == {"sub-06": "no sad_film recording at week6 (--task all needs every task)"}
    rest = table[table["session"] == "week6"].set_index("participant_id")["frown_intensity_mean_change"]
    got = data.wide.set_index("participant_id")["frown_change"]
    np.testing.assert_allclose(got, rest.reindex(got.index) + 0.05)  # the mean of the two tasks
    # A task recorded at the baseline only has no change: it is not averaged, nobody is left out.
    baseline = table["session"] == "baseline"
    frown = table[baseline].assign(task="max_frown", recording_id=table["recording_id"] + "_max")
    study = StudyFeatures(pd.concat([both, frown], ignore_index=True), ["baseline", "week3", "week6"],
                       "baseline", source=None)
    again = prepare(study, "HAMD17", task="all")
    assert _reasons(again) == _reasons(data)
    pd.testing.assert_frame_equal(again.wide, data.wide)


def test_participants_of_the_study_with_no_recording_are_listed(study_dir):
    table = _features(study_dir)
    held = table.drop_duplicates("participant_id")[["participant_id", "arm"]]
    participants = pd.concat([held, pd.DataFrame({"participant_id": ["sub-99"], "arm": ["placebo"]})])
    study = StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None,
                       participants=participants)
    assert prepare(study, "HAMD17").excluded == [
        {"participant_id": "sub-99", "arm": "placebo", "reason": "no recordings"}]


def test_odds_ratios_of_a_logistic_fit_that_does_not_converge_are_not_given():
    """Both remitters are in the treated arm: the arm's odds ratio has no finite estimate."""
    from facefeedback.analysis.responders import logistic_fit

    frown = np.array([-0.275, -0.29, -0.325, -0.227, -0.412, -0.273, 0.136, 0.095, -0.104, -0.163,
                      -0.019, 0.284, 0.129, 0.043])
    treated = np.repeat([1, 0], [6, 8])
    remitted = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    x = np.column_stack([(frown - frown.mean()) / frown.std(ddof=1), treated])
    fit = logistic_fit(x, remitted, ["frown (per SD)", "arm[botox]"])
    assert list(fit) == ["error"] and "not estimable" in fit["error"]
    responded = np.array([1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1])  # no separation: estimable
    fit = logistic_fit(x, responded, ["frown (per SD)", "arm[botox]"])
    assert all(np.isfinite([r["odds_ratio"], *r["ci"], r["p"]]).all() for r in fit.values())



def test_responders_without_the_percent_column_and_a_custom_scales_cutoff(study_dir):
    """Response comes from the change and the baseline (a table without ``<scale>_pct_change``
    used to count nobody as a responder), and a custom scale's study-file cut-off gives remission."""
    import dataclasses

    from facefeedback.analysis.responders import responder_model
    from facefeedback.analysis.study_features import load_study_features

    study = load_study_features(study_dir)
    full = responder_model(prepare(study, "HAMD17"), seed=1)
    responders = sum(r["k"] for r in full.response["rates"].values())
    wide = prepare(study, "HAMD17").wide
    assert responders == int((wide["mood_change"] <= -0.5 * wide["baseline"]).sum()) > 0
    without = dataclasses.replace(study, features=study.features.drop(columns=["HAMD17_pct_change"]))
    assert responder_model(prepare(without, "HAMD17"), seed=1).response["rates"] == full.response["rates"]
    renamed = study.features.rename(columns=lambda c: c.replace("HAMD17", "MYDEP"))
    custom = dataclasses.replace(study, features=renamed, scales={"MYDEP": {"min": 0, "max": 52, "cutoff": 7}})
    mine = responder_model(prepare(custom, "MYDEP"), seed=1)
    assert mine.remission_cutoff == 7 and mine.remission["rates"] == full.remission["rates"]
    assert mine.response["rates"] == full.response["rates"]
    assert not any("remission" in n for n in mine.notes)


def test_percent_change_and_response_need_a_positive_reference(study_dir):
    """A percentage of a negative amount has the change's opposite sign (-0.2 to -0.1 read -50 %):
    percent change is empty where the reference is not above 0, and response (a 50 % drop) is not
    analysed when a baseline score is at or below 0, rather than counting such participants as
    non-responders."""
    import dataclasses

    from facefeedback.analysis.responders import responder_model
    from facefeedback.analysis.study_features import load_study_features
    from facefeedback.changes import change_from

    values = pd.DataFrame({"x": [-0.1, 0.3, 5.0, 1.0]})
    reference = pd.DataFrame({"x": [-0.2, 0.2, 0.0, 2.0]})
    changes = change_from(values, reference)
    assert changes["x_change"].round(6).tolist() == [0.1, 0.1, 5.0, -1.0]  # the change keeps its sign
    pct = changes["x_pct_change"].to_numpy()
    assert np.isnan(pct[0]) and pct[1] == pytest.approx(50.0) and np.isnan(pct[2]) and pct[3] == pytest.approx(-50.0)

    study = load_study_features(study_dir)
    shifted = study.features.rename(columns=lambda c: c.replace("HAMD17", "VAL"))
    shifted["VAL"] = shifted["VAL"] - 30.0  # a scale running from -30 to 22: some baselines below 0
    custom = dataclasses.replace(study, features=shifted, scales={"VAL": {"min": -30, "max": 22, "cutoff": -23}})
    result = responder_model(prepare(custom, "VAL"), seed=1)
    assert result.response is None and result.remission is not None
    assert any("baseline below 0" in n and "response not analysed" in n for n in result.notes), result.notes
    # a baseline of exactly 0 is a valid score: it cannot drop by half, so it counts as not responding
    zeroed = study.features.copy()
    first = zeroed.loc[zeroed["is_reference"].astype(bool), "participant_id"].iloc[0]
    zeroed.loc[(zeroed["participant_id"] == first) & zeroed["is_reference"].astype(bool), "HAMD17"] = 0.0
    result = responder_model(prepare(dataclasses.replace(study, features=zeroed), "HAMD17"), seed=1)
    assert result.response is not None
    assert "1 participant has a HAMD17 baseline of 0, which cannot drop by 50 %: counted as not responding" in result.notes


def test_bootstrap_resamples_left_out_of_the_intervals_are_counted_in_a_note(tmp_path, study_dir):
    """At 4 per arm some stratified resamples have a singular design: the primary model and the
    mediation say how many of their resamples the intervals leave out (the mediation's: those in
    which either of its two models is singular)."""
    from facefeedback.analysis.mediation import mediation_model
    from facefeedback.analysis.models import primary_design, primary_model
    from facefeedback.analysis.study_features import load_study_features

    write_simulated_study(tmp_path, SimulationSettings(n_per_arm=4), seed=3)
    data = prepare(load_study_features(tmp_path), "HAMD17")
    draws = resample.bootstrap_ols(primary_design(data, "ancova"), data.wide["mood_change"].to_numpy(float),
                                   data.wide["treated"].to_numpy(), 1000, np.random.default_rng(0))
    left_out = int(np.isnan(draws).any(axis=1).sum())
    assert 0 < left_out < 1000
    notes = primary_model(data, 1000, 99, np.random.default_rng(0)).notes
    assert notes == [f"primary: {left_out} of 1000 bootstrap resamples had a singular design (too few distinct "
                     "participants of an arm for the model's terms) and are left out of the intervals, which rest "
                     f"on the other {1000 - left_out}; at this sample size they are unreliable"]
    mediation = mediation_model(data, 1000, np.random.default_rng(0)).notes
    assert len(mediation) == 1 and mediation[0].startswith("mediation: ")
    assert int(mediation[0].split()[1]) >= left_out and " of 1000 bootstrap resamples had a singular design" \
        in mediation[0]
    assert primary_model(prepare(load_study_features(study_dir), "HAMD17"), 1000, 99,
                         np.random.default_rng(0)).notes == []


def test_the_analysis_does_not_depend_on_the_order_of_the_tables_rows(study_dir):
    """The resamples, permutations and folds draw by row of the participants' table, which is in
    participant order, whatever the order of the session-features rows."""
    import dataclasses

    from facefeedback.analysis.models import primary_model
    from facefeedback.analysis.study_features import load_study_features

    study = load_study_features(study_dir)
    shuffled = dataclasses.replace(study, features=study.features.sample(frac=1, random_state=3))
    a, b = prepare(study, "HAMD17"), prepare(shuffled, "HAMD17")
    pd.testing.assert_frame_equal(a.wide, b.wide)
    assert list(a.wide["participant_id"]) == sorted(a.wide["participant_id"])
    fits = [primary_model(d, 200, 99, np.random.default_rng(0)) for d in (a, b)]
    assert fits[0].frown_slope_ci == fits[1].frown_slope_ci and fits[0].p_permutation == fits[1].p_permutation


def test_mixed_model_terms_keep_level_names_that_hold_a_factors_name(tmp_path):
    from facefeedback.analysis.mixed import mixed_model
    from facefeedback.analysis.study_features import load_study_features

    write_simulated_study(tmp_path, SimulationSettings(n_per_arm=6, sessions=("baseline", "treated4w", "treated8w")),
                          seed=1)
    terms = [r["term"] for r in mixed_model(prepare(load_study_features(tmp_path), "HAMD17")).rows()]
    assert "session[T.treated4w]" in terms and "session[T.treated4w]:arm[botox]" in terms, terms
    assert "frown_intensity_mean_change" in terms and "frown_intensity_mean_baseline" in terms, terms
    assert "HAMD17_baseline" in terms, terms


def test_the_smile_as_the_measure_runs_with_the_default_control(study_dir, tmp_path):
    """README: analyze ... --feature smile_intensity_mean; the default control is then the measure
    itself, which leaves specificity not estimable but refuses nothing (only a given one is refused)."""
    assert main(["analyze", str(study_dir), "--outcome", "HAMD17", "--feature", "smile_intensity_mean", *FAST,
                 "--out", str(tmp_path / "a")]) == 0


def test_damaged_study_files_are_named_in_one_line(study_dir, tmp_path, capsys):
    """A column given twice in a session-features CSV (pandas reads the second as HAMD17.1, and the
    analysis used the first unseen), a header with no rows, and side files that cannot be read:
    one line naming the file, no traceback."""
    import shutil

    features = pd.read_parquet(study_dir / "features" / "session_features.parquet")
    doubled = tmp_path / "doubled.csv"
    features.assign(extra=features["HAMD17"] + 1).rename(columns={"extra": "HAMD17"}).to_csv(doubled, index=False)
    empty = tmp_path / "header_only.csv"
    features.head(0).to_csv(empty, index=False)
    copy = tmp_path / "copy"
    shutil.copytree(study_dir, copy, ignore=shutil.ignore_patterns("analysis"))
    (copy / "failures.csv").write_bytes(b"")
    spare = tmp_path / "spare.csv"  # a spreadsheet's blank trailing columns are not columns given twice
    text = features.to_csv(index=False).splitlines()
    spare.write_text("\n".join(line + ",," for line in text) + "\n")
    assert main(["analyze", str(spare), "--outcome", "HAMD17", "--out", str(tmp_path / "s"), *FAST]) == 0
    capsys.readouterr()
    cases = [(doubled, "doubled.csv: column(s) HAMD17 appear more than once; keep one of each"),
             (empty, "header_only.csv: session features with no rows"),
             (copy, "failures.csv: cannot read the failures table (")]
    for path, message in cases:
        code = main(["analyze", str(path), "--outcome", "HAMD17", "--out", str(tmp_path / "a"), *FAST])
        err = capsys.readouterr().err.strip()
        assert code != 0 and message in err and err.count("\n") == 0 and "Traceback" not in err, err


def _simulated_data(n_per_arm: int, seed: int):
    table, _ = simulate_study(SimulationSettings(n_per_arm=n_per_arm), seed, with_frames=False)
    return prepare(StudyFeatures(table, ["baseline", "week3", "week6"], "baseline", source=None), "HAMD17")


def test_mediation_replicates_are_the_models_refitted_on_the_same_participants():
    """Every replicate refits the mediator, outcome and total-effect models on one resample of the
    participants, stratified by arm: the total effect's replicates are a * b + c' of the same
    resample (the OLS identity, to rounding) and its interval is the total-effect model's
    stratified bootstrap interval; no simulation noise is added."""
    from facefeedback.analysis import mediation
    from facefeedback.analysis.models import primary_design

    data = _simulated_data(15, 4)
    w = data.wide
    y, m, treated = (w[c].to_numpy(float) for c in ("mood_change", "frown_change", "treated"))
    outcome_exog = primary_design(data)
    mediator_exog = np.delete(outcome_exog, 1, axis=1)
    outcome, mediator, total = mediation._joint_draws(outcome_exog, y, mediator_exog, m, treated, 400,
                                                      np.random.default_rng(5))
    reduced = resample.bootstrap_ols(mediator_exog, y, treated, 400, np.random.default_rng(5))
    np.testing.assert_array_equal(total, reduced)
    np.testing.assert_allclose(mediator[:, 1] * outcome[:, 1] + outcome[:, 2], total[:, 1], rtol=1e-9)

    result = mediation.mediation_model(data, 400, np.random.default_rng(5))
    level = resample.expanded_level(*outcome_exog.shape)
    # the total's interval is expanded by its own model's residual df
    assert result.total["ci"] == list(resample.percentile_interval(reduced[:, 1], resample.expanded_level(
        *mediator_exog.shape)))
    assert result.indirect["ci"] == list(resample.percentile_interval(mediator[:, 1] * outcome[:, 1], level))
    assert result.direct["ci"] == list(resample.percentile_interval(outcome[:, 2], level))
    assert result.a_ci == list(resample.percentile_interval(mediator[:, 1], resample.expanded_level(
        *mediator_exog.shape)))
    assert result.total["estimate"] == pytest.approx(result.indirect["estimate"] + result.direct["estimate"],
                                                     rel=1e-9)


def test_a_mediator_that_nearly_is_the_arm_leaves_the_total_effect_interval_as_its_own_models():
    """When frowning is all but determined by arm (6 per arm, as in the demo study), b is poorly
    determined, but the total effect, the arm's effect on mood, is not: its interval stays about
    as wide as that model's t interval. Replicates that simulate each participant's mediator (as
    statsmodels' Mediation, used before 0.6.7, does) add b times that simulation's noise: here an
    interval of -83 to 162, ten times wider, around an effect whose t interval is -28 to -5."""
    from facefeedback.analysis.mediation import mediation_model
    from facefeedback.analysis.models import primary_design

    data = _simulated_data(6, 1)
    w = data.wide
    w["frown_change"] = -0.05 * w["treated"] + np.random.default_rng(1).normal(0, 1e-3, len(w))
    result = mediation_model(data, 2000, np.random.default_rng(3))
    fit = sm.OLS(w["mood_change"].to_numpy(float), np.delete(primary_design(data), 1, axis=1)).fit()
    t_low, t_high = fit.conf_int()[1]
    assert t_high < 0, "the simulated arm effect on mood should be clear"
    assert result.total["estimate"] == pytest.approx(fit.params[1], rel=1e-9)
    low, high = result.total["ci"]
    assert low < fit.params[1] < high
    assert 0.5 < (high - low) / (t_high - t_low) < 2.5, (low, high, t_low, t_high)
    assert abs(result.b) > 1000  # b is indeed poorly determined


def test_mediation_does_not_depend_on_the_units_of_the_frown_feature():
    """The same study with the frown measured in units 5000 times smaller (a feature whose changes
    are about 1e-4, beside baseline scores of 20): the same effects and intervals, and no resample
    called singular (unscaled, every resample's design was, and every interval was missing)."""
    from facefeedback.analysis.mediation import mediation_model

    data = _simulated_data(12, 2)
    result = mediation_model(data, 500, np.random.default_rng(8))
    data.wide["frown_change"] *= 2e-4
    data.wide["frown_baseline"] *= 2e-4
    small = mediation_model(data, 500, np.random.default_rng(8))
    assert small.notes == result.notes == []
    for key in ("indirect", "direct", "total"):
        np.testing.assert_allclose(getattr(small, key)["ci"], getattr(result, key)["ci"], rtol=1e-6)
        assert getattr(small, key)["p"] == pytest.approx(getattr(result, key)["p"], rel=1e-6)
    np.testing.assert_allclose(small.a_ci, np.multiply(result.a_ci, 2e-4), rtol=1e-6)


def test_bootstrap_p_value_and_interpolated_interval_agree_for_any_draws():
    """share_p takes the p-value from the same interpolated percentiles as the interval, so the
    expanded interval at 1 - alpha excludes 0 exactly when the p-value is below alpha, however few
    the draws (twice the counted share beyond 0 disagreed near the edge: 5 of 240 mediation effects
    at 8 per arm). A missing interval excludes nothing."""
    from facefeedback.analysis.mediation import excludes_zero

    rng = np.random.default_rng(4)
    disagree = checked = 0
    for _ in range(3000):
        size = int(rng.integers(20, 400))
        draws = rng.normal(rng.uniform(0.5, 3.5), 1.0, size) * rng.choice([-1, 1])
        n, p = int(rng.integers(12, 90)), int(rng.integers(3, 6))
        pval = resample.expanded_p(resample.share_p(draws), n, p)
        for alpha in (0.01, 0.05, 0.1):
            low, high = resample.percentile_interval(draws, resample.expanded_level(n, p, 1 - alpha))
            if abs(pval - alpha) < 1e-9:
                continue  # on the edge itself
            checked += 1
            disagree += excludes_zero((low, high)) != (pval < alpha)
    assert checked > 8000 and disagree == 0
    assert resample.share_p(np.array([1.0, 2.0, 3.0])) == 0.0 and resample.share_p(np.array([np.nan])) != 0
    assert resample.share_p(np.array([-1.0, 1.0])) == 1.0  # 0 halfway: the median
    assert not excludes_zero((float("nan"), float("nan"))) and excludes_zero((0.1, 2.0))
