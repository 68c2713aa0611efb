"""Drawing synthetic occluders over a face: skin, layers, capsules and strokes in reference units.

The pieces :mod:`facefeedback.synthetic.occluders` builds its fingers, hands, bars, hair and
glasses frames from. Everything is laid out in reference-face units (inter-ocular distance 1,
origin between the eyes, y down; see :mod:`facefeedback.geometry`) and drawn into the picture
through the face's alignment; :func:`coverage` says how much of the measured regions a drawn
occluder hides.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..components.brows import BROW_PATCH_X, BROW_PATCH_Y
from ..components.glabella import PATCH_X, PATCH_Y, GlabellaFilter
from ..components.patches import resample_patch
from ..geometry import Alignment, reference_face

#: Depth (reference z) of the plane occluders are drawn on: just in front of the brows.
OCCLUDER_Z = -0.45
#: Pixels per IOD of the skin texture kept by :func:`sample_skin`.
TEXTURE_PX_PER_IOD = 64
_SS = 4  # supersampling of drawn strands and rims


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


def luminance(bgr: np.ndarray) -> float:
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

def to_image(alignment: Alignment, xy: np.ndarray) -> np.ndarray:
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


def motion_blur(layer: Layer, iod_px: float, rng) -> Layer:
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


def empty(shape) -> Layer:
    h, w = shape[:2]
    return Layer(np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32), np.ones((h, w), np.float32))


def skin_colour(host: Skin, donor: Skin, rng) -> tuple[np.ndarray, Skin]:
    """A hand's colour: the host's own skin or another person's, at a brightness near the host's."""
    source = host if rng.random() < 0.4 else donor
    colour = source.colour * luminance(host.colour) / max(luminance(source.colour), 1.0)
    colour = colour * rng.uniform(0.8, 1.3) * np.exp(rng.normal(0, 0.03, 3))
    return colour.astype(np.float32), source


def capsules(shape, alignment, segments, radius_iod, rng, colour, skin: Skin, nails: bool,
              shaded: bool) -> Layer:
    """Capsules (fingers, a palm or a bar) with cylindrical shading, skin texture, optional nails and
    a shadow; ``radius_iod`` is one radius for all or one per segment."""
    iod = alignment.iod_px
    ends = [(to_image(alignment, a)[0], to_image(alignment, b)[0]) for a, b in segments]
    radii = np.broadcast_to(np.asarray(radius_iod, np.float64) * iod, (len(ends),))
    box = _box(np.array([p for e in ends for p in e]), float(radii.max()) + 2, shape)
    layer = empty(shape)
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


def strokes(shape, alignment, polylines, thickness_iod, colours, alphas, pad_iod, shadow_rng) -> Layer:
    """Anti-aliased strokes (reference-unit polylines), drawn supersampled, painter's order."""
    iod = alignment.iod_px
    img_lines = [to_image(alignment, p) for p in polylines]
    box = _box(np.concatenate(img_lines), pad_iod * iod + 2, shape)
    layer = empty(shape)
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


def bezier(p0, p1, p2, p3, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3

