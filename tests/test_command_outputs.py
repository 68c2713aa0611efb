"""Every command that writes, on folders that already hold things: what it replaces, what it leaves.

For each command: files someone else put in the output folder, and in the folders the command
replaces, survive reruns and a SIGKILL in the middle of a commit byte for byte; a rerun
leaves exactly its own new outputs (none of its earlier ones that it no longer writes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import pandas as pd
import pytest
from output_helpers import assert_intact, plant, run_killed, staging_left

from facefeedback.cli import main
from facefeedback.output_folders import recover
from facefeedback.output_marker import MARKER, read_marker


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
        assert not (session / "overlay.mp4").exists()  # no video of the face without --record
        assert set(read_marker(session)["recording"]) == {"frames.parquet", "frames.json", "summary.json",
                                                          "provenance.json"}
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


def test_a_command_that_reads_outputs_first_finishes_a_killed_commit(short_clip, tmp_path, capsys):
    """extract killed half-way through replacing a recording's files (the new table in place, the
    old provenance beside it): export, which reads that folder, first finishes the commit, so it
    never exports a table with another run's provenance."""
    out = tmp_path / "out"
    argv = ["extract", str(short_clip), "--out", str(out), "--no-progress"]
    assert main([*argv, "--end", "0.5"]) == 0, capsys.readouterr().err
    run_killed("commit", 3, [*argv, "--end", "0.5", "--stride", "2"])
    assert staging_left(tmp_path)  # a commit is left half-way
    assert main(["export", str(out), "--openface", "--out", str(tmp_path / "of")]) == 0
    folder = out / short_clip.stem
    stride = json.loads((folder / "provenance.json").read_text())["config"]["input"]["stride"]
    assert stride == 2 and recording_is_whole(folder) == 4
    assert len(pd.read_csv(tmp_path / "of" / f"{short_clip.stem}.csv")) == 4
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


def test_calibrate_marks_its_file_and_never_takes_a_copy_for_its_own(short_clip, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "calibrations"

    def argv(name):
        return ["calibrate", str(short_clip), "--out", str(folder / name), "--percentile", "50"]

    assert main(argv("P01.json")) == 0
    assert read_marker(folder) == {"calibrate": ["P01.json"]}
    copy = folder / "P01_copy.json"
    copy.write_bytes((folder / "P01.json").read_bytes())
    os.utime(copy, (1_000_000_000, 1_000_000_000))
    mine = {copy: copy.read_bytes()}
    capsys.readouterr()
    assert main(argv(copy.name)) != 0  # a calibration by its content, but not one it wrote
    assert f"error: {copy}: exists and is not a calibration written by facefeedback" in capsys.readouterr().err
    assert_intact(mine)
    assert main(argv("P01.json")) == 0  # its own: replaced
    (folder / MARKER).unlink()  # as an earlier version left it: a calibration is known by its content
    assert main(argv(copy.name)) == 0
    assert read_marker(folder) == {"calibrate": ["P01.json", "P01_copy.json"]}

    # A file there that cannot be read (no permission: made so here by refusing to read it, as the
    # tests run as root) is not taken for a calibration, and does not stop the command either.
    (folder / MARKER).unlink()
    unreadable = folder / "unreadable.json"
    unreadable.write_text("{}")
    read_text = Path.read_text

    def refuse(path, *args, **kwargs):
        if path.name == unreadable.name:
            raise PermissionError(13, "Permission denied", str(path))
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse)
    assert main(argv("P03.json")) == 0, capsys.readouterr().err
    assert (folder / "P03.json").is_file() and unreadable.read_bytes() == b"{}"


# --------------------------------------------------------------------------- simulate, power

def simulated_generation(out: Path) -> int:
    """Participants in the simulated study, after checking that every file of it is there and no other."""
    study = json.loads((out / "study.json").read_text())
    assert study["simulated"] is True and "no participant was measured" in study["note"]
    table = pd.read_parquet(out / "features" / "session_features.parquet")
    assert table.attrs["facefeedback"]["simulated"] is True
    folders = sorted(p.name for p in (out / "recordings").iterdir() if (p / "frames.parquet").exists())
    assert folders == sorted(table["recording_id"])
    files = set(read_marker(out)["simulated study"])
    assert files == {"study.json", "failures.csv", "features/session_features.parquet",
                     "features/session_features.csv"} | {f"recordings/{r}/{n}" for r in folders
                                                         for n in ("frames.parquet", "summary.json")}
    return table["participant_id"].nunique()


