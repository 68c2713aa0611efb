"""Rigid alignment of the 478 MediaPipe landmarks to a frontal reference, and head pose.

The reference (``data/reference_face.npy``, made by ``scripts/make_reference.py``)
is a frontal, left-right symmetric face in *reference units*: the origin is the
midpoint between the eye centres, x points to the image right, y down, z away
from the camera, and the distance between the eye centres is 1. A frame's
landmarks are aligned to it with a similarity transform (Umeyama) fitted on
points that expressions barely move (nose bridge and tip, temples, cheek contour,
upper forehead), so a frown cannot tilt or rescale the alignment. Brow measurements are
taken in the aligned coordinates: in-plane rotation, scale and most of yaw and
pitch are removed before anything is measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

# -- landmark indices (MediaPipe Face Mesh topology) --------------------------
#: "right"/"left" are the participant's own sides (right = image left in a selfie view).
EYE_RIGHT_CORNERS = (33, 133)  # outer, inner
EYE_LEFT_CORNERS = (263, 362)  # outer, inner
INNER_EYE_CORNERS = (133, 362)  # right, left
#: Medial brow ends (lower and upper edge of the brow head), right then left.
BROW_MEDIAL_RIGHT = (55, 107)
BROW_MEDIAL_LEFT = (285, 336)
#: Points that expressions barely move: the rigid anchor of the alignment. The eye corners
#: are left out: Face Mesh moves them with the brows and the lids (AU4 comes with AU7), and a
#: frown must not change the ruler it is measured with.
STABLE_POINTS = (
    168, 6, 197, 195, 5, 4, 1,    # nose bridge and tip
    127, 356, 234, 454, 93, 323,  # temples and cheek contour
    10, 109, 338,                 # upper forehead
)


@dataclass(frozen=True)
class Alignment:
    """A frame's landmarks in reference units, and the transform that put them there.

    ``aligned = scale * points @ rotation.T + translation``; ``points`` are in image
    pixels (z in the same units as x). ``yaw``, ``pitch`` and ``roll`` (degrees) are the
    head pose: the rotation taking the frontal reference to the observed head.
    """

    aligned: np.ndarray  # (478, 3)
    rotation: np.ndarray  # (3, 3)
    scale: float
    translation: np.ndarray  # (3,)
    yaw: float
    pitch: float
    roll: float

    @property
    def iod_px(self) -> float:
        """Inter-ocular distance in image pixels."""
        return 1.0 / self.scale

    def to_image(self, reference_xyz: np.ndarray) -> np.ndarray:
        """Map points in reference units back to image pixels (x, y, z)."""
        return (np.asarray(reference_xyz, dtype=np.float64) - self.translation) @ self.rotation / self.scale


@lru_cache(maxsize=1)
def reference_face() -> np.ndarray:
    """The frontal reference face, (478, 3) in reference units (read-only)."""
    with resources.files("facefeedback").joinpath("data/reference_face.npy").open("rb") as fh:
        ref = np.load(fh)
    ref.setflags(write=False)
    return ref


_STABLE_INDEX = np.asarray(STABLE_POINTS)


@lru_cache(maxsize=1)
def _stable_reference() -> tuple[np.ndarray, np.ndarray]:
    """The reference's stable points' mean and the points less it: the fixed target of :func:`align`."""
    dst = reference_face()[_STABLE_INDEX]
    mu_d = dst.sum(axis=0) / len(dst)
    return mu_d, dst - mu_d


def _similarity_to(src: np.ndarray, mu_d: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ~ s * src @ R.T + t`` (Umeyama 1991), proper rotation, onto
    a target ``dst`` given as its mean ``mu_d`` and its points less that mean ``b`` (the fixed
    target of :func:`align` is computed once). Means are sums over the count, as ``ndarray.mean``
    computes them.

    Returns
    -------
    scale, rotation (3x3), translation (3,)
    """
    n = len(src)
    mu_s = src.sum(axis=0) / n
    a = src - mu_s
    cov = b.T @ a / n
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if _det3(u) * _det3(vt) < 0:
        d[-1] = -1.0
    rot = (u * d) @ vt
    var_s = (a**2).sum() / n
    scale = float((sig * d).sum() / var_s)
    trans = mu_d - scale * rot @ mu_s
    return scale, rot, trans


def _det3(m: np.ndarray) -> float:
    """Determinant of a 3x3 matrix (only its sign is used here, of an orthogonal matrix's +-1)."""
    (a, b, c), (d, e, f), (g, h, i) = m.tolist()
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def euler_degrees(rot: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll (degrees) of the head rotation ``rot`` (reference -> observed, image axes).

    Decomposition ``rot = Rz(roll) @ Ry(yaw') @ Rx(pitch')`` in image axes (x right, y down,
    z away from the camera); signs are turned so that positive yaw is the face turned
    towards the image left, positive pitch is chin up, positive roll is the face tilted
    clockwise in the image.
    """
    (r00, _, _), (r10, _, _), (r20, r21, r22) = rot.tolist()
    yaw = math.degrees(math.asin(min(max(-r20, -1.0), 1.0)))
    pitch = math.degrees(math.atan2(r21, r22))
    roll = math.degrees(math.atan2(r10, r00))
    return yaw, -pitch, roll


def align(points_px: np.ndarray) -> Alignment:
    """Align one face's landmarks (478x3, image pixels) to the frontal reference."""
    scale, rot, trans = _similarity_to(points_px[_STABLE_INDEX], *_stable_reference())
    aligned = scale * points_px @ rot.T + trans
    # rot maps observed -> reference, so the head rotation is its transpose.
    yaw, pitch, roll = euler_degrees(rot.T)
    return Alignment(aligned, rot, scale, trans, yaw, pitch, roll)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the right and left eye (mean of each eye's two corners)."""
    right = points[list(EYE_RIGHT_CORNERS)].mean(axis=0)
    left = points[list(EYE_LEFT_CORNERS)].mean(axis=0)
    return right, left


def frontal_frame(points: np.ndarray) -> np.ndarray:
    """Express landmarks in an anatomical frame: origin between the eye centres, x along
    the eye line, y down the face (towards the chin), unit inter-ocular distance.

    Used to build the reference; per frame, :func:`align` is used instead.
    """
    right, left = eye_centres(points)
    origin = (right + left) / 2.0
    x = left - right
    iod = np.linalg.norm(x)
    x /= iod
    down = points[152] - points[10]  # chin - forehead
    y = down - x * (down @ x)
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    basis = np.stack([x, y, z])
    # In image axes the participant's left eye lies at larger x: flip so x points image-right.
    out = (points - origin) @ basis.T / iod
    if out[list(EYE_LEFT_CORNERS), 0].mean() < 0:  # pragma: no cover - depends on input handedness
        out[:, 0] *= -1
    return out


def mirror_pairs(frontal: np.ndarray) -> np.ndarray:
    """For each landmark, the index of its left-right mirror (itself on the midline)."""
    mirrored = frontal * np.array([-1.0, 1.0, 1.0])
    d = ((frontal[:, None, :2] - mirrored[None, :, :2]) ** 2).sum(axis=2)
    return d.argmin(axis=1)


def symmetric_reference(points_px: np.ndarray) -> np.ndarray:
    """A frontal, left-right symmetric reference built from one frontal face's landmarks."""
    frontal = frontal_frame(points_px)
    pairs = mirror_pairs(frontal)
    mirrored = frontal[pairs] * np.array([-1.0, 1.0, 1.0])
    ref = (frontal + mirrored) / 2.0
    right, left = eye_centres(ref)
    ref = ref - (right + left) / 2.0
    return ref / np.linalg.norm(left - right)
