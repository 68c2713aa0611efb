"""The neutral reference: its level, its pose model, and that neither can absorb a frown.

Tables with known truth: a relaxed face whose components change with head pose in a way the
model does not assume (a cube of |yaw| for the lines, a one-sided effect of a raised chin),
frowns of known intensity at chosen poses, and a frown that tilts Face Mesh's pitch estimate
chin-down, as it does on real faces.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facefeedback.calibration import Calibration, PoseModel, calibrate, population_calibration
from facefeedback.components.intensity import family_intensity
from facefeedback.config import Config, NeutralReference
from facefeedback.errors import InputError

CFG = Config()
FPS = 15.0
NEUTRAL = {"brow_gap": 0.44, "brow_lowering": 0.31, "glabella_lines": 0.5}


def _session(yaw, pitch, frown, seed=0, pose_effect=True, noise=0.05, lines_level=NEUTRAL["glabella_lines"]):
    """A per-frame table: relaxed components that change with pose, times a frown of known intensity."""
    rng = np.random.default_rng(seed)
    n = len(yaw)
    full = CFG.frown.full_frown
    lines = np.log(lines_level) + full["glabella_lines"] * frown + rng.normal(0, noise, n)
    gap = NEUTRAL["brow_gap"] * (1 - full["brow_gap"] * frown) * np.exp(rng.normal(0, noise / 5, n))
    low = NEUTRAL["brow_lowering"] * (1 - full["brow_lowering"] * frown) * np.exp(rng.normal(0, noise / 3, n))
    if pose_effect:  # shading of the brow ridge as the head turns or the chin comes up
        lines = lines + 0.7 * (np.abs(yaw) / 25.0) ** 3 + 0.02 * np.maximum(pitch - 2.0, 0.0)
        low = low * (1 - 0.04 * (np.abs(yaw) / 25.0) ** 2)
    return pd.DataFrame({"timestamp_s": np.arange(n) / FPS, "valid": True, "yaw": yaw, "pitch": pitch,
                         "brow_gap": gap, "brow_lowering": low, "glabella_lines": np.exp(lines)})


def _bumps(n, starts, height=1.0, length=30):
    """Frowns: smooth rises and falls of ``length`` frames starting at ``starts``."""
    a = np.zeros(n)
    for s in starts:
        a[s:s + length] = np.maximum(a[s:s + length], height * np.sin(np.linspace(0, np.pi, length)) ** 2)
    return a


def _score(table, cal):
    comps = {k: table[k].to_numpy() for k in NEUTRAL}
    return cal.score(comps, table["yaw"].to_numpy(), table["pitch"].to_numpy(), CFG.frown)


def _without_pose():
    return CFG.calibration.model_copy(update={"pose_model": False})


def _turning(n=900, seed=0):
    t = np.arange(n) / FPS
    yaw = 24 * np.sin(2 * np.pi * t / 20.0) + np.random.default_rng(seed).normal(0, 0.5, n)
    pitch = -4 + 9 * np.sin(2 * np.pi * t / 27.0)
    return yaw, pitch


def test_the_neutral_is_the_centre_of_the_relaxed_face_not_its_low_end():
    """On a recording where nobody frowns, the old rule (median of the least-frowning 20 %) put the
    lines' neutral at the low end of their own scatter (when the lines, above the population default's,
    decide which frames look least frowning): most relaxed frames then read as frowning."""
    n = 600
    table = _session(np.zeros(n), np.zeros(n), np.zeros(n), noise=0.15, pose_effect=False, lines_level=1.0)
    lines = table["glabella_lines"].to_numpy()
    old = calibrate(table, CFG.frown, _without_pose().model_copy(update={"refine_below": None}))
    new = calibrate(table, CFG.frown, CFG.calibration)
    assert np.mean(lines <= old.neutral.glabella_lines) < 0.3
    assert 0.4 < np.mean(lines <= new.neutral.glabella_lines) < 0.6
    spread = {name: np.subtract(*np.quantile(_score(table, c), [0.95, 0.05])) for name, c in (("old", old), ("new", new))}
    assert spread["new"] < 0.7 * spread["old"], spread


@pytest.mark.parametrize("relaxed", [0.25, 0.5])
def test_the_refined_neutral_keeps_frowns_out(relaxed):
    """Frowns, with every level between rest and the peak as they rise and fall, fill most of the
    recording: as long as a quarter of it is relaxed the neutral stays the relaxed face's."""
    n = 1200
    frown = np.zeros(n)
    period = 60
    frowning = int(round(period * (1 - relaxed)))
    for s in range(0, n, period):
        frown[s:s + frowning] = np.sin(np.linspace(0, np.pi, frowning)) ** 0.5 * 0.8
    table = _session(np.zeros(n), np.zeros(n), frown, pose_effect=False)
    cal = calibrate(table, CFG.frown, CFG.calibration)
    for k, v in NEUTRAL.items():
        assert getattr(cal.neutral, k) == pytest.approx(v, rel=0.05 if k == "glabella_lines" else 0.01), k


