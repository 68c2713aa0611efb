"""The frown formula, calibration and events on values with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facefeedback.calibration import Calibration, calibrate
from facefeedback.components.intensity import family_intensity
from facefeedback.conditions import condition_features
from facefeedback.config import Config, EventConfig, FrownNeutral
from facefeedback.errors import InputError
from facefeedback.summary import detect_events, summarise

CFG = Config()
NEUTRAL = FrownNeutral(brow_gap=0.4, brow_lowering=0.3, glabella_lines=1.0)


def test_neutral_scores_zero_and_a_typical_full_frown_scores_one():
    full = CFG.frown.full_frown
    at_neutral = {"brow_gap": 0.4, "brow_lowering": 0.3, "glabella_lines": 1.0}
    assert family_intensity(at_neutral, NEUTRAL, CFG.frown) == pytest.approx(0.0)
    frown = {"brow_gap": 0.4 * (1 - full["brow_gap"]), "brow_lowering": 0.3 * (1 - full["brow_lowering"]),
             "glabella_lines": np.exp(full["glabella_lines"])}
    assert family_intensity(frown, NEUTRAL, CFG.frown) == pytest.approx(1.0)


def test_moves_away_from_frowning_do_not_count_as_negative():
    raised = {"brow_gap": 0.45, "brow_lowering": 0.4, "glabella_lines": 0.5}  # AU1, softer light
    assert family_intensity(raised, NEUTRAL, CFG.frown) == pytest.approx(0.0)
    lines_only = {"brow_gap": 0.45, "brow_lowering": 0.4, "glabella_lines": np.exp(CFG.frown.full_frown["glabella_lines"])}
    w = CFG.frown.weights
    assert family_intensity(lines_only, NEUTRAL, CFG.frown) == pytest.approx(w["glabella_lines"] / sum(w.values()))


def test_no_face_stays_nan():
    comps = {"brow_gap": np.array([0.4, np.nan]), "brow_lowering": np.array([0.3, np.nan]),
             "glabella_lines": np.array([1.0, np.nan])}
    out = family_intensity(comps, NEUTRAL, CFG.frown)
    assert out[0] == pytest.approx(0.0) and np.isnan(out[1])


def _table(values, valid=None, fps=10.0):
    n = len(values)
    return pd.DataFrame({"timestamp_s": np.arange(n) / fps, "frown_intensity": values,
                         "valid": np.ones(n, bool) if valid is None else valid,
                         # a relaxed mouth and cheeks throughout
                         "lip_corner_pull": 0.78, "cheek_raise": 0.3, "smile_intensity": 0.0, "smiling": False})


def test_hysteresis_and_minimum_duration():
    params = EventConfig(on_threshold=0.5, off_threshold=0.2, min_duration_s=0.3, max_gap_s=0.15)
    x = np.array([0, 0.6, 0.4, 0.3, 0.1, 0, 0.7, 0.1, 0, 0.6, 0.6, 0.6, 0.6, 0])
    t = _table(x)
    events = detect_events(t["timestamp_s"], t["frown_intensity"], t["valid"], params)
    # 0.6 -> stays above 0.2 until frame 4: event of 0.3 s; the single 0.7 frame is too short
    assert [(e.onset_frame, e.offset_frame) for e in events] == [(1, 3), (9, 12)]
    assert events[0].duration_s == pytest.approx(0.3) and events[1].peak == pytest.approx(0.6)


def test_an_event_that_runs_to_the_end_lasts_to_the_end_of_its_last_frame():
    """Every event ends where its last frame ends: one running to the last frame of the recording
    is as long as its frames, like one that ends earlier (12 frames at 10 fps: 1.2 s)."""
    params = EventConfig(on_threshold=0.5, off_threshold=0.2, min_duration_s=0.3, max_gap_s=0.15)
    x = np.r_[np.zeros(4), np.full(12, 0.8), np.zeros(4), np.full(12, 0.8)]
    t = _table(x)
    events = detect_events(t["timestamp_s"], t["frown_intensity"], t["valid"], params)
    assert [(e.onset_frame, e.offset_frame) for e in events] == [(4, 15), (20, 31)]
    assert [e.duration_s for e in events] == pytest.approx([1.2, 1.2])
    assert events[1].offset_s == pytest.approx(3.2)


def test_short_tracking_loss_is_bridged_but_long_loss_ends_an_event():
    params = EventConfig(on_threshold=0.5, off_threshold=0.2, min_duration_s=0.0, max_gap_s=0.15)
    x = np.array([0.6, 0.6, np.nan, 0.6, 0.6, np.nan, np.nan, np.nan, 0.6, 0.0])
    valid = np.isfinite(x)
    events = detect_events(np.arange(10) / 10, x, valid, params)
    assert [(e.onset_frame, e.offset_frame) for e in events] == [(0, 4), (8, 8)]


def test_a_stretch_with_no_frames_ends_an_event_as_invalid_frames_do():
    """Frowning 1-2 s and 4-5 s at 10 fps with no frame between 2 and 4 s (dropped, a pause): two
    events, the first ending where its last frame's time does (at most five typical steps after
    it, as the time in events counts it), not bridged over 2 s by a 0.15 s limit; frames at the normal step, or a bigger but regular step
    (--stride), bridge nothing and keep one event."""
    params = EventConfig(on_threshold=0.5, off_threshold=0.2, min_duration_s=0.0, max_gap_s=0.15)
    t = np.r_[np.arange(0, 20), np.arange(40, 60)] / 10
    x = np.where((t >= 1.0) & (t < 5.0), 0.8, 0.0)
    events = detect_events(t, x, np.ones(len(t), bool), params)
    assert [(e.onset_s, e.offset_s) for e in events] == [(1.0, pytest.approx(2.4)), (4.0, 5.0)]  # 1.9 + 5 x 0.1
    assert [e.duration_s for e in events] == pytest.approx([1.4, 1.0])
    strided = np.arange(0, 60, 7) / 10  # every 7th frame: a 0.7 s step throughout
    events = detect_events(strided, np.where(strided >= 1.0, 0.8, 0.0), np.ones(len(strided), bool), params)
    assert len(events) == 1 and events[0].onset_s == pytest.approx(1.4)


def test_a_still_has_no_time_based_features():
    """One frame stands for no time: a frowning still used to give 0 % of the time in frowns and
    0 events a minute (or, with min_duration_s 0, 100 % and 60 a minute)."""
    for min_duration in (0.3, 0.0):
        t = _with_conditions(_table(np.array([1.0])))
        for c in ("brow_gap", "brow_lowering", "glabella_lines"):
            t[c] = 1.0
        t["frowning"] = t["smiling"] = False
        feats, _ = summarise(t, EventConfig(min_duration_s=min_duration))
        for f in ("frown", "smile"):
            assert np.isnan(feats[f"{f}_time_pct"]) and np.isnan(feats[f"{f}_events_per_min"])
            assert feats[f"{f}_events_n"] == 0 and np.isnan(feats[f"{f}_event_duration_mean_s"])
        assert feats["frown_intensity_mean"] == 1.0 and feats["n_frames"] == 1


def test_summary_features_on_a_known_series():
    x = np.r_[np.zeros(30), np.full(30, 1.0), np.zeros(40)]  # 10 s at 10 fps, one 3 s frown
    t = _table(x)
    t["frowning"] = (x > 0.5)
    for c in ("brow_gap", "brow_lowering", "glabella_lines"):
        t[c] = 1.0
    t = _with_conditions(t)
    feats, by_family = summarise(t, CFG.events)
    events = by_family["frown"]
    assert len(events) == 1 and feats["frown_events_n"] == 1
    assert feats["frown_time_pct"] == pytest.approx(30.0)
    assert feats["frown_events_per_min"] == pytest.approx(6.0)
    assert feats["frown_event_duration_mean_s"] == pytest.approx(3.0)
    assert feats["frown_intensity_mean"] == pytest.approx(0.3)
    assert feats["frown_intensity_p90"] == pytest.approx(1.0) and feats["valid_fraction"] == 1.0
    # counts are whole numbers in summary.json, not 100.0
    assert type(feats["n_frames"]) is int and type(feats["frown_events_n"]) is int and feats["n_frames"] == 100


def test_the_most_frowning_value_is_named_by_the_frown_direction():
    x = np.linspace(0.0, 1.0, 50)
    t = _with_conditions(_table(x))
    t["frowning"] = False
    t["brow_gap"], t["brow_lowering"], t["glabella_lines"] = 0.44 - 0.05 * x, 0.31 - 0.09 * x, 0.6 + x
    feats, _ = summarise(t, CFG.events)
    assert feats["frown_intensity_max"] == pytest.approx(1.0)
    assert feats["glabella_lines_max"] == pytest.approx(1.6)
    assert feats["brow_gap_min"] == pytest.approx(0.39) and feats["brow_lowering_min"] == pytest.approx(0.22)
    assert not [k for k in feats if k.endswith("_peak")]


def _with_conditions(t: pd.DataFrame, face: np.ndarray | None = None) -> pd.DataFrame:
    """Imaging conditions: constant where there is a face, NaN elsewhere; yaw sweeps -10..10 deg."""
    face = np.ones(len(t), bool) if face is None else face
    t["face_detected"] = face
    for c, value in (("iod_px", 80.0), ("brightness", 120.0), ("log_contrast", 0.3), ("focus", 0.5),
                     ("noise", 1.0), ("pitch", 0.0)):
        t[c] = np.where(face, value, np.nan)
    t["yaw"] = np.where(face, np.linspace(-10, 10, len(t)), np.nan)
    return t


def test_imaging_conditions_are_taken_over_the_frames_with_a_face():
    # valid or not: validity depends on these very conditions, so it must not select the frames
    feats = condition_features(_with_conditions(_table(np.zeros(100), np.arange(100) < 50), np.arange(100) < 90))
    assert (feats["iod_px_median"], feats["brightness_median"], feats["log_contrast_median"],
            feats["focus_median"], feats["noise_median"]) == (80.0, 120.0, 0.3, 0.5, 1.0)
    # the yaws with a face are 90 evenly spaced values over 20 * 89 / 99 deg: p95 - p5 is 90 % of that range
    assert feats["yaw_spread"] == pytest.approx(0.9 * 20 * 89 / 99)
    assert feats["pitch_spread"] == 0.0


def _frames_for_calibration():
    rng = np.random.default_rng(0)
    n = 200
    frown = np.r_[np.zeros(100), np.ones(100)]
    return pd.DataFrame({
        "timestamp_s": np.arange(n) / 10.0, "valid": True,
        "brow_gap": 0.44 - 0.05 * frown + rng.normal(0, 0.002, n),
        "brow_lowering": 0.32 - 0.08 * frown + rng.normal(0, 0.002, n),
        "glabella_lines": 0.7 * np.exp(1.0 * frown) * np.exp(rng.normal(0, 0.02, n)),
    })


def test_calibration_finds_the_neutral_part(tmp_path):
    frames = _frames_for_calibration()
    cal = calibrate(frames, CFG.frown, CFG.calibration, source="baseline.mp4", participant_id="P01")
    # started from the least-frowning 20 %, re-centred on every frame scoring below 0.2 FU: the relaxed half
    assert cal.method == "percentile" and cal.n_frames == 100
    assert cal.neutral.brow_gap == pytest.approx(0.44, abs=0.001)
    assert cal.neutral.glabella_lines == pytest.approx(0.7, rel=0.01)
    seg = calibrate(frames, CFG.frown, CFG.calibration.model_copy(update={"segment_start_s": 12.0,
                                                                          "segment_end_s": 18.0}))
    assert seg.method == "segment" and seg.n_frames == 60
    assert seg.neutral.brow_lowering == pytest.approx(0.24, abs=0.003)
    cal.save(tmp_path / "P01.json")
    assert Calibration.load(tmp_path / "P01.json") == cal


def test_calibration_needs_enough_valid_frames(tmp_path):
    frames = _frames_for_calibration()
    frames["valid"] = False
    with pytest.raises(InputError, match="only 0 valid neutral frames"):
        calibrate(frames, CFG.frown, CFG.calibration, source="baseline.mp4")
    bad = tmp_path / "cal.json"
    bad.write_text("{\"neutral\": {\"brow_gap\": -1}}")
    with pytest.raises(InputError, match=str(bad)):
        Calibration.load(bad)


def test_brow_gap_gives_way_when_the_head_turns():
    """Beyond 10 deg of yaw brow_gap stops following the corrugator: its weight falls to 0 at 15 deg and
    the others' renormalise, so a frown seen in the other components still reads in frown units."""
    full = CFG.frown.full_frown
    gap_only = {"brow_gap": 0.4 * (1 - full["brow_gap"]), "brow_lowering": 0.3, "glabella_lines": 1.0}
    others = {"brow_gap": 0.4, "brow_lowering": 0.3 * (1 - full["brow_lowering"]),
              "glabella_lines": np.exp(full["glabella_lines"])}
    yaw = np.array([0.0, 10.0, 12.5, -15.0, 25.0])
    w = CFG.frown.weights
    np.testing.assert_allclose(family_intensity(gap_only, NEUTRAL, CFG.frown, yaw),
                               [w["brow_gap"] / sum(w.values())] * 2 + [0.5 * w["brow_gap"] / (sum(w.values())
                                                                         - 0.5 * w["brow_gap"]), 0, 0])
    np.testing.assert_allclose(family_intensity(others, NEUTRAL, CFG.frown, yaw)[3:], 1.0)


