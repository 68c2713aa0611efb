"""The simulator writes the study pipeline's layout and reproduces its generative model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facefeedback import schema
from facefeedback.cli import main
from facefeedback.errors import AnalysisError
from facefeedback.synthetic.studies import (
    FROWN_SCALES,
    GENERATIVE_MODELS,
    Effects,
    SimulationSettings,
    simulate_levels,
    simulate_study,
)


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    assert main(["simulate", "--out", str(out), "--n-per-arm", "6", "--seed", "3"]) == 0
    return out


def test_layout_matches_data_contract(sim_dir):
    table = pd.read_parquet(sim_dir / "features" / "session_features.parquet")
    csv = pd.read_csv(sim_dir / "features" / "session_features.csv")
    assert list(csv.columns) == list(table.columns)
    for col in (*schema.SESSION_ID_COLUMNS, "recording_id", "is_reference"):
        assert col in table
    for name in schema.summary_feature_names() + ["HAMD17", "MADRS"]:
        assert name in table
        assert name + schema.CHANGE_SUFFIX in table
        assert name + schema.PCT_CHANGE_SUFFIX in table
    assert len(table) == 12 * 3
    ref = table[table["is_reference"]]
    assert set(ref["session"]) == {"baseline"}
    assert (ref["HAMD17_change"] == 0).all() and (ref["frown_intensity_mean_change"] == 0).all()
    study = json.loads((sim_dir / "study.json").read_text())
    assert study["sessions"] == ["baseline", "week3", "week6"]
    assert study["reference_session"] == "baseline"
    assert study["simulation"]["truth"]["indirect_effect"] == Effects().mediated
    assert (sim_dir / "failures.csv").read_text().startswith("recording_id,path,error")


def test_change_columns_follow_the_contract(sim_dir):
    table = pd.read_parquet(sim_dir / "features" / "session_features.parquet")
    base = table[table["session"] == "baseline"].set_index("participant_id")
    last = table[table["session"] == "week6"].set_index("participant_id")
    change = last["HAMD17"] - base["HAMD17"]
    np.testing.assert_allclose(last["HAMD17_change"], change)
    np.testing.assert_allclose(last["HAMD17_pct_change"], 100 * change / base["HAMD17"])
    low, high = schema.KNOWN_SCALES["HAMD17"][:2]
    assert table["HAMD17"].between(low, high).all()


def test_frames_agree_with_recording_features(sim_dir):
    table = pd.read_parquet(sim_dir / "features" / "session_features.parquet")
    rec = table.iloc[4]
    frames = pd.read_parquet(sim_dir / "recordings" / rec["recording_id"] / "frames.parquet")
    assert list(frames.columns) == list(schema.FRAME_COLUMN_NAMES)
    for name, dtype, _, _ in schema.FRAME_COLUMNS:
        assert str(frames[name].dtype) == dtype, name
    valid = frames["valid"]
    assert frames.loc[valid, "frown_intensity"].mean() == pytest.approx(rec["frown_intensity_mean"])
    assert valid.mean() == pytest.approx(rec["valid_fraction"])
    assert frames.loc[~frames["face_detected"], "frown_intensity"].isna().all()
    summary = json.loads((sim_dir / "recordings" / rec["recording_id"] / "summary.json").read_text())
    assert summary["features"]["frown_intensity_p90"] == pytest.approx(rec["frown_intensity_p90"])


def test_recording_features_are_the_pipelines_summary_of_the_frames(sim_dir):
    """Every recording feature of a simulated study is what summary.summarise (the pipeline's
    summary, events by hysteresis) makes of the recording's frames."""
    from facefeedback.config import load_config
    from facefeedback.summary import frowning_mask, summarise

    events = load_config().events
    table = pd.read_parquet(sim_dir / "features" / "session_features.parquet")
    n_events = 0
    for _, rec in table.iloc[::5].iterrows():
        folder = sim_dir / "recordings" / rec["recording_id"]
        frames = pd.read_parquet(folder / "frames.parquet")
        np.testing.assert_array_equal(
            frames["frowning"], frowning_mask(frames["timestamp_s"], frames["frown_intensity"],
                                              frames["valid"], events))
        features, found = summarise(frames, events)
        names = schema.summary_feature_names()
        np.testing.assert_allclose(rec[names].to_numpy(float), [features[n] for n in names],
                                   rtol=1e-12, equal_nan=True)
        summary = json.loads((folder / "summary.json").read_text())
        assert len(summary["events"]) == features["frown_events_n"] == len(found["frown"])
        n_events += len(found["frown"])
    assert n_events > 0  # the check saw events, not only empty recordings


