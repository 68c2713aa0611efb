"""Drawing the demo's picture: landmarks, frown meter, component bars, rolling trace, status.

The canvas is the camera picture (top left, image pixels unchanged) with a side panel
on its right (the frown meter and the component bars) and a strip below both (the
rolling trace). Everything that does not change from frame to frame (backgrounds,
labels, scales, threshold marks) is drawn once into a template; each frame copies the
template and draws the few moving parts with OpenCV primitives.

All bars share one full scale, :data:`FULL_SCALE_FU` frown units: 1 FU is a typical
full deliberate frown (see ``frown_intensity`` in the data contract), so the meter has
headroom for a stronger than typical frown and is clipped above that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..config import Config
from ..geometry import BROW_MEDIAL_LEFT, BROW_MEDIAL_RIGHT, INNER_EYE_CORNERS
from .live import LiveFrame

#: Frown units at the top of the meter, the component bars and the trace.
FULL_SCALE_FU = 1.5
PANEL_W = 210
TRACE_H = 120
MIN_PANEL_H = 420

# BGR colours
BACKGROUND = (32, 32, 32)
TRACK = (60, 60, 60)
TEXT = (230, 230, 230)
DIM = (150, 150, 150)
FILL = (0, 170, 255)  # orange: frowning below the event rule
FILL_FROWNING = (40, 40, 255)  # red: inside a frown event
SHADE_FROWNING = (40, 40, 110)
LANDMARK = (80, 255, 80)
MEASURED_POINT = (0, 255, 255)
PATCH = (255, 200, 0)
WARNING = (0, 0, 220)
NOTICE = (0, 150, 190)
WARNING_TEXT = (80, 80, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX

#: The component bars: (term name, label).
COMPONENT_BARS = (
    ("brow_gap", "corrugator (brow gap)"),
    ("brow_lowering", "procerus (brow lowering)"),
    ("glabella_lines", "glabellar lines"),
)


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def x1(self) -> int:
        return self.x + self.w

    @property
    def y1(self) -> int:
        return self.y + self.h


@dataclass(frozen=True)
class Layout:
    """Where everything sits on the canvas, for a picture of ``width`` x ``height`` pixels.

    ``meter`` is the inside of the frown meter: its fill, from the bottom, is
    ``clip(frown_intensity / FULL_SCALE_FU, 0, 1)`` of its height.
    """

    width: int
    height: int
    canvas_w: int
    canvas_h: int
    panel: Rect
    meter: Rect
    bars: tuple[Rect, ...]
    trace: Rect


def layout_for(width: int, height: int) -> Layout:
    """The canvas layout for a picture of the given size."""
    panel_h = max(height, MIN_PANEL_H)
    panel = Rect(width, 0, PANEL_W, panel_h)
    bar_block = 3 * 38 + 10
    meter = Rect(width + 28, 44, 46, panel_h - 44 - 40 - bar_block)
    bars = tuple(Rect(width + 12, meter.y1 + 40 + 38 * i + 16, PANEL_W - 24, 10) for i in range(3))
    canvas_w = width + PANEL_W
    trace = Rect(44, panel_h + 22, canvas_w - 44 - 16, TRACE_H - 22 - 22)
    return Layout(width, height, canvas_w, panel_h + TRACE_H, panel, meter, bars, trace)


@lru_cache(maxsize=1)
def _drawn_edges() -> np.ndarray:
    """Brow and eye outline edges of the Face Mesh topology, as (n, 2) landmark index pairs."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    edges = set()
    for part in (fmc.FACEMESH_LEFT_EYEBROW, fmc.FACEMESH_RIGHT_EYEBROW, fmc.FACEMESH_LEFT_EYE,
                 fmc.FACEMESH_RIGHT_EYE):
        edges |= set(part)
    return np.array(sorted(edges), dtype=np.int64)


#: Landmarks the brow measurements are taken between (medial brow ends, inner eye corners).
MEASURED_POINTS = np.array(BROW_MEDIAL_RIGHT + BROW_MEDIAL_LEFT + INNER_EYE_CORNERS)


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.45, color=TEXT,
          thickness: int = 1) -> None:
    cv2.putText(img, text, org, FONT, scale, color, thickness, cv2.LINE_AA)


def _banner(img: np.ndarray, text: str, y: int, color, width: int) -> None:
    """A filled strip across the picture with one line of text."""
    cv2.rectangle(img, (0, y), (width - 1, y + 22), color, cv2.FILLED)
    _text(img, text, (8, y + 16), 0.5, (255, 255, 255))


def _fraction(value: float) -> float:
    """Share of a bar filled by ``value`` frown units (0 for NaN)."""
    if not np.isfinite(value):
        return 0.0
    return float(np.clip(value / FULL_SCALE_FU, 0.0, 1.0))


