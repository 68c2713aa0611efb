"""The smile: ``lip_corner_pull`` (zygomaticus major, AU12) and ``cheek_raise`` (orbicularis oculi, AU6).

Both are measured on the landmarks aligned to the frontal reference (so head rotation and
distance to the camera are removed first), in units of the inter-ocular distance (IOD):

``lip_corner_pull``
    Zygomaticus major pulls each mouth corner up and out, towards the cheekbone, which widens the
    mouth. The value is the distance between the two mouth corners in the aligned picture's plane,
    divided by the square root of the outer eye corners' width over the reference face's
    (:data:`OUTER_EYE_CORNERS`): the mouth's width in units of the geometric mean of two rulers,
    the alignment's (its scale comes from the face's outline, forehead and nose) and the eyes'.
    Turned out of the picture's plane (a synthetic head turned by 22 deg), Face Mesh draws the middle
    of the face narrower than the alignment's ruler says: the relaxed mouth by up to 6 %, the eyes by
    up to 3 %, which reads as up to about 0.25 smile units *less* smile. The eyes narrow with the
    mouth, the alignment's ruler does not; half of each halves that loss, while the eye corners' own
    jitter (blinks move them) enters at half strength. Larger = corners pulled out.
    An open jaw (speech, surprise) and a pucker bring the corners together, so neither reads as a
    smile; a lip stretcher (AU20, fear) widens the mouth too, and is the one expression it cannot
    tell from a smile (``cheek_raise`` does not rise with it).
``cheek_raise``
    The orbital part of orbicularis oculi lifts the cheeks and pushes the lower eyelids up,
    narrowing the eyes from below (the Duchenne marker). The value is the mean height of the
    upper cheeks (under the eyes and on the cheekbones) above the reference face's nose-tip line.
    Larger = raised. A blink moves the lids, not these points.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..geometry import reference_face

#: Mouth corners, participant's right then left (right = image left in a selfie view).
MOUTH_CORNERS = (61, 291)
#: Outer eye corners, right then left: the eyes' ruler of ``lip_corner_pull``.
OUTER_EYE_CORNERS = (33, 263)
#: The upper cheeks: under the eyes and on the cheekbones, right and left. The lower lids are left
#: out: Face Mesh moves them down, not up, when the cheek below them rises (on the synthetic smile).
CHEEK_POINTS = (117, 346, 50, 280)
#: The nose tip: the level the cheeks' height is taken from.
NOSE_TIP = 1


@lru_cache(maxsize=1)
def _nose_tip_y() -> float:
    return float(reference_face()[NOSE_TIP, 1])


@lru_cache(maxsize=1)
def _eye_width() -> float:
    right, left = OUTER_EYE_CORNERS
    return float(reference_face()[left, 0] - reference_face()[right, 0])


def lip_corner_pull(aligned: np.ndarray) -> float:
    """Distance between the mouth corners in the picture's plane, in units of the geometric mean of
    the inter-ocular distance and the outer eye corners' width (relative to the reference face)."""
    d = aligned[MOUTH_CORNERS[1], :2] - aligned[MOUTH_CORNERS[0], :2]
    eyes = (aligned[OUTER_EYE_CORNERS[1], 0] - aligned[OUTER_EYE_CORNERS[0], 0]) / _eye_width()
    return float(np.sqrt(d @ d / eyes))


def cheek_raise(aligned: np.ndarray) -> float:
    """Mean height (IOD) of the upper cheeks above the reference's nose-tip line."""
    return float(_nose_tip_y() - aligned[list(CHEEK_POINTS), 1].mean())  # y grows downwards
