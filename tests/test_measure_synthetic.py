"""The measure against known truth: synthetic frowns on a real portrait, and pose invariance."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from facefeedback.config import Config
from facefeedback.extract import process_recording
from facefeedback.io import Frame
from facefeedback.measure import FrameMeasurer
from facefeedback.synthetic.faces import FaceAnchors, frown_face, neutral_face

CONFIG = Config().updated(progress=False)


@pytest.fixture(scope="module")
def measured(samples):
    out = {}
    for name in ("frontal_frown", "moving_frown", "lighting_neutral", "turning_frown"):
        frames = process_recording(samples / f"{name}.mp4", CONFIG).frames
        truth = pd.read_csv(samples / f"{name}.truth.csv")
        assert len(frames) == len(truth)
        out[name] = (frames, truth)
    return out


@pytest.mark.parametrize("name", ["frontal_frown", "moving_frown"])
def test_frown_intensity_follows_known_warp(measured, name):
    frames, truth = measured[name]
    assert frames["valid"].mean() > 0.95
    r = np.corrcoef(frames["frown_intensity"], truth["frown"])[0, 1]
    assert r >= 0.95, f"{name}: r = {r:.3f}"


def test_frown_followed_through_head_turns_and_nods(measured):
    """turning_frown: the frown bumps while the head turns +-22 deg and nods +-10 deg out of the
    picture's plane. Calibrated on itself, the neutral follows the pose and brow_gap, which stops
    following the corrugator beyond 10 deg of yaw, gives way to the other components there."""
    from facefeedback.calibration import calibrate
    from facefeedback.measure import build_frame_table

    frames, truth = measured["turning_frown"]
    assert frames["valid"].mean() > 0.95
    assert np.corrcoef(frames["yaw"], truth["yaw_deg"])[0, 1] > 0.99
    assert np.corrcoef(frames["pitch"], truth["pitch_deg"])[0, 1] > 0.95
    assert np.corrcoef(frames["glabella_lines"], truth["frown"])[0, 1] > 0.97
    cal = calibrate(frames, CONFIG.frown, CONFIG.calibration)
    own = build_frame_table(frames, cal, CONFIG)
    for table in (frames, own):  # population reference, and the clip's own pose-following neutral
        r = np.corrcoef(table["frown_intensity"], truth["frown"])[0, 1]
        assert r >= 0.99, f"r = {r:.4f}"
    turned = truth["frown"].to_numpy() > 0.95
    assert own.loc[turned, "frown_intensity"].min() > 0.8


@pytest.mark.parametrize("name", ["frontal_frown", "moving_frown"])
def test_components_move_in_the_frown_direction(measured, name):
    frames, truth = measured[name]
    full = truth["frown"] >= 0.9
    rest = truth["frown"] == 0
    # brows drawn together and lowered, more lines: compare full-frown frames with rest frames
    assert frames.loc[full, "brow_gap"].mean() < 0.9 * frames.loc[rest, "brow_gap"].mean()
    assert frames.loc[full, "brow_lowering"].mean() < frames.loc[rest, "brow_lowering"].mean()
    assert frames.loc[full, "glabella_lines"].mean() > 2 * frames.loc[rest, "glabella_lines"].mean()
    r = {c: np.corrcoef(frames[c], truth["frown"])[0, 1] for c in ("brow_gap", "brow_lowering", "glabella_lines")}
    assert r["brow_gap"] < -0.9 and r["brow_lowering"] < -0.7 and r["glabella_lines"] > 0.95, r


def test_light_change_alone_is_not_a_frown(measured):
    lit, _ = measured["lighting_neutral"]
    frown, truth = measured["frontal_frown"]
    full = frown.loc[truth["frown"] >= 0.9, "frown_intensity"].mean()
    spread = lit["frown_intensity"].quantile(0.95) - lit["frown_intensity"].quantile(0.05)
    assert spread < 0.2 * full
    assert not lit["frowning"].any()


def test_events_match_the_known_bumps(measured):
    frames, truth = measured["frontal_frown"]
    inside = truth["frown"].to_numpy() > 0.05
    bump_id = np.cumsum(np.diff(np.r_[0, inside.astype(int)]) == 1) * inside
    frowning = frames["frowning"].to_numpy()
    # no frown event where the face is neutral, and every synthetic bump whose true peak reaches the
    # event threshold is found (a smaller one may or may not be: it is below the threshold)
    assert not frowning[~inside].any()
    found = {int(b) for b in np.unique(bump_id[frowning])}
    peaks = {b: truth["frown"].to_numpy()[bump_id == b].max() for b in range(1, bump_id.max() + 1)}
    above = {b for b, peak in peaks.items() if peak >= CONFIG.events.on_threshold}
    assert len(above) >= 3 and above <= found, (found, peaks)


def _components(image):
    with FrameMeasurer(CONFIG, static_image_mode=True) as m:
        r = m.measure(Frame(0, 0.0, image))
    assert r["face_detected"]
    return np.array([r["brow_gap"], r["brow_lowering"], r["glabella_lines"]])


def _rotate(image, degrees):
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("a", [0.0, 1.0])
@pytest.mark.parametrize("change", ["rotate+15", "rotate-15", "scale0.5"])
def test_pose_and_size_invariance(change, a):
    base_img = neutral_face()
    img = frown_face(base_img, FaceAnchors.find(base_img), a)
    base = _components(img)
    if change.startswith("rotate"):
        moved = _components(_rotate(img, float(change[6:])))
    else:
        moved = _components(cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    rel = np.abs(moved - base) / base
    assert rel[0] < 0.05 and rel[1] < 0.05, f"geometry moved {rel[:2]}"
    assert rel[2] < 0.10, f"glabella_lines moved {rel[2]:.1%}"


@pytest.mark.parametrize("a", [0.0, 1.0])
@pytest.mark.parametrize("change", ["rotate+15", "rotate-15", "scale0.5"])
def test_tracked_brow_gap_ignores_pose_and_size(change, a):
    """In a video, brow_gap follows the brow heads' picture: a rotated or shrunk view of the same
    face must not read as brows drawn together or apart."""
    base_img = neutral_face()
    img = frown_face(base_img, FaceAnchors.find(base_img), a)
    moved = (_rotate(img, float(change[6:])) if change.startswith("rotate")
             else cv2.copyMakeBorder(cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
                                     120, 120, 120, 120, cv2.BORDER_REFLECT))
    with FrameMeasurer(CONFIG) as m:  # tracking mode: the first frame is the anchor
        gaps = [m.measure(Frame(i, i / 15, im))["brow_gap"] for i, im in enumerate([img, img, moved, moved, moved])]
    # A picture of another size is a cut: Face Mesh may lose the face for the one frame after it
    # (with one face tracked, its detector runs again only then), as a bare Face Mesh loop does.
    assert np.isfinite([gaps[0], gaps[1], gaps[3], gaps[4]]).all(), gaps
    assert abs(gaps[1] - gaps[0]) / gaps[0] < 0.01  # the same picture again (tracking moves the landmarks a little)
    assert abs(gaps[4] - gaps[0]) / gaps[0] < 0.05, gaps


def test_brow_tracker_falls_back_to_the_landmarks_without_a_picture():
    """Before an anchor can be set, and where a brow head finds no match, brow_gap is the
    landmarks' (never NaN, never a guess from a flat picture)."""
    from facefeedback.components.brows import BrowTracker, brow_geometry

    face = cv2.cvtColor(neutral_face(), cv2.COLOR_BGR2GRAY)
    with FrameMeasurer(CONFIG, static_image_mode=True) as m:
        al = m.measure(Frame(0, 0.0, neutral_face())).alignment
    landmark_gap = brow_geometry(al.aligned)[0]
    flat = np.full_like(face, 128)
    tracker = BrowTracker()
    assert tracker(flat, al, landmark_gap) == landmark_gap and tracker.anchor is None
    assert tracker(face, al, landmark_gap) == landmark_gap and tracker.anchor is not None
    assert tracker(face, al, landmark_gap) == pytest.approx(landmark_gap, abs=1e-4)  # the anchor again
    assert tracker(flat, al, landmark_gap) == pytest.approx(landmark_gap)  # no match: landmarks alone


