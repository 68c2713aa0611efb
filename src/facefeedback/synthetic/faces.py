"""Synthetic frowns with known truth, made from a public-domain portrait.

The face is scikit-image's astronaut photograph (NASA, public domain). A frown
of intensity ``a`` (0 = the original neutral face, 1 = a full frown) is
synthesised in two parts, both scaled by ``a``:

* the medial brows are warped inward (towards the midline) and down by a smooth
  displacement field centred on each brow head (corrugator and procerus);
* vertical, slightly oblique furrows are shaded into the glabella (the lines the
  toxin removes), as multiplicative darkening with a Gaussian profile.

A smile of intensity ``s`` (0 = the original face, 1 = a full smile) is warped in the same way:
the mouth corners pulled out and up (zygomaticus major, AU12) and the upper cheeks lifted, which
pushes the lower lids up (orbicularis oculi, AU6); see :func:`smile_face`.

Clips add optional head motion (in-plane roll, scale, translation; head turns and
nods out of the picture's plane, by :class:`HeadTurner`) and a change of lighting,
so the measure can be checked for what it must ignore. The curve ``a(t)`` is saved
beside each clip as ground truth, with the pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy.spatial import Delaunay

from ..geometry import BROW_MEDIAL_LEFT, BROW_MEDIAL_RIGHT, eye_centres

#: Crop of the astronaut photograph around the face, (x0, y0, size), and output size.
CROP = (130, 25, 190)
SIZE = 480
#: Full-frown displacement of the brow heads and furrow darkness, in IOD units / fraction.
BROW_SHIFT_IN = 0.08
BROW_SHIFT_DOWN = 0.08
FURROW_DEPTH = 0.28
#: Full-smile displacement of each mouth corner (out, up) and of the upper cheeks (up), in IOD units.
SMILE_SHIFT_OUT = 0.09
SMILE_SHIFT_UP = 0.06
CHEEK_LIFT = 0.04
#: Face Mesh landmarks the smile is drawn at: the mouth corners and the upper cheeks, right then left.
MOUTH_CORNERS = (61, 291)
UPPER_CHEEKS = (117, 346)


def neutral_face() -> np.ndarray:
    """The neutral base frame (BGR, SIZE x SIZE)."""
    from skimage import data

    x0, y0, s = CROP
    rgb = data.astronaut()[y0:y0 + s, x0:x0 + s]
    return cv2.resize(np.ascontiguousarray(rgb[:, :, ::-1]), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)


@dataclass(frozen=True)
class FaceAnchors:
    """Where the frown is drawn on the base frame (pixels)."""

    brow_right: np.ndarray  # medial brow head, participant's right (image left)
    brow_left: np.ndarray
    iod: float
    points: np.ndarray | None = None  # the face's Face Mesh landmarks (pixels), for HeadTurner

    @classmethod
    def find(cls, image_bgr: np.ndarray) -> FaceAnchors:
        from ..landmarks import FaceMeshBackend

        with FaceMeshBackend(static_image_mode=True, max_faces=1) as backend:
            obs = backend.detect(image_bgr)
        if obs.points is None:  # pragma: no cover - the portrait always has a face
            raise RuntimeError("no face in the base portrait")
        p = obs.points
        right, left = eye_centres(p)
        return cls(p[list(BROW_MEDIAL_RIGHT), :2].mean(axis=0), p[list(BROW_MEDIAL_LEFT), :2].mean(axis=0),
                   float(np.linalg.norm((left - right)[:2])), p)


def frown_face(base: np.ndarray, anchors: FaceAnchors, a: float) -> np.ndarray:
    """The base face with a synthetic frown of intensity ``a`` (0-1)."""
    if a <= 0:
        return base.copy()
    h, w = base.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mid_x = (anchors.brow_right[0] + anchors.brow_left[0]) / 2
    radius = 0.22 * anchors.iod
    dx = np.zeros((h, w), np.float32)
    dy = np.zeros((h, w), np.float32)
    for centre in (anchors.brow_right, anchors.brow_left):
        g = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius**2))
        dx += np.sign(mid_x - centre[0]) * BROW_SHIFT_IN * anchors.iod * a * g
        dy += BROW_SHIFT_DOWN * anchors.iod * a * g
    # Inverse map: the pixel shown at x came from x - d(x).
    warped = cv2.remap(base, xx - dx, yy - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # Furrows: two vertical lines just inside the (moved) brow heads, and a faint central one.
    shade = np.zeros((h, w), np.float32)
    top = min(anchors.brow_right[1], anchors.brow_left[1]) - 0.24 * anchors.iod
    bottom = max(anchors.brow_right[1], anchors.brow_left[1]) + 0.12 * anchors.iod
    half_gap = (anchors.brow_left[0] - anchors.brow_right[0]) / 2
    width = 0.022 * anchors.iod
    for offset, tilt, depth in ((-0.45, -0.12, 1.0), (0.45, 0.12, 1.0), (0.0, 0.0, 0.5)):
        x_line = mid_x + offset * half_gap + tilt * (yy - bottom)
        along = np.clip((yy - top) / (bottom - top), 0, 1)
        taper = np.clip(np.sin(np.pi * along), 0, 1) ** 0.7 * ((yy >= top) & (yy <= bottom))
        shade = np.maximum(shade, depth * taper * np.exp(-((xx - x_line) ** 2) / (2 * width**2)))
    darkening = 1.0 - FURROW_DEPTH * a * shade
    return np.clip(warped.astype(np.float32) * darkening[:, :, None], 0, 255).astype(np.uint8)


def _gaussian_shift(shape: tuple[int, int], centres: list[tuple[np.ndarray, float, float]], radius: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A smooth displacement field: at each centre ``(xy, dx, dy)`` its shift, falling off as a
    Gaussian of sd ``radius`` (pixels)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = np.zeros((h, w), np.float32)
    dy = np.zeros((h, w), np.float32)
    for centre, sx, sy in centres:
        g = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius**2))
        dx += sx * g
        dy += sy * g
    return dx, dy


def smile_face(base: np.ndarray, anchors: FaceAnchors, s: float) -> np.ndarray:
    """The face with a synthetic smile of intensity ``s`` (0-1) added: each mouth corner moved out
    by ``SMILE_SHIFT_OUT`` and up by ``SMILE_SHIFT_UP`` IOD, the upper cheeks (and the lower lids
    above them) lifted by ``CHEEK_LIFT`` IOD, each by a smooth warp, times ``s``."""
    if s <= 0:
        return base.copy()
    if anchors.points is None:
        raise ValueError("a smile needs the face's landmarks (FaceAnchors.find)")
    p, iod = anchors.points[:, :2], anchors.iod
    mid_x = p[list(MOUTH_CORNERS), 0].mean()
    centres = [(p[i], np.sign(p[i, 0] - mid_x) * SMILE_SHIFT_OUT * iod * s, -SMILE_SHIFT_UP * iod * s)
               for i in MOUTH_CORNERS]
    mouth = _gaussian_shift(base.shape[:2], centres, 0.2 * iod)
    cheeks = _gaussian_shift(base.shape[:2], [(p[i], 0.0, -CHEEK_LIFT * iod * s) for i in UPPER_CHEEKS],
                             0.22 * iod)
    dx, dy = mouth[0] + cheeks[0], mouth[1] + cheeks[1]
    h, w = base.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Inverse map: the pixel shown at x came from x - d(x).
    return cv2.remap(base, xx - dx, yy - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


class HeadTurner:
    """Turn (yaw) and nod (pitch) a face out of the picture's plane, from its Face Mesh landmarks.

    The face's 478 landmarks (with their depth), a ring around the face at the head's centre depth
    and the image border (fixed) are triangulated once; each pose rotates the landmarks and the
    ring about the head's centre (0.9 inter-ocular distances behind the face's mean depth) and maps
    every triangle of the picture affinely to its new place, the nearer triangles drawn over the
    farther ones (orthographic camera, no change of shading). Signs follow :mod:`~facefeedback.geometry`:
    positive yaw and pitch are what Face Mesh then reports as positive (chin up for pitch).
    """

    def __init__(self, base: np.ndarray, points: np.ndarray) -> None:
        h, w = base.shape[:2]
        self.shape = (h, w)
        iod = float(np.linalg.norm(np.subtract(*eye_centres(points))[:2]))
        mid = points[:, :2].mean(axis=0)
        self.centre = np.r_[mid, points[:, 2].mean() + 0.9 * iod]
        angle = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        radius = 1.35 * np.max(np.linalg.norm(points[:, :2] - mid, axis=1))
        ring = np.c_[mid[0] + radius * np.cos(angle), mid[1] + radius * np.sin(angle), np.full(24, self.centre[2])]
        xs, ys = np.linspace(0, w - 1, 5), np.linspace(0, h - 1, 5)
        border = np.unique(np.r_[np.c_[xs, np.zeros(5)], np.c_[xs, np.full(5, h - 1)],
                                 np.c_[np.zeros(5), ys], np.c_[np.full(5, w - 1), ys]], axis=0)
        self.moving = np.vstack([points, ring])
        self.fixed = border
        self.source = np.vstack([self.moving[:, :2], border])
        self.triangles = Delaunay(self.source).simplices
        self.yy, self.xx = np.mgrid[0:h, 0:w].astype(np.float32)

    def __call__(self, image: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
        a, b = np.radians(yaw_deg), np.radians(-pitch_deg)  # image y grows downwards
        turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        nod = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
        moved = (self.moving - self.centre) @ (turn @ nod).T + self.centre
        target = np.vstack([moved[:, :2], self.fixed])
        depth = np.r_[moved[:, 2], np.full(len(self.fixed), np.inf)][self.triangles].mean(axis=1)
        which = np.zeros(self.shape, np.int32)
        for i in np.argsort(-depth):  # far first: the near side of a turned face covers the far side
            cv2.fillConvexPoly(which, np.round(target[self.triangles[i]]).astype(np.int32), int(i))
        # per triangle, the affine map from its new place back to the picture: [x y 1] @ m = source
        corners = np.concatenate([target[self.triangles], np.ones((len(self.triangles), 3, 1))], axis=2)
        m = np.linalg.solve(corners, self.source[self.triangles])[which]
        map_x = self.xx * m[..., 0, 0] + self.yy * m[..., 1, 0] + m[..., 2, 0]
        map_y = self.xx * m[..., 0, 1] + self.yy * m[..., 1, 1] + m[..., 2, 1]
        return cv2.remap(image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)


def frown_curve(t: np.ndarray, shape: str = "bumps") -> np.ndarray:
    """Ground-truth frown intensity over time: smooth rises, holds and releases of several heights."""
    if shape == "flat":
        return np.zeros_like(t)
    if shape == "repeated":  # the bumps again every 8 s
        return frown_curve(np.mod(t, 8.0))
    bumps = [(1.0, 1.0), (3.2, 0.5), (5.0, 0.8), (6.8, 0.3)]  # (start s, height)
    a = np.zeros_like(t)
    for start, height in bumps:
        rise = np.clip((t - start) / 0.5, 0, 1)
        fall = np.clip((t - start - 1.1) / 0.5, 0, 1)
        a = np.maximum(a, height * (np.sin(np.pi / 2 * rise) ** 2) * (1 - np.sin(np.pi / 2 * fall) ** 2))
    return a


@dataclass(frozen=True)
class ClipSpec:
    """A synthetic clip: frown curve, head motion and lighting."""

    name: str
    seconds: float = 8.0
    fps: float = 15.0
    curve: str = "bumps"
    roll_deg: float = 0.0  # amplitude of a slow in-plane roll
    scale_range: float = 0.0  # +- relative scale change
    light_range: float = 0.0  # +- relative change of a left-right light gradient
    noise: float = 2.0  # sensor noise (grey levels)
    seed: int = 0
    yaw_deg: float = 0.0  # amplitude of a head turn out of the picture's plane (period 6 s)
    pitch_deg: float = 0.0  # amplitude of a nod (period 8.5 s)
    smile: str | None = None  # the smile's curve (as ``curve``), None: no smile


DEFAULT_CLIPS = (
    ClipSpec("frontal_frown"),
    ClipSpec("moving_frown", roll_deg=10.0, scale_range=0.15, seed=1),
    ClipSpec("lighting_neutral", curve="flat", light_range=0.35, seed=2),
    ClipSpec("turning_frown", seconds=12.0, curve="repeated", yaw_deg=22.0, pitch_deg=10.0, seed=3),
)


def render_clip(spec: ClipSpec, base: np.ndarray | None = None, anchors: FaceAnchors | None = None):
    """Yield (frame BGR, truth dict) for every frame of a clip."""
    base = neutral_face() if base is None else base
    anchors = FaceAnchors.find(base) if anchors is None else anchors
    rng = np.random.default_rng(spec.seed)
    n = int(round(spec.seconds * spec.fps))
    t = np.arange(n) / spec.fps
    curve = frown_curve(t, spec.curve)
    h, w = base.shape[:2]
    centre = (w / 2, h / 2)
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    yaw = spec.yaw_deg * np.sin(2 * np.pi * t / 6.0)
    pitch = spec.pitch_deg * np.sin(2 * np.pi * t / 8.5)
    turner = HeadTurner(base, anchors.points) if (spec.yaw_deg or spec.pitch_deg) else None
    smiles = frown_curve(t, spec.smile) if spec.smile else np.zeros(n)
    for i in range(n):
        face = smile_face(frown_face(base, anchors, float(curve[i])), anchors, float(smiles[i]))
        if turner is not None:
            face = turner(face, yaw[i], pitch[i])
        phase = 2 * np.pi * t[i] / spec.seconds
        roll = spec.roll_deg * np.sin(phase)
        scale = 1.0 + spec.scale_range * np.sin(2 * phase)
        if roll or scale != 1.0:
            m = cv2.getRotationMatrix2D(centre, -roll, scale)  # OpenCV: positive = counter-clockwise
            face = cv2.warpAffine(face, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        light = spec.light_range * np.sin(phase)
        img = face.astype(np.float32)
        if light:
            img *= (1.0 + light * xx) * (1.0 - 0.5 * abs(light))
        if spec.noise:
            img += rng.normal(0, spec.noise, img.shape).astype(np.float32)
        frame = np.clip(img, 0, 255).astype(np.uint8)
        truth = {"frame": i, "timestamp_s": float(t[i]), "frown": float(curve[i]),
                 "roll_deg": float(roll), "scale": float(scale), "light": float(light)}
        if turner is not None:
            truth.update(yaw_deg=float(yaw[i]), pitch_deg=float(pitch[i]))
        if spec.smile:
            truth.update(smile=float(smiles[i]))
        yield frame, truth


def write_clip(spec: ClipSpec, folder: str | Path, base=None, anchors=None) -> tuple[Path, Path]:
    """Write ``<name>.mp4`` and its ground truth ``<name>.truth.csv`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"{spec.name}.mp4"
    truth_path = folder / f"{spec.name}.truth.csv"
    tmp = folder / f".{spec.name}.tmp.mp4"
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), spec.fps, (SIZE, SIZE))
    rows = []
    try:
        for frame, truth in render_clip(spec, base, anchors):
            writer.write(frame)
            rows.append(truth)
    finally:
        writer.release()
    tmp.replace(video)
    pd.DataFrame(rows).to_csv(truth_path, index=False, float_format="%.6f")
    return video, truth_path
