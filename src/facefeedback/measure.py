"""The per-frame path, shared by batch extraction and the live demo.

:class:`FrameMeasurer` turns one frame into raw measurements (landmarks ->
alignment -> components -> image quality) on NumPy values only;
:class:`MeasurementBuffer` keeps them column by column; :func:`build_frame_table`
turns a recording's buffer into the per-frame table once, adding the
calibrated intensity of every family (``frown_intensity``, ``smile_intensity``), ``valid``
and the event flags (``frowning``, ``smiling``).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from .calibration import Calibration
from .components.brows import BrowTracker, landmark_brow_gap
from .components.glabella import STILL_PHASES, TONE_MAX_CLIPPED, GlabellaFilter, noise_level
from .components.registry import FAMILIES, REGISTRY, measure_function
from .components.tone import ToneReference, recording_tone
from .conditions import frame_conditions
from .config import Config
from .geometry import Alignment, align
from .io import Frame
from .landmarks import FaceObservation, make_backend
from .occlusion import OcclusionDetector
from .qc import face_box, image_quality, valid_mask
from .schema import BLENDSHAPE_COLUMN_NAMES, COMPONENTS, FRAME_COLUMN_NAMES, FRAME_COLUMNS, QC_FLAGS
from .summary import frowning_mask

#: Raw per-frame fields, before calibration (in this order in the buffer).
#: ``glabella_lines`` here is the live value (over the tone reference so far); the per-frame table
#: divides ``glabella_energy`` by the recording's reference from its ``tone_sample`` values
#: (``tone_clipped``: the share of a sampled frame's tone region clipped, NaN where not sampled).
RAW_FIELDS = ("frame", "timestamp_s", "face_detected", "n_faces", "yaw", "pitch", "roll",
              *(name for c in REGISTRY.values() for name in (c.name, *c.extra_raw)),
              "iod_px", "sharpness", "brightness", "noise_sd",
              # imaging conditions compared between visits (conditions.py)
              "log_contrast", "focus", "noise",
              # QC flags: frames outside the range in which the measure was validated
              "face_too_small", "too_blurred", "overexposed", "occluded")


@dataclass(frozen=True)
class FrameMeasurement:
    """Raw measurements of one frame; ``alignment``/``observation`` are kept for drawing."""

    values: dict  # every RAW_FIELDS name
    blendshapes: dict[str, float] | None
    observation: FaceObservation
    alignment: Alignment | None

    def __getitem__(self, name: str):
        return self.values[name]


class FrameMeasurer:
    """Measure frames of one source with one landmark backend.

    Parameters
    ----------
    config : Config
    static_image_mode : bool
        True for still images, False for video and cameras (tracking).
    """

    def __init__(self, config: Config, static_image_mode: bool = False) -> None:
        lm = config.landmarks
        self.backend = make_backend(static_image_mode=static_image_mode, max_faces=lm.max_faces,
                                    model_path=lm.model_path,
                                    min_detection_confidence=lm.min_detection_confidence,
                                    min_tracking_confidence=lm.min_tracking_confidence,
                                    count_interval_s=lm.face_count_interval_s)
        # A still's lines are averaged over sub-pixel positions of its face, which a video's frames vary.
        self.glabella = GlabellaFilter(phases=STILL_PHASES if static_image_mode else 1)
        #: The components measured from the aligned landmarks alone, each by its registered function.
        self.landmark_components = tuple((c.name, measure_function(c)) for c in REGISTRY.values()
                                         if c.measured_from == "landmarks")
        self.qc = config.qc
        # brow_gap follows the brow heads' motion within a recording (one measurer per recording);
        # a still has nothing to follow, so there it is the landmark gap.
        self.brows = None if static_image_mode else BrowTracker()
        # The lines' tone reference: a recording's (settled over its first frontal faces), a still's own.
        self.tone = None if static_image_mode else ToneReference()
        # Occlusion is judged against the same face earlier in the recording: a still has none.
        self.occlusion = None if static_image_mode else OcclusionDetector(
            self.qc.max_occlusion_score, self.qc.max_abs_yaw, self.qc.max_abs_pitch)

    def landmarks(self, frame: Frame) -> FaceObservation:
        """The landmark stage alone (MediaPipe; keeps the tracking state, so call it in frame order)."""
        return self.backend.detect(frame.image, frame.timestamp_s, rgb=frame.rgb)

    def landmarks_of(self, frames: Iterable[Frame], in_graph: int = 1) -> Iterator[tuple[Frame, FaceObservation]]:
        """Each frame with its landmark stage, in order: :meth:`landmarks` frame after frame, the
        backend working on up to ``in_graph`` frames at once where it can (its ``stream``)."""
        held: deque[Frame] = deque()

        def inputs() -> Iterator[tuple[np.ndarray, float, np.ndarray]]:
            for frame in frames:
                held.append(frame)
                yield frame.image, frame.timestamp_s, frame.rgb

        for observation in self.backend.stream(inputs(), in_graph):
            yield held.popleft(), observation

    def features(self, frame: Frame, obs: FaceObservation) -> FrameMeasurement:
        """Everything after the landmarks: alignment, components, image quality."""
        if obs.points is None:
            values = dict.fromkeys(RAW_FIELDS, float("nan"))
            values.update(frame=frame.index, timestamp_s=frame.timestamp_s, face_detected=False, n_faces=obs.n_faces,
                          **dict.fromkeys(QC_FLAGS, False))
            return FrameMeasurement(values, None, obs, None)
        x0, y0, x1, y1 = face_box(obs.points, frame.image.shape)
        # Only the face is needed in grey: converting the box, not the frame, saves time on large frames.
        box = frame.image[y0:y1, x0:x1]
        gray = cv2.cvtColor(box, cv2.COLOR_BGR2GRAY)
        al = align(obs.points)
        values = {name: measure(al.aligned) for name, measure in self.landmark_components}
        landmark_gap = landmark_brow_gap(al.aligned)
        gap = landmark_gap if self.brows is None else self.brows(gray, al, landmark_gap, origin=(x0, y0))
        noise = noise_level(gray)
        energy, tone, clipped, reference, overexposed = self._lines(gray, box, al, (x0, y0), noise, frame.image,
                                                                    obs.points)
        lines = energy / reference
        sharpness, brightness = image_quality(gray)
        qc = self.qc
        occluded = False if self.occlusion is None else self.occlusion(
            frame.image, al, frame.timestamp_s, (gap, values["brow_lowering"], lines, landmark_gap,
                                                 self.brows.last_image_gap, self.brows.last_match,
                                                 self.brows.last_residual))[1]
        log_contrast, focus, conditions_noise = frame_conditions(gray, obs.points, (x0, y0), al.iod_px)
        values.update(frame=frame.index, timestamp_s=frame.timestamp_s, face_detected=True, n_faces=obs.n_faces,
                      yaw=al.yaw, pitch=al.pitch, roll=al.roll, brow_gap=gap, glabella_lines=lines,
                      glabella_energy=energy, tone_sample=tone, tone_clipped=clipped, iod_px=al.iod_px,
                      sharpness=sharpness, brightness=brightness, noise_sd=noise, log_contrast=log_contrast,
                      focus=focus, noise=conditions_noise, face_too_small=bool(al.iod_px < qc.min_iod_px),
                      too_blurred=bool(sharpness < qc.min_sharpness), overexposed=overexposed, occluded=occluded)
        return FrameMeasurement(values, obs.blendshapes, obs, al)

    def _lines(self, gray: np.ndarray, bgr: np.ndarray, al: Alignment, origin: tuple[int, int], noise: float,
               image: np.ndarray, points: np.ndarray) -> tuple[float, float, float, float, bool]:
        """The glabella's ridge energy; this frame's tone sample and the share of its region clipped
        (both NaN when it samples none); the tone reference so far (see
        :class:`~facefeedback.components.tone.ToneReference`); and whether the frame is overexposed: more than
        ``qc.max_clipped_fraction`` of the glabella's grey texture lost to clipped channels of ``bgr``
        (see :func:`~facefeedback.components.glabella.clip_map`), or no tone reference because the face around it is
        clipped. A still's lines and tone are read from its whole picture (``image``) at several
        sub-pixel positions of its face (:meth:`~facefeedback.components.glabella.GlabellaFilter.views`)."""
        g = self.glabella
        nan = float("nan")
        # A video's frame: the face's box as it is; a still: the whole picture, cropped per position.
        whole, at, colour, face = (gray, origin, bgr, None) if g.phases == 1 else \
            (cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (0, 0), image, points)
        views = g.views(whole, al, at, face)  # a still's 4 x 4 translations, made once for lines and tone
        energy = g.lines_energy(whole, al, at, noise, face, views)
        if not np.isfinite(energy):  # the patch leaves the picture
            return nan, nan, nan, nan, False
        overexposed = g.clipped(bgr, al, origin) > self.qc.max_clipped_fraction
        wanted = self.tone is None or self.tone.wants(al)
        tone, clipped = g.tone(whole, al, at, colour, face, views) if wanted else (nan, nan)
        reference = tone if self.tone is None else self.tone(tone, clipped, al)
        if not np.isfinite(reference) and clipped > TONE_MAX_CLIPPED:
            overexposed = True
        return energy, tone, clipped, reference, bool(overexposed)

    def measure(self, frame: Frame) -> FrameMeasurement:
        """One frame through the whole per-frame path."""
        return self.features(frame, self.landmarks(frame))

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> FrameMeasurer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MeasurementBuffer:
    """Column-wise store of a recording's raw measurements (no per-frame pandas)."""

    def __init__(self, blendshapes: bool = False) -> None:
        self.columns: dict[str, list] = {name: [] for name in RAW_FIELDS}
        self.blendshapes = {name: [] for name in BLENDSHAPE_COLUMN_NAMES} if blendshapes else None

    def append(self, m: FrameMeasurement) -> None:
        for name in RAW_FIELDS:
            self.columns[name].append(m.values[name])
        if self.blendshapes is not None:
            shapes = m.blendshapes or {}
            for name in BLENDSHAPE_COLUMN_NAMES:
                self.blendshapes[name].append(shapes.get(name, np.nan))

    def __len__(self) -> int:
        return len(self.columns["frame"])

    def raw_table(self) -> pd.DataFrame:
        data = dict(self.columns)
        if self.blendshapes is not None:
            data.update(self.blendshapes)
        return pd.DataFrame(data)


