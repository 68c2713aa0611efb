"""Event-locked trial measures on per-frame tables with known responses, and events files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facefeedback.config import EventConfig
from facefeedback.errors import ValidationError
from facefeedback.eventfiles import check_events, load_events
from facefeedback.trials import capacity_summary, condition_summary, trial_columns, trial_table

PARAMS = EventConfig()
#: (onset s, duration s, trial type, amplitude, onset-to-peak s)
TRIALS = [(2.0, 2.0, "negative", 0.8, 0.9), (5.5, 2.0, "neutral", 0.2, 0.7), (9.0, 2.0, "negative", 0.6, 1.1),
          (12.5, 2.0, "neutral", 0.15, 0.8)]


def _response(t: np.ndarray, trials=TRIALS) -> np.ndarray:
    """Raised-cosine bumps: from 0.2 s after onset up to the amplitude at the peak, down over 0.6 s."""
    x = np.zeros_like(t)
    for onset, _, _, amp, peak in trials:
        rise = np.clip((t - onset - 0.2) / (peak - 0.2), 0, 1)
        fall = np.clip((t - onset - peak) / 0.6, 0, 1)
        x = np.maximum(x, amp * np.sin(np.pi / 2 * rise) ** 2 * np.cos(np.pi / 2 * fall) ** 2)
    return x


def frames_with_trials(seed: int, fps: float = 30.0, seconds: float = 15.0, smile: bool = False) -> pd.DataFrame:
    """A per-frame table of a variable-frame-rate recording (steps 0.5-1.5 frames) whose frown
    follows :func:`_response` on a resting level of 0.1 FU, with a little noise."""
    rng = np.random.default_rng(seed)
    steps = rng.uniform(0.5, 1.5, int(seconds * fps * 1.2)) / fps
    t = np.cumsum(np.r_[0.0, steps])
    t = t[t < seconds]
    x = 0.1 + _response(t) + rng.normal(0, 0.002, len(t))
    table = pd.DataFrame({"frame": np.arange(len(t)), "timestamp_s": t, "valid": True, "frown_intensity": x,
                          "brow_gap": 0.43 - 0.05 * x, "brow_lowering": 0.31 - 0.09 * x,
                          "glabella_lines": 0.3 * np.exp(0.9 * x)})
    if smile:
        table["smile_intensity"] = 0.05 + 0.5 * _response(t - 0.3)
    return table


def events(trials=TRIALS) -> pd.DataFrame:
    return pd.DataFrame({"onset": [o for o, *_ in trials], "duration": [d for _, d, *_ in trials],
                         "trial_type": [k for _, _, k, *_ in trials], "stimulus": [f"img{i}.png" for i in range(4)]})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_known_amplitudes_and_latencies_are_recovered(seed):
    frames = frames_with_trials(seed)
    t = frames["timestamp_s"].to_numpy()
    out = trial_table(frames, events(), PARAMS)
    for (onset, duration, _, amp, peak), row in zip(TRIALS, out.itertuples(index=False)):
        assert row.included and row.valid_fraction_baseline > 0.95 and row.valid_fraction_response > 0.95
        assert row.frown_baseline_mean == pytest.approx(0.1, abs=0.005)
        assert row.frown_response_peak == pytest.approx(amp, rel=0.05)
        step = np.diff(t)[np.searchsorted(t, onset + peak) - 1]  # the frame step where the peak falls
        assert abs(row.frown_response_latency_s - peak) <= step
        grid = np.linspace(onset, onset + duration, 20001)[:-1]  # the true mean of the drawn response
        true_mean = _response(grid).mean()
        assert row.frown_response_mean == pytest.approx(true_mean, rel=0.05)
        assert row.frown_response_area == pytest.approx(row.frown_response_mean * duration)
        # components: brow_gap gets smaller when frowning, so its peak is its minimum
        assert row.brow_gap_response_peak == pytest.approx(-0.05 * amp, rel=0.1)
        assert row.glabella_lines_response_peak > 0
    assert list(out["stimulus"]) == [f"img{i}" + ".png" for i in range(4)]  # other columns are kept


def test_columns_follow_the_series_in_the_table():
    base = list(trial_table(frames_with_trials(0), events(), PARAMS).columns)
    assert base[:7] == ["onset", "duration", "trial_type", "stimulus", "included", "valid_fraction_baseline",
                        "valid_fraction_response"]
    for p in ("frown", "brow_gap", "brow_lowering", "glabella_lines"):
        assert [f"{p}_baseline_mean", f"{p}_response_mean", f"{p}_response_peak", f"{p}_response_latency_s",
                f"{p}_response_area"] == [c for c in base if c.startswith(f"{p}_")]
    assert not any(c.startswith("smile") for c in base)
    with_smile = trial_table(frames_with_trials(0, smile=True), events(), PARAMS)
    assert trial_columns(["frown_intensity", "smile_intensity"])[5:] == [
        "smile_baseline_mean", "smile_response_mean", "smile_response_peak", "smile_response_latency_s",
        "smile_response_area"]
    # the smile rises 0.3 s later than the frown: its latency says so
    assert (with_smile["smile_response_latency_s"] - with_smile["frown_response_latency_s"]).mean() == \
        pytest.approx(0.3, abs=0.05)


def test_a_trial_with_half_its_window_invalid_is_kept_but_left_out_of_the_means():
    frames = frames_with_trials(3)
    t = frames["timestamp_s"]
    frames.loc[(t >= 9.0) & (t < 10.2), "valid"] = False  # 60 % of the third trial's response window
    frames.loc[(t >= 2.0) & (t < 2.6), "frown_intensity"] = np.nan  # no face: NaN, not 0
    out = trial_table(frames, events(), PARAMS)
    third = out.iloc[2]
    assert not third["included"] and third["valid_fraction_response"] == pytest.approx(0.4, abs=0.03)
    assert out["included"].tolist() == [True, True, False, True]
    summary = condition_summary(out)
    assert summary["negative"]["n"] == 2 and summary["negative"]["included"] == 1
    assert summary["negative"]["frown_response_peak"] == pytest.approx(out.iloc[0]["frown_response_peak"])
    assert np.isfinite(out.iloc[0]["frown_response_mean"])


def test_a_window_past_the_recording_counts_as_invalid_time():
    frames = frames_with_trials(4, seconds=13.0)  # the last trial's response runs to 14.5 s
    out = trial_table(frames, events(), PARAMS)
    assert out.iloc[3]["valid_fraction_response"] == pytest.approx(0.25, abs=0.03)
    assert not out.iloc[3]["included"]


def test_capacity_is_the_mean_of_the_attempt_peaks():
    frames = frames_with_trials(5)
    out = trial_table(frames, events(), PARAMS)
    cap = capacity_summary(frames, PARAMS, out)
    assert cap["frown_capacity"] == pytest.approx(0.1 + np.mean([a for *_, a, _ in TRIALS]), rel=0.02)
    assert cap["frown_capacity_attempts_n"] == 4 and cap["attempts_from"] == "trials"
    gap = frames["brow_gap"].to_numpy()
    assert cap["brow_gap_at_capacity"] == pytest.approx(0.43 - 0.05 * cap["frown_capacity"], rel=0.01)
    assert cap["brow_gap_at_capacity"] < np.median(gap)
    detected = capacity_summary(frames, PARAMS)  # without events: the frown events detected
    assert detected["attempts_from"] == "frown events" and detected["frown_capacity_attempts_n"] == 2
    assert detected["frown_capacity"] == pytest.approx(0.1 + np.mean([0.8, 0.6]), rel=0.02)


# -- events files -------------------------------------------------------------------------------

def test_an_events_file_is_read_with_its_rows_in_onset_order(tmp_path):
    path = tmp_path / "a_events.tsv"
    path.write_text("onset\tduration\ttrial_type\tstimulus\n5.5\t2\tneutral\tb.png\n2.0\t2\tnegative\ta.png\n")
    table = load_events(path, PARAMS, recording_s=15.0)
    assert table["onset"].tolist() == [2.0, 5.5] and table["row"].tolist() == [3, 2]
    assert table["stimulus"].tolist() == ["a.png", "b.png"]


def test_every_problem_of_an_events_file_is_one_line_naming_file_and_row(tmp_path):
    path = tmp_path / "bad_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n"
                    "1.0\t2\tnegative\n"       # row 2: fine
                    "-0.5\t1\tneutral\n"       # row 3: negative onset
                    "soon\t1\tneutral\n"       # row 4: not a number
                    "40\t1\tneutral\n"         # row 5: past the end
                    "6\tlong\tneutral\n"       # row 6: duration not a number
                    "8\t1\tneg ative\n")       # row 7: trial type with a space
    _, problems = check_events(path, PARAMS, recording_s=20.0)
    assert len(problems) == 5, problems
    for row, words in ((3, "negative"), (4, "not a number"), (5, "past the recording's end"),
                       (6, "duration 'long'"), (7, "trial_type 'neg ative'")):
        assert any(p.startswith(f"bad_events.tsv row {row}: ") and words in p for p in problems), (row, problems)
    with pytest.raises(ValidationError) as err:
        load_events(path, PARAMS, recording_s=20.0)
    assert "nothing was processed" in str(err.value) and len(err.value.problems) == 5


def test_an_events_file_that_cannot_be_used_says_why_in_one_line(tmp_path):
    cases = {
        "empty_events.tsv": ("", "the file is empty (expected a header row with onset, duration, trial_type)"),
        "twice_events.tsv": ("onset\tduration\ttrial_type\tonset\n1\t1\tneutral\t2\n",
                             "column(s) onset appear more than once"),
        "header_events.tsv": ("onset\tduration\ttrial_type\n\n", "no trials (only a header row)"),
        "latin1_events.tsv": ("onset\tduration\ttrial_type\n1\t1\tn\xe9utral\n".encode("latin-1"),
                              "not UTF-8 text"),
    }
    for name, (text, said) in cases.items():
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        table, problems = check_events(path, PARAMS)
        assert table is None and problems == [f"{path}: {said}" + ("; save it as UTF-8" if "UTF-8" in said else "")]
    assert check_events(tmp_path / "none_events.tsv", PARAMS)[1] == [f"{tmp_path / 'none_events.tsv'}: no such events file"]
    path = tmp_path / "commas_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n\n1\t1\tneutral\n3,1,negative\n")  # a blank line is skipped
    table, problems = check_events(path, PARAMS)
    assert problems == ["commas_events.tsv row 4: 1 cells, the header has 3 (an events file is tab-separated, "
                        "with onset, duration and trial_type)"]


def test_missing_columns_and_overlapping_trials(tmp_path):
    path = tmp_path / "cols_events.tsv"
    path.write_text("onset\ttrial_type\n1\tnegative\n")
    _, problems = check_events(path, PARAMS)
    assert problems == [f"{path}: missing column(s) duration; found onset, trial_type (an events file is "
                        "tab-separated, with onset, duration and trial_type)"]
    path = tmp_path / "overlap_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n1\t2\tnegative\n2.5\t1\tneutral\n4\t1\tnegative\n")
    _, problems = check_events(path, PARAMS)
    assert len(problems) == 2
    assert problems[0].startswith("overlap_events.tsv row 3: the trial at 2.5 s overlaps the one at 1 s (row 2): "
                                  "its response window")
    assert problems[1].startswith("overlap_events.tsv row 4:") and "its baseline window" in problems[1]
    wider = EventConfig(baseline_window_s=(-0.5, 0.0), response_window_s=(0.0, 0.9))
    assert check_events(path, wider)[1] == []  # shorter windows keep them apart


def test_columns_a_trial_is_given_and_trial_types_differing_by_case_are_refused(tmp_path):
    """An events column named like one the trial's row gets would be overwritten or doubled (the
    study would stop after measuring); ``Negative`` and ``negative`` would be two conditions."""
    path = tmp_path / "cols_events.tsv"
    path.write_text("onset\tduration\ttrial_type\tincluded\tfrown_response_mean\tstimulus\n"
                    "1\t1\tnegative\tyes\t3\tsad.png\n6\t1\tNegative\tno\t4\tsad2.png\n11\t1\tnegative\tyes\t5\tx.png\n")
    table, problems = check_events(path, PARAMS, recording_s=20.0)
    assert table is None
    assert problems == [
        f"{path}: column 'included' has the name of a column each trial is given (included, valid fractions, "
        "baseline and response measures); rename it",
        f"{path}: column 'frown_response_mean' has the name of a column each trial is given (included, valid "
        "fractions, baseline and response measures); rename it",
        "trial types differ only by case: 'negative' (cols_events.tsv rows 2, 4) and 'Negative' (cols_events.tsv "
        "row 3); write one spelling"]
    path.write_text("onset\tduration\ttrial_type\tstimulus\tincluded_by_rater\tkey_response_latency_s\n"
                    "1\t1\tnegative\tsad.png\tyes\t0.8\n")
    table, problems = check_events(path, PARAMS, recording_s=20.0)
    assert problems == [] and list(table.columns) == ["onset", "duration", "trial_type", "stimulus",
                                                      "included_by_rater", "key_response_latency_s", "row"]


@pytest.mark.parametrize("fps", [30.0, 2.0, 1.0])
def test_a_window_covered_by_valid_frames_is_covered_whatever_the_frame_rate(fps):
    """Every frame valid: each window is wholly covered, the frame shown as it opens covering its
    start (at 1 frame/s, as with --stride 30, a 1 s baseline window used to count as 0.3 covered
    and its trial was left out)."""
    t = np.arange(0.0, 15.0, 1.0 / fps)
    frames = pd.DataFrame({"frame": np.arange(len(t)), "timestamp_s": t, "valid": True,
                           "frown_intensity": 0.1 + _response(t)})
    out = trial_table(frames, events(), PARAMS)
    assert out["valid_fraction_baseline"].tolist() == pytest.approx([1.0] * 4)
    assert out["valid_fraction_response"].tolist() == pytest.approx([1.0] * 4)
    assert out["included"].all()


def test_a_window_with_no_valid_frame_stamped_in_it_leaves_its_trial_out():
    """At 1 frame/s a 0.6 s response window between two frames is covered (by the frame before it)
    but holds no frame to measure: the trial is not included (it was, with every measure NaN)."""
    t = np.arange(0.0, 15.0, 1.0)
    frames = pd.DataFrame({"frame": np.arange(len(t)), "timestamp_s": t, "valid": True,
                           "frown_intensity": 0.1 + _response(t)})
    trial = pd.DataFrame({"onset": [10.2], "duration": [0.6], "trial_type": ["negative"], "stimulus": ["a.png"]})
    out = trial_table(frames, trial, PARAMS).iloc[0]
    assert out["valid_fraction_response"] == pytest.approx(1.0) and np.isnan(out["frown_response_mean"])
    assert not out["included"]


def test_a_frame_on_a_window_edge_belongs_to_one_window_whatever_the_rounding():
    """At 30 frames/s a frame is stamped 6.6 s; a trial at 5.4 s lasting 1.2 s ends its response
    window at 5.4 + 1.2 = 6.6000000000000005 and the next trial's baseline starts at 7.6 - 1.0 = 6.6.
    The frame counted in both (a latency equal to the duration, which [0, 1.2) cannot give)."""
    t = np.arange(300) / 30
    x = np.where(np.arange(300) == 198, 1.0, 0.0)  # frame 198: 6.6 s
    frames = pd.DataFrame({"frame": np.arange(300), "timestamp_s": t, "valid": True, "frown_intensity": x})
    trials = pd.DataFrame({"onset": [5.4, 7.6], "duration": [1.2, 1.2], "trial_type": ["a", "b"]})
    out = trial_table(frames, trials, PARAMS)
    assert out.loc[0, "frown_response_peak"] == 0.0  # the frame is not in the first response window
    assert out.loc[1, "frown_baseline_mean"] > 0  # it opens the second trial's baseline
    for onset in np.round(np.arange(1.0, 8.0, 0.1), 1):  # onsets written to 0.1 s, frames at k/30
        first, after = round(onset * 30), round((onset + 1.2) * 30)  # the frames at onset and at the end
        for k, peak, latency in ((first, 1.0, 0.0), (after, 0.0, None)):
            spike = frames.assign(frown_intensity=np.where(np.arange(300) == k, 1.0, 0.0))
            row = trial_table(spike, pd.DataFrame({"onset": [onset], "duration": [1.2], "trial_type": ["a"]}),
                              PARAMS).iloc[0]
            assert row["frown_response_peak"] == peak, (onset, k)
            if latency is not None:
                assert row["frown_response_latency_s"] == pytest.approx(latency, abs=1e-9)


def test_capacity_keeps_attempts_the_toxin_weakened_and_a_face_that_no_longer_frowns():
    """Without an events file, attempts were the frown events above 0.35 FU: three attempts of 0.3
    gave no capacity at all, so the strongest responders left the analysis. Attempts are now found
    relative to the recording's highest frown, and a recording with none has its maximum."""
    weak = [(2.0, 2.0, "attempt", 0.30, 0.9), (5.5, 2.0, "attempt", 0.26, 0.9), (9.0, 2.0, "attempt", 0.28, 0.9)]
    t = np.arange(0, 12, 1 / 30)
    x = 0.02 + _response(t, weak)
    frames = pd.DataFrame({"frame": np.arange(len(t)), "timestamp_s": t, "valid": True, "frown_intensity": x})
    cap = capacity_summary(frames, PARAMS)
    assert cap["attempts_from"] == "frown events" and cap["frown_capacity_attempts_n"] == 3
    assert cap["frown_capacity"] == pytest.approx(0.02 + np.mean([0.30, 0.26, 0.28]), rel=0.02)
    never = frames.assign(frown_intensity=-0.05 + 0.001 * np.sin(t))  # below the neutral throughout
    still = capacity_summary(never, PARAMS)
    assert still["attempts_from"] == "recording maximum" and still["frown_capacity_attempts_n"] == 1
    assert still["frown_capacity"] == pytest.approx(-0.049, abs=1e-3)


def test_a_capacity_attempt_counts_whatever_its_baseline_window_holds():
    """The capacity is not baseline-corrected: an attempt whose baseline window is occluded, or
    starts before the recording, was left out (3 attempts of 1.0, 0.8, 0.9 gave 0.85 from 2)."""
    attempts = [(0.4, 1.5, "attempt", 1.0, 0.9), (4.0, 1.5, "attempt", 0.8, 0.9), (8.0, 1.5, "attempt", 0.9, 0.9)]
    t = np.arange(0, 11, 1 / 30)
    frames = pd.DataFrame({"frame": np.arange(len(t)), "timestamp_s": t, "valid": ~((t >= 3.0) & (t < 4.0)),
                           "frown_intensity": _response(t, attempts)})
    table = pd.DataFrame({"onset": [a[0] for a in attempts], "duration": [a[1] for a in attempts],
                          "trial_type": "attempt"})
    out = trial_table(frames, table, PARAMS)
    assert not out.loc[0, "included"] and not out.loc[1, "included"]  # baselines not covered
    cap = capacity_summary(frames, PARAMS, out)
    assert cap["frown_capacity_attempts_n"] == 3 and cap["frown_capacity"] == pytest.approx(0.9, rel=0.02)
