"""The smile: ``lip_corner_pull``
    Zygomaticus major pulls the mouth corners up and out, towards the cheekbones, which widens
    the mouth. The value is the distance between the two mouth corners in the picture's plane.
    Larger = corners pulled out. An open jaw (speech, surprise) and a pucker bring the corners
    together, so neither reads as a smile; a lip stretcher (AU20, fear) widens the mouth too, and
    is the one expression it cannot tell from a smile (``cheek_raise`` does not rise with it).
``cheek_raise`` (orbicularis oculi, AU6).

Both are measured on the landmarks aligned to the frontal reference (so head rotation and
distance to the camera are removed first), in units of the inter-ocular distance (IOD):

``lip_corner_pull``
    Zygomaticus major pulls each mouth corner up and out, towards the cheekbone. The value is
    the mean distance from each mouth corner to the *zygomatic anchor* on its side: the face's
    contour at cheekbone level (landmarks 234 and 454 of the reference face, which anchor the
    alignment and so do not move with the expression). Smaller = corners pulled up and out. An
    open jaw (speech, surprise) lowers the corners, and a pucker draws them in: both read as
    *less* pull, never as a smile.
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
#: The upper cheeks: under the eyes and on the cheekbones, right and left. The lower lids are left
#: out: Face Mesh moves them down, not up, when the cheek below them rises (on the synthetic smile).
CHEEK_POINTS = (117, 346, 50, 280)
#: The nose tip: the level the cheeks' height is taken from.
NOSE_TIP = 1


@lru_cache(maxsize=1)
def _nose_tip_y() -> float:
    return float(reference_face()[NOSE_TIP, 1])


def lip_corner_pull(aligned: np.ndarray) -> float:
    """Distance (IOD) between the mouth corners, in the picture's plane."""
    d = aligned[MOUTH_CORNERS[1], :2] - aligned[MOUTH_CORNERS[0], :2]
    return float(np.sqrt(d @ d))


def cheek_raise(aligned: np.ndarray) -> float:
    """Mean height (IOD) of the upper cheeks above the reference's nose-tip line."""
    return float(_nose_tip_y() - aligned[list(CHEEK_POINTS), 1].mean())  # y grows downwards
