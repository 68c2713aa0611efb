"""The optional blendshape backend (MediaPipe Tasks FaceLandmarker with a user's model bundle)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from facefeedback.cli import main
from facefeedback.config import Config
from facefeedback.extract import process_recording
from facefeedback.schema import BLENDSHAPE_COLUMN_NAMES, FRAME_COLUMN_NAMES

MODEL = Path(__file__).resolve().parents[2] / "shared" / "models" / "face_landmarker.task"


@pytest.fixture(scope="module")
def model():
    if not MODEL.is_file():
        pytest.skip(f"{MODEL} is absent: the blendshape backend needs a user-supplied face_landmarker.task")
    return MODEL


def test_video_gets_brow_blendshapes(model, samples, tmp_path):
    assert main(["extract", str(samples / "frontal_frown.mp4"), "--out", str(tmp_path), "--model", str(model),
                 "--stride", "2", "--no-progress"]) == 0
    frames = pd.read_parquet(tmp_path / "frontal_frown" / "frames.parquet")
    assert list(frames.columns) == list(FRAME_COLUMN_NAMES + BLENDSHAPE_COLUMN_NAMES)
    assert frames["face_detected"].all()
    shapes = frames[list(BLENDSHAPE_COLUMN_NAMES)]
    assert shapes.notna().all().all() and ((shapes >= 0) & (shapes <= 1)).all().all()
    truth = pd.read_csv(samples / "frontal_frown.truth.csv").iloc[::2].reset_index(drop=True)
    assert frames["frown_intensity"].corr(truth["frown"]) > 0.9  # the measure does not depend on the backend


def test_image_mode_blendshapes_rank_anger_above_happy(model, pyfeat_media):
    config = Config().updated(**{"landmarks.model_path": str(model), "progress": False})
    anger = process_recording(pyfeat_media / "15-f13-anc-ph.jpg", config).frames.iloc[0]
    happy = process_recording(pyfeat_media / "0-f15-hao-ph.jpg", config).frames.iloc[0]
    down = lambda r: (r["brow_down_left"] + r["brow_down_right"]) / 2
    assert down(anger) > down(happy)


def test_missing_or_unusable_model_file_is_one_line_before_any_work(tmp_path, samples, capsys):
    """Said once for the whole command (it was said once per input, each input failing in turn)."""
    clips = [str(samples / "lighting_neutral.mp4"), str(samples / "frontal_frown.mp4")]
    code = main(["extract", *clips, "--out", str(tmp_path / "o"), "--model", str(tmp_path / "nope.task")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "nope.task: no such model file" in err and err.count("\n") == 0
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a bundle")
    code = main(["extract", *clips, "--out", str(tmp_path / "o"), "--model", str(bad)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "bad.task: not a usable face_landmarker.task bundle" in err and err.count("\n") == 0
    assert not (tmp_path / "o").exists()
