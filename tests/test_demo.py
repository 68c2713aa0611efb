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


def session_folder(out: Path) -> Path:
    """The one session folder the demo made under ``out``."""
    (folder,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    return folder


def test_headless_meter_follows_the_frown(samples, tmp_path, capsys):
    # 0.8 s of neutral face: the clip's first frown starts at 1.0 s.
    rc = main(["webcam", "--source", str(samples / f"{CLIP}.mp4"), "--headless", "--calibrate", "0.8",
               "--out", str(tmp_path / "sessions"), "--record", str(tmp_path / "overlay.mp4")])
    assert rc == 0, capsys.readouterr().err
    out = session_folder(tmp_path / "sessions")
    truth = pd.read_csv(samples / f"{CLIP}.truth.csv")
    frames = read_video(tmp_path / "overlay.mp4")
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
    assert summary["calibrations"][-1]["problems"] == [] and summary["warnings"] == []  # a neutral window
    assert (out / "provenance.json").is_file()


def test_a_frown_during_calibration_asks_for_a_redo(samples, tmp_path, capsys, caplog):
    """The clip frowns at 1.0-2.6 s, inside the default 3 s calibration window."""
    rc = main(["webcam", "--source", str(samples / f"{CLIP}.mp4"), "--headless", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 0, err
    summary = strict_json(session_folder(tmp_path / "s") / "summary.json")
    (problem,) = summary["calibrations"][-1]["problems"]
    assert problem.startswith("the face frowned during it (") and summary["calibrations"][-1]["window_s"][0] == 0
    (warning,) = summary["warnings"]
    assert warning.startswith("the calibration at 0.0-3.0 s may not be a neutral face: the face frowned")
    assert "redo it (press c)" in warning
    assert "calibration at 0.0-3.0 s may not be neutral: the face frowned during it" in caplog.text  # the log


def test_a_frown_held_through_calibration_is_caught_and_a_redo_clears_it(samples):
    """Calibrating at 1.4-2.0 s, when the clip's frown is at its height, then at 2.73-3.13 s, between
    its first two frowns (sample_videos/frontal_frown.truth.csv)."""
    from facefeedback.demo.live import LiveSession

    session = LiveSession(Config(), calibrate_s=0)
    with FrameSource(samples / f"{CLIP}.mp4") as source:
        for frame in source:
            if frame.index in (21, 41):
                session.start_calibration(0.6 if frame.index == 21 else 0.4)
            session.step(frame)
            if frame.index == 40:
                held = session.calibrations[-1]
                assert held["problems"] and held["problems"][0].startswith(
                    "it reads as a frown against the population neutral (")
                assert session.message == "calibration not neutral (a frown): press c to redo"
    session.close()
    assert session.calibrations[-1]["problems"] == [] and session.calibration_warnings() == []
    assert session.message is None


def test_live_frowning_state_is_the_tables(samples, tmp_path):
    """The live view's frowning flags are the event rule of the saved table, frame for frame."""
    result = run_demo(DemoOptions(source=str(samples / "moving_frown.mp4"), out_dir=tmp_path / "s",
                                  headless=True, calibrate_s=0), Config())
    assert result.summary["calibration"]["method"] == "population"
    assert result.table["frowning"].any() and not result.table["frowning"].all()
    np.testing.assert_array_equal(result.live_frowning, result.table["frowning"].to_numpy())
    # headless without --record: no video of the face is written anywhere
    assert result.video is None and result.out_dir.parent == tmp_path / "s"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.suffix in (".mp4", ".avi")) == []


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
    rc = main(["webcam", "--source", str(truncated_avi), "--headless", "--calibrate", "0", "--out", str(out),
               "--record", str(tmp_path / "overlay.mp4")])
    err = capsys.readouterr().err
    assert rc != 0
    out = session_folder(out)
    assert "truncated or corrupt" in err and f"saved in {out}" in err
    assert "Traceback" not in err
    table = pd.read_parquet(out / "frames.parquet")
    assert 0 < len(table) < 120
    assert table["face_detected"].all()
    assert len(read_video(tmp_path / "overlay.mp4")) == len(table)
    summary = strict_json(out / "summary.json")  # says it was cut short, as extract's does
    assert summary["truncated"] is True and summary["truncated_at_frame"] == len(table)
    assert any("truncated" in w for w in summary["warnings"])


def test_a_recording_given_by_a_relative_path_is_written_there(samples, tmp_path, monkeypatch):
    """--record rec.mp4 (relative to the working folder) used to be announced and never renamed
    into place, the overlay of the participant's face left under a hidden temporary name."""
    monkeypatch.chdir(tmp_path)
    assert main(["webcam", "--source", str(samples / f"{CLIP}.mp4"), "--headless", "--calibrate", "0",
                 "--out", "s", "--record", "rec.mp4"]) == 0
    assert len(read_video(tmp_path / "rec.mp4")) > 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".ff-")]


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
    out = session_folder(out)
    table = pd.read_parquet(out / "frames.parquet")
    assert 0 < len(table) < 120
    assert (out / "summary.json").is_file()