def test_brow_trackers_evidence_is_the_same_whichever_brow_head_loses_its_match():
    """A brow head that finds no match leaves the tracker's residual NaN (the occlusion detector's
    no-match evidence) for either side: an occluder over the left brow reads as one over the right."""
    from facefeedback.components.brows import (
        BROW_MEDIAL_LEFT,
        BROW_MEDIAL_RIGHT,
        BrowTracker,
        brow_geometry,
    )

    img = neutral_face()
    face = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    with FrameMeasurer(CONFIG, static_image_mode=True) as m:
        measured = m.measure(Frame(0, 0.0, img))
    al, points = measured.alignment, measured.observation.points
    landmark_gap = brow_geometry(al.aligned)[0]
    midline = int(points[list(BROW_MEDIAL_RIGHT + BROW_MEDIAL_LEFT), 0].mean())
    evidence = {}
    for hidden, columns in (("right", slice(None, midline)), ("left", slice(midline + 1, None))):
        tracker = BrowTracker()
        tracker(face, al, landmark_gap)  # the anchor
        tracker(face, al, landmark_gap)
        assert tracker.last_residual < 0.01 and tracker.last_match > 0.99  # both brow heads matched
        covered = face.copy()
        covered[:, columns] = 128  # one brow head (the person's right is the image's left) flat
        tracker(covered, al, landmark_gap)
        evidence[hidden] = (tracker.last_match, tracker.last_residual)
    assert all(np.isfinite(match) and match < 0.5 for match, _ in evidence.values()), evidence
    assert all(np.isnan(residual) for _, residual in evidence.values()), evidence


