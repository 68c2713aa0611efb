"""The fast paths of extraction give the frames and numbers of the plain ones: a stride grabs the
frames it skips without making images of them, decoding runs ahead in its own thread, and
OpenCV's thread pool is held to one thread while a recording is measured, and on 2 cores FFmpeg
decodes in one thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from facefeedback.config import load_config
from facefeedback.extract import opencv_threads, read_raw
from facefeedback.io import FrameSource, decoding_threads


@pytest.mark.parametrize("prefetch", [0, 4])
def test_strided_frames_are_the_same_frames_of_the_whole_video(samples, prefetch):
    path = samples / "turning_frown.mp4"  # H.264, 180 frames
    with FrameSource(path, prefetch=0) as src:
        every = list(src)
    with FrameSource(path, stride=3, prefetch=prefetch) as src:
        strided = list(src)
    assert [f.index for f in strided] == [f.index for f in every][::3] == list(range(0, len(every), 3))
    for kept, same in zip(strided, every[::3]):
        assert kept.timestamp_s == same.timestamp_s
        assert np.array_equal(kept.image, same.image)
        assert np.array_equal(kept.rgb, cv2.cvtColor(same.image, cv2.COLOR_BGR2RGB))


def test_decoding_in_one_thread_gives_ffmpegs_threaded_frames(pyfeat_media):
    """On 2 cores a video of at most 1280 x 720 is decoded in one FFmpeg thread
    (:func:`decoding_threads`); the frames and their times are those FFmpeg's own threads decode,
    bit for bit. Larger frames and more cores keep FFmpeg's choice."""
    small, large = 640 * 360, 1920 * 1080
    assert decoding_threads(small, 2) == decoding_threads(small, 1) == decoding_threads(1280 * 720, 2) == 1
    assert decoding_threads(large, 2) == decoding_threads(small, 8) == 0
    path = pyfeat_media / "WolfgangLanger_Pexels.mp4"  # real H.264, 640x360
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 2])
    threaded = []
    while len(threaded) < 120:
        ok, image = cap.read()
        assert ok
        threaded.append((cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, image))
    cap.release()
    with FrameSource(path, end_s=threaded[-1][0] + 1e-6) as src:
        one = [(f.timestamp_s, f.image) for f in src]
    assert len(one) == len(threaded)
    assert all(t == u and np.array_equal(a, b) for (t, a), (u, b) in zip(one, threaded))


def test_opencv_threads_are_limited_while_measuring_and_restored(samples):
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        with opencv_threads(1):
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 2
        with pytest.raises(RuntimeError), opencv_threads(1):
            raise RuntimeError("a failed recording")
        assert cv2.getNumThreads() == 2
        config = load_config().updated(**{"input.stride": 10, "progress": False})
        during: list[int] = []
        info, raw = read_raw(samples / "moving_frown.mp4", config, on_frame=lambda: during.append(cv2.getNumThreads()))
        assert during == [1] * len(raw) and cv2.getNumThreads() == 2
        assert len(raw) == 12 and raw["face_detected"].all()
    finally:
        cv2.setNumThreads(before)


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("ahead", [1, 3])
def test_face_mesh_graph_gives_what_process_gives(pyfeat_media, static, ahead):
    """The landmarks read from the graph's serialised output are process()'s, bit for bit, frame
    after frame of tracking (a face that leaves and comes back), and none where there is no face;
    also with the frames submitted ``ahead`` at a time (the next ones queued before a result is read)."""
    from mediapipe.python.solutions import face_mesh

    from facefeedback.landmarks import FaceMeshGraph, _to_pixels

    with FrameSource(pyfeat_media / "face_noface.mov", stride=4, prefetch=0) as src:
        frames = [f.rgb for f in src]
    options = dict(static_image_mode=static, max_num_faces=2, refine_landmarks=True)
    with face_mesh.FaceMesh(**options) as mesh:
        expected = [[_to_pixels(f, rgb.shape[1], rgb.shape[0]) for f in (mesh.process(rgb).multi_face_landmarks or [])]
                    for rgb in frames]
    with FaceMeshGraph(**options) as graph:
        assert graph._direct  # the direct path, not its fallback, is what runs here
        got = []
        for k, rgb in enumerate(frames):
            graph.submit(rgb)
            if k + 1 >= ahead:
                got.append(graph.result())
        got += [graph.result() for _ in range(min(ahead - 1, len(frames)))]
        with pytest.raises(RuntimeError, match="no frame was submitted"):
            graph.result()
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert len(g) == len(e)
        assert all(a.shape == (478, 3) and np.array_equal(a, b) for a, b in zip(g, e))
    found = sum(bool(e) for e in expected)
    assert 0 < found < len(frames)


