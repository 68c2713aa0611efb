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

Where an occluder covers less than the whole region, :func:`coverage` says how much: the share of
the glabellar patch (weighted by the lines filter's window) and of each brow-head patch hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .components.brows import BROW_PATCH_X, BROW_PATCH_Y
from .components.glabella import PATCH_X, PATCH_Y, GlabellaFilter
from .components.patches import resample_patch
from .geometry import Alignment, reference_face

KINDS = ("finger", "bar", "hair", "glasses")
#: Also drawn for validation: a kind the shipped model was not fitted on.
ALL_KINDS = KINDS + ("hand",)
#: Depth (reference z) of the plane occluders are drawn on: just in front of the brows.
OCCLUDER_Z = -0.45
#: Pixels per IOD of the skin texture kept by :func:`sample_skin`.
TEXTURE_PX_PER_IOD = 64
_SS = 4  # supersampling of drawn strands and rims

#: Hair colours (BGR, under light that gives skin a grey level of about 170).
HAIR_COLOURS = ((22, 22, 26), (28, 38, 52), (45, 65, 95), (40, 60, 120), (85, 115, 150),
                (120, 170, 205), (140, 140, 145))
#: Glasses frame colours (BGR): black, dark brown, tortoiseshell, silver, gold, light plastic.
FRAME_COLOURS = ((20, 20, 22), (25, 35, 55), (45, 75, 115), (165, 165, 170), (60, 140, 185), (170, 180, 190))


@dataclass(frozen=True)
class Skin:
    """A face's skin: mean BGR colour (0-255) and fine texture (log intensity, mean 0)."""

    colour: np.ndarray
    texture: np.ndarray


@dataclass(frozen=True)
class Layer:
    """An occluder drawn over a frame: its colour (BGR float), opacity (0-1) and the factor by
    which its shadow darkens the face (1 = no shadow)."""

    colour: np.ndarray
    alpha: np.ndarray
    shade: np.ndarray

    def over(self, image: np.ndarray) -> np.ndarray:
        """The frame with the occluder pasted on (uint8)."""
        touched = ((self.alpha > 0) | (self.shade < 1)).astype(np.uint8)
        x, y, w, h = cv2.boundingRect(touched)
        out = image.copy()
        if w and h:  # only where the occluder or its shadow falls
            box = np.s_[y:y + h, x:x + w]
            a = self.alpha[box][:, :, None]
            mixed = image[box].astype(np.float32) * self.shade[box][:, :, None] * (1.0 - a) + self.colour[box] * a
            out[box] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        return out


def _plane(x_range, y_range) -> tuple[float, float, float]:
    ref = reference_face()
    inside = ((ref[:, 0] >= x_range[0]) & (ref[:, 0] <= x_range[1])
              & (ref[:, 1] >= y_range[0]) & (ref[:, 1] <= y_range[1]))
    design = np.column_stack([np.ones(inside.sum()), ref[inside, 0], ref[inside, 1]])
    return tuple(np.linalg.lstsq(design, ref[inside, 2], rcond=None)[0])


def sample_skin(image: np.ndarray, alignment: Alignment) -> Skin:
    """The cheek skin of a face (below the participant's left eye, clear of nose and mouth)."""
    x_range, y_range = (0.30, 0.70), (0.30, 0.60)
    patch = resample_patch(image, alignment, x_range, y_range, _plane(x_range, y_range), TEXTURE_PX_PER_IOD)
    colour = patch.reshape(-1, 3).mean(axis=0) * 255.0
    logp = np.log(patch.mean(axis=2) + 0.02)
    texture = logp - cv2.GaussianBlur(logp, (0, 0), 0.08 * TEXTURE_PX_PER_IOD)
    return Skin(colour.astype(np.float32), texture.astype(np.float32))


def _luminance(bgr: np.ndarray) -> float:
    return float(np.mean(bgr))


def coverage(alpha: np.ndarray, alignment: Alignment) -> dict[str, float]:
    """How much of the measured regions an occluder hides (0-1): ``glabella`` (weighted by the
    lines filter's window), ``brow_right`` and ``brow_left`` (the brow-head patches); and ``near``,
    the most opaque it is anywhere within :data:`NEAR_IOD` of them (0 when it stays clear)."""
    filt = _glabella_filter()
    g = resample_patch(alpha, alignment, PATCH_X, PATCH_Y, (filt.z, 0.0, 0.0), 48) * 255.0
    out = {"glabella": float((np.nan_to_num(g) * filt.window).sum())}
    near = float(np.nan_to_num(resample_patch(alpha, alignment, _grow(PATCH_X), _grow(PATCH_Y),
                                              (filt.z, 0.0, 0.0), 24)).max()) * 255.0
    for side, sign in (("brow_right", -1.0), ("brow_left", 1.0)):
        x_range = tuple(sorted(sign * x for x in BROW_PATCH_X))
        plane = _plane(x_range, BROW_PATCH_Y)
        b = resample_patch(alpha, alignment, x_range, BROW_PATCH_Y, plane, 48) * 255.0
        out[side] = float(np.nan_to_num(b).mean())
        grown = resample_patch(alpha, alignment, _grow(x_range), _grow(BROW_PATCH_Y), plane, 24) * 255.0
        near = max(near, float(np.nan_to_num(grown).max()))
    out["near"] = near
    return out


#: How far around the measured regions an occluder counts as near them (IOD).
NEAR_IOD = 0.06


def _grow(r: tuple[float, float]) -> tuple[float, float]:
    return (r[0] - NEAR_IOD, r[1] + NEAR_IOD)


_FILTER: list[GlabellaFilter] = []


def _glabella_filter() -> GlabellaFilter:
    if not _FILTER:
        _FILTER.append(GlabellaFilter())
    return _FILTER[0]


# -- drawing helpers -----------------------------------------------------------------------------

def _to_image(alignment: Alignment, xy: np.ndarray) -> np.ndarray:
    xy = np.atleast_2d(np.asarray(xy, np.float64))
    return alignment.to_image(np.column_stack([xy, np.full(len(xy), OCCLUDER_Z)]))[:, :2]


def _box(points_px: np.ndarray, pad: float, shape) -> tuple[int, int, int, int] | None:
    h, w = shape[:2]
    x0, y0 = np.floor(points_px.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(points_px.max(axis=0) + pad).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return None if x1 - x0 < 2 or y1 - y0 < 2 else (x0, y0, x1, y1)


def _tiled(texture: np.ndarray, scale: float, shape: tuple[int, int], rng) -> np.ndarray:
    """A texture resized by ``scale`` and tiled (mirrored) over ``shape``, randomly shifted."""
    t = cv2.resize(texture, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    t = np.concatenate([t, t[:, ::-1]], axis=1)
    t = np.concatenate([t, t[::-1]], axis=0)
    reps = (shape[0] // t.shape[0] + 2, shape[1] // t.shape[1] + 2)
    big = np.tile(t, reps)
    oy, ox = rng.integers(0, t.shape[0]), rng.integers(0, t.shape[1])
    return big[oy:oy + shape[0], ox:ox + shape[1]]


def _shadow(alpha: np.ndarray, iod_px: float, rng) -> np.ndarray:
    """A soft shadow of an occluder on the face: 1 - strength x (shifted, blurred opacity)."""
    angle = rng.uniform(0, 2 * np.pi)
    dist = rng.uniform(0.02, 0.10) * iod_px
    m = np.float32([[1, 0, dist * np.cos(angle)], [0, 1, dist * np.sin(angle)]])
    shifted = cv2.warpAffine(alpha, m, (alpha.shape[1], alpha.shape[0]))
    blurred = cv2.GaussianBlur(shifted, (0, 0), max(rng.uniform(0.02, 0.08) * iod_px, 0.5))
    return (1.0 - rng.uniform(0.15, 0.5) * blurred).astype(np.float32)


def _motion_blur(layer: Layer, iod_px: float, rng) -> Layer:
    length = max(int(round(rng.uniform(0.03, 0.09) * iod_px)), 2)
    k = np.zeros((2 * length + 1, 2 * length + 1), np.float32)
    a = rng.uniform(0, np.pi)
    c = np.array([length, length])
    d = np.array([np.cos(a), np.sin(a)]) * length
    cv2.line(k, tuple(np.round(c - d).astype(int)), tuple(np.round(c + d).astype(int)), 1.0, 1)
    k /= k.sum()
    premult = cv2.filter2D(layer.colour * layer.alpha[:, :, None], -1, k)
    alpha = cv2.filter2D(layer.alpha, -1, k)
    colour = premult / np.maximum(alpha, 1e-4)[:, :, None]
    return Layer(colour.astype(np.float32), alpha, cv2.filter2D(layer.shade, -1, k))


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


def _empty(shape) -> Layer:
    h, w = shape[:2]
    return Layer(np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32), np.ones((h, w), np.float32))


def _skin_colour(host: Skin, donor: Skin, rng) -> tuple[np.ndarray, Skin]:
    """A hand's colour: the host's own skin or another person's, at a brightness near the host's."""
    source = host if rng.random() < 0.4 else donor
    colour = source.colour * _luminance(host.colour) / max(_luminance(source.colour), 1.0)
    colour = colour * rng.uniform(0.8, 1.3) * np.exp(rng.normal(0, 0.03, 3))
    return colour.astype(np.float32), source


def _capsules(shape, alignment, segments, radius_iod, rng, colour, skin: Skin, nails: bool,
              shaded: bool) -> Layer:
    """Capsules (fingers, a palm or a bar) with cylindrical shading, skin texture, optional nails and
    a shadow; ``radius_iod`` is one radius for all or one per segment."""
    iod = alignment.iod_px
    ends = [(_to_image(alignment, a)[0], _to_image(alignment, b)[0]) for a, b in segments]
    radii = np.broadcast_to(np.asarray(radius_iod, np.float64) * iod, (len(ends),))
    box = _box(np.array([p for e in ends for p in e]), float(radii.max()) + 2, shape)
    layer = _empty(shape)
    if box is None:
        return layer
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    alpha = np.zeros(xx.shape, np.float32)
    light = np.ones(xx.shape, np.float32)
    tilt = rng.uniform(-0.15, 0.15)
    for (base, tip), nail, r in zip(ends, nails, radii):
        axis = tip - base
        length2 = float(axis @ axis)
        t = np.clip(((xx - base[0]) * axis[0] + (yy - base[1]) * axis[1]) / length2, 0, 1)
        dx, dy = xx - (base[0] + t * axis[0]), yy - (base[1] + t * axis[1])
        d = np.sqrt(dx * dx + dy * dy)
        a = np.clip(r - d + 0.5, 0, 1)
        across = (dx * -axis[1] + dy * axis[0]) / np.sqrt(length2) / r
        s = 0.70 + 0.35 * np.sqrt(np.clip(1 - (d / r) ** 2, 0, 1)) + tilt * across if shaded else 1.0 + 0 * d
        if nail:
            u = axis / np.sqrt(length2)
            centre = tip - u * 0.45 * r * 2
            along = (xx - centre[0]) * u[0] + (yy - centre[1]) * u[1]
            side = (xx - centre[0]) * -u[1] + (yy - centre[1]) * u[0]
            nail_mask = np.clip(1.2 - np.sqrt((along / (0.75 * r)) ** 2 + (side / (0.55 * r)) ** 2) * 1.2, 0, 1)
            s = s * (1 + 0.12 * nail_mask)
        top = a >= alpha
        light = np.where(top, s, light)
        alpha = np.maximum(alpha, a)
    tex = _tiled(skin.texture, iod / TEXTURE_PX_PER_IOD, xx.shape, rng) * rng.uniform(0.6, 1.2)
    patch = colour[None, None, :] * (light * np.exp(tex))[:, :, None]
    layer.colour[y0:y1, x0:x1] = patch
    layer.alpha[y0:y1, x0:x1] = cv2.GaussianBlur(alpha, (0, 0), 0.6)
    return Layer(layer.colour, layer.alpha, _shadow(layer.alpha, iod, rng))


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
        colour, skin = _skin_colour(host, donor, rng)
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
            layer = _capsules(shape, alignment, segs, width / 2, r, colour, skin, nails, True)
            return _motion_blur(layer, alignment.iod_px, r) if motion else layer

        return Occluder(kind, draw, seed, -pointing)
    if kind == "hand":
        # A palm with four fingers: a hand laid flat on the forehead or brow, or raised to the eyes.
        tip, pointing = _finger_layout(rng, target)
        width = rng.uniform(0.18, 0.28)
        colour, skin = _skin_colour(host, donor, rng)
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
            return _capsules(shape, alignment, segs, radii, r, colour, skin, [False] * 5, True)

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
        colour, skin = _skin_colour(host, donor, rng)
        shaded = True
        segment = (centre - d * length / 2, centre + d * length / 2)

        def draw(shape, alignment, offset, r):
            seg = (segment[0] + offset, segment[1] + offset)
            return _capsules(shape, alignment, [seg], width / 2, r, colour, skin, [False], shaded)

        return Occluder(kind, draw, seed, np.array([-d[1], d[0]]))
    if kind == "hair":
        return _hair(rng, host, target, seed)
    if kind == "glasses":
        return _glasses(rng, host, target, seed)
    raise ValueError(f"unknown occluder kind {kind!r}; expected one of {', '.join(KINDS)}")


def _strokes(shape, alignment, polylines, thickness_iod, colours, alphas, pad_iod, shadow_rng) -> Layer:
    """Anti-aliased strokes (reference-unit polylines), drawn supersampled, painter's order."""
    iod = alignment.iod_px
    img_lines = [_to_image(alignment, p) for p in polylines]
    box = _box(np.concatenate(img_lines), pad_iod * iod + 2, shape)
    layer = _empty(shape)
    if box is None:
        return layer
    x0, y0, x1, y1 = box
    hs, ws = (y1 - y0) * _SS, (x1 - x0) * _SS
    alpha = np.zeros((hs, ws), np.float32)
    colour = np.zeros((hs, ws, 3), np.float32)
    for line, th, col, al in zip(img_lines, thickness_iod, colours, alphas):
        pts = np.round((line - [x0, y0]) * _SS * 16).astype(np.int32)  # 4 fractional bits
        width = max(int(round(th * iod * _SS)), 1)
        # Only the stroke's own box is touched (drawn there, the raster is the same as in the whole).
        lo = np.maximum(pts.min(axis=0) // 16 - width - 2, 0)
        hi = np.minimum(pts.max(axis=0) // 16 + width + 3, (ws, hs))
        if (hi <= lo).any():
            continue
        mask = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
        cv2.polylines(mask, [pts - lo * 16], False, 255, width, cv2.LINE_AA, shift=4)
        ys, xs = np.nonzero(mask)
        m = mask[ys, xs].astype(np.float32) / 255.0 * al
        ys, xs = ys + lo[1], xs + lo[0]
        colour[ys, xs] += (np.asarray(col, np.float32)[None, :] - colour[ys, xs]) * m[:, None]
        alpha[ys, xs] += m * (1 - alpha[ys, xs])
    size = (x1 - x0, y1 - y0)
    a_small = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    premult = cv2.resize(colour * alpha[:, :, None], size, interpolation=cv2.INTER_AREA)
    layer.alpha[y0:y1, x0:x1] = a_small
    layer.colour[y0:y1, x0:x1] = premult / np.maximum(a_small, 1e-4)[:, :, None]
    return Layer(layer.colour, layer.alpha, _shadow(layer.alpha, iod, shadow_rng))


def _bezier(p0, p1, p2, p3, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


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
    base = np.array(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))], np.float32) * _luminance(host.colour) / 170.0
    lines, thick, colours, alphas = [], [], [], []
    for _ in range(m):
        u = rng.uniform(-0.5, 0.5)
        start = np.array([xc + u * width * 0.6, rng.uniform(-1.4, -1.0)])
        end = np.array([xc + sweep + u * width * rng.uniform(0.7, 1.3), end_y + rng.normal(0, 0.06)])
        bend = rng.normal(0, 0.08, 2)
        p1 = start + (end - start) * 0.33 + bend
        p2 = start + (end - start) * 0.66 + bend * 0.5 + rng.normal(0, 0.03, 2)
        lines.append(_bezier(start, p1, p2, end))
        thick.append(rng.uniform(0.006, 0.02))
        colours.append(np.clip(base * rng.uniform(0.75, 1.25), 0, 255))
        alphas.append(rng.uniform(0.5, 1.0))

    def draw(shape, alignment, offset, r):
        return _strokes(shape, alignment, [p + offset for p in lines], thick, colours, alphas, 0.05, r)

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
    base = np.array(FRAME_COLOURS[k], np.float32) * _luminance(host.colour) / 170.0
    frame_alpha = rng.uniform(0.55, 0.85) if k == len(FRAME_COLOURS) - 1 else 1.0
    theta = np.linspace(0, 2 * np.pi, 64)
    ring = np.column_stack([np.sign(np.cos(theta)) * np.abs(np.cos(theta)) ** (2 / n),
                            np.sign(np.sin(theta)) * np.abs(np.sin(theta)) ** (2 / n)])
    lines = [np.column_stack([sx * c + a * ring[:, 0], yc + b * ring[:, 1]]) for sx in (-1, 1)]
    bridge_y = rng.uniform(top - 0.03, yc - 0.3 * b)
    inner = c - 0.95 * a
    lines.append(_bezier(np.array([-inner, yc - 0.5 * b]), np.array([-inner * 0.4, bridge_y]),
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
        layer = _strokes(shape, alignment, [p + offset for p in lines], thick, colours, alphas, 0.05, r)
        if tint:
            lens = np.zeros(shape[:2], np.float32)
            for sx in (-1, 1):
                poly = _to_image(alignment, np.column_stack([sx * c + a * ring[:, 0], yc + b * ring[:, 1]]) + offset)
                cv2.fillPoly(lens, [np.round(poly * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
            lens *= tint * (1 - layer.alpha)
            alpha = layer.alpha + lens
            colour = (layer.colour * layer.alpha[:, :, None] + 0.15 * base * lens[:, :, None]) / np.maximum(
                alpha, 1e-4)[:, :, None]
            layer = Layer(colour.astype(np.float32), alpha, layer.shade)
        return layer

    return Occluder("glasses", draw, seed, np.array([0.0, 1.0]))


# -- synthetic recordings --------------------------------------------------------------------------

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
    host = sample_skin(images[first], _align(points[first])) if first is not None else donor
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
            al = _align(p)
            layer = occ.draw(img, al, offset)
            cov = coverage(layer.alpha, al)
            truth.update(kind=ep.kind, target=ep.target,
                         coverage=max(cov["glabella"], cov["brow_right"], cov["brow_left"]), **cov)
            img = layer.over(img)
        yield img, truth


def _align(points):
    from .geometry import align

    return align(points)


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
