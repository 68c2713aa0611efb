"""Synthetic recordings for the occlusion flag: occluder episodes pasted over a recording's frames,
a still made into a slowly drifting recording, and synthetic frowns over a real face's frames."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry import BROW_MEDIAL_LEFT, BROW_MEDIAL_RIGHT, align, eye_centres
from .faces import FaceAnchors, frown_face
from .occluder_layers import Skin, coverage, sample_skin
from .occluders import KINDS, make_occluder


@dataclass(frozen=True)
class Episode:
    """An occluder over frames ``start`` to ``stop - 1`` (it slides in and out over ``ramp`` frames)."""

    start: int
    stop: int
    kind: str
    target: str
    ramp: int


def plan_episodes(n_frames: int, fps: float, rng: np.random.Generator, kinds=KINDS, clean_start_s: float = 1.5,
                  region_share: float = 0.8) -> list[Episode]:
    """Occluder episodes for a recording of ``n_frames``: a clean start, then clean gaps of 0.6-2 s and
    episodes of 0.6-2 s, the kinds taken in turn, over the measured region or (``1 - region_share``)
    elsewhere on the face."""
    episodes = []
    t = int(round(clean_start_s * fps))
    k = int(rng.integers(len(kinds)))
    while True:
        length = int(round(rng.uniform(0.6, 2.0) * fps))
        if t + length > n_frames:
            break
        target = "region" if rng.random() < region_share else "elsewhere"
        ramp = int(np.clip(round(rng.uniform(0.08, 0.25) * fps), 1, length // 3))
        episodes.append(Episode(t, t + length, kinds[k % len(kinds)], target, ramp))
        k += 1
        t += length + int(round(rng.uniform(0.6, 2.0) * fps))
    return episodes


def occlude_recording(images, points, fps: float, rng: np.random.Generator, donor: Skin, kinds=KINDS,
                      clean_start_s: float = 1.5, region_share: float = 0.8):
    """Yield ``(image, truth)`` for every frame of a recording with occluder episodes pasted on.

    ``images`` are the recording's frames (BGR) and ``points`` the face's landmarks in each frame
    found on the clean frames (NaN where there is no face), which place the occluders. ``truth`` has
    the frame's ``kind`` and ``target`` ("" when nothing is pasted), ``coverage`` (the largest of
    :func:`coverage`'s shares; 0 when nothing is pasted, NaN without a face) and ``near``.
    """
    images = list(images)
    points = np.asarray(points, np.float64)
    episodes = plan_episodes(len(images), fps, rng, kinds, clean_start_s, region_share)
    first = next((i for i, p in enumerate(points) if np.isfinite(p).all()), None)
    host = sample_skin(images[first], align(points[first])) if first is not None else donor
    active = {}
    for ep in episodes:
        occ = make_occluder(ep.kind, rng, host, donor, ep.target)
        walk = np.cumsum(rng.normal(0, 0.004, (ep.stop - ep.start, 2)), axis=0)
        for j, i in enumerate(range(ep.start, ep.stop)):
            inward = min(j + 1, ep.stop - i, ep.ramp) / ep.ramp  # 0 -> 1 entering, 1 -> 0 leaving
            active[i] = (ep, occ, occ.direction * 1.5 * (1 - inward) + walk[j])
    for i, img in enumerate(images):
        truth = {"frame": i, "kind": "", "target": "", "coverage": 0.0, "near": 0.0}
        p = points[i]
        if not np.isfinite(p).all():
            truth["coverage"] = truth["near"] = float("nan")
            yield img, truth
            continue
        if i in active:
            ep, occ, offset = active[i]
            al = align(p)
            layer = occ.draw(img, al, offset)
            cov = coverage(layer.alpha, al)
            truth.update(kind=ep.kind, target=ep.target,
                         coverage=max(cov["glabella"], cov["brow_right"], cov["brow_left"]), **cov)
            img = layer.over(img)
        yield img, truth


def still_recording(image: np.ndarray, points: np.ndarray, n_frames: int, rng: np.random.Generator,
                    ) -> tuple[list[np.ndarray], np.ndarray]:
    """A recording made from a still: the picture slowly drifting (rotation within a few degrees,
    scale and position within a few percent, brightness within 10 %) with sensor noise, and the
    landmarks moved with it."""
    h, w = image.shape[:2]
    steps = rng.normal(0, 1, (n_frames, 5)).cumsum(axis=0)
    steps = cv2.GaussianBlur(steps, (1, 0), 8).astype(np.float64) if n_frames > 1 else steps
    steps = steps / max(np.abs(steps).max(), 1e-9)
    images, moved = [], []
    for angle, logs, tx, ty, gain in steps * np.array([3.0, 0.04, 0.02 * w, 0.02 * h, 0.1]):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, np.exp(logs))
        m[:, 2] += (tx, ty)
        out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        out = out.astype(np.float32) * np.exp(gain) + rng.normal(0, 2.0, out.shape).astype(np.float32)
        images.append(np.clip(out, 0, 255).astype(np.uint8))
        q = points.copy()
        q[:, :2] = points[:, :2] @ m[:, :2].T + m[:, 2]
        q[:, 2] = points[:, 2] * np.exp(logs)
        moved.append(q)
    return images, np.array(moved)


def frown_curve(n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Random deliberate frowns: rise in 0.3-0.6 s, hold 0.4-2 s, release in 0.3-0.6 s, height
    0.4-1 (1 = the synthetic full frown of :mod:`facefeedback.synthetic.faces`), 1-3 s apart."""
    t = np.arange(n_frames) / fps
    a = np.zeros(n_frames)
    start = rng.uniform(0.8, 2.0)
    while start < t[-1] if n_frames else False:
        rise, hold, fall = rng.uniform(0.3, 0.6), rng.uniform(0.4, 2.0), rng.uniform(0.3, 0.6)
        up = np.clip((t - start) / rise, 0, 1)
        down = np.clip((t - start - rise - hold) / fall, 0, 1)
        a = np.maximum(a, rng.uniform(0.4, 1.0) * np.sin(np.pi / 2 * up) ** 2 * (1 - np.sin(np.pi / 2 * down) ** 2))
        start += rise + hold + fall + rng.uniform(1.0, 3.0)
    return a


def frowned(images, points, curve: np.ndarray) -> list[np.ndarray]:
    """The frames with the synthetic frown of :mod:`facefeedback.synthetic.faces` (brow heads drawn in and
    down, furrows shaded in) at the curve's intensity, placed by each frame's landmarks."""
    out = []
    for img, p, a in zip(images, points, curve):
        if a <= 0 or not np.isfinite(p).all():
            out.append(img)
            continue
        right, left = eye_centres(p)
        iod = float(np.linalg.norm((left - right)[:2]))
        brows = np.array([p[list(BROW_MEDIAL_RIGHT), :2].mean(axis=0), p[list(BROW_MEDIAL_LEFT), :2].mean(axis=0)])
        # The frown moves and shades only near the brow heads: drawn in a box around them.
        h, w = img.shape[:2]
        x0, y0 = np.maximum(np.floor(brows.min(axis=0) - 1.2 * iod).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(brows.max(axis=0) + 1.2 * iod).astype(int), (w, h))
        anchors = FaceAnchors(brows[0] - (x0, y0), brows[1] - (x0, y0), iod)
        img = img.copy()
        img[y0:y1, x0:x1] = frown_face(img[y0:y1, x0:x1], anchors, float(a))
        out.append(img)
    return out
