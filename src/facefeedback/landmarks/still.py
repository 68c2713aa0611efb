"""Face landmarks in still images: every face found by the full-range face detector, then meshed."""

from __future__ import annotations

import cv2
import numpy as np

from .mesh_graph import FaceMeshGraph, load_mediapipe, one_thread
from .observation import FaceObservation, _Backend, _Follower


class DetectThenMeshBackend(_Backend):
    """Still images: MediaPipe's full-range face detector, then Face Mesh on each face's crop.

    Face Mesh's own detector is short-range (faces within about 2 m filling much of the
    picture); group photos and distant faces need the full-range detector. Every
    detected face counts in ``n_faces``; the largest meshed face is followed.
    """

    name = "facemesh"
    CROP_SIDE = 256

    def __init__(self, max_faces: int = 4, min_detection_confidence: float = 0.5, **_: object) -> None:
        load_mediapipe()
        from mediapipe.python.solutions import face_detection

        self._detector = one_thread(face_detection.FaceDetection)(
            model_selection=1, min_detection_confidence=min_detection_confidence)
        self._mesh = FaceMeshGraph(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                   min_detection_confidence=min_detection_confidence)
        self._max_faces = max_faces
        self._follower = _Follower()

    def detect(self, image_bgr: np.ndarray, timestamp_s: float | None = None,
               rgb: np.ndarray | None = None) -> FaceObservation:
        h, w = image_bgr.shape[:2]
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB) if rgb is None else rgb
        detections = self._detector.process(rgb).detections or []
        faces = []
        for det in detections:
            box = det.location_data.relative_bounding_box
            cx, cy = (box.xmin + box.width / 2) * w, (box.ymin + box.height / 2) * h
            side = 2.0 * max(box.width * w, box.height * h)
            x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            x1, y1 = x0 + int(round(side)), y0 + int(round(side))
            crop = rgb[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
            if crop.size == 0:
                continue
            f = self.CROP_SIDE / max(crop.shape[:2])
            crop = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
            meshed = self._mesh.faces(crop)
            if not meshed:
                continue
            pts = meshed[0] / f
            pts[:, 0] += max(x0, 0)
            pts[:, 1] += max(y0, 0)
            faces.append(pts)
        if not faces:  # a close-up the full-range detector misses: Face Mesh's own detector
            faces = self._mesh.faces(rgb)
        faces = faces[: self._max_faces]
        return FaceObservation(self._follower.choose(faces), max(len(detections), len(faces)))

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()