class Overlay:
    """Draws :class:`~facefeedback.demo.live.LiveFrame` values onto a canvas.

    Parameters
    ----------
    width, height : int
        Size of the pictures that will be drawn (all frames of a source share it).
    config : Config
        For the event thresholds marked on the meter and the trace.
    trace_s : float
        Seconds shown by the rolling trace.
    mirror : bool
        Show the picture mirrored (a selfie view, for a camera facing the person).
    """

    def __init__(self, width: int, height: int, config: Config, trace_s: float = 10.0,
                 mirror: bool = False) -> None:
        self.layout = layout_for(width, height)
        self.trace_s = float(trace_s)
        self.mirror = mirror
        self.events = config.events
        self.edges = _drawn_edges()
        self.template = self._template()
        self.canvas = self.template.copy()

    # -- the parts that do not move ------------------------------------------
    def _template(self) -> np.ndarray:
        lay = self.layout
        img = np.empty((lay.canvas_h, lay.canvas_w, 3), np.uint8)
        img[:] = BACKGROUND
        m = lay.meter
        _text(img, "frown", (lay.panel.x + 12, 22), 0.6)
        cv2.rectangle(img, (m.x, m.y), (m.x1 - 1, m.y1 - 1), TRACK, cv2.FILLED)
        for fu in np.arange(0.0, FULL_SCALE_FU + 1e-9, 0.5):
            y = self._meter_y(fu)
            cv2.line(img, (m.x1 + 2, y), (m.x1 + 8, y), DIM, 1)
            _text(img, f"{fu:g}", (m.x1 + 12, y + 5), 0.4, DIM)
        _text(img, "FU", (m.x1 + 12, m.y - 8), 0.4, DIM)
        for threshold, label in ((self.events.on_threshold, "on"), (self.events.off_threshold, "off")):
            y = self._meter_y(threshold)
            tri = np.array([[m.x - 3, y], [m.x - 11, y - 5], [m.x - 11, y + 5]], np.int32)
            cv2.fillPoly(img, [tri], DIM)
        for rect, (_, label) in zip(lay.bars, COMPONENT_BARS):
            _text(img, label, (rect.x, rect.y - 5), 0.4)
            cv2.rectangle(img, (rect.x, rect.y), (rect.x1 - 1, rect.y1 - 1), TRACK, cv2.FILLED)
        t = lay.trace
        cv2.rectangle(img, (t.x, t.y), (t.x1 - 1, t.y1 - 1), (24, 24, 24), cv2.FILLED)
        cv2.rectangle(img, (t.x, t.y), (t.x1 - 1, t.y1 - 1), TRACK, 1)
        y_on = self._trace_y(self.events.on_threshold)
        for x in range(t.x, t.x1, 8):
            cv2.line(img, (x, y_on), (min(x + 3, t.x1 - 1), y_on), DIM, 1)
        for s in range(int(self.trace_s) + 1):
            x = self._trace_x(-float(s))
            cv2.line(img, (x, t.y1), (x, t.y1 + 4), DIM, 1)
            if s % 2 == 0:
                _text(img, f"-{s}s" if s else "now", (x - 12, t.y1 + 17), 0.38, DIM)
        _text(img, "frown intensity, last 10 s (shaded: frowning)", (t.x, t.y - 7), 0.42)
        _text(img, f"{FULL_SCALE_FU:g}", (8, t.y + 10), 0.38, DIM)
        _text(img, "0", (8, t.y1), 0.38, DIM)
        return img

    def _meter_y(self, fu: float) -> int:
        m = self.layout.meter
        return int(round(m.y1 - 1 - _fraction(fu) * (m.h - 1)))

    def _trace_x(self, age_s: float | np.ndarray):
        t = self.layout.trace
        return np.rint(t.x1 - 1 + np.asarray(age_s) / self.trace_s * (t.w - 1)).astype(np.int32)

    def _trace_y(self, fu: float | np.ndarray):
        t = self.layout.trace
        frac = np.clip(np.nan_to_num(np.asarray(fu, float), nan=0.0) / FULL_SCALE_FU, 0.0, 1.0)
        return np.rint(t.y1 - 2 - frac * (t.h - 4)).astype(np.int32)

    # -- every frame ---------------------------------------------------------
    def draw(self, live: LiveFrame, fps: float | None = None, recording: bool = False,
             message: str | None = None) -> np.ndarray:
        """The canvas for one frame (a buffer reused by the next call: copy it to keep it)."""
        lay = self.layout
        img = self.canvas
        np.copyto(img, self.template)
        picture = live.image
        if picture.shape[:2] != (lay.height, lay.width):
            raise ValueError(f"picture is {picture.shape[1]}x{picture.shape[0]}, "
                             f"the overlay was laid out for {lay.width}x{lay.height}")
        # numpy's reversed-stride copy is ~30x slower than OpenCV's flip
        img[:lay.height, :lay.width] = cv2.flip(picture, 1) if self.mirror else picture
        if live.points is not None:
            self._landmarks(img, live)
        self._meter(img, live)
        self._trace(img, live)
        self._status(img, live, fps, recording, message)
        return img

    def _xy(self, points: np.ndarray) -> np.ndarray:
        xy = points[..., :2].copy()
        if self.mirror:
            xy[..., 0] = self.layout.width - 1 - xy[..., 0]
        return np.rint(xy).astype(np.int32)

    def _landmarks(self, img: np.ndarray, live: LiveFrame) -> None:
        pts = self._xy(live.points)
        cv2.polylines(img, list(pts[self.edges]), False, LANDMARK, 1, cv2.LINE_AA)
        if live.glabella_quad is not None:
            cv2.polylines(img, [self._xy(live.glabella_quad)], True, PATCH, 1, cv2.LINE_AA)
        for x, y in pts[MEASURED_POINTS]:
            cv2.circle(img, (int(x), int(y)), 3, MEASURED_POINT, cv2.FILLED, cv2.LINE_AA)

    def _meter(self, img: np.ndarray, live: LiveFrame) -> None:
        m = self.layout.meter
        fill = int(round(_fraction(live.intensity) * m.h))
        color = FILL_FROWNING if live.frowning else FILL
        if fill > 0:
            cv2.rectangle(img, (m.x, m.y1 - fill), (m.x1 - 1, m.y1 - 1), color, cv2.FILLED)
        shown = f"{live.intensity:.2f} FU" if np.isfinite(live.intensity) else "no face"
        _text(img, shown, (m.x - 8, m.y1 + 22), 0.55, TEXT if live.valid else DIM)
        if not live.valid and np.isfinite(live.intensity):  # why: the banners over the picture
            _text(img, "not valid", (m.x1 + 6, m.y1 - 4), 0.42, WARNING_TEXT)
        for rect, (name, _) in zip(self.layout.bars, COMPONENT_BARS):
            w = int(round(_fraction(live.terms.get(name, np.nan)) * rect.w))
            if w > 0:
                cv2.rectangle(img, (rect.x, rect.y), (rect.x + w - 1, rect.y1 - 1), FILL, cv2.FILLED)

    def _trace(self, img: np.ndarray, live: LiveFrame) -> None:
        t = self.layout.trace
        if not len(live.history_t):
            return
        xs = self._trace_x(live.history_t - live.timestamp_s)
        on = live.history_frowning.astype(np.int8)
        starts = np.flatnonzero(np.diff(np.concatenate([[0], on])) == 1)
        ends = np.flatnonzero(np.diff(np.concatenate([on, [0]])) == -1)
        for a, b in zip(starts, ends):
            cv2.rectangle(img, (max(int(xs[a]), t.x + 1), t.y + 1), (int(xs[b]), t.y1 - 2), SHADE_FROWNING,
                          cv2.FILLED)
        ys = self._trace_y(live.history_x)
        finite = np.isfinite(live.history_x).astype(np.int8)
        run_starts = np.flatnonzero(np.diff(np.concatenate([[0], finite])) == 1)
        run_ends = np.flatnonzero(np.diff(np.concatenate([finite, [0]])) == -1) + 1
        lines = [np.column_stack([xs[a:b], ys[a:b]]) for a, b in zip(run_starts, run_ends)]
        if lines:
            cv2.polylines(img, lines, False, FILL, 1, cv2.LINE_AA)

    def _status(self, img: np.ndarray, live: LiveFrame, fps: float | None, recording: bool,
                message: str | None) -> None:
        w = self.layout.width
        y = 0
        for warning in live.warnings:
            _banner(img, warning, y, WARNING, w)
            y += 24
        if live.calibrating_left_s is not None:
            _banner(img, f"calibrating: keep a neutral face ({live.calibrating_left_s:.1f} s)", y, NOTICE, w)
            y += 24
        if message:
            _banner(img, message, y, NOTICE, w)
        h = self.layout.height
        cv2.rectangle(img, (0, h - 22), (w - 1, h - 1), (0, 0, 0), cv2.FILLED)
        status = f"{fps:4.1f} fps" if fps else "-- fps"
        status += f"   neutral: {live.calibration_label}"
        _text(img, status, (6, h - 7), 0.42)
        if recording:
            cv2.circle(img, (w - 48, h - 11), 6, (0, 0, 255), cv2.FILLED, cv2.LINE_AA)
            _text(img, "REC", (w - 38, h - 6), 0.42, (0, 0, 255))