def _mediapipe_threads() -> set[str]:
    """The threads of this process that MediaPipe's graphs run their calculators in."""
    return {task.name for task in Path("/proc/self/task").iterdir()
            if (task / "comm").read_text().startswith("mediapipe")}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads are listed from /proc (Linux)")
def test_face_mesh_and_the_face_counter_run_their_graphs_in_one_thread(pyfeat_media):
    """MediaPipe gives a graph a pool of a thread a core; Face Mesh's graph and the face counter's
    run in one thread each (with the same landmarks: test_face_mesh_graph_gives_what_process_gives)."""
    from mediapipe.python.solutions import face_mesh

    from facefeedback.landmarks import FaceMeshGraph
    from facefeedback.landmarks.video import _FaceCounter

    with FrameSource(pyfeat_media / "face_noface.mov", prefetch=0) as src:
        rgb = next(iter(src)).rgb
    before = _mediapipe_threads()
    with FaceMeshGraph(max_num_faces=1, refine_landmarks=True) as graph:
        assert graph.faces(rgb)
        assert len(_mediapipe_threads() - before) == 1
    counter = _FaceCounter(1.0, 0.5)
    try:
        assert len(counter.boxes(rgb, 0.0)) == 1
        assert len(_mediapipe_threads() - before) == 1
    finally:
        counter.close()
    if (os.cpu_count() or 1) > 1:  # MediaPipe's own choice, which the test would see if ours were lost
        with face_mesh.FaceMesh(max_num_faces=1, refine_landmarks=True) as mesh:
            mesh.process(rgb)
            assert len(_mediapipe_threads() - before) == os.cpu_count()


