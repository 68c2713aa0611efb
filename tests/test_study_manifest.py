"""The study file and its tables are checked as a whole before any work; each problem names file and row."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facefeedback.cli import main
from facefeedback.errors import ValidationError
from facefeedback.study.manifest import load_study
from facefeedback.synthetic.example_study import N_PARTICIPANTS, TASKS

PARTICIPANTS = "participant_id\tarm\tage\nP01\tbotox\t40\nP02\tplacebo\t51\n"
SCORES = "participant_id,session,scale,score\nP01,baseline,HAMD17,20\nP01,week6,HAMD17,12\nP02,baseline,HAMD17,18\n"
STUDY = ("participants: participants.tsv\nrecordings: recordings.tsv\nscores: scores.csv\n"
         "sessions: [baseline, week6]\ncalibration: {tasks: [rest]}\n")


def recordings_text(rows: list[tuple[str, str, str, str]]) -> str:
    return "participant_id\tsession\ttask\tpath\n" + "".join("\t".join(r) + "\n" for r in rows)


GOOD_ROWS = [("P01", "baseline", "rest", "clips/a.mp4"), ("P01", "week6", "rest", "clips/b.mp4"),
             ("P02", "baseline", "rest", "clips/a.mp4")]


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    """A small valid study; the clips are placeholders (validation does not decode them)."""
    (tmp_path / "clips").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "clips" / name).write_bytes(b"\x00\x00\x00\x18ftypmp42 placeholder")
    (tmp_path / "participants.tsv").write_text(PARTICIPANTS)
    (tmp_path / "recordings.tsv").write_text(recordings_text(GOOD_ROWS))
    (tmp_path / "scores.csv").write_text(SCORES)
    (tmp_path / "study.yaml").write_text(STUDY)
    return tmp_path


def problems_of(study_dir: Path) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_study(study_dir / "study.yaml")
    return info.value.problems


def only(problems: list[str], *needles: str) -> str:
    hits = [p for p in problems if all(n in p for n in needles)]
    assert len(hits) == 1, problems
    return hits[0]


def test_valid_study_loads_with_resolved_paths_and_order(study_dir):
    study = load_study(study_dir / "study.yaml")
    assert list(study.recordings["recording_id"]) == ["P01_baseline_rest", "P01_week6_rest", "P02_baseline_rest"]
    assert study.recordings["path"].iloc[1] == str((study_dir / "clips" / "b.mp4").resolve())
    assert study.sessions == ["baseline", "week6"]
    assert list(study.scales) == ["HAMD17"]
    assert study.covariates == ["age"] and study.participants["age"].tolist() == [40.0, 51.0]
    assert list(study.scores["score"]) == [20.0, 12.0, 18.0]


def test_missing_recording_file(study_dir):
    rows = GOOD_ROWS + [("P02", "week6", "rest", "clips/gone.mp4")]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    msg = only(problems_of(study_dir), "gone.mp4")
    assert msg.startswith("recordings.tsv row 5:") and "does not exist" in msg


def test_unreadable_recording_file(study_dir):
    if os.geteuid() != 0:
        (study_dir / "clips" / "b.mp4").chmod(0)
        target = "b.mp4"
    else:  # root reads any file whatever its permissions; this one fails to read for everyone
        if not Path("/proc/self/mem").is_file():
            pytest.skip("no unreadable file available to root on this system")
        rows = [GOOD_ROWS[0], ("P01", "week6", "rest", "/proc/self/mem"), GOOD_ROWS[2]]
        (study_dir / "recordings.tsv").write_text(recordings_text(rows))
        target = "/mem "  # resolved to /proc/<pid>/mem
    msg = only(problems_of(study_dir), target)
    assert msg.startswith("recordings.tsv row 3:") and "cannot be read" in msg


def test_empty_recording_file_and_folder_path(study_dir):
    (study_dir / "clips" / "b.mp4").write_bytes(b"")
    rows = GOOD_ROWS + [("P02", "week6", "rest", "clips")]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    problems = problems_of(study_dir)
    assert only(problems, "b.mp4").startswith("recordings.tsv row 3:")
    assert "empty (0 bytes)" in only(problems, "b.mp4")
    assert only(problems, "not a file").startswith("recordings.tsv row 5:")


def test_duplicate_rows_in_each_table(study_dir):
    (study_dir / "participants.tsv").write_text(PARTICIPANTS + "P01\tplacebo\t33\n")
    (study_dir / "recordings.tsv").write_text(recordings_text(GOOD_ROWS + [GOOD_ROWS[1]]))
    (study_dir / "scores.csv").write_text(SCORES + "P01,week6,HAMD17,13\n")
    problems = problems_of(study_dir)
    assert only(problems, "participants.tsv row 4:", "duplicate", "first at row 2")
    assert only(problems, "recordings.tsv row 5:", "duplicate", "first at row 3")
    assert only(problems, "scores.csv row 5:", "duplicate", "first at row 3")


def test_participants_not_in_participants_table(study_dir):
    (study_dir / "recordings.tsv").write_text(recordings_text(GOOD_ROWS + [("P09", "baseline", "rest", "clips/a.mp4")]))
    (study_dir / "scores.csv").write_text(SCORES + "P07,baseline,HAMD17,10\n")
    problems = problems_of(study_dir)
    assert only(problems, "P09") == "recordings.tsv row 5: participant P09 is not in participants.tsv"
    assert only(problems, "P07") == "scores.csv row 5: participant P07 is not in participants.tsv"


def test_session_with_no_baseline(study_dir):
    rows = GOOD_ROWS[:2] + [("P02", "week6", "rest", "clips/a.mp4")]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    msg = only(problems_of(study_dir), "P02")
    assert msg.startswith("recordings.tsv row 4: participant P02 has sessions week6 but no recording at the "
                          "reference session 'baseline'")


def test_baseline_without_the_calibration_task(study_dir):
    rows = GOOD_ROWS[:2] + [("P02", "baseline", "interview", "clips/a.mp4")]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    msg = only(problems_of(study_dir), "P02")
    assert msg.startswith("recordings.tsv row 4:") and "calibration task(s) rest" in msg


def test_unknown_scale(study_dir):
    (study_dir / "scores.csv").write_text(SCORES + "P02,week6,HAMD21,10\n")
    msg = only(problems_of(study_dir), "HAMD21")
    assert msg.startswith("scores.csv row 5: unknown scale 'HAMD21'") and "HAMD17" in msg


def test_score_outside_range_and_custom_scale(study_dir):
    (study_dir / "study.yaml").write_text(STUDY + "scales:\n  VAS_MOOD: {min: 0, max: 100}\n")
    (study_dir / "scores.csv").write_text(SCORES + "P02,week6,HAMD17,61\nP02,week6,VAS_MOOD,101\n"
                                          "P01,week6,VAS_MOOD,55\n")
    problems = problems_of(study_dir)
    assert only(problems, "HAMD17") == "scores.csv row 5: HAMD17 score 61 is outside 0-52"
    assert only(problems, "VAS_MOOD") == "scores.csv row 6: VAS_MOOD score 101 is outside 0-100"


def test_non_numeric_score_and_missing_is_allowed(study_dir):
    (study_dir / "scores.csv").write_text(SCORES + "P02,week6,HAMD17,twelve\nP02,week6,MADRS,n/a\n")
    problems = problems_of(study_dir)
    assert problems == ["scores.csv row 5: HAMD17 score 'twelve' is not a number"]


def test_all_problems_reported_at_once_and_nothing_runs(study_dir, tmp_path, capsys):
    (study_dir / "participants.tsv").write_text(PARTICIPANTS + "P01\tplacebo\t33\n")
    (study_dir / "recordings.tsv").write_text(recordings_text(GOOD_ROWS + [("P03", "week6", "rest", "x.mp4")]))
    (study_dir / "scores.csv").write_text(SCORES + "P02,week6,HAMD17,99\nP02,week6,BDI2,many\nP02,week6,XYZ,1\n")
    out = tmp_path / "out"
    status = main(["run", str(study_dir / "study.yaml"), "--out", str(out)])
    err = capsys.readouterr().err
    assert status != 0
    assert "Traceback" not in err
    for expected in ("participants.tsv row 4:", "recordings.tsv row 5: participant P03", "x.mp4",
                     "scores.csv row 5: HAMD17 score 99", "scores.csv row 6: BDI2 score 'many'",
                     "scores.csv row 7: unknown scale 'XYZ'"):
        assert expected in err, err
    assert "nothing was processed" in err
    assert not out.exists()


def test_cli_subprocess_prints_one_line_per_problem_without_traceback(study_dir, tmp_path):
    (study_dir / "scores.csv").write_text(SCORES + "P02,week6,HAMD17,-1\n")
    proc = subprocess.run([sys.executable, "-m", "facefeedback.cli", "run", str(study_dir / "study.yaml"),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "scores.csv row 5: HAMD17 score -1 is outside 0-52" in proc.stderr


def test_study_file_errors(study_dir):
    (study_dir / "study.yaml").write_text(STUDY + "colour: blue\n")
    assert any("colour" in p and "study.yaml" in p for p in problems_of(study_dir))
    (study_dir / "study.yaml").write_text(STUDY.replace("recordings.tsv", "recs.xlsx"))
    assert only(problems_of(study_dir), "recs.xlsx").endswith("must be a .csv or .tsv file")


def test_table_shape_problems(study_dir):
    (study_dir / "participants.tsv").write_text("participant_id\tgroup\nP01\tbotox\n")
    (study_dir / "scores.csv").write_text(SCORES + "P02,week6\n")
    problems = problems_of(study_dir)
    assert only(problems, "participants.tsv", "missing column(s) arm")
    assert only(problems, "scores.csv row 5: 2 cells")


ROOT = Path(__file__).resolve().parents[1]


def test_shipped_study_files_are_valid():
    from facefeedback.study.spec import read_study_spec

    demo = load_study(ROOT / "configs" / "demo_study.yaml")
    assert len(demo.participants) == N_PARTICIPANTS and set(demo.participants["arm"]) == {"botox", "placebo"}
    assert len(demo.recordings) == N_PARTICIPANTS * 2 * len(TASKS) and demo.sessions == ["baseline", "week6"]
    # every participant, visit and task its own clip: a real study's layout, no identical measurements
    assert demo.recordings["path"].is_unique and demo.warnings == []
    contents = {hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in demo.recordings["path"]}
    assert len(contents) == N_PARTICIPANTS * 2 * len(TASKS), "two recordings of the demo study are the same video"
    assert list(demo.scales) == ["HAMD17", "PANAS_NA"]
    example = read_study_spec(ROOT / "configs" / "example_study.yaml")
    assert example.calibration.tasks == ["rest"] and "VAS_MOOD" in example.scales


# -- names, files and tables a reviewer would flag ----------------------------------------------

def test_session_task_and_arm_names_that_differ_only_by_case_are_refused(study_dir):
    (study_dir / "study.yaml").write_text(STUDY.replace("sessions: [baseline, week6]\n", ""))
    (study_dir / "participants.tsv").write_text(PARTICIPANTS + "P03\tBotox\t60\n")
    rows = GOOD_ROWS + [("P02", "Week6", "rest", "clips/b.mp4"), ("P03", "baseline", "Rest", "clips/b.mp4")]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    problems = problems_of(study_dir)
    assert only(problems, "session names") == ("session names differ only by case: 'week6' (recordings.tsv row 3; "
                                         "scores.csv row 3) and 'Week6' (recordings.tsv row 5); "
                                         "write one spelling")
    assert only(problems, "task names") == ("task names differ only by case: 'rest' (recordings.tsv rows 2, 3, "
                                            "4, 5) and 'Rest' (recordings.tsv row 6); write one spelling")
    assert only(problems, "arm names") == ("arm names differ only by case: 'botox' (participants.tsv row 2) "
                                           "and 'Botox' (participants.tsv row 4); write one spelling")


def test_participant_ids_that_differ_only_by_case_are_refused(study_dir):
    """P01 and p01 were two participants, with recordings/P01_* and recordings/p01_* (one folder on
    macOS and Windows) and BIDS folders sub-P01 and sub-p01, which BIDS forbids."""
    (study_dir / "participants.tsv").write_text(PARTICIPANTS + "p01\tplacebo\t60\n")
    assert only(problems_of(study_dir), "participant ids") == (
        "participant ids differ only by case: 'P01' (participants.tsv row 2) and 'p01' (participants.tsv row 4); "
        "give each its own id (their output folders would be one folder on a case-insensitive file system, as on "
        "macOS and Windows, and their BIDS labels one label)")


def test_an_unknown_key_is_named_with_the_closest_valid_one(study_dir):
    (study_dir / "study.yaml").write_text(STUDY.replace("sessions:", "sesions:")
                                          .replace("{tasks: [rest]}", "{tasks: [rest], percentil: 10}"))
    problems = problems_of(study_dir)
    path = study_dir / "study.yaml"
    assert only(problems, "sesions") == (
        f"{path}: unknown key 'sesions' (did you mean 'sessions'?); valid keys: study_version, name, "
        "participants, recordings, scores, reference_session, sessions, calibration, scales, config, "
        "source_datasets, contrasts, capacity_task")
    assert only(problems, "percentil") == (
        f"{path}: calibration: unknown key 'percentil' (did you mean 'percentile'?); valid keys of "
        "calibration: tasks, percentile, segment_s, min_frames")


def test_a_key_given_twice_in_the_study_file_is_refused(study_dir):
    """A second reference_session further down would silently win and turn every change around."""
    from facefeedback.errors import ConfigError

    path = study_dir / "study.yaml"
    path.write_text("reference_session: baseline\n" + STUDY + "reference_session: week6\n")
    with pytest.raises(ConfigError) as info:
        load_study(path)
    assert str(info.value) == (f"{path} line 7: not valid YAML (key 'reference_session' given twice "
                               "(first at line 1))")


def test_one_file_for_two_participants_or_sessions_is_a_warning(study_dir):
    rows = [("P01", "baseline", "rest", "clips/a.mp4"), ("P01", "week6", "rest", "clips/../clips/a.mp4"),
            ("P02", "baseline", "rest", "clips/b.mp4"), ("P02", "week6", "rest", str(study_dir / "clips/b.mp4"))]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    study = load_study(study_dir / "study.yaml")
    a, b = (str((study_dir / "clips" / n).resolve()) for n in ("a.mp4", "b.mp4"))
    assert [w for w in study.warnings if "one file" in w] == [
        f"recordings.tsv rows 2, 3: one file, {a}, is given for P01 baseline rest, P01 week6 rest; "
        "their measurements will be identical",
        f"recordings.tsv rows 4, 5: one file, {b}, is given for P02 baseline rest, P02 week6 rest; "
        "their measurements will be identical"]


def test_numbers_in_the_study_file_are_read_as_session_names(study_dir):
    (study_dir / "study.yaml").write_text(STUDY.replace("sessions: [baseline, week6]", "sessions: [0, 6]\n"
                                                        "reference_session: 0"))
    rows = [(p, {"baseline": "0", "week6": "6"}[s], t, f) for p, s, t, f in GOOD_ROWS]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    (study_dir / "scores.csv").write_text(SCORES.replace("baseline", "0").replace("week6", "6"))
    study = load_study(study_dir / "study.yaml")
    assert study.sessions == ["0", "6"] and study.reference_session == "0"


@pytest.mark.parametrize("on_disk, in_table", [("NFC", "NFD"), ("NFD", "NFC")])
def test_paths_match_whatever_the_unicode_normal_form(study_dir, on_disk, in_table):
    import unicodedata

    name = "Jörg_baseline.mp4"
    (study_dir / "clips" / unicodedata.normalize(on_disk, name)).write_bytes(b"\x00\x00\x00\x18ftypmp42 clip")
    rows = [("P01", "baseline", "rest", "clips/" + unicodedata.normalize(in_table, name))] + GOOD_ROWS[1:]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    study = load_study(study_dir / "study.yaml")
    found = Path(study.recordings["path"].iloc[0])
    assert found.is_file() and found.name == unicodedata.normalize(on_disk, name)


@pytest.mark.parametrize("table", ["participants.tsv", "recordings.tsv", "scores.csv"])
def test_a_table_with_only_a_header_row_is_named(study_dir, table):
    path = study_dir / table
    path.write_text(path.read_text().splitlines()[0] + "\n")
    problems = problems_of(study_dir)
    assert f"{path}: only a header row" in "\n".join(problems), problems


def test_covariates_and_scales_that_would_clash_with_a_session_features_column_are_refused(study_dir):
    """A covariate or custom scale named like a scale's or feature's change, or like each other,
    would make two columns of one name: the study used to stop after measuring every recording."""
    (study_dir / "participants.tsv").write_text(
        "participant_id\tarm\tHAMD17_change\tfrown_intensity_mean_pct_change\tanxiety\tweight_change\n"
        "P01\tbotox\t1\t2\t3\t4\nP02\tplacebo\t1\t2\t3\t4\n")
    (study_dir / "study.yaml").write_text(STUDY + "scales:\n  anxiety: {min: 0, max: 10}\n  mood: {min: 0, max: 10}\n"
                                          "  mood_change: {min: -10, max: 10}\n")
    problems = problems_of(study_dir)
    clash = "has the name of a session-features column (a feature, a scale or a change of one); rename it"
    for column in ("HAMD17_change", "frown_intensity_mean_pct_change"):
        assert only(problems, f"'{column}'") == f"participants.tsv: column '{column}' {clash}"
    assert only(problems, "'anxiety'") == ("participants.tsv: column 'anxiety' is also the name of a scale of the "
                                           "study file; rename one")
    taken = "are taken by a session-features column (a feature, a scale or a change of one)"
    assert only(problems, "scales.mood_change") == (
        f"{study_dir / 'study.yaml'}: scales.mood_change: the name or its change columns (mood_change_change, "
        f"mood_change_pct_change) {taken}")
    # mood's own change column is the scale mood_change: both are named
    assert only(problems, "scales.mood:") == (
        f"{study_dir / 'study.yaml'}: scales.mood: the name or its change columns (mood_change, "
        f"mood_pct_change) {taken}")
    assert not [p for p in problems if "weight_change" in p or "scales.anxiety" in p]


def test_scales_whose_change_columns_would_clash_are_refused(study_dir):
    """MOOD_pct's change is MOOD's percent change, and a scale frown_time's percent change is the
    feature frown_time_pct's change: each pair made two columns of one name (the study measured
    every recording, then stopped, or a simulated one silently kept the wrong values)."""
    (study_dir / "study.yaml").write_text(STUDY + "scales:\n  MOOD: {min: 0, max: 10}\n  MOOD_pct: {min: 0, max: 100}\n"
                                          "  frown_time: {min: 0, max: 100}\n  calm: {min: 0, max: 10}\n")
    problems = problems_of(study_dir)
    for scale in ("MOOD", "MOOD_pct", "frown_time"):
        assert only(problems, f"scales.{scale}:")
    assert not [p for p in problems if "scales.calm" in p]


def test_trial_types_differing_by_case_across_events_files_are_refused(study_dir):
    (study_dir / "clips" / "a_events.tsv").write_text("onset\tduration\ttrial_type\n1\t1\tnegative\n")
    (study_dir / "clips" / "b_events.tsv").write_text("onset\tduration\ttrial_type\n1\t1\tNegative\n")
    msg = only(problems_of(study_dir), "trial types")
    assert msg == (f"trial types differ only by case: 'negative' ({study_dir.resolve() / 'clips' / 'a_events.tsv'} "
                   f"row 2) and 'Negative' ({study_dir.resolve() / 'clips' / 'b_events.tsv'} row 2); "
                   "write one spelling")


def test_scores_of_a_session_without_recording_are_kept_in_every_table(study_dir, tmp_path):
    """P02 has a week6 score but no week6 recording: the score and its change are in session
    features (a row per reference task, no recording_id), in wide, and in the .sav and .dta files."""
    import pandas as pd
    import pyreadstat

    from facefeedback.study.codebook import codebook
    from facefeedback.study.features import session_features, wide_table
    from facefeedback.study.statfiles import write_statfile
    from facefeedback.study.statformats import FORMATS

    (study_dir / "participants.tsv").write_text(PARTICIPANTS + "P03\tplacebo\t60\n")  # no recording at all
    (study_dir / "scores.csv").write_text(SCORES + "P02,week6,HAMD17,9\nP03,baseline,HAMD17,15\n")
    study = load_study(study_dir / "study.yaml")
    assert "participants with no recordings (left out): P03" in study.warnings
    assert study.warnings[-1] == ("scores but no recording at: P02 week6 (the scores are kept in session features, "
                                  "in rows without a recording_id)")
    summaries = {rid: {"frown_intensity_mean": v} for rid, v in
                 zip(study.recordings["recording_id"], [1.0, 0.5, 2.0])}
    long = session_features(study, summaries)
    p02 = long[long["participant_id"] == "P02"].set_index("session")
    assert list(p02.index) == ["baseline", "week6"] and pd.isna(p02.at["week6", "recording_id"])
    assert p02.at["week6", "task"] == "rest" and np.isnan(p02.at["week6", "frown_intensity_mean"])
    assert (p02.at["week6", "HAMD17"], p02.at["week6", "HAMD17_change"]) == (9.0, -9.0)
    wide, columns = wide_table(study, long)
    assert list(wide["participant_id"]) == ["P01", "P02"]  # P03, left out, is in no table (wide had its row)
    row = wide.set_index("participant_id").loc["P02"]
    assert (row["HAMD17_week6"], row["HAMD17_change_week6"]) == (9.0, -9.0)
    book = codebook(study, long, wide, columns)
    for key in ("spss", "stata"):
        path = write_statfile(long, book[book["table"] == "session_features"], study.levels, FORMATS[key],
                              tmp_path / f"long{FORMATS[key].suffix}", "demo", "session_features.csv")
        back, _ = (pyreadstat.read_sav if key == "spss" else pyreadstat.read_dta)(str(path))
        assert back["recording_id"].tolist() == ["P01_baseline_rest", "P01_week6_rest", "P02_baseline_rest", ""]
        assert back["HAMD17_change"].tolist()[-1] == -9.0
    from facefeedback.analysis.data import _why_left_out

    assert _why_left_out(long[long["participant_id"] == "P02"], ["rest"], ("baseline", "week6"), "HAMD17",
                         "frown_intensity_mean", {}) == "no rest recording at week6"


def test_a_visit_order_taken_from_the_rows_is_said(study_dir, tmp_path, caplog):
    """Without ``sessions:`` the visits are ordered as first met, which a table sorted as text
    makes 0, 10, 2: the study says the order it took, and so does analyze on a bare table."""
    from facefeedback.analysis.study_features import load_study_features

    (study_dir / "study.yaml").write_text(STUDY.replace("sessions: [baseline, week6]\n", "reference_session: '0'\n"))
    (study_dir / "recordings.tsv").write_text(recordings_text(
        [("P01", "0", "rest", "clips/a.mp4"), ("P01", "10", "rest", "clips/b.mp4"), ("P01", "2", "rest", "clips/b.mp4"),
         ("P02", "0", "rest", "clips/a.mp4")]))
    (study_dir / "scores.csv").write_text("participant_id,session,scale,score\nP01,0,HAMD17,20\n")
    study = load_study(study_dir / "study.yaml")
    assert study.sessions == ["0", "10", "2"]
    assert study.warnings[0] == ("visit order taken from the order first met in recordings.tsv: 0, 10, 2; give "
                                 "'sessions:' in the study file if that is not the order of the visits (it decides "
                                 "the session analysed by default and the visit numbers)")
    table = tmp_path / "session_features.csv"
    table.write_text("participant_id,arm,session,task,is_reference\nP01,a,0,rest,True\nP01,a,10,rest,False\n"
                     "P01,a,2,rest,False\n")
    with caplog.at_level("WARNING"):
        assert load_study_features(table).sessions == ["0", "10", "2"]
    assert "visit order taken from the order of the table's rows (no study.json beside it): 0, 10, 2" in caplog.text
    caplog.clear()
    table.write_text("participant_id,arm,session,task,is_reference\nP01,a,0,rest,True\nP01,a,2,rest,False\n")
    with caplog.at_level("WARNING"):
        load_study_features(table)
    assert "visit order" not in caplog.text


def test_a_custom_scales_cutoff_outside_its_range_is_refused(study_dir):
    (study_dir / "study.yaml").write_text(STUDY + "scales:\n  FOO: {min: 0, max: 10, cutoff: 50}\n")
    with pytest.raises(ValidationError) as info:
        load_study(study_dir / "study.yaml")
    assert info.value.problems == [f"{study_dir / 'study.yaml'}: scales.FOO: cutoff 50 is outside the scale's "
                                   "range 0-10"]


def test_covariates_written_with_a_leading_zero_stay_text(study_dir):
    """Site '01' and postcode '01067' are codes: read as numbers they lost their zeros (1.0, 1067.0)
    and became scale variables in SPSS; a batch code '1_2' became the number 12. Columns of plain
    numbers stay numbers."""
    (study_dir / "participants.tsv").write_text("participant_id\tarm\tsite\tzip\tbatch\tage\tdose\n"
                                                "P01\tbotox\t01\t01067\t1_2\t61\t0.5\n"
                                                "P02\tplacebo\t02\t10115\t3\t54\t0\n")
    people = load_study(study_dir / "study.yaml").participants.set_index("participant_id")
    assert people["site"].tolist() == ["01", "02"] and people["zip"].tolist() == ["01067", "10115"]
    assert people["batch"].tolist() == ["1_2", "3"]
    assert people["age"].tolist() == [61.0, 54.0] and people["dose"].tolist() == [0.5, 0.0]


def test_a_session_listed_before_the_reference_is_a_warning(study_dir):
    """The tables put the reference first: a screening visit listed before baseline became visit 2,
    after it, with change columns, and nothing said so."""
    (study_dir / "study.yaml").write_text(STUDY.replace("sessions: [baseline, week6]",
                                                        "sessions: [screening, baseline, week6]\n"
                                                        "reference_session: baseline"))
    study = load_study(study_dir / "study.yaml")
    assert study.sessions == ["baseline", "screening", "week6"]
    assert [w for w in study.warnings if "screening" in w] == [
        "sessions screening come before the reference session baseline in the study file, but every table "
        "orders the reference first (baseline, screening, week6): their session codes, visit numbers and "
        "change columns follow it; leave a visit before the reference out, or make it the reference"]


@pytest.mark.parametrize("given", ["sessions: [baseline, week6]\nreference_session: basline", "reference_session: basline"])
def test_a_reference_session_no_recording_has_is_one_line_naming_the_study_file(study_dir, given):
    """A typo in reference_session was said once, then again for every participant ('has sessions
    baseline, week6 but no recording at the reference session 'basline''); without ``sessions:``
    only the participants' lines were said, blaming the recordings table."""
    (study_dir / "study.yaml").write_text(STUDY.replace("sessions: [baseline, week6]", given))
    path = study_dir.resolve() / "study.yaml"
    wanted = ("is not in sessions (baseline, week6)" if "sessions:" in given
              else "is not a session of recordings.tsv (baseline, week6)")
    assert problems_of(study_dir) == [f"{path}: reference_session 'basline' {wanted}"]


def test_a_calibration_task_no_reference_recording_has_is_one_line_naming_the_study_file(study_dir):
    """calibration.tasks naming a task that is not in the recordings table ('resting' for 'rest')
    was said only once per participant, as if each participant lacked a recording."""
    path = study_dir.resolve() / "study.yaml"
    (study_dir / "study.yaml").write_text(STUDY.replace("{tasks: [rest]}", "{tasks: [resting]}"))
    assert problems_of(study_dir) == [f"{path}: calibration.tasks 'resting' is not a task of the 'baseline' "
                                      "recordings in recordings.tsv (rest)"]
    # with a valid task beside it, a participant lacking that task is still named
    (study_dir / "study.yaml").write_text(STUDY.replace("{tasks: [rest]}", "{tasks: [rest, resting]}"))
    rows = GOOD_ROWS[:2] + [("P02", "baseline", "interview", "clips/a.mp4")]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    assert problems_of(study_dir) == [
        f"{path}: calibration.tasks 'resting' is not a task of the 'baseline' recordings in recordings.tsv "
        "(rest, interview)",
        "recordings.tsv row 4: participant P02 has no 'baseline' recording of the calibration task(s) rest "
        "(has interview)"]


def test_a_participant_whose_row_has_a_cell_too_many_is_not_also_missing_from_the_table(study_dir):
    """One extra cell in P01's row was said, then every recordings and scores row of P01 was said to
    name a participant not in participants.tsv; a participant no row names still is."""
    (study_dir / "participants.tsv").write_text(PARTICIPANTS.replace("P01\tbotox\t40\n", "P01\tbotox\t40\tx\n"))
    assert problems_of(study_dir) == ["participants.tsv row 2: 4 cells, the header has 3"]
    (study_dir / "scores.csv").write_text(SCORES + "P07,baseline,HAMD17,10\n")
    assert problems_of(study_dir) == ["participants.tsv row 2: 4 cells, the header has 3",
                                      "scores.csv row 5: participant P07 is not in participants.tsv"]


def test_a_reference_recording_whose_row_has_a_cell_too_many_is_not_also_missing(study_dir):
    """P01's baseline row with an extra cell was said, then P01 was said to have no recording at the
    reference session."""
    rows = [GOOD_ROWS[0] + ("x",)] + GOOD_ROWS[1:]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    assert problems_of(study_dir) == ["recordings.tsv row 2: 5 cells, the header has 4"]


def test_a_reference_recording_whose_row_has_an_empty_task_is_not_also_missing(study_dir):
    """P01's baseline row with an empty task was said, then P01 was said to have no recording at
    the reference session; P02, whose rows are fine, is still checked."""
    rows = [("P01", "baseline", "", "clips/a.mp4")] + GOOD_ROWS[1:2] + [("P02", "week6", "rest", "clips/b.mp4")]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    assert problems_of(study_dir) == [
        "recordings.tsv row 2: task is empty",
        "recordings.tsv row 4: participant P02 has sessions week6 but no recording at the reference session "
        "'baseline', so frowning cannot be calibrated or compared with baseline"]
    # every baseline row left out for its cells: not blamed on the study file's reference_session
    rows = [r + ("x",) if r[1] == "baseline" else r for r in GOOD_ROWS]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    assert problems_of(study_dir) == ["recordings.tsv row 2: 5 cells, the header has 4",
                                      "recordings.tsv row 4: 5 cells, the header has 4"]
    # or with an empty session cell
    rows = [(p, "" if s == "baseline" else s, t, f) for p, s, t, f in GOOD_ROWS]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    assert problems_of(study_dir) == ["recordings.tsv row 2: session is empty",
                                      "recordings.tsv row 4: session is empty"]


def test_an_arm_too_small_to_analyse_is_said_with_the_arm_it_resembles(study_dir):
    """A misspelt arm (botx for botox) makes an arm of one: the study still loads and runs, and a
    warning (printed by run, kept in study.json) names the arm, its participants and the arm it
    resembles; before, only analyze said anything (the study's four arms). Arms that are only small
    get no guess."""
    people = [f"P{k:02d}" for k in range(1, 9)]
    arms = ["botox", "botox", "botox", "botx", "placebo", "placebo", "placebo", "sham"]
    (study_dir / "participants.tsv").write_text(
        "participant_id\tarm\n" + "".join(f"{p}\t{a}\n" for p, a in zip(people, arms)))
    (study_dir / "recordings.tsv").write_text(recordings_text(
        [(p, s, "rest", "clips/a.mp4" if s == "baseline" else "clips/b.mp4") for p in people
         for s in ("baseline", "week6")]))
    (study_dir / "scores.csv").write_text("participant_id,session,scale,score\n" + "".join(
        f"{p},{s},HAMD17,{18 if s == 'baseline' else 12}\n" for p in people for s in ("baseline", "week6")))
    study = load_study(study_dir / "study.yaml")
    arms_said = [w for w in study.warnings if w.startswith("participants.tsv: arm")]
    assert arms_said == [
        "participants.tsv: arm 'botx' has 1 participant with recordings (P04) (a misspelling of 'botox'?); an "
        "analysis needs at least 3 in each arm it compares (arms: botox 3, botx 1, placebo 3, sham 1)",
        "participants.tsv: arm 'sham' has 1 participant with recordings (P08); an analysis needs at least 3 in "
        "each arm it compares (arms: botox 3, botx 1, placebo 3, sham 1)"]
    (study_dir / "participants.tsv").write_text(
        "participant_id\tarm\n" + "".join(f"{p}\t{'botox' if k < 4 else 'placebo'}\n" for k, p in enumerate(people)))
    assert not [w for w in load_study(study_dir / "study.yaml").warnings if "arm '" in w]


def test_a_table_separated_by_another_character_is_said_so(study_dir):
    """A .csv saved with semicolons (a spreadsheet in a European locale) or a comma-separated .tsv:
    the missing-columns line says what separates the header and how the file is read."""
    (study_dir / "scores.csv").write_text(SCORES.replace(",", ";"))
    (study_dir / "participants.tsv").write_text(PARTICIPANTS.replace("\t", ","))
    problems = problems_of(study_dir)
    assert only(problems, "scores.csv").endswith(
        "missing column(s) participant_id, session, scale, score; found participant_id;session;scale;score (the "
        "header is separated by semicolons; a .csv file is read as separated by commas)")
    assert only(problems, "participants.tsv: missing").endswith(
        "(the header is separated by commas; a .tsv file is read as separated by tabs)")
    (study_dir / "scores.csv").write_text(SCORES.replace("participant_id,", "participant,"))
    assert "(the header is" not in only(problems_of(study_dir), "scores.csv")  # a misnamed column is not that


def test_a_session_the_study_file_does_not_list_is_one_line_per_table(study_dir):
    """A session misspelt in the study file's sessions (basline) made one line for every recordings
    and scores row at that session; now one line per table names all its rows and the session it
    resembles."""
    (study_dir / "study.yaml").write_text(STUDY.replace("sessions: [baseline, week6]", "sessions: [baseline, week_6]"))
    problems = problems_of(study_dir)
    assert only(problems, "recordings.tsv") == ("recordings.tsv row 3: session 'week6' is not in the study file's "
                                                 "sessions (baseline, week_6) (did you mean 'week_6'?)")
    assert only(problems, "scores.csv") == ("scores.csv row 3: session 'week6' is not a session of the study "
                                             "(baseline, week_6) (did you mean 'week_6'?)")
    rows = GOOD_ROWS + [("P02", "week6", "rest", "clips/b.mp4"), ("P02", "screening", "rest", "clips/b.mp4")]
    (study_dir / "recordings.tsv").write_text(recordings_text(rows))
    problems = problems_of(study_dir)
    assert "recordings.tsv rows 3, 5: session 'week6' is not in the study file's sessions (baseline, week_6) (did " \
           "you mean 'week_6'?)" in problems
    assert "recordings.tsv row 6: session 'screening' is not in the study file's sessions (baseline, week_6)" in problems
