"""A study output folder over reruns: what the study tables define, and nothing of anyone else's lost.

A miniature study (three participants, baseline and week 6, synthetic clips copied into the
study's folder so that the tests can change them) is run once; each test reruns a copy.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from output_helpers import assert_intact, plant, run_killed, staging_left
from study_helpers import write_study

from facefeedback.cli import main
from facefeedback.output_marker import read_marker

CLIPS = {"P01": ("lighting_neutral", "frontal_frown"), "P02": ("frontal_frown", "moving_frown"),
         "P03": ("moving_frown", "lighting_neutral")}
RUN = ["--workers", "2", "--stride", "4", "--no-progress"]


def make_study(folder: Path, samples: Path, pids=("P01", "P02", "P03")) -> Path:
    recordings = []
    for pid in pids:
        for session, clip in zip(("baseline", "week6"), CLIPS[pid]):
            video = folder / "videos" / f"{pid}_{session}.mp4"
            if not video.exists():
                video.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(samples / f"{clip}.mp4", video)
            recordings.append((pid, session, "rest", video.relative_to(folder)))  # copies read their own
    scores = "".join(f"{p},{s},HAMD17,{20 if s == 'baseline' else 12}\n" for p in pids for s in ("baseline", "week6"))
    return write_study(folder, recordings, scores)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, samples) -> Path:
    root = tmp_path_factory.mktemp("study_outputs")
    study = make_study(root / "study", samples)
    assert main(["run", str(study), "--out", str(root / "out"), *RUN]) == 0
    return root


@pytest.fixture()
def copy(first_run, tmp_path) -> Path:
    """A copy of the study and its outputs, to change and run again."""
    shutil.copytree(first_run, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy"


def rerun(root: Path, *extra: str) -> int:
    return main(["run", str(root / "study" / "study.yaml"), "--out", str(root / "out"), *RUN, *extra])


def current(out: Path, sub: str) -> list[str]:
    return sorted(p.name for p in (out / sub).iterdir() if not p.name.startswith("."))


def test_foreign_files_survive_reruns_and_a_killed_run(copy, capsys):
    out = copy / "out"
    foreign = plant(out / "notes.txt", out / "recordings" / "P01_baseline_rest" / "rating.txt",
                    out / "recordings" / "README.md", out / "calibration" / "how_we_calibrated.txt",
                    out / "features" / "my_analysis.R", out / "stale" / "keep.txt")
    # A new event threshold rewrites every recording and the feature tables (from the cache: no MediaPipe).
    config = copy / "events.yaml"
    config.write_text("events:\n  on_threshold: 0.5\n")
    assert rerun(copy, "--config", str(config)) == 0
    stdout = capsys.readouterr().out
    assert "6 recordings: 0 measured, 6 written" in stdout
    assert_intact(foreign)
    # Killed while it commits a recording's outputs: the next run finds them whole and finishes.
    config.write_text("events:\n  on_threshold: 0.6\n")
    run_killed("commit", 3, ["run", copy / "study" / "study.yaml", "--out", out, *RUN, "--config", config])
    assert_intact(foreign)
    assert rerun(copy, "--config", str(config)) == 0
    assert_intact(foreign)
    for rid in [r for r in current(out, "recordings") if (out / "recordings" / r).is_dir()]:
        provenance = json.loads((out / "recordings" / rid / "provenance.json").read_text())
        assert provenance["config"]["events"]["on_threshold"] == 0.6
        assert set(read_marker(out / "recordings" / rid)["recording"]) == {
            "frames.parquet", "frames.json", "summary.json", "provenance.json"}
    assert not staging_left(copy)


def test_a_participant_removed_from_the_tables_goes_to_stale_and_is_not_exported(copy, samples, capsys):
    """After the run, recordings/ and calibration/ hold exactly what the tables define."""
    out = copy / "out"
    foreign = plant(out / "recordings" / "P03_week6_rest" / "rating.txt")
    before = (out / "recordings" / "P03_baseline_rest" / "frames.parquet").read_bytes()
    make_study(copy / "study", samples, pids=("P01", "P02"))
    assert rerun(copy) == 0
    err = capsys.readouterr().err
    assert current(out, "recordings") == ["P01_baseline_rest", "P01_week6_rest", "P02_baseline_rest",
                                          "P02_week6_rest", "P03_week6_rest"]  # kept only for rating.txt
    assert current(out / "recordings", "P03_week6_rest") == ["rating.txt"]
    assert current(out, "calibration") == ["P01.json", "P02.json"]
    assert_intact(foreign)
    (stale,) = (out / "stale").iterdir()
    assert f"moved to {stale}" in err
    assert (stale / "recordings" / "P03_baseline_rest" / "frames.parquet").read_bytes() == before
    assert (stale / "recordings" / "P03_week6_rest" / "summary.json").is_file()
    assert (stale / "calibration" / "P03.json").is_file()
    note = (stale / "NOTE.txt").read_text()
    assert "recordings/P03_baseline_rest: no longer in the study tables" in note
    assert "calibration/P03.json: participant no longer in the study tables" in note
    assert "rating.txt left in recordings/P03_week6_rest" in note
    features = pd.read_parquet(out / "features" / "session_features.parquet")
    assert sorted(features["participant_id"].unique()) == ["P01", "P02"]
    assert main(["export", "--openface", str(out)]) == 0
    assert sorted(p.name for p in (out / "openface").glob("*.csv")) == [
        "P01_baseline_rest.csv", "P01_week6_rest.csv", "P02_baseline_rest.csv", "P02_week6_rest.csv"]


def test_export_of_a_study_is_its_current_recordings_only(copy):
    """Outputs an older version left beside the current ones are not exported with the study."""
    out = copy / "out"
    shutil.copytree(out / "recordings" / "P03_week6_rest", out / "recordings" / "P09_week6_rest")
    (out / "recordings" / "P09_week6_rest" / ".facefeedback.json").unlink(missing_ok=True)
    assert main(["export", "--openface", str(out)]) == 0
    assert "P09_week6_rest.csv" not in [p.name for p in (out / "openface").iterdir()]
    assert len(list((out / "openface").glob("*.csv"))) == 6


def test_an_unreadable_baseline_keeps_the_participants_calibration(copy, capsys):
    out = copy / "out"
    calibration = (out / "calibration" / "P01.json").read_text()
    assert json.loads(calibration)["method"] == "percentile"
    week6 = (out / "recordings" / "P01_week6_rest" / "frames.parquet").stat()
    (copy / "study" / "videos" / "P01_baseline.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    assert rerun(copy) == 1
    err = capsys.readouterr().err
    (error,) = pd.read_csv(out / "failures.csv")["error"]
    assert f"failed: P01_baseline_rest: {error}" in err and err.count(error) == 1  # printed once
    assert (out / "calibration" / "P01.json").read_text() == calibration
    assert "participant P01: no calibration recording could be read (P01_baseline_rest); keeping the " \
           "participant's calibration of an earlier run (percentile over P01_baseline_rest" in err
    # Its other recordings stay measured against the participant's own neutral, untouched.
    summary = json.loads((out / "recordings" / "P01_week6_rest" / "summary.json").read_text())
    assert summary["calibration"] == json.loads(calibration)
    after = (out / "recordings" / "P01_week6_rest" / "frames.parquet").stat()
    assert (after.st_ino, after.st_mtime_ns) == (week6.st_ino, week6.st_mtime_ns)
    # The failed recording's earlier outputs are not left to be read as current.
    assert "P01_baseline_rest" not in current(out, "recordings")
    (stale,) = (out / "stale").iterdir()
    assert (stale / "recordings" / "P01_baseline_rest" / "frames.parquet").is_file()
    assert "recordings/P01_baseline_rest: failed in this run" in (stale / "NOTE.txt").read_text()
    assert pd.read_csv(out / "failures.csv")["recording_id"].tolist() == ["P01_baseline_rest"]
    study = json.loads((out / "study.json").read_text())
    assert any("keeping the participant's calibration" in w for w in study["warnings"])


def test_a_measured_study_and_a_simulated_one_never_share_a_folder(copy, capsys):
    out = copy / "out"
    listing = sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob("*"))
    assert main(["simulate", "--out", str(out), "--n-per-arm", "3"]) != 0
    err = capsys.readouterr().err
    assert err.strip() == f"error: {out}: holds a measured study ('facefeedback run'); a simulated study is " \
                          "never written over one: choose another --out"
    assert main(["simulate", "--out", str(out), "--n-per-arm", "3", "--force"]) != 0  # not even forced
    assert sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob("*")) == listing
    sim = copy / "sim"
    assert main(["simulate", "--out", str(sim), "--n-per-arm", "3"]) == 0
    rc = main(["run", str(copy / "study" / "study.yaml"), "--out", str(sim), *RUN])
    assert rc != 0 and "holds a simulated study" in capsys.readouterr().err
    assert not (sim / "cache").exists()


def test_files_in_the_way_stop_the_run_before_any_work(samples, tmp_path, capsys):
    study = make_study(tmp_path / "study2", samples, pids=("P01",))
    out = tmp_path / "lab_folder"
    foreign = plant(out / "features" / "wide.csv", out / "recordings" / "P01_week6_rest" / "summary.json",
                    out / "calibration" / "P01.json", out / "protocol.pdf")
    argv = ["run", str(study), "--out", str(out), *RUN]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: 3 output problem(s); nothing was processed")
    assert "features: wide.csv is not part of a study's feature tables" in err
    assert "P01_week6_rest: summary.json is not part of a recording's outputs" in err
    assert "calibration: P01.json is not part of a study's calibrations" in err and "Traceback" not in err
    assert not (out / "cache").exists()
    assert_intact(foreign)
    assert main([*argv, "--force"]) == 0  # overwrites exactly those files, nothing else
    assert_intact({out / "protocol.pdf": foreign[out / "protocol.pdf"]})
    assert json.loads((out / "calibration" / "P01.json").read_text())["participant_id"] == "P01"
    assert read_marker(out / "calibration") == {"calibration": ["P01.json"]}


def test_bids_tables_of_a_removed_participant_go_to_stale_with_their_recordings(copy, samples):
    from facefeedback.bids import frames_table

    out = copy / "out"
    assert rerun(copy, "--format", "bids") == 0
    table = out / "sub-P03" / "ses-baseline" / "beh" / "sub-P03_ses-baseline_task-rest_desc-frown_timeseries.tsv.gz"
    assert frames_table(out / "recordings" / "P03_baseline_rest") == table
    foreign = plant(table.parent / "notes.txt")
    make_study(copy / "study", samples, pids=("P01", "P02"))
    assert rerun(copy, "--format", "bids") == 0
    assert not table.exists() and not table.with_name(table.name.replace(".tsv.gz", ".json")).exists()
    assert_intact(foreign)
    (stale,) = (out / "stale").iterdir()
    assert frames_table(stale / "recordings" / "P03_baseline_rest") == stale / table.relative_to(out)


def test_spss_and_stata_exports_replace_only_their_own_files(copy, capsys):
    import pyreadstat

    out, features = copy / "out", copy / "out" / "features"
    foreign = plant(features / "my_syntax.sps", features / "wide.dta")
    assert main(["export", str(out), "--spss"]) == 0
    assert main(["export", str(out), "--stata"]) != 0  # someone's wide.dta is in the way
    err = capsys.readouterr().err
    assert f"error: {features}: wide.dta is not part of the Stata export written by facefeedback" in err
    assert not (features / "session_features.dta").exists()
    assert_intact(foreign)
    (features / "wide.dta").unlink()
    del foreign[features / "wide.dta"]
    assert main(["export", str(out), "--stata"]) == 0
    assert set(read_marker(features)["spss export"]) == {"session_features.sav", "wide.sav"}
    run_killed("commit", 2, ["export", out, "--spss"])
    assert_intact(foreign)
    assert main(["export", str(out), "--stata"]) == 0  # looking at the folder again finishes the commit
    for name in ("session_features.sav", "wide.sav"):
        frame, _ = pyreadstat.read_sav(str(features / name))
        assert len(frame) > 0
    assert (features / "wide.dta").is_file() and not staging_left(copy)
    assert_intact(foreign)


def test_only_calibrations_the_run_wrote_are_ever_moved_to_stale(copy, samples, capsys):
    """A copy of a calibration is the user's: it stays where it is, and says nothing of the study."""
    out, calibration = copy / "out", copy / "out" / "calibration"
    assert read_marker(calibration) == {"calibration": ["P01.json", "P02.json", "P03.json"]}
    (calibration / ".facefeedback.json").unlink()  # as an earlier version left it: known by content
    backup = calibration / "P01_manual_backup.json"
    shutil.copy(calibration / "P01.json", backup)
    mine = {backup: backup.read_bytes()}
    os.utime(backup, (1_000_000_000, 1_000_000_000))
    assert rerun(copy) == 0
    assert not (out / "stale").exists()
    assert_intact(mine)
    assert read_marker(calibration) == {"calibration": ["P01.json", "P02.json", "P03.json"]}
    shutil.copy(calibration / "P03.json", calibration / "P03_backup.json")
    os.utime(calibration / "P03_backup.json", (1_000_000_000, 1_000_000_000))
    mine[calibration / "P03_backup.json"] = (calibration / "P03_backup.json").read_bytes()
    make_study(copy / "study", samples, pids=("P01", "P02"))
    assert rerun(copy) == 0
    assert_intact(mine)
    (stale,) = (out / "stale").iterdir()
    assert sorted(p.name for p in (stale / "calibration").iterdir()) == [".facefeedback.json", "P03.json"]
    assert "backup" not in (stale / "NOTE.txt").read_text()
    assert read_marker(calibration) == {"calibration": ["P01.json", "P02.json"]}
    assert read_marker(stale / "calibration") == {"calibration": ["P03.json"]}