def test_simulate_replaces_its_own_study_and_nothing_else(tmp_path, capsys):
    out = tmp_path / "sim"
    argv = ["simulate", "--out", str(out), "--sessions", "baseline", "week6"]
    assert main([*argv, "--n-per-arm", "4"]) == 0
    foreign = plant(out / "README.md", out / "features" / "my_model.R", out / "recordings" / "notes.txt",
                    out / "recordings" / "sub-8_week6_rest" / "rating.txt")
    assert main([*argv, "--n-per-arm", "3"]) == 0
    assert simulated_generation(out) == 6
    # sub-7 and sub-8 are gone; sub-8's folder stays only for the file someone put there.
    assert not (out / "recordings" / "sub-7_baseline_rest").exists()
    assert sorted(p.name for p in (out / "recordings" / "sub-8_week6_rest").iterdir()) == ["rating.txt"]
    assert_intact(foreign)
    run_killed("commit", 5, [*argv, "--n-per-arm", "4"])
    assert_intact(foreign)
    recover(out)
    assert simulated_generation(out) == 8
    assert_intact(foreign)
    assert not staging_left(tmp_path)


def test_simulate_refuses_a_folder_of_someone_elses_files_named_like_its_outputs(tmp_path, capsys):
    out = tmp_path / "project"
    foreign = plant(out / "study.json", out / "data.csv")
    assert main(["simulate", "--out", str(out), "--n-per-arm", "3"]) != 0
    err = capsys.readouterr().err
    assert f"error: {out}: study.json is not part of a simulated study" in err and "--force" in err
    assert_intact(foreign)
    assert not (out / "recordings").exists()


def test_power_replaces_its_own_outputs_and_nothing_else(tmp_path, capsys):
    out = tmp_path / "power"
    argv = ["power", "--sims", "2", "--n-perm", "20", "--n-boot", "9", "--out", str(out)]
    foreign = plant(out / "notes.txt")
    assert main([*argv, "--n", "3"]) == 0
    assert_intact(foreign)
    assert set(read_marker(out)["power"]) == {"power.csv", "power.json", "power.png", "power.svg"}
    run_killed("commit", 3, [*argv, "--n", "4"])
    assert_intact(foreign)
    recover(out)
    assert pd.read_csv(out / "power.csv")["n_per_arm"].tolist() == [4]
    assert set(read_marker(out)["power"]) == {"power.csv", "power.json", "power.png", "power.svg"}
    assert_intact(foreign)
    foreign |= plant(tmp_path / "elsewhere" / "power.csv")
    assert main([*argv, "--n", "3", "--out", str(tmp_path / "elsewhere")]) != 0
    assert "power.csv is not part of a power analysis" in capsys.readouterr().err
    assert_intact(foreign)


def test_power_json_in_an_earlier_power_folder_is_not_taken_for_ours(tmp_path, capsys):
    """A power folder from before output markers held power.csv, .png and .svg only: a power.json
    there is someone else's, and is refused, not replaced."""
    out = tmp_path / "power"
    out.mkdir()
    (out / "power.csv").write_text("n_per_arm,studies,power_primary\n4,2,0.5\n")
    foreign = plant(out / "power.json")
    argv = ["power", "--n", "3", "--sims", "2", "--n-perm", "20", "--n-boot", "9", "--out", str(out)]
    assert main(argv) != 0
    assert "power.json is not part of a power analysis" in capsys.readouterr().err
    assert_intact(foreign)


# --------------------------------------------------------------------------- analyze, export

FAST = ["--n-boot", "20", "--n-perm", "19", "--n-perm-predictive", "5"]


def test_analyze_leaves_a_complete_consistent_folder(tmp_path, capsys):
    """An earlier analysis's report, figures and mixed-model table go when this one does not write them."""
    three, two = tmp_path / "three_visits", tmp_path / "two_visits"
    assert main(["simulate", "--out", str(three), "--n-per-arm", "8"]) == 0
    assert main(["simulate", "--out", str(two), "--n-per-arm", "8", "--sessions", "baseline", "week6"]) == 0
    out = tmp_path / "analysis"
    assert main(["analyze", str(three), "--outcome", "HAMD17", "--out", str(out), *FAST]) == 0
    assert (out / "report.html").is_file() and (out / "tables" / "mixed.csv").is_file()
    assert any((out / "figures").glob("*.png"))
    foreign = plant(out / "notes.txt", out / "figures" / "my_sketch.png", out / "tables" / "my_table.csv")
    capsys.readouterr()
    assert main(["analyze", str(two), "--outcome", "HAMD17", "--out", str(out), *FAST, "--no-report"]) == 0
    assert not (out / "report.html").exists() and not (out / "tables" / "mixed.csv").exists()
    assert "simulated data" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["my_sketch.png"]
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["sessions"] == ["baseline", "week6"]
    tables = {p.name for p in (out / "tables").iterdir()} - {"my_table.csv"}
    assert {f"tables/{t}" for t in tables} | {"results.json"} == set(read_marker(out)["analysis"])
    assert_intact(foreign)
    run_killed("commit", 4, ["analyze", str(three), "--outcome", "HAMD17", "--out", str(out), *FAST, "--no-report"])
    assert_intact(foreign)
    recover(out)
    assert json.loads((out / "results.json").read_text())["data"]["sessions"] == ["baseline", "week3", "week6"]
    assert (out / "tables" / "mixed.csv").is_file()
    assert_intact(foreign)
    assert not staging_left(tmp_path)


