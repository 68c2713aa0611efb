"""Models, the analyze command and its messages on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from facefeedback.analysis import resample
from facefeedback.analysis.data import StudyInput, prepare
from facefeedback.analysis.models import compare_arms, hedges_g
from facefeedback.analysis.simulate import SimulationSettings, simulate_study, write_simulated_study
from facefeedback.cli import main

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
    models = pd.read_csv(study_dir / "analysis" / "tables" / "models.csv")
    assert set(models["model"]) >= {"primary", "arms", "mediation", "response", "remission",
                                    "predictive", "mixed"}
    assert models["estimate"].notna().all()


def test_results_are_standard_json(analysed, study_dir):
    from json_helpers import strict_json

    assert strict_json(study_dir / "analysis" / "results.json") == analysed


def test_primary_estimates_are_statsmodels_ols(analysed, study_dir):
    wide = pd.read_csv(study_dir / "analysis" / "tables" / "participants.csv")
    x = sm.add_constant(wide[["frown_change", "treated", "baseline"]])
    fit = sm.OLS(wide["mood_change"], x).fit()
    estimates = [r["estimate"] for r in analysed["primary"]["rows"]]
    np.testing.assert_allclose(estimates, fit.params.to_numpy(), rtol=1e-10)
    med = analysed["mediation"]
    a = sm.OLS(wide["frown_change"], sm.add_constant(wide[["treated", "baseline"]])).fit()
    assert med["indirect"]["estimate"] == pytest.approx(a.params["treated"] * fit.params[
        "frown_change"], rel=1e-8)
    assert med["direct"]["estimate"] == pytest.approx(fit.params["treated"], rel=1e-8)


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
    study = StudyInput(table, ["baseline", "week3", "week6"], "baseline", source=None)
    data = prepare(study, "HAMD17")
    assert data.excluded == ["sub-01"] and len(data.wide) == 23


def test_without_frames_simulation_has_only_the_primary_feature():
    table, signals = simulate_study(SimulationSettings(n_per_arm=3), 0, with_frames=False)
    assert signals is None and table["frown_intensity_mean"].notna().all()
    assert "frown_intensity_p90" not in table and "frown_intensity_mean_change" in table


def test_tiny_study_says_its_mediation_resamples_were_rank_deficient():
    from facefeedback.analysis.mediation import mediation_model

    table, _ = simulate_study(SimulationSettings(n_per_arm=3), 5, with_frames=False)
    study = StudyInput(table, ["baseline", "week3", "week6"], "baseline", source=None)
    med = mediation_model(prepare(study, "HAMD17"), 300, np.random.default_rng(0))
    assert med["notes"] and "rank-deficient" in med["notes"][0]
    big, _ = simulate_study(SimulationSettings(n_per_arm=30), 5, with_frames=False)
    study = StudyInput(big, ["baseline", "week3", "week6"], "baseline", source=None)
    assert mediation_model(prepare(study, "HAMD17"), 300, np.random.default_rng(0))["notes"] == []


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
    p = resample.permutation_p(2.0, np.r_[np.full(9, np.nan), np.full(10, 3.0)])
    assert p == pytest.approx(11 / 11)


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