def test_unsupported_recording_format_is_refused_before_starting(samples, tmp_path, capsys):
    rc = main(["webcam", "--source", str(samples / f"{CLIP}.mp4"), "--headless", "--record",
               str(tmp_path / "demo.mkv"), "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc != 0 and "cannot record to '.mkv'" in err and ".mp4" in err
    assert not (tmp_path / "s").exists() and not list(tmp_path.iterdir())


def test_a_killed_sessions_part_written_video_is_removed_by_the_next(samples, tmp_path, capsys):
    """A session killed while recording to --record leaves its video (a face) under a hidden
    temporary name beside the target; the next session recording there removes it."""
    import subprocess

    from facefeedback.files import temporary_name

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process that has ended, as a killed session's has
    target = tmp_path / "rec" / "demo.mp4"
    target.parent.mkdir()
    left = temporary_name(target).with_name(temporary_name(target).name.replace(f".{os.getpid()}.",
                                                                                f".{gone.pid}."))
    left.write_bytes(b"part of a video")
    assert main(["webcam", "--source", str(samples / f"{CLIP}.mp4"), "--headless", "--calibrate", "0",
                 "--record", str(tmp_path / "rec" / "other.mp4"), "--out", str(tmp_path / "s")]) == 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["other.mp4"]


def test_a_frame_not_valid_says_why(monkeypatch):
    """Every reason from the QC limits and flags, by name; a new QC flag column needs no change."""
    from facefeedback import schema
    from facefeedback.demo.live import frame_warnings

    config = Config()
    frame = {"face_detected": True, "yaw": 3.0, "pitch": -2.0, "sharpness": 0.1, "brightness": 120.0,
             "brow_gap": 0.44, "brow_lowering": 0.31, "glabella_lines": 0.6}
    assert frame_warnings(frame, False, config) == (f"not valid: blurred (sharpness 0.1 < {config.qc.min_sharpness:g})",)
    monkeypatch.setattr(schema, "FRAME_COLUMNS", schema.FRAME_COLUMNS + (
        ("lens_fogged", "bool", "flag", "condensation on the lens"),))
    assert frame_warnings({**frame, "sharpness": 0.5, "lens_fogged": True}, False, config) == ("not valid: lens fogged",)
    # the known flags say what to do about them
    assert frame_warnings({**frame, "sharpness": 0.5, "occluded": True}, False, config) == (
        "occluded: something covers the brows or the skin between them",)


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


def test_live_frowning_state_is_the_tables_across_a_gap_in_the_frames(samples):
    """Frames dropped for 0.5 s right after a short frown: the live rule is given the stream's
    typical step (not that of the few frames it re-reads), so it ends the event at the gap as the
    table does (the frown was flagged live and not in the table)."""
    from facefeedback.demo.live import LiveSession
    from facefeedback.io import Frame
    from facefeedback.measure import build_frame_table

    images = read_video(samples / f"{CLIP}.mp4")
    config = Config()
    for k in (5, 19, 25, 40):
        session = LiveSession(config, calibrate_s=0)
        times = [i / 30 for i in range(k + 1)] + [k / 30 + 0.5 + i / 30 for i in range(16)]
        for n, (i, t) in enumerate(zip(list(range(k + 1)) + list(range(16)), times)):
            session.step(Frame(n, t, images[i]))
        session.close()
        table = build_frame_table(session.raw_table(), session.calibration, config)
        np.testing.assert_array_equal(session.frowning, table["frowning"].to_numpy(), err_msg=str(k))


def test_a_calibration_that_does_not_happen_is_said_in_the_saved_session(samples, tmp_path, capsys):
    """A clip that ends inside the calibration window, or whose window has no usable face, leaves
    the session on the population reference: the summary's warnings say so (they said nothing);
    a window of nan or inf seconds is refused."""
    short = tmp_path / "short.avi"
    frames = read_video(samples / f"{CLIP}.mp4")[:20]  # 1.3 s at 15 fps
    writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"MJPG"), 15, frames[0].shape[1::-1])
    for image in frames:
        writer.write(image)
    writer.release()
    result = run_demo(DemoOptions(source=str(short), out_dir=tmp_path / "s", headless=True, calibrate_s=3),
                      Config())
    assert result.summary["calibration"]["method"] == "population"
    assert [w for w in result.summary["warnings"] if "calibration" in w] == [
        "the calibration of 3 s from 0.0 s did not finish (the session ended at 1.3 s); the session is measured "
        "against the population reference"]
    capsys.readouterr()
    assert main(["webcam", "--source", str(short), "--headless", "--calibrate", "3", "--out", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err  # the command says so too, as extract does
    assert "warning: " in err and "the calibration of 3 s from 0.0 s did not finish" in err, err
    blank = tmp_path / "blank.avi"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"MJPG"), 15, frames[0].shape[1::-1])
    for _ in range(30):
        writer.write(np.full_like(frames[0], 128))
    writer.release()
    result = run_demo(DemoOptions(source=str(blank), out_dir=tmp_path / "b", headless=True, calibrate_s=1),
                      Config())
    assert any(w.startswith("the calibration at 0.0-1.0 s failed (") for w in result.summary["warnings"])
    for value in ("nan", "inf"):
        with pytest.raises(SystemExit) as stop:
            main(["webcam", "--source", str(short), "--headless", "--calibrate", value])
        assert stop.value.code == 2
        assert f"argument --calibrate: '{value}' is not a finite number" in capsys.readouterr().err


def test_on_the_frame_that_closes_the_calibration_the_bars_and_the_meter_share_the_reference(samples):
    from facefeedback.demo.live import LiveSession, combine_terms
    from facefeedback.io import Frame

    session = LiveSession(Config(), calibrate_s=1.0)
    images = read_video(samples / f"{CLIP}.mp4")
    shown = [session.step(Frame(i, i / 15, image)) for i, image in enumerate(images[:30])]
    closing = next(k for k in range(1, 30) if shown[k - 1].calibrating_left_s is not None
                   and shown[k].calibrating_left_s is None)
    for k in (closing, closing + 1):  # the meter is the bars' weighted mean, from the closing frame on
        yaw = session.buffer.columns["yaw"][k]
        assert shown[k].intensity == pytest.approx(float(combine_terms(shown[k].terms, Config().frown, yaw)))