def test_the_report_of_a_simulated_study_says_so(tmp_path):
    assert main(["simulate", "--out", str(tmp_path / "sim"), "--n-per-arm", "8", "--seed", "5"]) == 0
    assert main(["analyze", str(tmp_path / "sim"), "--outcome", "HAMD17", *FAST]) == 0
    results = json.loads((tmp_path / "sim" / "analysis" / "results.json").read_text())
    assert results["data"]["simulated"] is True and results["provenance"]["simulation"]["seed"] == 5
    page = (tmp_path / "sim" / "analysis" / "report.html").read_text()
    banner = page.split("<h1>")[0]
    assert '<p class="simulated">Simulated data: this study was generated by' in banner
    assert "seed 5" in banner and "no participant was measured" in banner
    assert "analysis of SIMULATED data" in page.split("</title>")[0]
    methods = page.split("<h2>Methods and results</h2><p>")[1]
    assert methods.startswith("Simulated data:")
    # A copy of its features table, analysed on its own, still says so.
    alone = tmp_path / "alone" / "features.parquet"
    alone.parent.mkdir()
    alone.write_bytes((tmp_path / "sim" / "features" / "session_features.parquet").read_bytes())
    assert main(["analyze", str(alone), "--outcome", "HAMD17", *FAST, "--no-report"]) == 0
    assert json.loads((tmp_path / "alone" / "analysis" / "results.json").read_text())["data"]["simulated"] is True


def test_the_report_of_measured_data_does_not_say_simulated(tmp_path):
    from facefeedback.synthetic.studies import SimulationSettings, simulate_study

    table, _ = simulate_study(SimulationSettings(n_per_arm=8), 1, with_frames=False)
    table.to_csv(tmp_path / "session_features.csv", index=False)  # no study.json, no metadata: measured
    assert main(["analyze", str(tmp_path / "session_features.csv"), "--outcome", "HAMD17", *FAST]) == 0
    results = json.loads((tmp_path / "analysis" / "results.json").read_text())
    assert results["data"]["simulated"] is False and "simulation" not in results["provenance"]
    assert "Simulated" not in (tmp_path / "analysis" / "report.html").read_text()


def test_export_replaces_its_own_csvs_and_nothing_else(short_clip, samples, tmp_path, capsys):
    out = tmp_path / "extracted"
    assert main(["extract", str(short_clip), str(samples / "lighting_neutral.mp4"), "--out", str(out),
                 "--end", "0.3", "--no-progress"]) == 0
    openface = out / "openface"
    foreign = plant(openface / "notes.txt", openface / "P00.csv")
    assert main(["export", "--openface", str(out)]) == 0
    assert sorted(p.name for p in openface.glob("*.csv")) == ["P00.csv", "P01.csv", "lighting_neutral.csv"]
    assert_intact(foreign)
    (out / "lighting_neutral" / "frames.parquet").unlink()  # that recording is no longer there
    run_killed("commit", 2, ["export", "--openface", str(out)])
    assert_intact(foreign)
    recover(openface)
    assert sorted(p.name for p in openface.glob("*.csv")) == ["P00.csv", "P01.csv"]
    assert set(read_marker(openface)["openface"]) == {"P01.csv"}
    assert_intact(foreign)
    assert (openface / MARKER).is_file() and not staging_left(tmp_path)


def test_export_goes_on_past_a_damaged_recording(short_clip, samples, tmp_path, capsys):
    out = tmp_path / "extracted"
    assert main(["extract", str(short_clip), str(samples / "lighting_neutral.mp4"), "--out", str(out),
                 "--end", "0.3", "--no-progress"]) == 0
    (out / "P01" / "frames.parquet").write_bytes(b"not parquet")
    assert main(["export", "--openface", str(out)]) == 1
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {out / 'P01'}: cannot read the per-frame table") and "Traceback" not in err
    assert sorted(p.name for p in (out / "openface").glob("*.csv")) == ["lighting_neutral.csv"]
