"""Time the demo's per-frame work (measure, live state, drawing) at a camera's picture size."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import Config
from ..io import Frame, FrameSource
from .app import blas_threads as limit_blas
from .live import LiveSession
from .overlay import Overlay


@dataclass(frozen=True)
class BenchResult:
    """Per-frame times in milliseconds: ``step`` (measure + live state), ``draw``, and ``total``."""

    size: tuple[int, int]
    step_ms: np.ndarray
    draw_ms: np.ndarray

    @property
    def total_ms(self) -> np.ndarray:
        return self.step_ms + self.draw_ms

    @property
    def p95_ms(self) -> float:
        """95th percentile of the total per-frame time."""
        return float(np.percentile(self.total_ms, 95))

    def describe(self) -> str:
        lines = [f"{len(self.step_ms)} frames at {self.size[0]}x{self.size[1]}"]
        for name, ms in (("measure+state", self.step_ms), ("drawing", self.draw_ms), ("total", self.total_ms)):
            lines.append(f"{name:>14}: mean {ms.mean():6.2f} ms   p95 {np.percentile(ms, 95):6.2f} ms   "
                         f"max {ms.max():6.2f} ms")
        return "\n".join(lines)


def fit_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale a picture to fit ``width`` x ``height`` (aspect kept) and pad the rest, as a camera frame."""
    h, w = image.shape[:2]
    f = min(width / w, height / h)
    scaled = cv2.resize(image, (int(round(w * f)), int(round(h * f))), interpolation=cv2.INTER_AREA)
    top = (height - scaled.shape[0]) // 2
    left = (width - scaled.shape[1]) // 2
    return cv2.copyMakeBorder(scaled, top, height - scaled.shape[0] - top, left, width - scaled.shape[1] - left,
                              cv2.BORDER_REPLICATE)


def benchmark(path: str | Path, config: Config | None = None, size: tuple[int, int] = (640, 480),
              passes: int = 2, warmup: int = 5, blas_threads: int | None = 1) -> BenchResult:
    """Run the demo's per-frame work over a clip's frames (decoded beforehand) and time it.

    Decoding is left out (a camera delivers decoded frames); the first ``warmup``
    frames (model start-up) are not counted. ``blas_threads`` limits BLAS as
    :func:`~facefeedback.demo.app.run_demo` does (None: the library's default).
    """
    config = config or Config()
    width, height = size
    with FrameSource(path, prefetch=0) as source:
        pictures = [fit_to(f.image, width, height) for f in source]
    fps = source.info.fps or 30.0
    session = LiveSession(config, calibrate_s=3.0)
    overlay = Overlay(width, height, config, trace_s=session.trace_s, mirror=True)
    with limit_blas(blas_threads):
        step_ms, draw_ms = _time_frames(session, overlay, pictures * passes, fps, warmup)
    return BenchResult(size, step_ms, draw_ms)


def _time_frames(session: LiveSession, overlay: Overlay, pictures: list[np.ndarray], fps: float,
                 warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds of ``session.step`` and of ``overlay.draw`` for each picture after the warm-up."""
    step_ms, draw_ms = [], []
    try:
        for i, image in enumerate(pictures):
            frame = Frame(i, i / fps, image)
            t0 = time.perf_counter()
            live = session.step(frame)
            t1 = time.perf_counter()
            overlay.draw(live, fps=30.0, recording=False, message=session.message)
            t2 = time.perf_counter()
            if i >= warmup:
                step_ms.append(1000 * (t1 - t0))
                draw_ms.append(1000 * (t2 - t1))
    finally:
        session.close()
    return np.array(step_ms), np.array(draw_ms)
