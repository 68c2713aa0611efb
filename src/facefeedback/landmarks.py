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

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

log = logging.getLogger(__name__)

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


#: Wire layout of one serialised NormalizedLandmark holding x, y, z only: field tags and lengths.
_LANDMARK_WIRE = {0: 0x0A, 1: 0x0F, 2: 0x0D, 7: 0x15, 12: 0x1D}


def _to_pixels(landmarks, width: int, height: int) -> np.ndarray:
    """Landmarks (a NormalizedLandmarkList or a list of landmarks) as an (n, 3) array in pixels.

    A NormalizedLandmarkList whose entries hold exactly x, y and z serialises to 17 bytes per
    landmark; reading those bytes at once is ten times faster than 1,434 attribute reads.
    Anything else (visibility set, another layout) takes the attribute path.
    """
    scale = np.array([width, height, width], dtype=np.float64)
    if hasattr(landmarks, "SerializeToString") and len(landmarks.landmark):
        raw = np.frombuffer(landmarks.SerializeToString(), dtype=np.uint8)
        n = len(landmarks.landmark)
        if raw.size == 17 * n:
            rows = raw.reshape(n, 17)
            if all((rows[:, col] == tag).all() for col, tag in _LANDMARK_WIRE.items()):
                xyz = np.ascontiguousarray(rows[:, [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]]).view("<f4")
                return xyz.astype(np.float64) * scale
        landmarks = landmarks.landmark
    flat = [c for p in landmarks for c in (p.x, p.y, p.z)]
    return np.array(flat, dtype=np.float64).reshape(-1, 3) * scale


class _Backend:
    """What every backend offers: ``detect(image_bgr, timestamp_s, rgb)`` and ``close()``; usable in ``with``."""

    def close(self) -> None:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _FaceCounter:
    """Faces in view from MediaPipe's short-range face detector, run only when asked.

    Short-range, as Face Mesh's own detector: it counts the faces Face Mesh could follow, as
    the count on every frame did, at a tenth of the full-range model's cost.

    ``boxes(rgb)`` returns the detected faces as pixel boxes ``(x0, y0, x1, y1)``; ``due(t)``
    says whether ``interval_s`` of video time have passed since the last count.
    """

    def __init__(self, interval_s: float, min_detection_confidence: float) -> None:
        from mediapipe.python.solutions import face_detection

        self._detector = face_detection.FaceDetection(model_selection=0,
                                                      min_detection_confidence=min_detection_confidence)
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

    def _new_mesh(self):
        from mediapipe.python.solutions import face_mesh

        return face_mesh.FaceMesh(**self._mesh_options)

    def detect(self, image_bgr: np.ndarray, timestamp_s: float | None = None,
               rgb: np.ndarray | None = None) -> FaceObservation:
        """Landmarks of the followed face in one BGR frame (``rgb``: the same frame in RGB, if at hand)."""
        h, w = image_bgr.shape[:2]
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB) if rgb is None else rgb
        result = self._mesh.process(rgb)
        faces = [_to_pixels(f, w, h) for f in (result.multi_face_landmarks or [])]
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
            result = self._mesh.process(image)
            if result.multi_face_landmarks:
                return _to_pixels(result.multi_face_landmarks[0], w, h)
        return None

    def close(self) -> None:
        self._mesh.close()
        if self._counter is not None:
            self._counter.close()


class DetectThenMeshBackend(_Backend):
    """Still images: MediaPipe's full-range face detector, then Face Mesh on each face's crop.

    Face Mesh's own detector is short-range (faces within about 2 m filling much of the
    picture); group photos and distant faces need the full-range detector. Every
    detected face counts in ``n_faces``; the largest meshed face is followed.
    """

    name = "facemesh"
    CROP_SIDE = 256

    def __init__(self, max_faces: int = 4, min_detection_confidence: float = 0.5, **_: object) -> None:
        from mediapipe.python.solutions import face_detection, face_mesh

        self._detector = face_detection.FaceDetection(model_selection=1,
                                                      min_detection_confidence=min_detection_confidence)
        self._mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
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
            result = self._mesh.process(crop)
            if not result.multi_face_landmarks:
                continue
            pts = _to_pixels(result.multi_face_landmarks[0], crop.shape[1], crop.shape[0]) / f
            pts[:, 0] += max(x0, 0)
            pts[:, 1] += max(y0, 0)
            faces.append(pts)
        if not faces:  # a close-up the full-range detector misses: Face Mesh's own detector
            result = self._mesh.process(rgb)
            faces = [_to_pixels(f, w, h) for f in (result.multi_face_landmarks or [])]
        faces = faces[: self._max_faces]
        return FaceObservation(self._follower.choose(faces), max(len(detections), len(faces)))

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()


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
        from mediapipe.tasks.python import BaseOptions, vision

        path = Path(model_path)
        if not path.is_file():
            raise InputError(f"{path}: no such model file (expected a MediaPipe face_landmarker.task bundle)")
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
