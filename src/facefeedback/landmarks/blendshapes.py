"""Face landmarks and blendshapes from MediaPipe Tasks' FaceLandmarker (a user-supplied bundle)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..files import path_problem
from .mesh_graph import _to_pixels, load_mediapipe
from .observation import BLENDSHAPES, FaceObservation, _Backend, _Follower


class FaceLandmarkerBackend(_Backend):
    """MediaPipe Tasks FaceLandmarker with blendshapes, from a ``face_landmarker.task`` file.

    Parameters
    ----------
    model_path : path
        The user's ``face_landmarker.task`` bundle (read from disk; never downloaded).
    static_image_mode : bool
        IMAGE running mode when True, VIDEO mode (with timestamps) otherwise.
    max_faces : int
        Faces looked for in each frame.
    """

    name = "face_landmarker"

    def __init__(self, model_path: str | os.PathLike, static_image_mode: bool = False, max_faces: int = 4,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5) -> None:
        load_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        path = Path(model_path)
        if problem := path_problem(path, "model file"):
            raise InputError(f"{problem} (expected a MediaPipe face_landmarker.task bundle)")
        self._mode = vision.RunningMode.IMAGE if static_image_mode else vision.RunningMode.VIDEO
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=self._mode,
            num_faces=max_faces,
            min_face_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_face_blendshapes=True,
        )
        try:
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except Exception as exc:  # MediaPipe raises RuntimeError/ValueError with long texts
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path}: not a usable face_landmarker.task bundle ({first})") from None
        self._follower = _Follower()
        self._last_ms = -1

    def detect(self, image_bgr: np.ndarray, timestamp_s: float | None = None,
               rgb: np.ndarray | None = None) -> FaceObservation:
        import mediapipe as mp

        h, w = image_bgr.shape[:2]
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB) if rgb is None else rgb
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self._mode.name == "IMAGE":
            result = self._landmarker.detect(image)
        else:
            ms = int(round((timestamp_s or 0.0) * 1000.0))
            ms = max(ms, self._last_ms + 1)  # VIDEO mode needs strictly increasing timestamps
            self._last_ms = ms
            result = self._landmarker.detect_for_video(image, ms)
        faces = [_to_pixels(f, w, h) for f in result.face_landmarks]
        chosen = self._follower.choose(faces)
        shapes = None
        if chosen is not None:
            k = next(i for i, f in enumerate(faces) if f is chosen)
            scores = {c.category_name: c.score for c in result.face_blendshapes[k]}
            shapes = {col: float(scores.get(cat, np.nan)) for cat, col in BLENDSHAPES.items()}
        return FaceObservation(chosen, len(faces), shapes)

    def close(self) -> None:
        self._landmarker.close()