def test_same_seed_same_study_other_seed_other_study():
    settings = SimulationSettings(n_per_arm=5)
    a, _ = simulate_study(settings, 7, with_frames=False)
    b, _ = simulate_study(settings, 7, with_frames=False)
    c, _ = simulate_study(settings, 8, with_frames=False)
    pd.testing.assert_frame_equal(a, b)
    assert not a["HAMD17"].equals(c["HAMD17"])


def test_defaults_reproduce_published_scale():
    """HAM-D -47 % vs -9 % (Wollmer 2012); response about 50 % vs 15 % (Finzi & Rosenthal 2014)."""
    table, _ = simulate_study(SimulationSettings(n_per_arm=4000), 11, with_frames=False)
    last = table[table["session"] == "week6"]
    pct = last.groupby("arm")["HAMD17_pct_change"].mean()
    assert pct["botox"] == pytest.approx(-47, abs=2.5)
    assert pct["placebo"] == pytest.approx(-9, abs=2.5)
    response = (last["MADRS_pct_change"] <= -50).groupby(last["arm"]).mean()
    assert 0.42 <= response["botox"] <= 0.58
    assert 0.08 <= response["placebo"] <= 0.18
    frown = last.groupby("arm")["frown_intensity_mean_change"].mean()
    assert frown["botox"] - frown["placebo"] == pytest.approx(Effects().frown, abs=0.01)


@pytest.mark.parametrize("scale", FROWN_SCALES)
@pytest.mark.parametrize("model", GENERATIVE_MODELS)
def test_generative_models_follow_their_equations(model, scale):
    """Regressions on a large study return each model's coefficients (docs/analysis.md), under
    either frown scale.

    Baseline HAM-D 35 keeps scores off the floor at 0, so only rounding is left.
    """
    import statsmodels.api as sm

    effects = Effects(frown=-0.3, direct=-2.0, mediated=-3.0)  # b = 10 points per FU
    settings = SimulationSettings(n_per_arm=20_000, effects=effects, model=model,
                                  baseline_mean=35.0, frown_stability=0.4,
                                  frown_baseline_effect=12.0, frown_scale=scale)
    table, _ = simulate_study(settings, 4, with_frames=False)
    base = table[table["session"] == "baseline"].set_index("participant_id")
    last = table[table["session"] == "week6"].set_index("participant_id")
    x = pd.DataFrame({"treated": (last["arm"] == "botox").astype(float),
                      "h0": base["HAMD17"], "f0": base["frown_intensity_mean"]})
    frown = sm.OLS(last["frown_intensity_mean_change"], sm.add_constant(x)).fit().params
    x["df"] = last["frown_intensity_mean_change"]
    mood = sm.OLS(last["HAMD17_change"], sm.add_constant(x)).fit().params
    levels = model == "levels"
    assert frown["treated"] == pytest.approx(effects.frown, abs=0.005)
    if scale == "additive":
        assert frown["f0"] == pytest.approx(settings.frown_stability - 1 if levels else 0, abs=0.02)
    elif not levels:  # half the participants keep the share m of their baseline frown: E[m^T] - 1
        assert frown["f0"] == pytest.approx((settings.toxin_share() - 1) / 2, abs=0.02)
    assert mood["df"] == pytest.approx(effects.slope, abs=1.2)
    assert mood["treated"] == pytest.approx(effects.direct, abs=0.3)
    assert mood["h0"] == pytest.approx(settings.baseline_slope, abs=0.03)
    assert mood["f0"] == pytest.approx(effects.slope + settings.frown_baseline_effect
                                       if levels else 0, abs=1.5)


def test_proportional_frowning_never_falls_below_zero():
    """With the defaults, the additive scale puts about 28 % of the toxin arm's follow-up frown levels
    below 0 and 2 % of the placebo arm's (docs/analysis.md); the proportional scale none, with the
    same toxin effect on the mean."""
    below = {}
    for scale in FROWN_SCALES:
        table, _ = simulate_study(SimulationSettings(n_per_arm=4000, frown_scale=scale), 5, with_frames=False)
        last = table[(table["session"] == "week6")]
        level = last["frown_intensity_mean"].groupby(last["arm"])
        below[scale] = (last["frown_intensity_mean"] < 0).groupby(last["arm"]).mean()
        assert level.mean()["placebo"] - level.mean()["botox"] == pytest.approx(-Effects().frown, abs=0.01)
        baseline = table.loc[table["session"] == "baseline", "frown_intensity_mean"]
        assert baseline.mean() == pytest.approx(0.35, abs=0.005)
        assert baseline.std() == pytest.approx(0.12, abs=0.005)
    assert below["additive"]["botox"] == pytest.approx(0.28, abs=0.02)
    assert below["additive"]["placebo"] == pytest.approx(0.02, abs=0.01)
    for model, stability in (("change", 0.5), ("levels", 0.5), ("levels", 0.2)):  # what the warning says
        settings = SimulationSettings(n_per_arm=20_000, model=model, frown_stability=stability)
        table = simulate_levels(settings, np.random.default_rng(3))
        last = table[(table["session"] == "week6") & (table["arm"] == "botox")]
        assert settings.share_below_zero() == pytest.approx((last["frown_intensity_mean"] < 0).mean(), abs=0.01)
    assert below["proportional"].max() == 0