def test_a_file_where_a_studys_bids_table_goes_stops_the_run(copy, capsys):
    out = copy / "out"
    beh = out / "sub-P01" / "ses-baseline" / "beh"
    theirs = plant(beh / "sub-P01_ses-baseline_task-rest_desc-frown_timeseries.json", beh / "notes.txt")
    assert rerun(copy, "--format", "bids") != 0
    err = capsys.readouterr().err
    assert err.startswith(f"error: {beh}: sub-P01_ses-baseline_task-rest_desc-frown_timeseries.json is not part "
                          "of a recording's outputs written by facefeedback") and err.count("\n") == 1
    assert_intact(theirs)
    assert rerun(copy, "--format", "bids", "--force") == 0
    assert_intact({beh / "notes.txt": theirs[beh / "notes.txt"]})
    assert read_marker(beh) == {"recording at ../../../recordings/P01_baseline_rest": [
        "sub-P01_ses-baseline_task-rest_desc-frown_timeseries.json",
        "sub-P01_ses-baseline_task-rest_desc-frown_timeseries.tsv.gz"]}


def test_a_partly_failed_calibration_keeps_the_fuller_one_and_says_so(copy, samples, capsys):
    """P01 calibrated on two baseline tasks: when one of them later cannot be read, the earlier
    calibration over both is kept (it used to be refitted on the other alone, without a word);
    in a fresh folder the calibration rests on the one read, and a warning says so. The rows'
    order in the recordings table does not decide the calibration: the study file's tasks do."""
    study = copy / "study"
    shutil.copy(samples / "moving_frown.mp4", study / "videos" / "P01_baseline_sad.mp4")
    table = (study / "recordings.tsv").read_text().splitlines()
    (study / "recordings.tsv").write_text("\n".join([table[0], "P01\tbaseline\tsad\tvideos/P01_baseline_sad.mp4",
                                                     *table[1:]]) + "\n")  # before the rest task's row
    (study / "study.yaml").write_text((study / "study.yaml").read_text().replace("tasks: [rest]", "tasks: [rest, sad]"))
    assert rerun(copy) == 0
    both = json.loads((copy / "out" / "calibration" / "P01.json").read_text())
    assert both["source"] == "P01_baseline_rest, P01_baseline_sad"
    capsys.readouterr()
    (study / "videos" / "P01_baseline_sad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4000))
    assert rerun(copy) == 1
    err = capsys.readouterr().err
    assert json.loads((copy / "out" / "calibration" / "P01.json").read_text()) == both
    assert "participant P01: calibration recording(s) P01_baseline_sad could not be read; keeping the " \
           "participant's calibration of an earlier run (percentile over P01_baseline_rest, P01_baseline_sad" in err
    fresh = copy / "fresh"
    assert main(["run", str(study / "study.yaml"), "--out", str(fresh), *RUN]) == 1
    alone = json.loads((fresh / "calibration" / "P01.json").read_text())
    assert alone["source"] == "P01_baseline_rest"
    warnings = json.loads((fresh / "study.json").read_text())["warnings"]
    assert [w for w in warnings if w.startswith("participant P01")] == [
        "participant P01: calibration recording(s) P01_baseline_sad could not be read; the calibration rests on "
        f"P01_baseline_rest only ({alone['n_frames']} frames)"]