def test_the_pose_model_removes_head_turns_and_keeps_the_frown():
    yaw, pitch = _turning()
    n = len(yaw)
    frontal = np.flatnonzero((np.abs(yaw) < 3) & (np.r_[0, np.diff(np.abs(yaw))] > 0))
    turned = np.flatnonzero((np.abs(yaw) > 20) & (np.abs(yaw) < 21))
    starts = np.r_[frontal[::40][:3], turned[::40][:3]]
    frown = _bumps(n, starts, length=15)
    table = _session(yaw, pitch, frown)
    cal = calibrate(table, CFG.frown, CFG.calibration)
    assert cal.pose is not None
    still = calibrate(table, CFG.frown, _without_pose())
    x, x_still = _score(table, cal), _score(table, still)
    relaxed = frown == 0
    # relaxed frames: no pose dependence left (mean per |yaw| band), and far less spread
    bands = [(0, 8), (8, 16), (16, 26)]
    means = [x[relaxed & (np.abs(yaw) >= a) & (np.abs(yaw) < b)].mean() for a, b in bands]
    means_still = [x_still[relaxed & (np.abs(yaw) >= a) & (np.abs(yaw) < b)].mean() for a, b in bands]
    assert max(means) - min(means) < 0.05, means
    assert max(means_still) - min(means_still) > 0.2, means_still
    # the frowns read the same at the front and turned, and follow their truth
    peaks = [x[s:s + 15].max() for s in starts]
    assert np.ptp(peaks) < 0.15 and min(peaks) > 0.8, peaks
    assert np.corrcoef(x, frown)[0, 1] > 0.97
    assert np.corrcoef(x_still, frown)[0, 1] < 0.8


def test_a_frown_made_only_while_turned_is_not_absorbed():
    """The participant frowns whenever the head turns right (up to 24 deg) and is relaxed when it
    turns left (up to 15 deg); turning itself does nothing here. The yaw term is symmetric and
    reaches only as far as both sides do, so the relaxed left turns say what turning alone does,
    and the frowns beyond them stay frowns (a model reaching to 24 deg reads them 0.17 FU, not 1.0)."""
    n = 900
    s = np.sin(2 * np.pi * np.arange(n) / FPS / 20.0)
    yaw = np.where(s > 0, 24 * s, 15 * s) + np.random.default_rng(0).normal(0, 0.5, n)
    pitch = -4 + 9 * np.sin(2 * np.pi * np.arange(n) / FPS / 27.0)
    frown = np.clip((yaw - 12) / 6, 0, 1)
    table = _session(yaw, pitch, frown, pose_effect=False)
    cal = calibrate(table, CFG.frown, CFG.calibration)
    still = calibrate(table, CFG.frown, _without_pose())
    assert cal.pose is not None and cal.pose.yaw_max_deg < 16
    x, x_still = _score(table, cal), _score(table, still)
    right = yaw > 18
    assert x[right].mean() > 0.9 * x_still[right].mean()


@pytest.mark.parametrize("bowed", [True, False])
def test_a_frown_that_tilts_the_estimated_pitch_is_not_absorbed(bowed):
    """Lowered brows tilt Face Mesh's pitch estimate chin-down (about 0.7 deg in a full frown), and a
    crying person bows the head. Pitch may only make a raised chin look more like a frown, so neither
    can pass for pose (unconstrained, the bowed frowns read 0.67 FU, not 0.98)."""
    n = 900
    nod = 9 * np.sin(2 * np.pi * np.arange(n) / FPS / 23.0)
    if bowed:  # frowns while the head is bowed
        frown = np.clip(-nod / 6 - 0.3, 0, 1)
    else:  # frowns at any pitch
        frown = _bumps(n, np.arange(20, n, 75), length=30)
    table = _session(np.zeros(n), -3 + nod - 0.8 * frown, frown, pose_effect=False)
    cal = calibrate(table, CFG.frown, CFG.calibration)
    assert cal.pose is not None
    x = _score(table, cal)
    assert np.corrcoef(x, frown)[0, 1] > 0.99
    assert x[frown > 0.95].mean() == pytest.approx(1.0, abs=0.06)


def test_no_pose_model_without_head_movement():
    n = 300
    table = _session(np.random.default_rng(1).normal(0, 1.5, n), np.random.default_rng(2).normal(-5, 1.5, n),
                     np.zeros(n))
    assert calibrate(table, CFG.frown, CFG.calibration).pose is None
    assert population_calibration(CFG.frown).pose is None


