"""Frame sources and bad input: one clear line naming the file, the batch goes on, nothing partial."""

from __future__ import annotations

import json
import struct

import cv2
import numpy as np
import pandas as pd
import pytest

from facefeedback.cli import main
from facefeedback.errors import InputError
from facefeedback.io import FrameSource


def _write_video(path, n=30, size=(64, 48), fourcc="MJPG", fps=15):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    for i in range(n):
        img = np.full((size[1], size[0], 3), 40 + 5 * i % 200, np.uint8)
        img[: size[1] // 4, : size[0] // 4] = 255  # a marker in the top-left corner
        w.write(img)
    w.release()
    return path


@pytest.fixture()
def bad_inputs(tmp_path):
    good = _write_video(tmp_path / "good.avi")
    data = good.read_bytes()
    files = {
        "missing": tmp_path / "missing.mp4",
        "not_video": tmp_path / "notes.mp4",
        "truncated": tmp_path / "truncated.avi",
        "zero_frames": tmp_path / "zero.avi",
        "bad_codec": tmp_path / "codec.avi",
        "wrong_type": tmp_path / "table.csv",
    }
    files["not_video"].write_text("this is not a video\n")
    files["truncated"].write_bytes(data[: len(data) // 2])
    w = cv2.VideoWriter(str(files["zero_frames"]), cv2.VideoWriter_fourcc(*"MJPG"), 15, (64, 48))
    w.release()
    files["bad_codec"].write_bytes(data.replace(b"MJPG", b"QQQQ"))
    files["wrong_type"].write_text("a,b\n1,2\n")
    return files


EXPECTED = {
    "missing": "no such file",
    "not_video": "cannot be opened as a video",
    "truncated": "truncated",
    "zero_frames": "no frame could be decoded",
    "bad_codec": "cannot be opened as a video",
    "wrong_type": "not a supported video or image type",
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_bad_input_is_named_with_its_problem(bad_inputs, kind):
    path = bad_inputs[kind]
    with pytest.raises(InputError) as err, FrameSource(path) as src:
        list(src)
    text = str(err.value)
    assert str(path) in text and EXPECTED[kind] in text
    assert "\n" not in text


def test_batch_goes_on_and_leaves_nothing_partial(bad_inputs, samples, tmp_path, capsys):
    out = tmp_path / "out"
    inputs = [str(p) for p in bad_inputs.values()] + [str(samples / "lighting_neutral.mp4")]
    code = main(["extract", *inputs, "--out", str(out), "--no-progress", "--stride", "4", "--strict"])
    err = capsys.readouterr().err
    assert code != 0
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(bad_inputs)
    for path in bad_inputs.values():
        assert sum(str(path) in line for line in errors) == 1
    assert "Traceback" not in err
    # only the good input has an output folder (beside the dataset's description and the marker
    # listing it), and no temporary folder is left
    assert sorted(p.name for p in out.iterdir()) == [".facefeedback.json", "dataset_description.json",
                                                     "lighting_neutral"]
    frames = pd.read_parquet(out / "lighting_neutral" / "frames.parquet")
    assert len(frames) == 30


@pytest.fixture()
def truncated_video(tmp_path):
    """60 frames of MJPG AVI cut in the middle, as when a disk fills up mid-recording."""
    whole = _write_video(tmp_path / "whole.avi", n=60)
    cut = tmp_path / "cut" / "truncated.avi"
    cut.parent.mkdir()
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut


def test_a_truncated_video_keeps_its_decoded_frames_and_says_so(truncated_video, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["extract", str(truncated_video), "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    frames = pd.read_parquet(out / "truncated" / "frames.parquet")
    n = len(frames)
    assert 10 < n < 60 and frames["frame"].tolist() == list(range(n))
    line = f"truncated or corrupt video: decoding stopped at frame {n} of the 60"
    assert f"warning: {truncated_video}: {line}" in err and f"the {n} frames decoded are kept" in err
    summary = json.loads((out / "truncated" / "summary.json").read_text())
    assert summary["truncated"] is True and summary["truncated_at_frame"] == n
    assert any(line in w for w in summary["warnings"])
    assert summary["features"]["n_frames"] == n and isinstance(summary["features"]["n_frames"], int)
    provenance = json.loads((out / "truncated" / "provenance.json").read_text())
    assert provenance["input"]["truncated"] is True and provenance["input"]["truncated_at_frame"] == n

    strict = tmp_path / "strict"
    assert main(["extract", str(truncated_video), "--out", str(strict), "--no-progress", "--strict"]) == 1
    err = capsys.readouterr().err
    assert f"error: {truncated_video}: {line}" in err
    assert not (strict / "truncated").exists()


def test_a_study_keeps_a_truncated_recording_with_a_warning_unless_strict(truncated_video, tmp_path, capsys):
    from study_helpers import write_study

    good = _write_video(tmp_path / "good.avi", n=20)
    study = write_study(tmp_path / "study", [("P01", "baseline", "rest", good),
                                             ("P01", "week6", "rest", truncated_video)])
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    err = capsys.readouterr().err
    warning = "P01_week6_rest: truncated or corrupt video: decoding stopped at frame "
    assert f"warning: {warning}" in err
    assert any(w.startswith(warning) for w in json.loads((out / "study.json").read_text())["warnings"])
    assert json.loads((out / "recordings" / "P01_week6_rest" / "summary.json").read_text())["truncated"]

    strict = tmp_path / "strict"
    assert main(["run", str(study), "--out", str(strict), "--workers", "1", "--no-progress", "--strict"]) == 1
    err = capsys.readouterr().err
    assert f"failed: P01_week6_rest: {truncated_video}: truncated or corrupt video" in err
    assert pd.read_csv(strict / "failures.csv")["recording_id"].tolist() == ["P01_week6_rest"]


def test_unreadable_config_value_is_one_line(tmp_path, samples, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("qc:\n  max_abs_yaw: lots\n")
    code = main(["extract", str(samples / "lighting_neutral.mp4"), "--out", str(tmp_path / "o"),
                 "--config", str(cfg)])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.count("\n") == 0
    assert str(cfg) in err and "qc.max_abs_yaw" in err and "lots" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text, fragment", [
    ("qc:\n  max_abs_yaw: 30\n  colour: red\n", "qc: unknown key 'colour'; valid keys of qc: max_abs_yaw, "),
    ("frown:\n  wieghts: {brow_gap: 1}\n", "frown: unknown key 'wieghts' (did you mean 'weights'?); "
                                          "valid keys of frown: weights, full_frown, population_neutral"),
    ("evnets: {}\n", "unknown key 'evnets' (did you mean 'events'?); valid keys: config_version, input, "),
    ("frown:\n  weights: {brow_gapp: 1}\n", "frown.weights.brow_gapp"),
    ("events:\n  on_threshold: 0.1\n  off_threshold: 0.3\n", "off_threshold"),
    ("input: [1, 2\n", "not valid YAML"),
    # the last would win unseen: the first block's stride would be dropped
    ("input:\n  stride: 2\nqc:\n  min_iod_px: 30\ninput:\n  max_side: 640\n",
     "line 5: not valid YAML (key 'input' given twice (first at line 1))"),
    ("input:\n  stride: true\n", "input.stride: expected a number, not true or false"),  # was read as 1
    ("events:\n  baseline_window_s: [false, true]\n", "events.baseline_window_s: expected a number, not true"),
    ("frown:\n  weights: {brow_gap: true}\n", "frown.weights: expected a number, not true or false"),
    ("config_version: true\n", "config_version: expected a number, not true or false"),
    ("input: {stride: 2, max_side: 640, stride: 1}\n", "key 'stride' given twice (first at line 1)"),
])
def test_config_problems_name_the_setting(tmp_path, text, fragment):
    from facefeedback.config import load_config
    from facefeedback.errors import ConfigError

    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert fragment in str(err.value) and str(cfg) in str(err.value)


def test_a_calibration_segment_given_by_one_end_loads(tmp_path):
    """One end alone runs from the start or to the end of the recording (calibration.py)."""
    from facefeedback.config import load_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text("calibration: {segment_end_s: 10}\n")
    assert (load_config(cfg).calibration.segment_start_s, load_config(cfg).calibration.segment_end_s) == (None, 10.0)


def test_a_family_table_given_in_part_keeps_the_other_components_defaults(tmp_path):
    """Like every key a file leaves out, a weight or a full-expression change it leaves out keeps
    its default."""
    from facefeedback.config import Config, load_config

    cfg = tmp_path / "c.yaml"
    cfg.write_text("frown:\n  weights: {brow_gap: 0.2}\n  population_neutral: {brow_gap: 0.5}\n"
                   "smile:\n  full_smile: {cheek_raise: 0.5}\n")
    got, default = load_config(cfg), Config()
    assert got.frown.weights == {**default.frown.weights, "brow_gap": 0.2}
    assert got.smile.full_smile == {**default.smile.full_smile, "cheek_raise": 0.5}
    assert got.frown.full_frown == default.frown.full_frown and got.smile.weights == default.smile.weights
    assert got.frown.population_neutral.model_dump() == {**default.frown.population_neutral.model_dump(),
                                                         "brow_gap": 0.5}


def test_shipped_default_config_equals_the_built_in_defaults(capsys, tmp_path):
    import yaml

    from facefeedback.config import Config

    # What 'config --show' prints is the packaged file (package data, so it is in the wheel too),
    # and it parses back to the built-in defaults.
    assert main(["config", "--show"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# facefeedback settings") and Config.model_validate(yaml.safe_load(shown)) == Config()
    (tmp_path / "mine.yaml").write_text("qc:\n  max_abs_yaw: 30\n")
    assert main(["config", "--show", "--config", str(tmp_path / "mine.yaml")]) == 0
    resolved = Config.model_validate(yaml.safe_load(capsys.readouterr().out))
    assert resolved == Config().updated(**{"qc.max_abs_yaw": 30.0})


def test_every_help_states_the_default_an_option_really_has():
    import argparse
    import re

    from facefeedback.cli import build_parser
    from facefeedback.config import Config
    from facefeedback.synthetic.studies import SimulationSettings

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    stated = {}
    for name, command in commands.items():
        for action in command._actions:
            shown = (action.help or "") % dict(vars(action), prog=command.prog)  # as argparse shows it
            found = re.search(r"\(default (-?[0-9.]+)[);]", shown)
            if found:
                stated[name, action.dest] = float(found.group(1))
                # options left unset fall back on the settings: calibrate's --percentile on
                # calibration.percentile, the levels model's on the simulator's defaults
                fallback = {"percentile": Config().calibration.percentile,
                            "frown_stability": SimulationSettings().frown_stability,
                            "frown_baseline_effect": SimulationSettings().frown_baseline_effect}
                real = action.default if action.default is not None else fallback[action.dest]
                assert stated[name, action.dest] == float(real), (name, action.dest)
        if any("--config" in a.option_strings for a in command._actions) and name != "config":
            text = " ".join(command.format_help().split())
            assert "'facefeedback config --show' prints" in text and "configs/" not in text, name
    shown = " ".join(commands["analyze"].format_help().split())
    assert "bootstrap resamples (default 5000)" in shown and "primary test (default 5000)" in shown
    assert {("analyze", "n_boot"), ("analyze", "n_perm"), ("calibrate", "percentile")} <= set(stated)


def test_video_timestamps_come_from_the_container(tmp_path):
    path = _write_video(tmp_path / "v.avi", n=20, fps=10)
    with FrameSource(path, stride=3) as src:
        frames = list(src)
    assert [f.index for f in frames] == [0, 3, 6, 9, 12, 15, 18]
    assert np.allclose([f.timestamp_s for f in frames], [i / 10 for i in (0, 3, 6, 9, 12, 15, 18)])
    with FrameSource(path, start_s=0.5, end_s=1.2) as src:
        assert [f.index for f in src] == [5, 6, 7, 8, 9, 10, 11]
    with FrameSource(path, max_side=32) as src:
        assert next(iter(src)).image.shape == (24, 32, 3)


def _rotate_mp4(src, dst):
    """Write the display matrix of a 90-degree rotation into the track header."""
    data = src.read_bytes()
    i = data.index(b"tkhd")
    assert data[i + 4] == 0  # version 0 header
    off = i + 4 + 4 + 20 + 8 + 8
    matrix = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    dst.write_bytes(data[:off] + matrix + data[off + 36:])


def test_rotation_metadata_is_honoured(tmp_path):
    plain = _write_video(tmp_path / "plain.mp4", n=5, size=(64, 48), fourcc="mp4v")
    rotated = tmp_path / "rotated.mp4"
    _rotate_mp4(plain, rotated)
    with FrameSource(plain) as src:
        upright = next(iter(src)).image
    with FrameSource(rotated) as src:
        assert (src.info.width, src.info.height) == (48, 64)
        turned = next(iter(src)).image
    assert upright.shape == (48, 64, 3) and turned.shape == (64, 48, 3)
    # the bright corner marker moved with the rotation (top-left -> top-right)
    assert turned[:8, -8:].mean() > 200 and turned[:8, :8].mean() < 150


def test_camera_that_is_not_there_says_what_to_do():
    with pytest.raises(InputError, match="--source"):
        FrameSource(97)


def test_outputs_and_provenance(samples, tmp_path):
    from facefeedback.extract import file_sha256
    from facefeedback.schema import FRAME_COLUMN_NAMES, summary_feature_names

    src = samples / "frontal_frown.mp4"
    assert main(["extract", str(src), "--out", str(tmp_path), "--stride", "2", "--no-progress"]) == 0
    folder = tmp_path / "frontal_frown"
    frames = pd.read_parquet(folder / "frames.parquet")
    assert list(frames.columns) == list(FRAME_COLUMN_NAMES) and len(frames) == 60
    summary = json.loads((folder / "summary.json").read_text())
    assert list(summary["features"]) == summary_feature_names()
    assert summary["features"]["frown_events_n"] == len(summary["events"]) > 0
    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["input"]["sha256"] == file_sha256(src)
    assert prov["config"]["input"]["stride"] == 2
    assert prov["versions"]["mediapipe"] == "0.10.21"
    assert main(["extract", str(src), "--out", str(tmp_path / "csv"), "--format", "csv", "--stride", "2",
                 "--no-progress"]) == 0
    as_csv = pd.read_csv(tmp_path / "csv" / "frontal_frown" / "frames.csv")
    assert np.allclose(as_csv["frown_intensity"], frames["frown_intensity"], equal_nan=True)


def test_terminal_shows_our_lines_not_native_chatter(samples, tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "empty.mp4"
    bad.write_bytes(b"")
    cmd = [sys.executable, "-m", "facefeedback.cli", "extract", str(samples / "lighting_neutral.mp4"), str(bad),
           "--out", str(tmp_path / "o"), "--stride", "6", "--no-progress"]
    quiet = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 1
    lines = quiet.stderr.strip().splitlines()
    assert lines == [f"error: {bad}: cannot be opened as a video (corrupt or empty file, or a container or "
                     "codec OpenCV cannot read)", "1 of 2 inputs failed"], quiet.stderr
    verbose = subprocess.run(cmd[:3] + ["-v"] + cmd[3:], capture_output=True, text=True, timeout=300)
    assert "XNNPACK" in verbose.stderr or "W0000" in verbose.stderr  # -v leaves the native notes


# -- whole recordings are read whole; empty time ranges are errors -------------------------------

def _ffmpeg(*args) -> None:
    import subprocess

    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, timeout=120)


# 120 frames at 30 fps (4 s), then 60 at 15 fps (4 s): 180 frames over 8 s. Matroska stores no
# frame count; estimated from the duration at the nominal 30 fps it would be 239.
VFR = ["-f", "lavfi", "-i", "testsrc=size=96x64:rate=30", "-frames:v", "180",
       "-vf", "setpts='if(lt(N,120),N/30,4+(N-120)/15)/TB'", "-fps_mode", "passthrough"]


@pytest.fixture(scope="module")
def matroska_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("matroska")
    vp9 = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]
    _ffmpeg(*VFR, "-c:v", "mpeg4", str(folder / "vfr.mkv"))
    _ffmpeg(*VFR, *vp9, str(folder / "vfr_vp9.webm"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=25", "-frames:v", "50", *vp9, str(folder / "vp9.webm"))
    # a clip whose video starts 10 s into the file's time (cut from a longer one, or after its audio)
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=25", "-frames:v", "100", "-c:v", "mpeg4",
            "-output_ts_offset", "10", str(folder / "late.mkv"))
    return folder


@pytest.mark.parametrize("name, n, duration", [("vfr.mkv", 180, 8.0), ("vfr_vp9.webm", 180, 8.0),
                                               ("vp9.webm", 50, 2.0)])
def test_variable_frame_rate_matroska_and_webm_are_read_whole(matroska_files, name, n, duration):
    with FrameSource(matroska_files / name) as src:
        frames = list(src)
    assert [f.index for f in frames] == list(range(n))
    t = np.array([f.timestamp_s for f in frames])
    assert t[-1] == pytest.approx(duration - (1 / 15 if n == 180 else 1 / 25), abs=0.002)
    if n == 180:  # the frame rate halves at 4 s, and the timestamps say so
        assert np.median(np.diff(t[:120])) == pytest.approx(1 / 30, abs=0.002)
        assert np.median(np.diff(t[120:])) == pytest.approx(1 / 15, abs=0.002)


def test_truncated_matroska_is_still_found(matroska_files, tmp_path):
    data = (matroska_files / "vfr.mkv").read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="truncated") as err, FrameSource(cut) as src:
        list(src)
    assert "the 7.97 s the container declares" in str(err.value)


@pytest.mark.parametrize("suffix", [".mts", ".m2ts", ".ts", ".3gp"])
def test_camcorder_and_phone_containers_read_as_the_same_stream_in_mp4(pyfeat_media, tmp_path, suffix):
    """AVCHD camcorders write .mts/.m2ts, broadcast and some phones .ts, older Android phones .3gp:
    the same stream copied into each gives the frames and times it gives in .mp4 (they were refused
    by their suffix)."""
    plain = pyfeat_media / "single_face.mp4"  # H.264, as camcorders and phones write
    copy = tmp_path / f"clip{suffix}"
    _ffmpeg("-i", str(plain), "-an", "-c:v", "copy", *(["-f", "mpegts"] if suffix != ".3gp" else []), str(copy))
    with FrameSource(plain) as a, FrameSource(copy) as b:
        one, other = list(a), list(b)
    assert len(one) == len(other) == 72 and not b.info.truncated
    np.testing.assert_allclose([f.timestamp_s for f in other], [f.timestamp_s for f in one], atol=1e-3)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(one, other))


def test_a_matroska_video_starting_late_is_whole_and_its_cut_copy_truncated(matroska_files, tmp_path):
    """Matroska's frame count comes from the file's duration, which runs from its time 0: a video
    starting 10 s in was said to be truncated at 100 of the 350 frames it 'declared', and --strict
    refused it."""
    with FrameSource(matroska_files / "late.mkv") as src:
        frames = list(src)
    assert len(frames) == 100 and not src.info.truncated and frames[0].timestamp_s == 0.0
    data = (matroska_files / "late.mkv").read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="truncated") as refused, FrameSource(cut) as src:
        list(src)
    with FrameSource(cut, keep_truncated=True) as src:  # kept: its line counts from the stream's start too
        kept = list(src)
    assert src.info.truncated and src.info.decoded_frames == len(kept) < 100
    assert f"stopped at frame {len(kept)} of the 100, " in src.info.truncation()
    assert "of the 100," in str(refused.value)


def test_start_past_the_end_is_an_error_naming_the_duration(tmp_path, capsys):
    path = _write_video(tmp_path / "six.avi", n=90, fps=15)
    out = tmp_path / "out"
    code = main(["extract", str(path), "--start", "100", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    assert f"error: {path}: no frame from 100 s: the recording is 6.00 s long" in err
    assert not (out / "six").exists()


def test_calibration_segment_outside_the_recording_names_the_duration(samples, tmp_path, capsys):
    code = main(["calibrate", str(samples / "lighting_neutral.mp4"), "--segment", "100", "200",
                 "--out", str(tmp_path / "cal.json"), "--stride", "6", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    assert "calibration segment 100-200 s holds no frame: the recording runs from 0.00 to 7.60 s" in err
    assert not (tmp_path / "cal.json").exists()


def test_json_outputs_are_standard_json(tmp_path, matroska_files):
    """No face in the clip: features with no value are null, not a bare NaN."""
    from json_helpers import strict_json

    out = tmp_path / "out"
    assert main(["extract", str(matroska_files / "vp9.webm"), "--out", str(out), "--no-progress"]) == 0
    summary = strict_json(out / "vp9" / "summary.json")
    assert summary["features"]["valid_fraction"] == 0.0
    assert summary["features"]["frown_intensity_mean"] is None
    strict_json(out / "vp9" / "provenance.json")


def test_inputs_with_the_same_name_get_output_names_that_tell_them_apart():
    from facefeedback.commands.extract import output_names

    assert output_names(["site1/baseline.mp4", "site2/baseline.mp4", "other.mp4"]) == [
        "site1_baseline", "site2_baseline", "other"]
    assert output_names(["x/a/baseline.mp4", "y/a/baseline.mp4"]) == ["x_a_baseline", "y_a_baseline"]
    assert output_names(["d/baseline.mp4", "d/baseline.avi"]) == ["baseline_mp4", "baseline_avi"]
    assert output_names(["d/x.mp4", "d/x.mp4"]) == ["x", "x_2"]


def test_extract_says_which_neutral_reference_it_used(samples, tmp_path, capsys):
    clip = str(samples / "lighting_neutral.mp4")
    assert main(["extract", clip, "--out", str(tmp_path / "a"), "--stride", "8", "--no-progress"]) == 0
    assert "neutral: population default (no --calibration)" in capsys.readouterr().out
    cal = tmp_path / "P01.json"
    assert main(["calibrate", clip, "--out", str(cal), "--stride", "2", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["extract", clip, "--calibration", str(cal), "--out", str(tmp_path / "b"), "--stride", "8",
                 "--no-progress"]) == 0
    assert f"neutral: participant calibration {cal} (percentile over {clip}, " in capsys.readouterr().out


def test_the_result_line_counts_in_whole_numbers_and_words():
    from facefeedback.commands import features_text

    one = {"n_frames": 40, "valid_fraction": 1.0, "frown_intensity_mean": 0.1049, "frown_events_n": 1}
    assert features_text(one) == "40 frames, valid 100%, frown_intensity mean 0.105, 1 frown event"
    assert features_text({**one, "frown_events_n": 0}).endswith(", 0 frown events")


def test_a_folder_given_as_the_config_file_is_named_as_one(tmp_path):
    from facefeedback.config import load_config
    from facefeedback.errors import ConfigError

    with pytest.raises(ConfigError, match="a folder, not a config file"):
        load_config(tmp_path)


@pytest.mark.parametrize("command, message", [
    (["export", "{file}", "--spss"], "{file}: a file, not a folder (give a study output folder)"),
    (["export", "{file}", "--openface"], "{file}: a file, not a folder (give a study output folder or an extract "
                                          "output folder)"),
    (["extract", "{file}", "--calibration", "{folder}", "--out", "{folder}/o"], "{folder}: a folder, not a calibration file"),
])
def test_a_file_for_a_folder_or_a_folder_for_a_file_is_said_so(tmp_path, capsys, command, message):
    """They read 'no such folder', 'Not a directory' or 'no such calibration file'."""
    from facefeedback.cli import main

    file = tmp_path / "notes.txt"
    file.write_text("x")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")  # a broken link is no file, not a folder
    from facefeedback.config import load_config
    from facefeedback.errors import ConfigError

    with pytest.raises(ConfigError, match="gone.yaml: no such config file"):
        load_config(tmp_path / "gone.yaml")
    fill = {"file": str(file), "folder": str(tmp_path)}
    assert main([part.format(**fill) for part in command]) != 0
    assert capsys.readouterr().err.strip() == "error: " + message.format(**fill)
