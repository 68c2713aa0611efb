"""Face landmarks from MediaPipe, and following one participant when several faces are in view.

Two backends give the same :class:`FaceObservation`:

* :class:`FaceMeshBackend` (default): MediaPipe Face Mesh from the ``mediapipe``
  wheel (0.10.21 bundles its models), 478 points with ``refine_landmarks=True``,
  tracking mode for video; for still images (:class:`DetectThenMeshBackend`) the
  full-range face detector finds every face, then Face Mesh measures each one.
  Nothing is downloaded.
* :class:`FaceLandmarkerBackend`: MediaPipe Tasks ``FaceLandmarker`` with a
  user-supplied ``face_landmarker.task`` bundle; it adds three blendshapes
  (``brow_down_left``, ``brow_down_right``, ``brow_inner_up``).

The participant is the largest face when tracking starts, then, frame after frame,
the face whose centre is nearest to the participant's last known centre.

In a video, Face Mesh tracks the participant alone (``max_num_faces=1``: its face
detector runs only when the track is lost), and the faces in view are counted by
MediaPipe's short-range face detector (the one Face Mesh itself uses, for faces within
about 2 m of the camera) once every ``count_interval_s`` seconds of video
and whenever the track is lost or taken up (:class:`_FaceCounter`). ``n_faces`` is that
sample, carried forward between samples, so a face that enters the view is counted
within ``count_interval_s`` (one second by default). With ``count_interval_s=0`` Face
Mesh looks for ``max_faces`` faces in every frame instead (its detector then runs on
every frame while fewer faces are in view).
"""

from __future__ import annotations

import os

from .blendshapes import FaceLandmarkerBackend
from .mesh_graph import FaceMeshGraph, _to_pixels
from .observation import BLENDSHAPES, FaceObservation
from .still import DetectThenMeshBackend
from .video import FaceMeshBackend


def make_backend(*, static_image_mode: bool, max_faces: int, model_path: str | os.PathLike | None = None,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 count_interval_s: float = 1.0):
    """The Face Mesh backend, or the blendshape backend when ``model_path`` names a task bundle.

    ``count_interval_s``: how often the Face Mesh backend counts the faces in a video (see the
    module's docstring); the blendshape backend looks for ``max_faces`` faces in every frame.
    """
    kwargs = dict(static_image_mode=static_image_mode, max_faces=max_faces,
                  min_detection_confidence=min_detection_confidence,
                  min_tracking_confidence=min_tracking_confidence)
    if model_path:
        return FaceLandmarkerBackend(model_path, **kwargs)
    if static_image_mode:
        return DetectThenMeshBackend(**kwargs)
    return FaceMeshBackend(**kwargs, count_interval_s=count_interval_s)


__all__ = [
    "BLENDSHAPES",
    "DetectThenMeshBackend",
    "FaceLandmarkerBackend",
    "FaceMeshBackend",
    "FaceMeshGraph",
    "FaceObservation",
    "_to_pixels",
    "make_backend",
]
