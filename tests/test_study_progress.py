"""The study's one progress bar: frames of every recording, fed by the workers' progress files."""

from __future__ import annotations

import io
import re
import time

import cv2
from study_helpers import write_study

from facefeedback.config import load_config
from facefeedback.study.manifest import load_study
from facefeedback.study.pipeline import run_study
from facefeedback.study.progress import POLL_EVERY_S, FrameReporter, StudyProgress, expected_frames


def test_expected_frames_follow_stride_and_times(samples):
    clip = samples / "frontal_frown.mp4"  # 120 frames, 8 s at 15 fps
    config = load_config()
    assert expected_frames(clip, config) == 120
    assert expected_frames(clip, config.updated(**{"input.stride": 3})) == 40
    assert expected_frames(clip, config.updated(**{"input.start_s": 2.0, "input.end_s": 4.0})) == 30
    assert expected_frames(samples / "missing.mp4", config) is None


def test_the_bar_moves_with_the_workers_reports(samples, tmp_path):
    recordings = {"a": str(samples / "frontal_frown.mp4"), "b": str(samples / "moving_frown.mp4")}
    stream = io.StringIO()
    bar = StudyProgress(tmp_path / "progress", recordings, load_config(), file=stream)
    try:
        deadline = time.monotonic() + 30
        while bar.bar.total is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bar.bar.total == 240
        worker = FrameReporter(bar.reporter("a"), every_s=0)  # a worker, part-way through "a"
        for _ in range(50):
            worker()
        time.sleep(2.5 * POLL_EVERY_S)
        assert bar.bar.n == 50  # read from the worker's file, without any recording finished
        bar.finished("a", 120, failed=False)
        bar.finished("b", 0, failed=True)
        assert bar.bar.n == 120
    finally:
        bar.close()
    text = stream.getvalue()
    assert "recordings: 0 of 2 done, 0 failed" in text and "recordings: 1 of 2 done, 1 failed" in text
    assert "frame/s" in text or "frames/s" in text
    assert not (tmp_path / "progress").exists()


def test_a_study_run_shows_frames_and_recordings(samples, tmp_path):
    recordings = [("P01", "baseline", "rest", samples / "frontal_frown.mp4"),
                  ("P01", "week6", "rest", samples / "moving_frown.mp4")]
    study = load_study(write_study(tmp_path / "study", recordings))
    stream = io.StringIO()
    config = load_config().updated(**{"input.stride": 2, "progress": False})
    report = run_study(study, config, tmp_path / "out", workers=2, progress=stream)
    assert report.written == 2
    last = stream.getvalue().split("\r")[-1]
    assert "120/120" in last and "recordings: 2 of 2 done, 0 failed" in last, last
    assert not (tmp_path / "out" / "cache" / "progress").exists()


def test_the_bar_moves_while_a_long_recording_is_measured(samples, tmp_path):
    """A recording that takes several seconds to measure: the bar counts its frames before it is done."""
    cap = cv2.VideoCapture(str(samples / "moving_frown.mp4"))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    long_clip = tmp_path / "long.avi"  # the clip played back and forth, 8 times its length
    writer = cv2.VideoWriter(str(long_clip), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, frames[0].shape[1::-1])
    for k in range(8):
        for image in (frames if k % 2 == 0 else frames[::-1]):
            writer.write(image)
    writer.release()
    total = 8 * len(frames)
    study = load_study(write_study(tmp_path / "study", [("P01", "baseline", "rest", long_clip)]))
    stream = io.StringIO()
    report = run_study(study, load_config().updated(progress=False), tmp_path / "out", workers=1, progress=stream)
    assert report.written == 1
    counts = [int(m) for m in re.findall(rf"(\d+)/{total} .*?recordings: 0 of 1 done", stream.getvalue())]
    assert any(0 < c < total for c in counts), stream.getvalue()[-2000:]


def test_a_study_of_one_session_has_no_visits_to_compare(samples, tmp_path):
    """A lab's first batch is often the baseline visit alone (as the benchmarks' studies are)."""
    from facefeedback.study.comparability import compare_visits

    study = load_study(write_study(tmp_path / "study", [("P01", "baseline", "rest", samples / "frontal_frown.mp4"),
                                                        ("P02", "baseline", "rest", samples / "moving_frown.mp4")]))
    table = compare_visits(study, {}, load_config().comparability)
    assert table.empty and "recording_id" in table.columns