def test_calibration_files_round_trip_and_old_ones_are_pose_independent(tmp_path):
    yaw, pitch = _turning()
    table = _session(yaw, pitch, np.zeros(len(yaw)))
    cal = calibrate(table, CFG.frown, CFG.calibration, source="baseline.mp4", participant_id="P01")
    cal.save(tmp_path / "P01.json")
    again = Calibration.load(tmp_path / "P01.json")
    assert again == cal and again.pose is not None
    np.testing.assert_allclose(_score(table, again), _score(table, cal))
    data = json.loads((tmp_path / "P01.json").read_text())
    assert set(data["pose"]["coef"]["glabella_lines"]) == {"yaw", "yaw_sq", "pitch"}
    assert set(data["noise"]) == set(NEUTRAL) and data["noise"]["glabella_lines"] > 0
    bad = dict(data, noise={"glabella_lines": -0.1})
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="bad.json: not a calibration file .*noise"):
        Calibration.load(tmp_path / "bad.json")
    first = next(iter(data["neutral"]))
    wrong = dict(data, neutral=dict(data["neutral"], **{first: "high"}))
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    with pytest.raises(InputError) as err:  # the value and where it is (it read "1 validation error for ...")
        Calibration.load(tmp_path / "wrong.json")
    assert f"wrong.json: not a calibration file (neutral.{first}" in str(err.value) and "'high'" in str(err.value)
    missing = dict(data, neutral={k: v for k, v in data["neutral"].items() if k != first})
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    with pytest.raises(InputError) as err:  # the field, not the whole neutral
        Calibration.load(tmp_path / "missing.json")
    assert str(err.value).endswith(f"missing.json: not a calibration file (neutral.{first}: Field required)")
    # a file written before pose models and the relaxed face's scatter: neither key
    del data["pose"], data["noise"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = Calibration.load(tmp_path / "old.json")
    assert old.pose is None and old.noise is None and old.neutral == cal.neutral
    comps = {k: table[k].to_numpy() for k in NEUTRAL}
    np.testing.assert_allclose(_score(table, old), family_intensity(comps, cal.neutral, CFG.frown, table["yaw"]))


def test_the_pose_model_stays_inside_the_calibrated_range():
    model = PoseModel(yaw_max_deg=20.0, pitch_ref_deg=-4.0, pitch_min_deg=-8.0, pitch_max_deg=10.0,
                      coef={"glabella_lines": (0.01, 0.002, 0.01)})
    shift = model.log_shift(np.array([0.0, 4.0, -20.0, 40.0, -40.0]), np.array([-4.0, -4.0, -4.0, 30.0, -30.0]))
    lines = shift["glabella_lines"]
    assert lines[0] == 0 and lines[1] == 0  # inside the dead zone, at the reference pitch
    assert lines[3] == pytest.approx(0.01 * 15 + 0.002 * 225 + 0.01 * 10)  # clamped at |yaw| 20, pitch +10
    assert lines[4] == pytest.approx(0.01 * 15 + 0.002 * 225 - 0.01 * 8)
    cal = Calibration(NeutralReference(**NEUTRAL, lip_corner_pull=0.78, cheek_raise=0.3), "percentile", pose=model)
    at = cal.neutral_at(np.array([40.0]), np.array([-4.0]))
    assert at["glabella_lines"][0] == pytest.approx(NEUTRAL["glabella_lines"] * np.exp(0.01 * 15 + 0.002 * 225))
    assert at["brow_gap"] == NEUTRAL["brow_gap"]


def _spread(x):
    return float(np.subtract(*np.nanquantile(x, [0.95, 0.05])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_relaxed_face_scatter_is_shrunk_and_frowns_keep_their_size(seed):
    """A turning face whose lines wander (sd 0.15 in ln, as on a smooth glabella in a webcam video),
    with full frowns on about a sixth of the frames: the relaxed face's scatter is measured, its
    false frown shrinks by a fifth or more, and the frowns lose under 3 %."""
    yaw, pitch = _turning(seed=seed)
    frown = _bumps(len(yaw), range(40, len(yaw) - 30, 180), length=30)
    table = _session(yaw, pitch, frown, seed=seed, noise=0.15)
    cal = calibrate(table, CFG.frown, CFG.calibration)
    plain = calibrate(table, CFG.frown, CFG.calibration.model_copy(update={"noise_shrinkage": False}))
    assert plain.noise is None and cal.neutral == plain.neutral
    assert cal.noise["glabella_lines"] == pytest.approx(0.15, rel=0.25)
    x, x_plain = _score(table, cal), _score(table, plain)
    relaxed, peak = frown == 0, frown > 0.95
    assert _spread(x[relaxed]) < 0.8 * _spread(x_plain[relaxed])
    assert x[peak].mean() > 0.97 * x_plain[peak].mean()
    assert x[peak].mean() == pytest.approx(1.0, abs=0.1)


def test_the_smile_is_shrunk_by_its_own_relaxed_scatter():
    """The same rule for every family: a table with the smile's columns, smiles on a quarter of its
    frames, gets each smile component's relaxed scatter, and a change of one scatter counts half."""
    yaw, pitch = _turning(seed=3)
    n = len(yaw)
    smile = _bumps(n, range(60, n - 30, 150), length=40)
    rng = np.random.default_rng(3)
    table = _session(yaw, pitch, np.zeros(n), seed=3)
    neutral = {c.name: c.neutral for c in CFG.smile.family.components}
    wobble = {"lip_corner_pull": 0.02, "cheek_raise": 0.06}
    for name, sd in wobble.items():
        full = CFG.smile.full_change[name]
        table[name] = neutral[name] * (1 + full * smile) * np.exp(rng.normal(0, sd, n))
    cal = calibrate(table, CFG.families(), CFG.calibration)
    assert set(cal.noise) == set(NEUTRAL) | set(wobble)
    for name, sd in wobble.items():
        assert cal.noise[name] == pytest.approx(sd, rel=0.25), name
    one = {k: np.array([cal.neutral_at(0.0, 0.0)[k] * (1 + cal.noise[k])]) for k in wobble}
    terms = cal.terms(one, 0.0, 0.0, CFG.smile)
    for name in wobble:
        assert terms[name][0] == pytest.approx(cal.noise[name] / 2 / CFG.smile.full_change[name]), name


def test_the_smile_neutral_follows_pose_either_way_and_a_smile_at_one_pose_stays():
    """Turning draws the relaxed mouth narrower and a raised chin the cheeks lower (*less* like a
    smile, which the frown's one-sided rule would not allow), and the participant smiles only while
    facing the camera. Each smile component's pose dependence is fitted where the other is at rest,
    so the relaxed face reads 0 at every pose and the smiles keep their size; the frown's pose model
    is the one it would be without the smile."""
    yaw, pitch = _turning(seed=5)
    n = len(yaw)
    facing = np.flatnonzero((np.abs(yaw) < 2) & (np.r_[0, np.diff(np.abs(yaw))] < 0))
    starts = facing[np.r_[0, np.flatnonzero(np.diff(facing) > 20) + 1]]
    starts = starts[starts < n - 12]
    smile = _bumps(n, starts, length=12)
    rng = np.random.default_rng(5)
    table = _session(yaw, pitch, np.zeros(n), seed=5)
    full = CFG.smile.full_change
    relaxed_mouth = 0.80 * (1 - 0.06 * (np.abs(yaw) / 24) ** 2)
    relaxed_cheeks = 0.14 * np.exp(-0.007 * (pitch + 4))
    table["lip_corner_pull"] = relaxed_mouth * (1 + full["lip_corner_pull"] * smile) * np.exp(rng.normal(0, 0.005, n))
    table["cheek_raise"] = relaxed_cheeks * (1 + full["cheek_raise"] * smile) * np.exp(rng.normal(0, 0.01, n))
    cal = calibrate(table, CFG.families(), CFG.calibration)
    still = calibrate(table, CFG.families(), _without_pose())
    comps = {k: table[k].to_numpy() for k in CFG.smile.family.names}
    x, x_still = (c.score(comps, yaw, pitch, CFG.smile) for c in (cal, still))
    lip_yaw, lip_yaw_sq, _ = cal.pose.coef["lip_corner_pull"]
    assert lip_yaw + 10 * lip_yaw_sq < 0 and cal.pose.coef["cheek_raise"][2] < 0
    relaxed = smile == 0
    bands = [(0, 8), (8, 16), (16, 26)]
    means = [x[relaxed & (np.abs(yaw) >= a) & (np.abs(yaw) < b)].mean() for a, b in bands]
    assert max(means) < 0.05, means
    peaks = [x[s:s + 12].max() for s in starts]
    assert min(peaks) > 0.85 and max(peaks) < 1.15, peaks
    assert np.corrcoef(x, smile)[0, 1] > 0.97 > np.corrcoef(x_still, smile)[0, 1]
    frown_only = calibrate(table.drop(columns=list(comps)), CFG.families(), CFG.calibration)
    for name in NEUTRAL:
        assert cal.pose.coef[name] == frown_only.pose.coef[name]
