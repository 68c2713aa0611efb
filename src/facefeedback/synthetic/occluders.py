"""Synthetic occluders pasted onto real faces: fingers, hands, skin-coloured bars, hair, glasses frames.

Validation material for the ``occluded`` flag (``scripts/validate_occlusion.py`` and the tests).
Every occluder is laid out in reference-face units (inter-ocular distance 1, origin between the
eyes, y down; see :mod:`facefeedback.geometry`) and drawn into the picture through the face's
alignment, so it has the same size relative to every face and moves with the head.

Kinds
-----
``finger``
    One to four fingers (capsules 0.16-0.30 IOD wide, an adult finger is about 0.27), side by
    side, coming from below, the side or above, with cylindrical shading, nails on some, the skin
    texture of a real face (the host's own or another person's, see :func:`sample_skin`) and a
    soft shadow on the face.
``hand``
    A palm with four fingers (0.18-0.28 IOD wide) laid over the region from below, the side or
    above (validation only: not among the kinds the shipped model was fitted on).
``bar``
    A skin-coloured rounded bar (0.08-0.40 IOD wide) at any angle, shaded or flat, with a shadow.
``hair``
    A lock of 6-60 dark, brown, red, blonde or grey strands falling from above over the brows.
``glasses``
    Frames whose upper rim lies at brow height, with a bridge across the glabella: thin metal
    to thick plastic, black, brown, tortoiseshell, silver or gold, with clear or tinted lenses.

Where an occluder covers less than the whole region, :func:`~facefeedback.synthetic.occluder_layers.coverage` says how much: the share of
the glabellar patch (weighted by the lines filter's window) and of each brow-head patch hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry import Alignment
from .occluder_layers import (
    Layer,
    Skin,
    bezier,
    capsules,
    luminance,
    motion_blur,
    skin_colour,
    strokes,
    to_image,
)

KINDS = ("finger", "bar", "hair", "glasses")
#: Also drawn for validation: a kind the shipped model was not fitted on.
ALL_KINDS = KINDS + ("hand",)

#: Hair colours (BGR, under light that gives skin a grey level of about 170).
HAIR_COLOURS = ((22, 22, 26), (28, 38, 52), (45, 65, 95), (40, 60, 120), (85, 115, 150),
                (120, 170, 205), (140, 140, 145))
#: Glasses frame colours (BGR): black, dark brown, tortoiseshell, silver, gold, light plastic.
FRAME_COLOURS = ((20, 20, 22), (25, 35, 55), (45, 75, 115), (165, 165, 170), (60, 140, 185), (170, 180, 190))



# -- the occluders -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Occluder:
    """One occluder, laid out once; :meth:`draw` renders it over any frame of the face.

    ``offset`` (reference units) moves it, for entering, leaving and jitter.
    """

    kind: str
    draw_fn: Callable
    seed: int
    direction: np.ndarray  # unit vector (reference units) along which it enters and leaves

    def draw(self, image: np.ndarray, alignment: Alignment, offset=(0.0, 0.0)) -> Layer:
        rng = np.random.default_rng(self.seed)  # the same texture and shadow in every frame
        layer = self.draw_fn(image.shape, alignment, np.asarray(offset, np.float64), rng)
        return layer



def _finger_layout(rng, target: str):
    """Tip, pointing direction, width and count of a hand's fingers (reference units)."""
    if target == "region":
        tip = np.array([rng.uniform(-0.45, 0.45), rng.uniform(-0.62, -0.12)])
        up = rng.random() < 0.8  # from below (a hand raised to the face) or from above (on the forehead)
        phi = np.radians(rng.uniform(-65, 65) + (0 if up else 180))
    else:  # on the cheek, the nose tip, the mouth or the chin
        tip = np.array([rng.uniform(-0.7, 0.7), rng.uniform(0.3, 1.4)])
        phi = np.radians(rng.uniform(-60, 60))
    pointing = np.array([np.sin(phi), -np.cos(phi)])
    return tip, pointing


