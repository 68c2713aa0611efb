"""Face landmarks in a video or camera: Face Mesh tracking the participant, the faces in view
counted by the face detector once in a while (see :mod:`facefeedback.landmarks`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from .mesh_graph import FaceMeshGraph, load_mediapipe, one_thread
from .observation import FaceObservation, _Backend, _Follower


class _FaceCounter:
    """Faces in view from MediaPipe's short-range face detector, run only when asked.

    Short-range, as Face Mesh's own detector: it counts the faces Face Mesh could follow, as
    the count on every frame did, at a tenth of the full-range model's cost.

    ``boxes(rgb)`` returns the detected faces as pixel boxes ``(x0, y0, x1, y1)``; ``due(t)``
    says whether ``interval_s`` of video time have passed since the last count.
    """

    def __init__(self, interval_s: float, min_detection_confidence: float) -> None:
        load_mediapipe()
        from mediapipe.python.solutions import face_detection

        self._detector = one_thread(face_detection.FaceDetection)(
            model_selection=0, min_detection_confidence=min_detection_confidence)
        self.interval_s = interval_s
        self.last_t: float | None = None
        self.others = 0  # faces in view besides the participant, at the last count

    def due(self, t: float) -> bool:
        return self.last_t is None or t - self.last_t >= self.interval_s or t < self.last_t

    def boxes(self, rgb: np.ndarray, t: float) -> np.ndarray:
        self.last_t = t
        h, w = rgb.shape[:2]
        found = self._detector.process(rgb).detections or []
        boxes = [(b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h)
                 for b in (d.location_data.relative_bounding_box for d in found)]
        return np.array(boxes, dtype=np.float64).reshape(-1, 4)

    def close(self) -> None:
        self._detector.close()


def _rgb(image_bgr: np.ndarray) -> np.ndarray:
    """A BGR picture in RGB, unwritable: MediaPipe reads it in place (see :meth:`FaceMeshGraph.submit`)."""
    rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
    rgb.flags.writeable = False
    return rgb


def _centre(points: np.ndarray) -> np.ndarray:
    return points[:, :2].mean(axis=0)


def _holds(boxes: np.ndarray, point: np.ndarray, margin: float = 0.25) -> np.ndarray:
    """Which boxes (grown by ``margin`` of their size on every side) hold ``point``."""
    grow = margin * (boxes[:, 2:] - boxes[:, :2])
    lo, hi = boxes[:, :2] - grow, boxes[:, 2:] + grow
    return ((point >= lo) & (point <= hi)).all(axis=1)


class FaceMeshBackend(_Backend):
    """MediaPipe Face Mesh (legacy solution API, models inside the wheel).

    Parameters
    ----------
    static_image_mode : bool
        True for unrelated images (detection on every image), False for video (tracking).
    max_faces : int
        Faces Face Mesh looks for in each frame when ``count_interval_s`` is 0 (``n_faces``
        cannot then exceed it), and in each still image.
    min_detection_confidence, min_tracking_confidence : float
        MediaPipe's thresholds.
    count_interval_s : float
        Video only: Face Mesh tracks one face, and the faces in view are counted by the face
        detector every ``count_interval_s`` seconds and whenever the track is lost or taken
        up. 0: Face Mesh looks for ``max_faces`` faces in every frame instead.
    """

    name = "facemesh"

    def __init__(self, static_image_mode: bool = False, max_faces: int = 4,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 count_interval_s: float = 1.0) -> None:
        sampled = not static_image_mode and count_interval_s > 0
        self._mesh_options = dict(static_image_mode=static_image_mode, max_num_faces=1 if sampled else max_faces,
                                  refine_landmarks=True, min_detection_confidence=min_detection_confidence,
                                  min_tracking_confidence=min_tracking_confidence)
        self._mesh = self._new_mesh()
        self._follower = _Follower()
        self._counter = _FaceCounter(count_interval_s, min_detection_confidence) if sampled else None
        self._tracking = False
        self._calls = 0

    def _new_mesh(self) -> FaceMeshGraph:
        return FaceMeshGraph(**self._mesh_options)

    def detect(self, image_bgr: np.ndarray, timestamp_s: float | None = None,
               rgb: np.ndarray | None = None) -> FaceObservation:
        """Landmarks of the followed face in one BGR frame (``rgb``: the same frame in RGB, if at hand)."""
        rgb = _rgb(image_bgr) if rgb is None else rgb
        self._mesh.submit(rgb)
        return self._observed(rgb, timestamp_s)

    def stream(self, frames: Iterable[tuple[np.ndarray, float | None, np.ndarray | None]],
               in_graph: int = 1) -> Iterator[FaceObservation]:
        """As :meth:`detect` frame after frame, with up to ``in_graph`` frames in Face Mesh's graph
        at once: with 2, the next frame is queued while this one's result is read
        (:meth:`FaceMeshGraph.submit`). The observations are the same."""
        ahead: deque = deque()  # (rgb, timestamp_s) of the frames submitted, results not taken
        for image_bgr, timestamp_s, rgb in frames:
            rgb = _rgb(image_bgr) if rgb is None else rgb
            self._mesh.submit(rgb)
            ahead.append((rgb, timestamp_s))
            if len(ahead) >= in_graph:
                yield self._next(ahead)
        while ahead:
            yield self._next(ahead)

    def _next(self, ahead: deque) -> FaceObservation:
        rgb, timestamp_s = ahead.popleft()
        mesh = self._mesh
        observation = self._observed(rgb, timestamp_s)
        if self._mesh is not mesh:  # Face Mesh started again on this frame: the later ones go to the new graph
            for later, _ in ahead:
                self._mesh.submit(later)
        return observation

    def _observed(self, rgb: np.ndarray, timestamp_s: float | None) -> FaceObservation:
        """The observation of the earliest frame submitted whose result is not taken yet (``rgb``)."""
        faces = self._mesh.result()
        if self._counter is None:
            return FaceObservation(self._follower.choose(faces), len(faces))
        self._calls += 1
        t = float(timestamp_s) if timestamp_s is not None else self._calls / 30.0
        return self._tracked(rgb, faces[0] if faces else None, t)

    def _tracked(self, rgb: np.ndarray, face: np.ndarray | None, t: float) -> FaceObservation:
        """The tracked face, and the faces in view counted when due (see the module's docstring)."""
        counter = self._counter
        taken_up, lost = face is not None and not self._tracking, face is None and self._tracking
        if taken_up or lost or counter.due(t):
            boxes = counter.boxes(rgb, t)
            if taken_up and len(boxes) > 1:
                face = self._participant(rgb, face, boxes)
            counter.others = int(len(boxes) - (_holds(boxes, _centre(face)).any() if face is not None else 0))
        self._tracking = face is not None
        if face is not None:
            self._follower.centre = _centre(face)
        return FaceObservation(face, counter.others + (face is not None))

    def _participant(self, rgb: np.ndarray, face: np.ndarray, boxes: np.ndarray) -> np.ndarray | None:
        """When the track is taken up with several faces in view, make sure it is the participant's.

        The participant's box is the largest at the start, then the one nearest to their last
        centre. If Face Mesh took up another face, it starts again on the frame with the other
        faces greyed out, so that it finds the participant and tracks them from there on.
        """
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        if self._follower.centre is None:
            pick = int(np.argmax(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)))
        else:
            pick = int(np.argmin(((centres - self._follower.centre) ** 2).sum(axis=1)))
        if _holds(boxes[pick:pick + 1], _centre(face))[0]:
            return face
        masked = rgb.copy()
        h, w = rgb.shape[:2]
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            if k != pick:
                gx, gy = 0.2 * (x1 - x0), 0.3 * (y1 - y0)
                masked[max(int(y0 - gy), 0):min(int(y1 + gy), h), max(int(x0 - gx), 0):min(int(x1 + gx), w)] = 128
        for image in (masked, rgb):  # the participant, or (if Face Mesh cannot find them) the face it had
            self._mesh.close()
            self._mesh = self._new_mesh()
            faces = self._mesh.faces(image)
            if faces:
                return faces[0]
        return None

    def close(self) -> None:
        self._mesh.close()
        if self._counter is not None:
            self._counter.close()