def test_mediapipe_loads_without_its_drawing_helpers_which_still_work_when_used():
    """MediaPipe's import leaves its drawing helpers (and so matplotlib), the solutions that
    download their models and MediaPipe Tasks to their first use, and that use works: a drawing
    helper through the package's attribute and through an import, a figure saved through pyplot,
    Tasks through the package's attribute and an import, and the holistic solution's class."""
    code = """
import sys
from facefeedback.landmarks.mesh_graph import load_mediapipe
load_mediapipe()
import mediapipe as mp
loaded = [name for name in ("matplotlib", "mediapipe.python.solutions.drawing_utils", "mediapipe.tasks.python.vision",
                            "mediapipe.python.solutions.download_utils")
          if type(sys.modules.get(name)).__name__ == "module"]
from mediapipe.tasks.python import BaseOptions, vision
tasks_ok = mp.tasks.BaseOptions is BaseOptions and mp.tasks.vision.FaceLandmarker is vision.FaceLandmarker
holistic = mp.solutions.holistic.Holistic.__name__
from mediapipe.python.solutions import drawing_utils
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import io
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
buffer = io.BytesIO()
fig.savefig(buffer, format="png")
spec = mp.solutions.drawing_styles.get_default_face_mesh_tesselation_style()
print(loaded or "none", tasks_ok, drawing_utils.plt.figure is plt.figure, buffer.getvalue()[:4] == b"\\x89PNG",
      type(spec).__name__, holistic)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["none", "True", "True", "True", "DrawingSpec", "Holistic"]


def test_frames_waiting_for_the_features_are_bounded_in_memory():
    """The features thread's queue is deep for small frames and held to FEATURES_QUEUE_BYTES of
    pictures (BGR and RGB) for large ones, never below the 4 frames it always had."""
    from facefeedback.measure import FEATURES_AHEAD, FEATURES_QUEUE_BYTES, features_ahead

    assert features_ahead(640, 360) == FEATURES_AHEAD[1] == 16
    held = {(w, h): features_ahead(w, h) for w, h in [(1280, 720), (1920, 1080), (3840, 2160), (7680, 4320)]}
    assert held[(1920, 1080)] == 10
    assert held[(3840, 2160)] == held[(7680, 4320)] == FEATURES_AHEAD[0] == 4
    assert all(n * 6 * w * h <= FEATURES_QUEUE_BYTES for (w, h), n in held.items() if n > FEATURES_AHEAD[0])


def test_measuring_with_two_frames_in_the_graph_gives_the_same_table(pyfeat_media):
    """measure_frames with the next frame queued in Face Mesh's graph and a short features queue
    gives the table of frame-by-frame measuring, bit for bit (a face that leaves and comes back)."""
    from facefeedback.measure import FrameMeasurer, MeasurementBuffer, measure_frames

    tables = []
    for pipelined, in_graph, queue_size in [(False, 1, 4), (True, 2, 1), (True, 2, 16)]:
        buffer = MeasurementBuffer()
        with FrameSource(pyfeat_media / "face_noface.mov") as src, FrameMeasurer(load_config()) as measurer:
            measure_frames(measurer, src, buffer, pipelined=pipelined, features_queue=queue_size, in_graph=in_graph)
        tables.append(buffer.raw_table())
    assert 0 < tables[0]["face_detected"].sum() < len(tables[0])
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0])


def test_face_mesh_reads_an_unwritable_image_in_place_with_the_same_landmarks(pyfeat_media):
    """A video frame's RGB picture cannot be written, so MediaPipe reads it where it is rather
    than copying it; the landmarks are those of a writable copy, bit for bit, also for rows of a
    width that leaves them unaligned and for a read-only view with gaps between its rows."""
    from facefeedback.landmarks import FaceMeshGraph

    with FrameSource(pyfeat_media / "single_face.mp4") as src:
        frame = next(iter(src))
    assert not frame.rgb.flags.writeable
    with pytest.raises(ValueError):
        frame.rgb[0, 0] = 0
    for h, w in [frame.rgb.shape[:2], (frame.rgb.shape[0] - 3, frame.rgb.shape[1] - 5)]:
        view = frame.rgb[:h, :w]  # read-only; with gaps between its rows when cropped
        writable = view.copy()
        unwritable = view.copy()
        unwritable.flags.writeable = False
        assert view.flags.c_contiguous == (w == frame.rgb.shape[1])
        landmarks = []
        for image in (writable, unwritable, view):
            with FaceMeshGraph(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
                landmarks.append(mesh.faces(image))
        assert len(landmarks[0]) == 1
        for other in landmarks[1:]:
            assert len(other) == 1 and np.array_equal(other[0], landmarks[0][0])


def test_the_fallback_through_process_takes_frames_ahead_and_unwritable_crops(pyfeat_media):
    """Should MediaPipe's internals differ from the pinned version's, FaceMeshGraph falls back on
    process(): frames submitted ahead still come back in order, and a read-only crop with gaps
    between its rows (which MediaPipe cannot take by reference) is made contiguous first."""
    from mediapipe.python.solutions import face_mesh

    from facefeedback.landmarks import FaceMeshGraph, _to_pixels

    with FrameSource(pyfeat_media / "single_face.mp4", stride=6, prefetch=0) as src:
        frames = [f.rgb[:, 2:-3] for f in src]  # read-only views, not contiguous
    assert frames and not any(f.flags.writeable or f.flags.c_contiguous for f in frames)
    options = dict(max_num_faces=1, refine_landmarks=True)
    with face_mesh.FaceMesh(**options) as mesh:
        expected = [[_to_pixels(f, rgb.shape[1], rgb.shape[0]) for f in (mesh.process(rgb.copy()).multi_face_landmarks or [])]
                    for rgb in frames]
    with FaceMeshGraph(**options) as graph:
        graph._direct = False  # as FaceMeshGraph leaves the solution when it takes the fallback
        graph._mesh._graph_outputs = {}
        for rgb in frames:
            graph.submit(rgb)
        got = [graph.result() for _ in frames]
    assert sum(map(len, expected)) == len(frames)
    for g, e in zip(got, expected):
        assert len(g) == len(e) and all(np.array_equal(a, b) for a, b in zip(g, e))