def test_no_gap_is_read_in_evenly_spaced_frames_whatever_their_rounding():
    """With max_gap_s 0 (allowed) frames at the typical step, as float sums give them, keep one event."""
    params = EventConfig(on_threshold=0.5, off_threshold=0.2, min_duration_s=0.0, max_gap_s=0.0)
    for t in (np.arange(90) / 30, np.cumsum(np.full(90, 1 / 30)), np.arange(90) * 0.1):
        assert len(detect_events(t, np.full(90, 0.8), np.ones(90, bool), params)) == 1


def test_an_event_of_exactly_the_minimum_duration_counts_wherever_it_starts():
    """Nine frames at 30/s last 0.3 s (the default minimum): compared exactly, such an event was kept
    at 76 of 150 onsets and dropped at the others, as the float sums of their times fell; and a
    pause of exactly max_gap_s of invalid frames is bridged wherever it falls."""
    params = EventConfig()
    fps, n = 30, round(EventConfig().min_duration_s * 30)
    kept = []
    for onset in range(150):
        x = np.zeros(400)
        x[onset:onset + n] = 1.0
        kept.append(len(detect_events(np.arange(400) / fps, x, np.ones(400, bool), params)))
    assert kept == [1] * 150
    fps = 24  # max_gap_s 0.25 s is 6 frames: the last invalid frame exactly max_gap_s after the last good one
    gap = round(params.max_gap_s * fps)
    bridged = []
    for onset in range(100):
        x = np.zeros(400)
        x[onset:onset + 36] = 1.0
        valid = np.ones(400, bool)
        valid[onset + 10:onset + 10 + gap] = False
        bridged.append(len(detect_events(np.arange(400) / fps, x, valid, params)))
    assert bridged == [1] * 100  # compared exactly: split in two at 7 of the 100
