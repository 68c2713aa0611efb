"""What the landmark stage gives (:class:`FaceObservation`), how the participant is picked among
several faces (:class:`_Follower`), and what every backend offers (:class:`_Backend`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .mesh_graph import _Closable

#: MediaPipe blendshape category -> our column name.
BLENDSHAPES = {"browDownLeft": "brow_down_left", "browDownRight": "brow_down_right",
               "browInnerUp": "brow_inner_up"}


@dataclass(frozen=True)
class FaceObservation:
    """What the landmark stage saw in one frame.

    ``points`` are the followed face's 478 landmarks in image pixels (z in the units
    of x), or None when no face is in view; ``n_faces`` counts every face found;
    ``blendshapes`` maps our blendshape column names to scores (blendshape backend only).
    """

    points: np.ndarray | None
    n_faces: int
    blendshapes: dict[str, float] | None = None

    @property
    def face_detected(self) -> bool:
        return self.points is not None


class _Follower:
    """Pick the participant among several faces: largest first, then nearest to the last centre."""

    def __init__(self) -> None:
        self.centre: np.ndarray | None = None

    def choose(self, faces: list[np.ndarray]) -> np.ndarray | None:
        if not faces:
            return None
        centres = np.array([f[:, :2].mean(axis=0) for f in faces])
        if self.centre is None:
            sizes = [np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces]
            pick = int(np.argmax(sizes))
        else:
            pick = int(np.argmin(((centres - self.centre) ** 2).sum(axis=1)))
        self.centre = centres[pick]
        return faces[pick]



class _Backend(_Closable):
    """What every backend offers: ``detect(image_bgr, timestamp_s, rgb)``, ``stream(frames)`` and
    ``close()``; usable in ``with``."""

    def detect(self, image_bgr: np.ndarray, timestamp_s: float | None = None,
               rgb: np.ndarray | None = None) -> FaceObservation:  # pragma: no cover - every backend has its own
        raise NotImplementedError

    def stream(self, frames: Iterable[tuple[np.ndarray, float | None, np.ndarray | None]],
               in_graph: int = 1) -> Iterator[FaceObservation]:
        """The observation of each ``(image_bgr, timestamp_s, rgb)`` of a video, in order: what
        :meth:`detect` gives frame after frame (a backend may work on up to ``in_graph`` frames at once)."""
        for image, timestamp_s, rgb in frames:
            yield self.detect(image, timestamp_s, rgb=rgb)
