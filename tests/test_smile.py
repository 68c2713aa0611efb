"""The smile family: measured through the registry, against known truth, and through to the summary."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest

from facefeedback import schema
from facefeedback.calibration import Calibration, calibrate
from facefeedback.components.registry import FAMILIES, REGISTRY, SMILE
from facefeedback.config import Config
from facefeedback.extract import read_raw, recording_result
from facefeedback.synthetic.faces import ClipSpec, FaceAnchors, neutral_face, write_clip

CONFIG = Config().updated(progress=False)


@pytest.fixture(scope="module")
def smile_clip(tmp_path_factory):
    """A frontal synthetic smile (the frown's bumps) with a frown of its own later on, measured and
    calibrated on itself, and its truth."""
    folder = tmp_path_factory.mktemp("smile")
    base = neutral_face()
    video, truth = write_clip(ClipSpec("smile", seconds=8.0, fps=10.0, curve="flat", smile="bumps", seed=4),
                              folder, base, FaceAnchors.find(base))
    info, raw = read_raw(video, CONFIG)
    population = recording_result(video, info, raw, CONFIG)
    cal = calibrate(population.frames, CONFIG.families(), CONFIG.calibration)
    return recording_result(video, info, raw, CONFIG, cal), pd.read_csv(truth)


def test_smile_intensity_follows_a_known_smile(smile_clip):
    result, truth = smile_clip
    frames = result.frames
    assert frames["valid"].mean() > 0.95
    r = np.corrcoef(frames["smile_intensity"], truth["smile"])[0, 1]
    assert r >= 0.95, f"r = {r:.3f}"
    # the components move in their registered direction: a wider mouth, higher cheeks
    full, relaxed = truth["smile"] > 0.9, truth["smile"] == 0
    for c in SMILE.components:
        change = frames.loc[full, c.name].mean() - frames.loc[relaxed, c.name].mean()
        assert np.sign(change) == c.direction, (c.name, change)
    # a smile is not a frown
    assert frames["frown_intensity"].quantile(0.95) < 0.2


def test_a_smile_turned_out_of_the_pictures_plane_keeps_its_size():
    """The validation's turning clip (README, "The smile"): the head turned by up to 22 deg and
    nodded by up to 10 deg while smiling, calibrated on itself. r 0.955 (0.910 before the smile's
    own pose fit and the eyes' ruler); relaxed frames stay near 0 at every pose."""
    spec = ClipSpec("smile_turning", seconds=12.0, curve="flat", smile="repeated", yaw_deg=22.0, pitch_deg=10.0,
                    seed=6)  # as scripts/validate_smile.py
    base = neutral_face()
    with tempfile.TemporaryDirectory() as folder:
        video, truth = write_clip(spec, folder, base, FaceAnchors.find(base))
        info, raw = read_raw(video, CONFIG)
        truth = pd.read_csv(truth)
        population = recording_result(video, info, raw, CONFIG)
        cal = calibrate(population.frames, CONFIG.families(), CONFIG.calibration)
        frames = recording_result(video, info, raw, CONFIG, cal).frames
    assert cal.pose is not None and frames["valid"].all()
    r = np.corrcoef(frames["smile_intensity"], truth["smile"])[0, 1]
    assert r >= 0.94, f"r = {r:.3f}"
    assert frames.loc[truth["smile"] == 0, "smile_intensity"].quantile(0.9) < 0.2


def test_smile_events_and_features_are_summarised_like_the_frown(smile_clip):
    result, truth = smile_clip
    feats = result.summary["features"]
    assert list(feats) == schema.summary_feature_names()
    # the truth's four bumps of 0.3-1.0: the two larger ones (at least) are smile events
    assert 2 <= feats["smile_events_n"] == len(result.summary["smile_events"]) <= 4
    assert result.frames["smiling"].any() and not result.frames["frowning"].any()
    for stat in ("mean", "p90", "max"):
        assert np.isfinite(feats[f"smile_intensity_{stat}"])
    assert feats["smile_time_pct"] > 0 and feats["smile_events_per_min"] > 0
    assert feats["smile_intensity_max"] > feats["smile_intensity_p90"] > feats["smile_intensity_mean"] > 0


def test_every_registered_component_reaches_the_columns_the_config_and_the_neutral():
    for family, params in zip(FAMILIES, CONFIG.families()):
        assert set(params.weights) == set(params.full_change) == set(family.names)
        assert set(params.population_neutral.model_dump()) == set(family.names)
        assert {family.intensity, family.active} <= set(schema.FRAME_COLUMN_NAMES)
        assert f"{family.name}_events_per_min" in schema.summary_feature_names()
    for name, component in REGISTRY.items():
        assert name in schema.FRAME_COLUMN_NAMES and f"{name}_mean" in schema.summary_feature_names()
        assert getattr(CONFIG, component.family).population_neutral.model_dump()[name] == component.neutral


def test_a_calibration_file_without_the_smile_loads_with_its_population_neutral():
    stored = {"neutral": {"brow_gap": 0.44, "brow_lowering": 0.3, "glabella_lines": 0.5}, "method": "percentile"}
    cal = Calibration.from_json(stored)
    assert cal.neutral.brow_gap == 0.44
    assert cal.neutral.lip_corner_pull == CONFIG.smile.population_neutral.lip_corner_pull
    half = {"neutral": {**stored["neutral"], "lip_corner_pull": 0.9}}
    with pytest.raises(Exception, match="not a calibration file"):
        Calibration.from_json(half)


def test_the_packaged_defaults_are_the_registry_defaults():
    import yaml

    from facefeedback.config import default_config_text

    assert Config.model_validate(yaml.safe_load(default_config_text())) == Config()
