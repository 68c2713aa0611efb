"""A recording's tone reference: the face's typical response to the lines' filters.

``glabella_lines`` is the lines' energy (:meth:`~facefeedback.components.glabella.GlabellaFilter.energy`)
over this reference, so a camera's tone curve, which scales both alike, leaves it unchanged.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Alignment
from .patches import ANCHOR_MAX_POSE_DEG

#: A recording's tone reference is the median over its first this many faces within
#: ANCHOR_MAX_POSE_DEG of frontal (a property of the face and the camera, not of the moment),
#: taken on every TONE_EVERY-th of them (100 samples: enough for a median, a third of the cost).
TONE_FRAMES = 300
TONE_EVERY = 3


def tone_median(samples) -> float:
    """The median of a recording's tone samples (NaN: a face sampled whose tone region was too clipped),
    or NaN when more than half of them were too clipped: the faces left would be the darker ones,
    not the recording's typical face (brightened x1.5, one recording kept 2 of 32 samples, and its
    reference rose by 65 %)."""
    samples = np.asarray(samples, np.float64)
    usable = samples[np.isfinite(samples)]
    if usable.size == 0 or 2 * usable.size < samples.size:
        return float("nan")
    return float(np.median(usable))


def recording_tone(tone: np.ndarray, clipped: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> float:
    """A recording's tone reference from its per-frame samples: ``tone`` (NaN where a frame gave
    none) and ``clipped`` (the share of the tone region clipped; NaN where a frame was not sampled).
    The :func:`tone_median` of the samples of faces within :data:`ANCHOR_MAX_POSE_DEG` of frontal,
    or of all the samples when there is no such face. See :class:`ToneReference` for which frames
    are sampled."""
    tone = np.asarray(tone, np.float64)
    with np.errstate(invalid="ignore"):
        frontal = np.maximum(np.abs(yaw), np.abs(pitch)) <= ANCHOR_MAX_POSE_DEG
    sampled = np.isfinite(np.asarray(clipped, np.float64))
    pick = sampled & frontal if (sampled & frontal).any() else sampled
    return tone_median(tone[pick])


class ToneReference:
    """Which frames of a recording sample its tone reference, and the reference so far.

    The tone reference of a recording is the median of :meth:`GlabellaFilter.tone` over every
    :data:`TONE_EVERY`-th of its first :data:`TONE_FRAMES` faces within
    :data:`ANCHOR_MAX_POSE_DEG` of frontal (before the first such face, faces of any pose are
    sampled); ``glabella_lines`` is the lines' energy divided by it. The per-frame table divides
    every frame by the recording's final reference (:func:`recording_tone`); the live view, which
    cannot wait, by the reference so far (:attr:`value`).

    Why a recording's and not each frame's: the reference is a property of the face and the camera
    (it moves with the tone curve, which is the camera's), so the median over many frames keeps a
    frame's expression, pose and noise out of it, and a light that changes within the recording
    does not pass into the lines. Use one per recording, frames in order: ask :meth:`wants`
    whether a frame's tone is needed, then call the reference with it (or NaN, NaN).
    """

    def __init__(self) -> None:
        self.frontal: list[float] = []
        self.other: list[float] = []
        self.faces = 0  # frontal faces seen (faces of any pose before the first frontal one)
        self.value = float("nan")

    @property
    def settled(self) -> bool:
        """True once no later frame is sampled."""
        return self.faces >= TONE_FRAMES and bool(self.frontal)

    def _frontal(self, alignment: Alignment) -> bool:
        return max(abs(alignment.yaw), abs(alignment.pitch)) <= ANCHOR_MAX_POSE_DEG

    def wants(self, alignment: Alignment) -> bool:
        """Whether this frame samples the tone (the frame must then be passed to ``__call__``)."""
        if self.settled or (self.frontal and not self._frontal(alignment)):
            return False
        return self.faces % TONE_EVERY == 0

    def __call__(self, tone: float, clipped: float, alignment: Alignment) -> float:
        """Add one frame's tone sample and return the reference so far. ``clipped`` is NaN when the
        frame was not sampled; ``tone`` NaN with a finite ``clipped``: sampled, but too clipped."""
        if self.settled:
            return self.value
        frontal = self._frontal(alignment)
        if frontal or not self.frontal:
            self.faces += 1
        if np.isfinite(clipped):
            if frontal:
                if not self.frontal:  # the first frontal face: from now on only frontal faces count
                    self.faces = 1
                self.frontal.append(tone)
            elif len(self.other) < TONE_FRAMES:
                self.other.append(tone)
            self.value = tone_median(self.frontal if self.frontal else self.other)
        return self.value