#: The memory that frames waiting for the features thread may hold (their BGR and RGB pictures),
#: and how many may wait at least and at most (see :func:`features_ahead`).
FEATURES_QUEUE_BYTES = 128 * 2**20
FEATURES_AHEAD = (4, 16)


def features_ahead(width: int, height: int) -> int:
    """How many frames of ``width`` x ``height`` may wait for the features thread.

    The two threads' times vary from frame to frame: the landmark stage's rises 2 to 5 ms when
    the faces in view are counted (once a second), and either thread may wait for a core. A
    deeper queue lets the faster one go on through the other's slow stretch instead of
    stopping: 16 frames rather than 4 took ``extract`` about 3 % less time at 640x360 and at
    1080p. The queue holds at most :data:`FEATURES_QUEUE_BYTES` of pictures (10 frames at
    1080p), and never fewer than 4 frames.
    """
    fewest, most = FEATURES_AHEAD
    return int(min(max(FEATURES_QUEUE_BYTES // max(6 * width * height, 1), fewest), most))


#: Frames in Face Mesh's graph at once while a video is measured: the next frame is queued while
#: this one's result is read (see :mod:`facefeedback.landmarks.mesh_graph`). Measured on 2
#: cores, start-up left out, four to six runs each: ``extract`` took 2.33-2.38 s against
#: 2.41-2.44 s for 719 frames at 640x360, 2 % less at 1280x720, and 3.0-3.1 s against 3.1-3.2 s
#: for 359 frames at 1080p. (At 1080p it was 7 % slower while the graph still copied each frame
#: into its packet, which the frame's read-only RGB picture now spares.)
FRAMES_IN_GRAPH = 2


def measure_frames(measurer: FrameMeasurer, frames: Iterable[Frame], buffer: MeasurementBuffer,
                   on_frame: Callable[[], None] | None = None, pipelined: bool = True,
                   features_queue: int = FEATURES_AHEAD[0], in_graph: int = FRAMES_IN_GRAPH) -> None:
    """Measure every frame into ``buffer``, in order.

    With ``pipelined`` the landmark stage runs in the calling thread and everything after it in
    one worker thread, so the features of frame *n* are computed while MediaPipe (which releases
    the GIL) works on frame *n + 1* (with ``in_graph`` 2, frame *n + 2* already queued in its
    graph: :data:`FRAMES_IN_GRAPH`); the order of the buffer is the order of the frames.
    ``features_queue`` frames at most wait between the two (:func:`features_ahead`).
    """
    if not pipelined:
        for frame in frames:
            buffer.append(measurer.measure(frame))
            if on_frame:
                on_frame()
        return
    work: queue.Queue = queue.Queue(maxsize=max(int(features_queue), 1))
    failure: list[BaseException] = []

    def worker() -> None:
        while (item := work.get()) is not None:
            if failure:
                continue  # drain after an error
            try:
                buffer.append(measurer.features(*item))
            except BaseException as exc:  # handed to the caller
                failure.append(exc)

    thread = threading.Thread(target=worker, name="frame-features", daemon=True)
    thread.start()
    try:
        for frame, observation in measurer.landmarks_of(frames, in_graph):
            if failure:
                break
            work.put((frame, observation))
            if on_frame:
                on_frame()
    finally:
        work.put(None)
        thread.join()
    if failure:
        raise failure[0]


def build_frame_table(raw: pd.DataFrame, calibration: Calibration, config: Config) -> pd.DataFrame:
    """The per-frame table (columns of ``schema.FRAME_COLUMNS``) from raw measurements.

    Divides the lines' energy by the recording's tone reference (when ``raw`` holds the raw
    ``glabella_energy`` and ``tone_sample``; see :func:`~facefeedback.components.tone.recording_tone`), and
    adds ``frown_intensity`` against ``calibration`` (its neutral at each frame's head pose),
    ``valid`` from the QC limits and ``frowning`` from the frown events. Missing values stay NaN.
    """
    if "glabella_energy" in raw:
        raw = raw.copy()
        clipped = raw["tone_clipped"].to_numpy(float)
        tone = recording_tone(raw["tone_sample"].to_numpy(float), clipped, raw["yaw"].to_numpy(float),
                              raw["pitch"].to_numpy(float))
        face = raw["face_detected"].to_numpy(bool)
        raw["tone_reference"] = np.where(face, tone, np.nan)
        raw["glabella_lines"] = raw["glabella_energy"] / tone
        if not np.isfinite(tone) and (clipped > TONE_MAX_CLIPPED).any():  # the face too clipped to give one
            raw["overexposed"] = raw["overexposed"].to_numpy(bool) | face
    frown = np.column_stack([raw[k].to_numpy(np.float64) for k in COMPONENTS]) if len(raw) else None
    finite = np.isfinite(frown).all(axis=1) if len(raw) else np.zeros(0, bool)
    table = raw.copy()
    yaw, pitch = raw["yaw"].to_numpy(np.float64), raw["pitch"].to_numpy(np.float64)
    for family, params in zip(FAMILIES, config.families()):
        comps = {k: raw[k].to_numpy(np.float64) for k in family.names}
        table[family.intensity] = calibration.score(comps, yaw, pitch, params)
    table["valid"] = valid_mask(raw["face_detected"].to_numpy(bool), raw["yaw"].to_numpy(float),
                                raw["pitch"].to_numpy(float), raw["sharpness"].to_numpy(float),
                                raw["brightness"].to_numpy(float), finite, config.qc,
                                flagged=raw[list(QC_FLAGS)].to_numpy(bool).any(axis=1))
    for family in FAMILIES:
        table[family.active] = frowning_mask(table["timestamp_s"].to_numpy(float),
                                             table[family.intensity].to_numpy(float),
                                             table["valid"].to_numpy(bool), config.events)
    dtypes = {name: dtype for name, dtype, _, _ in FRAME_COLUMNS}
    order = list(FRAME_COLUMN_NAMES) + [c for c in BLENDSHAPE_COLUMN_NAMES if c in table.columns]
    table = table[order].astype({k: v for k, v in dtypes.items()})
    for c in BLENDSHAPE_COLUMN_NAMES:
        if c in table.columns:
            table[c] = table[c].astype("float64")
    return table.reset_index(drop=True)


__all__ = [
    "RAW_FIELDS",
    "FrameMeasurement",
    "FrameMeasurer",
    "MeasurementBuffer",
    "build_frame_table",
    "features_ahead",
    "measure_frames",
]
