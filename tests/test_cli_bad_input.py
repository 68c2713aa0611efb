"""Bad input through the real command line: one line naming the file or the cause, a non-zero
exit status, and never a traceback."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from facefeedback.synthetic.studies import SimulationSettings, simulate_study

PARTICIPANTS = "participant_id\tarm\nP01\tbotox\nP02\tplacebo\n"
RECORDINGS = "participant_id\tsession\ttask\tpath\n"
STUDY = "participants: participants.tsv\nrecordings: recordings.tsv\n"


def _features_csv(folder, change):
    table, _ = simulate_study(SimulationSettings(n_per_arm=6), 3, with_frames=False)
    path = folder / "features.csv"
    change(table).to_csv(path, index=False)
    return path


def _no_mood_change(table):
    table["HAMD17_change"] = 0.0
    return table


def _no_frown_change(table):
    table["frown_intensity_mean_change"] = 0.0
    return table


def _study(folder, participants=PARTICIPANTS, recordings=None):
    clip = folder / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(20):
        writer.write(np.full((48, 64, 3), 128, np.uint8))
    writer.release()
    rows = recordings if recordings is not None else [("P01", "baseline"), ("P01", "week6"), ("P02", "baseline")]
    (folder / "participants.tsv").write_text(participants)
    (folder / "recordings.tsv").write_text(RECORDINGS + "".join(f"{p}\t{s}\trest\tclip.avi\n" for p, s in rows))
    (folder / "study.yaml").write_text(STUDY)
    return folder / "study.yaml"


def _write(path, text):
    path.write_text(text)
    return path


CASES = {
    "analyze: the outcome does not change": (
        lambda d: ["analyze", str(_features_csv(d, _no_mood_change)), "--outcome", "HAMD17", "--no-report",
                   "--out", str(d / "out")],
        "HAMD17_change does not vary"),
    "analyze: the frown does not change": (
        lambda d: ["analyze", str(_features_csv(d, _no_frown_change)), "--outcome", "HAMD17", "--no-report",
                   "--out", str(d / "out")],
        "frown_intensity_mean_change does not vary"),
    "run: participants table with only a header": (
        lambda d: ["run", str(_study(d, participants="participant_id\tarm\n")), "--out", str(d / "out")],
        "participants.tsv: only a header row"),
    "run: recordings table with only a header": (
        lambda d: ["run", str(_study(d, recordings=[])), "--out", str(d / "out")],
        "recordings.tsv: only a header row"),
    "run: session names that differ by case": (
        lambda d: ["run", str(_study(d, recordings=[("P01", "baseline"), ("P01", "Week6"), ("P02", "baseline"),
                                                    ("P02", "week6")])), "--out", str(d / "out")],
        "session names differ only by case"),
    "run: arm names that differ by case": (
        lambda d: ["run", str(_study(d, participants="participant_id\tarm\nP01\tbotox\nP02\tBotox\n")),
                   "--out", str(d / "out")],
        "arm names differ only by case: 'botox' (participants.tsv row 2) and 'Botox' (participants.tsv row 3); "
        "write one spelling"),
    "extract: start past the end": (
        lambda d: ["extract", str(_study(d).parent / "clip.avi"), "--start", "100", "--out", str(d / "out")],
        "the recording is 2.00 s long"),
    "config: a weight that is not a number": (
        lambda d: ["config", "--show", "--config", str(_write(d / "c.yaml", "frown:\n  weights:\n    brow_gap: .nan\n"))],
        "c.yaml: frown.weights.brow_gap: Input should be a finite number (got nan)"),
    "config: a calibration segment that ends before it starts": (
        lambda d: ["config", "--show", "--config", str(_write(d / "c.yaml", "calibration:\n  segment_start_s: 10\n"
                                                                             "  segment_end_s: 2\n"))],
        "c.yaml: calibration: segment_end_s (2) must come after segment_start_s (10)"),
    "extract: end before start": (
        lambda d: ["extract", str(_study(d).parent / "clip.avi"), "--start", "1.5", "--end", "1", "--out",
                   str(d / "out")],
        "error: --end (1) must come after --start (1.5)"),
    "extract: a stride of 0": (
        lambda d: ["extract", str(_study(d).parent / "clip.avi"), "--stride", "0", "--out", str(d / "out")],
        "error: --stride: Input should be greater than or equal to 1 (got 0)"),
    "run: a stride of 0": (
        lambda d: ["run", str(_study(d)), "--stride", "0", "--out", str(d / "out")],
        "error: --stride: Input should be greater than or equal to 1 (got 0)"),
    "calibrate: a percentile above 50": (
        lambda d: ["calibrate", str(_study(d).parent / "clip.avi"), "--percentile", "150", "--out", str(d / "cal.json")],
        "error: --percentile: Input should be less than or equal to 50 (got 150.0)"),
    "calibrate: a segment that ends before it starts": (
        lambda d: ["calibrate", str(_study(d).parent / "clip.avi"), "--segment", "5", "2", "--out", str(d / "cal.json")],
        "error: --segment END (2) must come after --segment START (5)"),
    "calibrate: a segment and a percentile": (
        lambda d: ["calibrate", str(_study(d).parent / "clip.avi"), "--segment", "0", "1", "--percentile", "10",
                   "--out", str(d / "cal.json")],
        "give either --segment or --percentile, not both"),
    "simulate: a session named twice": (
        lambda d: ["simulate", "--out", str(d / "out"), "--n-per-arm", "4", "--sessions", "baseline", "baseline"],
        "sessions name a visit twice, or differ only by case (baseline, baseline)"),
    "simulate: one name for both arms": (
        lambda d: ["simulate", "--out", str(d / "out"), "--n-per-arm", "4", "--arms", "a", "a"],
        "the two arms need two names that differ by more than case, got a, a"),
    "simulate: an effect that is not finite": (
        lambda d: ["simulate", "--out", str(d / "out"), "--n-per-arm", "4", "--effect", "frown=nan"],
        "effect 'frown=nan': 'nan' is not a finite number"),
    "simulate: a levels-model option with the change model": (
        lambda d: ["simulate", "--out", str(d / "out"), "--n-per-arm", "4", "--frown-stability", "0.7"],
        "--frown-stability: only the levels model (--model levels) uses it"),
    "simulate: fewer per arm than the analysis needs": (
        lambda d: ["simulate", "--out", str(d / "out"), "--n-per-arm", "2"],
        "--n-per-arm: at least 3 per arm, as 'facefeedback analyze' needs, got 2"),
    "power: too few permutations to reject at alpha": (
        lambda d: ["power", "--n", "5", "--sims", "2", "--n-perm", "19", "--n-boot", "9", "--out", str(d / "out")],
        "--n-perm 19: the smallest permutation p-value is 1/20, not below --alpha 0.05"),
    "power: a size given twice (simulated twice, two rows of power.csv)": (
        lambda d: ["power", "--n", "5", "5", "--sims", "2", "--out", str(d / "out")],
        "--n: 5 given more than once"),
    "power: no worker processes": (
        lambda d: ["power", "--n", "5", "--sims", "2", "--n-perm", "20", "--n-boot", "9", "--jobs", "0",
                   "--out", str(d / "out")],
        "--jobs must be 1 or more, got 0"),
    "analyze: the control expression is the measure itself": (
        lambda d: ["analyze", str(_features_csv(d, lambda t: t)), "--outcome", "HAMD17", "--control-feature",
                   "frown_intensity_mean", "--no-report", "--out", str(d / "out")],
        "--control-feature frown_intensity_mean is the measure analysed (--feature) itself"),
    "calibrate: segment outside the recording": (
        lambda d: ["calibrate", str(_study(d).parent / "clip.avi"), "--segment", "100", "200",
                   "--out", str(d / "cal.json")],
        "the recording runs from 0.00 to 1.90 s"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_never_a_traceback(case, tmp_path):
    argv, expected = CASES[case]
    proc = subprocess.run([sys.executable, "-m", "facefeedback.cli", *argv(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()  # nothing half-made is left


@pytest.mark.parametrize("argv, expected", [
    (["simulate", "--out", "x", "--seed", "-1"], "argument --seed: a seed is 0 or more, got -1"),
    (["analyze", "x", "--outcome", "HAMD17", "--seed", "-1"], "argument --seed: a seed is 0 or more, got -1"),
    (["simulate", "--out", "x", "--model", "levels", "--frown-stability", "nan"],
     "argument --frown-stability: 'nan' is not a finite number"),
    (["extract", "x.mp4", "--start", "inf"], "argument --start: 'inf' is not a finite number")])
def test_options_out_of_their_domain_are_named_by_the_option_parser(argv, expected, tmp_path):
    argv = [str(tmp_path / a) if a in ("x", "x.mp4") else a for a in argv]
    proc = subprocess.run([sys.executable, "-m", "facefeedback.cli", *argv], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and expected in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_python_m_runs_the_command_and_its_warnings_are_plain_lines(tmp_path):
    """``python -m facefeedback`` is the command; a warning reads ``warning: ...`` as an error reads
    ``error: ...``, without the name of the module that gave it (``--verbose`` adds that)."""
    run = [sys.executable, "-m", "facefeedback"]
    proc = subprocess.run([*run, "--version"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith("facefeedback "), proc.stderr
    study = tmp_path / "sim"
    assert subprocess.run([*run, "simulate", "--out", str(study), "--n-per-arm", "4"], capture_output=True,
                          text=True, timeout=300).returncode == 0
    for verbose in ([], ["--verbose"]):
        proc = subprocess.run([*run, *verbose, "analyze", str(study), "--outcome", "HAMD17", "--no-report",
                               "--n-boot", "200", "--n-perm", "99", "--out", str(tmp_path / f"a{len(verbose)}")],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning")]
        assert any("--n-boot 200 and --n-perm 99: below 999 resamples" in w for w in warnings), proc.stderr
        named = [w for w in warnings if w.startswith("warning facefeedback.")]
        assert (named == warnings) if verbose else (named == [] and all(w.startswith("warning: ") for w in warnings))