def make_occluder(kind: str, rng: np.random.Generator, host: Skin, donor: Skin, target: str = "region"
                  ) -> Occluder:
    """A random occluder of ``kind`` (see :data:`KINDS`), over the brows and glabella
    (``target="region"``) or elsewhere on the face (``"elsewhere"``: cheek, mouth, chin, temple)."""
    seed = int(rng.integers(2**31))
    if kind == "finger":
        tip, pointing = _finger_layout(rng, target)
        n = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.3, 0.2, 0.2]))
        width = rng.uniform(0.16, 0.30)
        colour, skin = skin_colour(host, donor, rng)
        normal = np.array([-pointing[1], pointing[0]])
        first = int(rng.integers(0, n))  # which finger reaches furthest
        segments, nails = [], []
        spread = rng.uniform(-0.12, 0.12)
        for k in range(n):
            c = tip + normal * (k - first) * width * rng.uniform(0.95, 1.05) - pointing * abs(k - first) * rng.uniform(0.0, 0.2)
            ang = spread * (k - first)
            d = np.array([pointing[0] * np.cos(ang) - pointing[1] * np.sin(ang),
                          pointing[0] * np.sin(ang) + pointing[1] * np.cos(ang)])
            segments.append((c - d * rng.uniform(1.6, 2.4), c - d * width / 2))
            nails.append(rng.random() < 0.6)
        motion = rng.random() < 0.15

        def draw(shape, alignment, offset, r):
            segs = [(a + offset, b + offset) for a, b in segments]
            layer = capsules(shape, alignment, segs, width / 2, r, colour, skin, nails, True)
            return motion_blur(layer, alignment.iod_px, r) if motion else layer

        return Occluder(kind, draw, seed, -pointing)
    if kind == "hand":
        # A palm with four fingers: a hand laid flat on the forehead or brow, or raised to the eyes.
        tip, pointing = _finger_layout(rng, target)
        width = rng.uniform(0.18, 0.28)
        colour, skin = skin_colour(host, donor, rng)
        normal = np.array([-pointing[1], pointing[0]])
        finger_length = rng.uniform(0.55, 0.8)
        palm_r = 2.2 * width / 2
        segments, radii = [], []
        for k in range(4):
            c = tip + normal * (k - 1.5) * width - pointing * abs(k - 1.2) * 0.12
            segments.append((c - pointing * finger_length, c - pointing * width / 2))
            radii.append(width / 2)
        palm_top = tip - pointing * (finger_length + palm_r * 0.6)
        segments.append((palm_top - pointing * rng.uniform(0.6, 1.2), palm_top))
        radii.append(palm_r)

        def draw(shape, alignment, offset, r):
            segs = [(a + offset, b + offset) for a, b in segments]
            return capsules(shape, alignment, segs, radii, r, colour, skin, [False] * 5, True)

        return Occluder(kind, draw, seed, -pointing)
    if kind == "bar":
        width = rng.uniform(0.08, 0.40)
        length = rng.uniform(0.8, 2.5)
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)])
        centre = (np.array([rng.uniform(-0.45, 0.45), rng.uniform(-0.62, -0.12)]) if target == "region"
                  else np.array([rng.choice([-1, 1]) * rng.uniform(0.5, 0.9), rng.uniform(0.6, 1.4)]))
        if target != "region":
            d = np.array([0.0, 1.0]) if rng.random() < 0.5 else np.array([np.cos(0.3), np.sin(0.3)])
        colour, skin = skin_colour(host, donor, rng)
        shaded = True
        segment = (centre - d * length / 2, centre + d * length / 2)

        def draw(shape, alignment, offset, r):
            seg = (segment[0] + offset, segment[1] + offset)
            return capsules(shape, alignment, [seg], width / 2, r, colour, skin, [False], shaded)

        return Occluder(kind, draw, seed, np.array([-d[1], d[0]]))
    if kind == "hair":
        return _hair(rng, host, target, seed)
    if kind == "glasses":
        return _glasses(rng, host, target, seed)
    raise ValueError(f"unknown occluder kind {kind!r}; expected one of {', '.join(KINDS)}")