def test_glabella_patch_covers_its_region():
    """The resampled patch's interior is exactly the region in reference units: a dot drawn at the
    region's centre comes out at the centre of the interior, whatever the face's pose."""
    from facefeedback.components import glabella as frown

    with FrameMeasurer(CONFIG, static_image_mode=True) as m:
        al = m.measure(Frame(0, 0.0, _rotate(neutral_face(), 12.0))).alignment
    f = frown.GlabellaFilter()
    centre = np.array([[np.mean(frown.PATCH_X), np.mean(frown.PATCH_Y), f.z]])
    x, y = al.to_image(centre)[0, :2]
    canvas = np.zeros((480, 480), np.uint8)
    cv2.circle(canvas, (int(round(x)), int(round(y))), 2, 255, -1)
    patch = f.patch(canvas, al)
    interior = patch[f.margin:-f.margin, f.margin:-f.margin]
    assert interior.shape == (f.height, f.width)
    py, px = np.unravel_index(np.argmax(interior), interior.shape)
    assert abs(px - (f.width - 1) / 2) <= 1.0 and abs(py - (f.height - 1) / 2) <= 1.0, (px, py)


def test_pipelined_measurement_equals_one_frame_at_a_time(samples):
    from facefeedback.io import FrameSource
    from facefeedback.measure import MeasurementBuffer, measure_frames

    tables = []
    for pipelined in (False, True):
        buffer = MeasurementBuffer()
        with FrameSource(samples / "moving_frown.mp4", stride=3) as src, FrameMeasurer(CONFIG) as m:
            measure_frames(m, src, buffer, pipelined=pipelined)
        tables.append(buffer.raw_table())
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert len(tables[0]) == 40 and tables[0]["frame"].is_monotonic_increasing


def test_fast_landmark_copy_equals_attribute_reads():
    from mediapipe.python.solutions import face_mesh

    from facefeedback.landmarks import _to_pixels

    with face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as mesh:
        landmarks = mesh.process(cv2.cvtColor(neutral_face(), cv2.COLOR_BGR2RGB)).multi_face_landmarks[0]
    fast = _to_pixels(landmarks, 480, 360)
    slow = _to_pixels(list(landmarks.landmark), 480, 360)
    assert fast.shape == (478, 3) and np.array_equal(fast, slow)
