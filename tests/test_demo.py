"""The webcam demo, run headless on the sample clips, and its failures as the user meets them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from json_helpers import strict_json

from facefeedback.cli import main
from facefeedback.config import Config
from facefeedback.demo import DemoOptions, run_demo
from facefeedback.demo.overlay import layout_for
from facefeedback.errors import InputError
from facefeedback.io import FrameSource

CLIP = "frontal_frown"


def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def meter_fill(canvas: np.ndarray, width: int, height: int) -> float:
    """Filled share of the meter, read from the pixels: rows of its middle whose red is lit."""
    m = layout_for(width, height).meter
    middle = canvas[m.y:m.y1, m.x + m.w // 4:m.x1 - m.w // 4, 2]  # BGR: red channel
    return float((np.median(middle, axis=1) > 128).mean())


def test_headless_meter_follows_the_frown(samples, tmp_path, capsys):
    # 0.8 s of neutral face: the clip's first frown starts at 1.0 s.
    out = tmp_path / "session"
    rc = main(["webcam", "--source", str(samples / f"{CLIP}.mp4"), "--headless", "--calibrate", "0.8",
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    truth = pd.read_csv(samples / f"{CLIP}.truth.csv")
    frames = read_video(out / "overlay.mp4")
    lay = layout_for(480, 480)
    assert len(frames) == len(truth) == 120
    assert frames[0].shape == (lay.canvas_h, lay.canvas_w, 3)
    fill = np.array([meter_fill(f, 480, 480) for f in frames])
    assert fill.max() - fill.min() > 0.3  # the meter moves over a good part of its height
    r = np.corrcoef(fill, truth["frown"])[0, 1]
    assert r >= 0.9, f"meter fill vs ground-truth frown: r = {r:.3f}"

    table = pd.read_parquet(out / "frames.parquet")
    assert len(table) == 120
    summary = strict_json(out / "summary.json")
    strict_json(out / "provenance.json")
    assert summary["calibration"]["method"] == "segment"
    assert summary["calibration"]["n_frames"] == 12  # frames at 0 .. 0.733 s of a 15 fps clip
    assert (out / "provenance.json").is_file()


def test_live_frowning_state_is_the_tables(samples, tmp_path):
    """The live view's frowning flags are the event rule of the saved table, frame for frame."""
    result = run_demo(DemoOptions(source=str(samples / "moving_frown.mp4"), out_dir=tmp_path / "s",
                                  headless=True, calibrate_s=0), Config())
    assert result.summary["calibration"]["method"] == "population"
    assert result.table["frowning"].any() and not result.table["frowning"].all()
    np.testing.assert_array_equal(result.live_frowning, result.table["frowning"].to_numpy())
    assert result.video == tmp_path / "s" / "overlay.mp4"


def test_no_camera_says_what_to_do(tmp_path, capsys):
    rc = main(["webcam", "--source", "9", "--headless", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc != 0
    assert "camera 9" in err and "--source PATH" in err
    assert "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_no_display_suggests_headless(samples, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "facefeedback.cli", "webcam", "--source",
                           str(samples / f"{CLIP}.mp4"), "--out", str(tmp_path / "s")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "error: no display" in proc.stderr and "--headless" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def truncated_avi(samples, tmp_path_factory) -> Path:
    """The sample clip as an MJPG AVI, cut off in the middle (as when a disk fills up mid-recording)."""
    whole = tmp_path_factory.mktemp("avi") / "whole.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (480, 480))
    for image in read_video(samples / f"{CLIP}.mp4"):
        writer.write(image)
    writer.release()
    cut = whole.with_name("truncated.avi")
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    return cut


def test_source_failing_midstream_keeps_what_was_measured(truncated_avi, tmp_path, capsys):
    out = tmp_path / "s"
    rc = main(["webcam", "--source", str(truncated_avi), "--headless", "--calibrate", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0
    assert "truncated or corrupt" in err and f"saved in {out}" in err
    assert "Traceback" not in err
    table = pd.read_parquet(out / "frames.parquet")
    assert 0 < len(table) < 120
    assert table["face_detected"].all()
    assert len(read_video(out / "overlay.mp4")) == len(table)


class FileAsCamera(FrameSource):
    """A camera whose pictures come from a file: when the file ends, the camera has 'stopped'."""

    def _open(self):
        info = super()._open()
        self.kind = "camera"
        return info


def test_camera_stopping_midstream_is_reported_and_saved(truncated_avi, tmp_path):
    out = tmp_path / "s"
    source = FileAsCamera(truncated_avi)
    with pytest.raises(InputError, match=r"stopped giving pictures after \d+ frames.*saved in"):
        run_demo(DemoOptions(source=source, out_dir=out, headless=True, calibrate_s=0), Config())
    table = pd.read_parquet(out / "frames.parquet")
    assert 0 < len(table) < 120
    assert (out / "summary.json").is_file()


def test_unsupported_recording_format_is_refused_before_starting(samples, tmp_path, capsys):
    rc = main(["webcam", "--source", str(samples / f"{CLIP}.mp4"), "--headless", "--record",
               str(tmp_path / "demo.mkv"), "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc != 0 and "cannot record to '.mkv'" in err and ".mp4" in err
    assert not (tmp_path / "s").exists() and not list(tmp_path.iterdir())


def test_head_pose_warning_names_the_limit():
    from facefeedback.demo.live import frame_warnings

    config = Config()
    frontal = {"face_detected": True, "yaw": 3.0, "pitch": -2.0,
               "face_too_small": False, "too_blurred": False, "overexposed": False, "occluded": False}
    assert frame_warnings(frontal, True, config) == ()
    small = frame_warnings({**frontal, "face_too_small": True}, False, config)
    assert small == ("come closer: the face is too small in the picture",)
    covered = frame_warnings({**frontal, "occluded": True}, False, config)
    assert covered == ("occluded: something covers the brows or the skin between them",)
    turned = frame_warnings({**frontal, "yaw": 31.0}, False, config)
    assert len(turned) == 1 and "+31 deg" in turned[0] and f"limit {config.qc.max_abs_yaw:g}" in turned[0]
    assert frame_warnings({"face_detected": False}, False, config) == ("no face in view",)
