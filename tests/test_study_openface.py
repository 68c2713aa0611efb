"""OpenFace-compatible export: OpenFace's names, 1-based frames, radians with OpenFace's signs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facefeedback.cli import main
from facefeedback.config import load_config
from facefeedback.extract import process_recording
from facefeedback.recording_outputs import write_recording
from facefeedback.study.openface import OPENFACE_COLUMNS


@pytest.fixture(scope="module")
def extract_dir(tmp_path_factory, pyfeat_media):
    out = tmp_path_factory.mktemp("extract")
    config = load_config().updated(**{"input.stride": 4, "progress": False})
    for name in ("single_face.mp4", "no_face.mp4"):
        write_recording(process_recording(pyfeat_media / name, config), out)
    return out


def read_openface(path):
    return pd.read_csv(path, skipinitialspace=True)


def test_export_writes_openface_columns(extract_dir, tmp_path, capsys):
    assert main(["export", "--openface", str(extract_dir), "--out", str(tmp_path / "of")]) == 0
    assert "2 OpenFace-style CSV files" in capsys.readouterr().out
    header = (tmp_path / "of" / "single_face.csv").read_text().splitlines()[0]
    assert header.startswith(", ".join(OPENFACE_COLUMNS) + ", ")
    table = read_openface(tmp_path / "of" / "single_face.csv")
    frames = pd.read_parquet(extract_dir / "single_face" / "frames.parquet")
    assert table["frame"].tolist() == (frames["frame"] + 1).tolist() and table["frame"].iloc[0] == 1
    assert (table["face_id"] == 0).all()
    np.testing.assert_allclose(table["timestamp"], frames["timestamp_s"], atol=5e-4)
    found = frames["face_detected"].to_numpy()
    assert found.any() and (table["success"] == found.astype(int)).all()
    np.testing.assert_allclose(table["pose_Rx"][found], -np.radians(frames["pitch"][found]), atol=5e-4)
    np.testing.assert_allclose(table["pose_Ry"][found], np.radians(frames["yaw"][found]), atol=5e-4)
    np.testing.assert_allclose(table["pose_Rz"][found], np.radians(frames["roll"][found]), atol=5e-4)
    np.testing.assert_allclose(table["frown_intensity"], frames["frown_intensity"], rtol=1e-5)
    assert set(table["frowning"].unique()) <= {0, 1}


def test_no_face_frames_are_empty_not_zero(extract_dir, tmp_path):
    main(["export", "--openface", str(extract_dir), "--out", str(tmp_path)])
    table = read_openface(tmp_path / "no_face.csv")
    assert (table["success"] == 0).all() and (table["confidence"] == 0).all()
    assert table[["pose_Rx", "brow_gap", "frown_intensity"]].isna().all().all()


def test_export_of_a_folder_without_recordings_is_one_line(tmp_path, capsys):
    assert main(["export", "--openface", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no recordings found" in err and "Traceback" not in err


def test_pose_signs_agree_with_openface(openface_samples, tmp_path):
    """On OpenFace's own head-turn clip, each exported rotation follows OpenFace's (same sign)."""
    config = load_config().updated(**{"input.stride": 4, "progress": False})
    write_recording(process_recording(openface_samples / "2015-10-15-15-14.avi", config), tmp_path / "rec")
    main(["export", "--openface", str(tmp_path / "rec"), "--out", str(tmp_path / "of")])
    ours = read_openface(tmp_path / "of" / "2015-10-15-15-14.csv")
    theirs = read_openface(openface_samples / "2015-10-15-15-14.openface.csv").set_index("frame").loc[ours["frame"]]
    ok = (ours["success"].to_numpy() == 1) & (theirs["success"].to_numpy() == 1)
    for col in ("pose_Rx", "pose_Ry", "pose_Rz"):
        r = np.corrcoef(ours[col][ok], theirs[col].to_numpy()[ok])[0, 1]
        assert r > 0.8, (col, r)