def _hair(rng, host: Skin, target: str, seed: int) -> Occluder:
    m = int(rng.integers(6, 61))
    width = rng.uniform(0.04, 0.35)
    if target == "region":
        xc = rng.uniform(-0.45, 0.45)
        end_y = rng.uniform(-0.35, 0.10)
    else:  # over the temple, beside the measured region, or only the top of the forehead
        xc = rng.choice([-1, 1]) * rng.uniform(0.85, 1.1)
        end_y = rng.uniform(-0.3, 0.5) if abs(xc) > 0 and rng.random() < 0.5 else rng.uniform(-1.0, -0.85)
    sweep = rng.uniform(-0.4, 0.4)
    base = np.array(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], np.float32) * luminance(host.colour) / 170.0
    lines, thick, colours, alphas = [], [], [], []
    for _ in range(m):
        u = rng.uniform(-0.5, 0.5)
        start = np.array([xc + u * width * 0.6, rng.uniform(-1.4, -1.0)])
        end = np.array([xc + sweep + u * width * rng.uniform(0.7, 1.3), end_y + rng.normal(0, 0.06)])
        bend = rng.normal(0, 0.08, 2)
        p1 = start + (end - start) * 0.33 + bend
        p2 = start + (end - start) * 0.66 + bend * 0.5 + rng.normal(0, 0.03, 2)
        lines.append(bezier(start, p1, p2, end))
        thick.append(rng.uniform(0.006, 0.02))
        colours.append(np.clip(base * rng.uniform(0.75, 1.25), 0, 255))
        alphas.append(rng.uniform(0.5, 1.0))

    def draw(shape, alignment, offset, r):
        return strokes(shape, alignment, [p + offset for p in lines], thick, colours, alphas, 0.05, r)

    return Occluder("hair", draw, seed, np.array([0.0, -1.0]))


def _glasses(rng, host: Skin, target: str, seed: int) -> Occluder:
    c = rng.uniform(0.46, 0.54)
    a = rng.uniform(0.22, 0.32)
    b = rng.uniform(0.14, 0.24)
    top = rng.uniform(-0.42, -0.20) if target == "region" else rng.uniform(-0.08, 0.02)
    yc = top + b
    n = rng.uniform(2.0, 4.0)  # superellipse: round to rectangular rims
    t = rng.uniform(0.012, 0.07)
    k = int(rng.integers(len(FRAME_COLOURS)))
    base = np.array(FRAME_COLOURS[k], np.float32) * luminance(host.colour) / 170.0
    frame_alpha = rng.uniform(0.55, 0.85) if k == len(FRAME_COLOURS) - 1 else 1.0
    theta = np.linspace(0, 2 * np.pi, 64)
    ring = np.column_stack([np.sign(np.cos(theta)) * np.abs(np.cos(theta)) ** (2 / n),
                            np.sign(np.sin(theta)) * np.abs(np.sin(theta)) ** (2 / n)])
    lines = [np.column_stack([sx * c + a * ring[:, 0], yc + b * ring[:, 1]]) for sx in (-1, 1)]
    bridge_y = rng.uniform(top - 0.03, yc - 0.3 * b)
    inner = c - 0.95 * a
    lines.append(bezier(np.array([-inner, yc - 0.5 * b]), np.array([-inner * 0.4, bridge_y]),
                         np.array([inner * 0.4, bridge_y]), np.array([inner, yc - 0.5 * b])))
    if rng.random() < 0.2:  # a double bridge (aviator)
        lines.append(np.array([[-inner, top + 0.01], [inner, top + 0.01]]))
    for sx in (-1, 1):  # the temples, towards the ears
        lines.append(np.array([[sx * (c + a), yc - 0.5 * b], [sx * 1.1, yc - 0.6 * b]]))
    thick = [t] * len(lines)
    colours = [np.clip(base * rng.uniform(0.85, 1.15), 0, 255) for _ in lines]
    alphas = [frame_alpha] * len(lines)
    tint = rng.uniform(0.3, 0.85) if rng.random() < 0.25 else 0.0

    def draw(shape, alignment, offset, r):
        layer = strokes(shape, alignment, [p + offset for p in lines], thick, colours, alphas, 0.05, r)
        if tint:
            lens = np.zeros(shape[:2], np.float32)
            for sx in (-1, 1):
                poly = to_image(alignment, np.column_stack([sx * c + a * ring[:, 0], yc + b * ring[:, 1]]) + offset)
                cv2.fillPoly(lens, [np.round(poly * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
            lens *= tint * (1 - layer.alpha)
            alpha = layer.alpha + lens
            colour = (layer.colour * layer.alpha[:, :, None] + 0.15 * base * lens[:, :, None]) / np.maximum(
                alpha, 1e-4)[:, :, None]
            layer = Layer(colour.astype(np.float32), alpha, layer.shade)
        return layer

    return Occluder("glasses", draw, seed, np.array([0.0, 1.0]))

