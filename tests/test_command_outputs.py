"""Every command that writes, on folders that already hold things: what it replaces, what it leaves.

For each command: files someone else put in the output folder, and in the folders the command
replaces, survive reruns and a SIGKILL in the middle of a commit byte for byte; a rerun
leaves exactly its own new outputs (none of its earlier ones that it no longer writes).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pandas as pd
import pytest
from output_helpers import assert_intact, plant, run_killed, staging_left

from facefeedback.cli import main
from facefeedback.files import read_marker, recover


@pytest.fixture(scope="module")
def short_clip(samples, tmp_path_factory) -> Path:
    """The first 20 frames of the synthetic frown clip (a short, quick input)."""
    path = tmp_path_factory.mktemp("clip") / "P01.mp4"
    cap = cv2.VideoCapture(str(samples / "frontal_frown.mp4"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (480, 480))
    for _ in range(20):
        ok, image = cap.read()
        assert ok
        writer.write(image)
    writer.release()
    cap.release()
    return path


def recording_is_whole(folder: Path) -> int:
    """The recording's table, summary and provenance describe the same frames; their number."""
    frames = pd.read_parquet(folder / "frames.parquet") if (folder / "frames.parquet").exists() \
        else pd.read_csv(folder / "frames.csv")
    summary = json.loads((folder / "summary.json").read_text())
    provenance = json.loads((folder / "provenance.json").read_text())
    assert len(frames) == summary["features"]["n_frames"] == provenance["frames_processed"] > 0
    return len(frames)


# --------------------------------------------------------------------------- webcam

def test_webcam_session_never_writes_over_the_folder(short_clip, tmp_path, capsys):
    """A session goes into a new subfolder of its own: notes.txt in --out stays, so does an earlier session."""
    today = tmp_path / "sessions" / "today"
    foreign = plant(today / "notes.txt")
    argv = ["webcam", "--source", str(short_clip), "--headless", "--out", str(today)]
    assert main(argv) == 0, capsys.readouterr().err
    assert main(argv) == 0, capsys.readouterr().err
    assert_intact(foreign)
    sessions = sorted(p for p in today.iterdir() if p.is_dir())
    assert len(sessions) == 2 and sessions[0].name != sessions[1].name
    for session in sessions:
        assert recording_is_whole(session) == 20
        assert (session / "overlay.mp4").is_file()
        assert set(read_marker(session)["recording"]) == {"frames.parquet", "summary.json", "provenance.json",
                                                          "overlay.mp4"}
    assert not (today / "frames.parquet").exists()


def test_webcam_record_file_is_never_overwritten_unless_forced(short_clip, tmp_path, capsys):
    video = tmp_path / "talk" / "demo.mp4"
    foreign = plant(video, tmp_path / "out" / "notes.txt")
    argv = ["webcam", "--source", str(short_clip), "--headless", "--out", str(tmp_path / "out"),
            "--record", str(video)]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert f"error: {video}: exists" in err and "--record" in err and "--force" in err and "Traceback" not in err
    assert not [p for p in (tmp_path / "out").iterdir() if p.name != "notes.txt"]  # refused before it started
    assert_intact(foreign)
    # Killed while the session is being committed: nothing half-done, nothing of anyone else's touched.
    run_killed("rename", 1, [*argv, "--force"])
    assert_intact(foreign)
    assert not [p for p in (tmp_path / "out").iterdir() if not p.name.startswith(".") and p.name != "notes.txt"]
    assert main([*argv, "--force"]) == 0, capsys.readouterr().err
    assert video.read_bytes() != foreign[video] and cv2.VideoCapture(str(video)).isOpened()
    assert_intact({tmp_path / "out" / "notes.txt": foreign[tmp_path / "out" / "notes.txt"]})
    assert not staging_left(tmp_path)


# --------------------------------------------------------------------------- extract

def test_extract_writes_beside_a_participants_own_files(short_clip, tmp_path, capsys):
    """participants/P01/ holds the participant's own files: they stay; reruns replace only the outputs."""
    p01 = tmp_path / "participants" / "P01"
    foreign = plant(p01 / "consent.pdf", p01 / "notes" / "visit1.txt", tmp_path / "participants" / "list.csv")
    argv = ["extract", str(short_clip), "--out", str(tmp_path / "participants"), "--no-progress"]
    assert main([*argv, "--end", "0.5"]) == 0, capsys.readouterr().err
    assert recording_is_whole(p01) == 8
    assert_intact(foreign)
    assert main([*argv, "--format", "csv"]) == 0, capsys.readouterr().err
    assert recording_is_whole(p01) == 20 and not (p01 / "frames.parquet").exists()  # its own old table is gone
    assert_intact(foreign)
    # Killed in the middle of replacing them: the earlier or the new outputs, whole, once looked at again.
    run_killed("commit", 3, [*argv, "--end", "0.5"])
    assert_intact(foreign)
    recover(p01)
    assert recording_is_whole(p01) == 8 and not (p01 / "frames.csv").exists()
    assert_intact(foreign)
    assert not staging_left(tmp_path)


def test_extract_refuses_to_overwrite_a_participants_file_named_like_an_output(short_clip, samples, tmp_path,
                                                                                capsys):
    out = tmp_path / "participants"
    foreign = plant(out / "P01" / "summary.json")
    rc = main(["extract", str(short_clip), str(samples / "lighting_neutral.mp4"), "--out", str(out), "--end", "0.3",
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert str(out / "P01") in line and "summary.json" in line and "--force" in line
    assert_intact(foreign)
    assert sorted(p.name for p in (out / "P01").iterdir()) == ["summary.json"]  # nothing was written there
    assert recording_is_whole(out / "lighting_neutral") > 0  # the other input was still processed
    assert main(["extract", str(short_clip), "--out", str(out), "--end", "0.3", "--no-progress", "--force"]) == 0
    assert recording_is_whole(out / "P01") == 5


# --------------------------------------------------------------------------- calibrate

def test_calibrate_replaces_only_a_calibration_it_wrote(short_clip, tmp_path, capsys):
    target = tmp_path / "P01.json"
    foreign = plant(target)
    argv = ["calibrate", str(short_clip), "--out", str(target), "--percentile", "50"]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert f"error: {target}: exists and is not a calibration" in err and "--force" in err
    assert_intact(foreign)
    assert main([*argv, "--force"]) == 0, capsys.readouterr().err
    first = json.loads(target.read_text())
    assert main([*argv, "--end", "0.8"]) == 0, capsys.readouterr().err  # its own file: replaced, no --force
    assert json.loads(target.read_text())["n_frames"] != first["n_frames"]
    neighbour = plant(tmp_path / "P02.json")
    before = target.read_bytes()
    run_killed("name", target.name, argv)  # killed just before the new file is renamed into place
    assert target.read_bytes() == before
    assert_intact(neighbour)
    assert main(argv) == 0 and not staging_left(tmp_path)
