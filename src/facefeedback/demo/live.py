"""The live side of the demo: the batch per-frame path, one frame at a time.

:class:`LiveSession` sends each frame through :class:`~facefeedback.measure.FrameMeasurer`
into a :class:`~facefeedback.measure.MeasurementBuffer` (as ``extract`` does), scores it
with :func:`~facefeedback.frown.frown_intensity` against the session's neutral reference,
and keeps the frowning state with :func:`~facefeedback.summary.frowning_state`, the same
event rule the per-frame table uses. At the end, :meth:`LiveSession.table` builds that
table with :func:`~facefeedback.measure.build_frame_table`, so the saved session is
exactly what ``extract`` would have written for the same frames and calibration.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..errors import InputError
from ..frown import (
    PATCH_X,
    PATCH_Y,
    Calibration,
    calibrate,
    combine_terms,
    frown_intensity,
    frown_terms,
    population_calibration,
)
from ..io import Frame
from ..measure import FrameMeasurer, MeasurementBuffer, build_frame_table
from ..qc import valid_mask
from ..schema import COMPONENTS, QC_FLAGS
from ..summary import frowning_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveFrame:
    """Everything the overlay draws for one frame.

    ``points`` are the face's landmarks in image pixels (None without a face);
    ``glabella_quad`` the corners of the skin patch scored for lines; ``terms`` each
    component's contribution in frown units; ``history_*`` the last ``trace_s`` seconds
    (timestamps, frown_intensity, frowning flag), oldest first.
    """

    image: np.ndarray
    timestamp_s: float
    points: np.ndarray | None
    glabella_quad: np.ndarray | None
    intensity: float
    terms: dict[str, float]
    valid: bool
    frowning: bool
    warnings: tuple[str, ...]
    calibrating_left_s: float | None
    calibration_label: str
    history_t: np.ndarray
    history_x: np.ndarray
    history_frowning: np.ndarray


def calibration_label(calibration: Calibration) -> str:
    """How the overlay names the neutral reference in use."""
    if calibration.method == "population":
        return "population default"
    if calibration.method == "segment" and calibration.source.startswith("live"):
        return f"this session ({calibration.n_frames} frames)"
    return f"{calibration.method} ({calibration.n_frames} frames)"


class LiveSession:
    """One demo session: measure frames as they come, calibrate, keep the frowning state.

    Parameters
    ----------
    config : Config
    calibration : Calibration, optional
        Neutral reference to start with (the population default when None).
    calibrate_s : float
        Take the first ``calibrate_s`` seconds as the neutral reference; 0 keeps
        ``calibration`` until :meth:`start_calibration` is called.
    trace_s : float
        Seconds kept for the rolling trace.
    """

    def __init__(self, config: Config, calibration: Calibration | None = None, calibrate_s: float = 3.0,
                 trace_s: float = 10.0) -> None:
        self.config = config
        self.trace_s = float(trace_s)
        self.calibration = calibration or population_calibration(config.frown)
        #: Every neutral reference the session used, with the session time it took effect.
        self.calibrations: list[dict] = [{"from_s": 0.0, **self.calibration.to_json()}]
        self.measurer = FrameMeasurer(config, static_image_mode=False)
        self.buffer = MeasurementBuffer(blendshapes=config.landmarks.model_path is not None)
        self._t: list[float] = []
        self._x: list[float] = []
        self._valid: list[bool] = []
        self._frowning: list[bool] = []
        self._settled = 0  # frames before this index have their final frowning flag
        self._cal_start: int | None = None
        self._cal_duration = 0.0
        self._cal_end_s: float | None = None
        self.message: str | None = None
        if calibrate_s > 0:
            self.start_calibration(calibrate_s)

    # -- calibration -----------------------------------------------------------
    def start_calibration(self, duration_s: float) -> None:
        """Take the next ``duration_s`` seconds as the neutral reference."""
        self._cal_start = len(self.buffer)
        self._cal_duration = float(duration_s)
        self._cal_end_s = None
        self.message = None

    def _finish_calibration(self) -> None:
        start, self._cal_start = self._cal_start, None
        raw = self.buffer.raw_table().iloc[start:]
        t0, t1 = float(raw["timestamp_s"].iloc[0]), float(self._cal_end_s)
        table = build_frame_table(raw, self.calibration, self.config)
        # The window is [t0, t1): the frame that reached t1 only closes it.
        rule = self.config.calibration.model_copy(update={"segment_start_s": t0, "segment_end_s": t1})
        try:
            cal = calibrate(table, self.config.frown, rule, source=f"live {t0:.2f}-{t1:.2f} s")
        except InputError as exc:
            log.warning("calibration failed: %s", exc)
            self.message = "calibration failed: face not visible or not frontal; press c to retry"
            return
        self.calibration = cal
        self.calibrations.append({"from_s": t1, **cal.to_json()})
        log.info("neutral reference from %d frames (%.2f-%.2f s)", cal.n_frames, t0, t1)
        # Rescore the whole session against the new reference, and redo the frowning state.
        cols = self.buffer.columns
        comps = {k: np.asarray(cols[k], np.float64) for k in COMPONENTS}
        self._x = frown_intensity(comps, cal.neutral, self.config.frown).tolist()
        self._settled = 0

    # -- every frame -------------------------------------------------------------
    def step(self, frame: Frame) -> LiveFrame:
        """Measure one frame and return what to draw."""
        m = self.measurer.measure(frame)
        self.buffer.append(m)
        comps = {k: m[k] for k in COMPONENTS}
        neutral, params = self.calibration.neutral, self.config.frown
        terms = {k: float(v) for k, v in frown_terms(comps, neutral, params).items()}
        x = float(combine_terms(terms, params))
        qc = self.config.qc
        finite = bool(np.isfinite(list(comps.values())).all())
        valid = bool(valid_mask(m["face_detected"], m["yaw"], m["pitch"], m["sharpness"], m["brightness"],
                                finite, qc, flagged=any(m[f] for f in QC_FLAGS)))
        self._t.append(frame.timestamp_s)
        self._x.append(x)
        self._valid.append(valid)
        self._frowning.append(False)

        calibrating_left = None
        if self._cal_start is not None:
            if self._cal_end_s is None:
                self._cal_end_s = frame.timestamp_s + self._cal_duration
            calibrating_left = max(self._cal_end_s - frame.timestamp_s, 0.0)
            if frame.timestamp_s >= self._cal_end_s - 1e-9:
                self._finish_calibration()
                calibrating_left = None
                x = self._x[-1]
        self._update_frowning()

        lo = bisect.bisect_left(self._t, frame.timestamp_s - self.trace_s)
        quad = None
        if m.alignment is not None:
            quad = glabella_corners(self.measurer, m.alignment)
        return LiveFrame(
            image=frame.image, timestamp_s=frame.timestamp_s, points=m.observation.points, glabella_quad=quad,
            intensity=x, terms=terms, valid=valid, frowning=self._frowning[-1],
            warnings=frame_warnings(m, valid, self.config), calibrating_left_s=calibrating_left,
            calibration_label=calibration_label(self.calibration),
            history_t=np.asarray(self._t[lo:]), history_x=np.asarray(self._x[lo:]),
            history_frowning=np.asarray(self._frowning[lo:], bool))

    def _update_frowning(self) -> None:
        """Apply the event rule to the frames whose flag can still change.

        Outside an open episode the hysteresis is idle whatever came before, so only the
        frames from the start of the episode still open (if any) need the rule again: the
        flags equal those :func:`frowning_mask` gives over the whole session.
        """
        s = self._settled
        mask, open_from = frowning_state(np.asarray(self._t[s:]), np.asarray(self._x[s:], np.float64),
                                         np.asarray(self._valid[s:], bool), self.config.events)
        self._frowning[s:] = mask.tolist()
        self._settled = s + open_from

    # -- results -----------------------------------------------------------------
    @property
    def frowning(self) -> np.ndarray:
        """The frowning flag of every frame so far, as the live view shows it."""
        return np.asarray(self._frowning, bool)

    def __len__(self) -> int:
        return len(self.buffer)

    def close(self) -> None:
        self.measurer.close()


def glabella_corners(measurer: FrameMeasurer, alignment) -> np.ndarray:
    """Image corners (4 x 2) of the glabellar patch that the lines score is taken from."""
    (x0, x1), (y0, y1), z = PATCH_X, PATCH_Y, measurer.glabella.z
    ref = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])
    return alignment.to_image(ref)[:, :2]


def frame_warnings(m, valid: bool, config: Config) -> tuple[str, ...]:
    """What to tell the person in front of the camera about this frame (empty when it is usable)."""
    if not m["face_detected"]:
        return ("no face in view",)
    qc = config.qc
    out = []
    if abs(m["yaw"]) > qc.max_abs_yaw:
        out.append(f"face the camera: head turned {m['yaw']:+.0f} deg (limit {qc.max_abs_yaw:g})")
    if abs(m["pitch"]) > qc.max_abs_pitch:
        out.append(f"face the camera: head tilted {m['pitch']:+.0f} deg up/down (limit {qc.max_abs_pitch:g})")
    if m["face_too_small"]:
        out.append("come closer: the face is too small in the picture")
    if m["too_blurred"]:
        out.append("too blurred: check the focus and hold still")
    if m["overexposed"]:
        out.append("overexposed: the skin between the brows is washed out")
    if m["occluded"]:
        out.append("occluded: something covers the brows or the skin between them")
    if not valid and not out:
        out.append("not measurable: check the light and focus")
    return tuple(out)