def test_proportional_frowning_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "proportional"
    assert main(["simulate", "--out", str(out), "--n-per-arm", "4", "--frown-scale", "proportional"]) == 0
    captured = capsys.readouterr()
    assert "(change model, proportional frowning)" in captured.out and "warning" not in captured.err
    simulation = json.loads((out / "study.json").read_text())["simulation"]
    assert simulation["truth"]["frown_scale"] == simulation["settings"]["frown_scale"] == "proportional"
    features = pd.read_parquet(out / "features" / "session_features.parquet")
    for rec in features.itertuples():  # no frame frowns below 0; the valid frames' mean is the level
        frames = pd.read_parquet(out / "recordings" / rec.recording_id / "frames.parquet")
        assert frames["frown_intensity"].min() >= 0
        assert frames.loc[frames["valid"], "frown_intensity"].mean() == pytest.approx(rec.frown_intensity_mean)
    # a toxin effect larger than the placebo arm's mean level cannot be a share of it
    assert main(["simulate", "--out", str(out), "--frown-scale", "proportional", "--effect", "frown=-0.4"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "more than all frowning" in err


def test_levels_model_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "levels"
    assert main(["simulate", "--out", str(out), "--n-per-arm", "4", "--model", "levels",
                 "--frown-stability", "0.3", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert "(levels model, additive frowning)" in captured.out
    assert captured.err.startswith("warning: with these settings 21 % of the toxin arm's follow-up frown levels")
    simulation = json.loads((out / "study.json").read_text())["simulation"]
    assert simulation["truth"]["generative_model"] == "levels"
    assert simulation["settings"]["model"] == "levels"
    assert simulation["settings"]["frown_stability"] == 0.3
    with pytest.raises(AnalysisError, match="not one of change, levels"):
        SimulationSettings(model="latent")


def test_effect_parsing():
    assert Effects.parse(["frown=-0.3", "mediated=-3"]).slope == pytest.approx(10.0)
    none = Effects.parse(["none"])
    assert (none.frown, none.direct, none.mediated) == (0, 0, 0)
    with pytest.raises(AnalysisError, match="NAME=VALUE"):
        Effects.parse(["size=3"])
    with pytest.raises(AnalysisError, match="not a number"):
        Effects.parse(["frown=big"])
    with pytest.raises(AnalysisError, match="needs a non-zero frown effect"):
        Effects.parse(["frown=0", "mediated=-2"])
    with pytest.raises(AnalysisError, match="beyond ±100"):  # overflowed into warnings and a slope of -6e-308
        Effects.parse(["frown=1e308"])
    assert Effects.parse(["frown=-1", "mediated=-100"]).slope == 100.0
    with pytest.raises(AnalysisError, match="slope of .* is beyond ±10000"):  # printed a slope of -inf, exit 0
        Effects.parse(["frown=1e-320", "mediated=-100"])


def test_bad_effect_is_one_line_at_the_cli(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--effect", "frown=x"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("sessions, arms, message", [
    (("base/line", "wk6"), ("botox", "placebo"), "session 'base/line' may hold only letters, digits"),
    (("baseline", "week 6"), ("botox", "placebo"), "session 'week 6' may hold only"),
    (("Week6", "week6"), ("botox", "placebo"), "differ only by case"),
    (("baseline", "week6"), ("Botox", "botox"), "differ by more than case"),
])
def test_simulated_names_follow_a_measured_studys_rules(sessions, arms, message):
    """Session names name folders and columns: 'base/line' nested the recordings one folder deeper,
    and the OpenFace export then silently skipped half of them."""
    with pytest.raises(AnalysisError, match=message):
        SimulationSettings(sessions=sessions, arms=arms)
