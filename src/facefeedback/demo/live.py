"""The live side of the demo: the batch per-frame path, one frame at a time.

:class:`LiveSession` sends each frame through :class:`~facefeedback.measure.FrameMeasurer`
into a :class:`~facefeedback.measure.MeasurementBuffer` (as ``extract`` does), scores it
against the session's neutral reference (:class:`~facefeedback.calibration.Calibration`),
and keeps the frowning state with :func:`~facefeedback.summary.frowning_state`, the same
event rule the per-frame table uses. At the end, :meth:`LiveSession.table` builds that
table with :func:`~facefeedback.measure.build_frame_table`, so the saved session is
what ``extract`` would have written for the same frames and calibration, with one difference
the live view cannot avoid: each frame's lines are divided by the tone reference of the frames
seen so far (it settles over the first 300 frontal faces), not by the recording's final one
(:meth:`LiveSession.raw_table`).
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import numpy as np

from ..calibration import Calibration, calibrate, population_calibration
from ..components.glabella import PATCH_X, PATCH_Y
from ..components.intensity import combine_terms
from ..config import Config
from ..errors import InputError
from ..io import Frame
from ..measure import FrameMeasurer, MeasurementBuffer, build_frame_table
from ..qc import invalid_reasons, reason_kind, valid_mask
from ..schema import COMPONENTS, QC_FLAGS
from ..summary import detect_events, frowning_state, typical_step

log = logging.getLogger(__name__)

#: What the participant can do about a QC flag, shown instead of the flag's name.
_ADVICE = {"face too small": "come closer: the face is too small in the picture",
           "too blurred": "too blurred: check the focus and hold still",
           "overexposed": "overexposed: the skin between the brows is washed out",
           "occluded": "occluded: something covers the brows or the skin between them"}


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
        self.calibration = calibration or population_calibration(*config.families())
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
        self._cal_failures: list[str] = []  # calibrations that could not be made, for the saved session
        self.message: str | None = None
        if calibrate_s > 0:
            self.start_calibration(calibrate_s)

    def raw_table(self):
        """The raw measurements as the live view scored them: each frame's lines over the tone
        reference so far (``tone_reference``), not the recording's final one."""
        raw = self.buffer.raw_table()
        raw["tone_reference"] = raw["glabella_energy"] / raw["glabella_lines"]
        return raw.drop(columns=["glabella_energy"])

    # -- calibration -----------------------------------------------------------
    def start_calibration(self, duration_s: float) -> None:
        """Take the next ``duration_s`` seconds as the neutral reference."""
        self._cal_start = len(self.buffer)
        self._cal_duration = float(duration_s)
        self._cal_end_s = None
        self.message = None

    def _finish_calibration(self) -> None:
        start, self._cal_start = self._cal_start, None
        raw = self.raw_table().iloc[start:]
        t0, t1 = float(raw["timestamp_s"].iloc[0]), float(self._cal_end_s)
        table = build_frame_table(raw, self.calibration, self.config)
        # The window is [t0, t1): the frame that reached t1 only closes it.
        rule = self.config.calibration.model_copy(update={"segment_start_s": t0, "segment_end_s": t1})
        try:
            cal = calibrate(table, self.config.families(), rule, source=f"live {t0:.2f}-{t1:.2f} s")
        except InputError as exc:
            log.warning("calibration failed: %s", exc)
            self.message = "calibration failed: face not visible or not frontal; press c to retry"
            self._cal_failures.append(f"the calibration at {t0:.1f}-{t1:.1f} s failed ({exc}); the session went on "
                                      f"against the {self.calibration.method} reference it had")
            return
        self.calibration = cal
        log.info("neutral reference from %d frames (%.2f-%.2f s)", cal.n_frames, t0, t1)
        # Rescore the whole session against the new reference, and redo the frowning state.
        cols = self.buffer.columns
        comps = {k: np.asarray(cols[k], np.float64) for k in COMPONENTS}
        yaw, pitch = np.asarray(cols["yaw"], np.float64), np.asarray(cols["pitch"], np.float64)
        self._x = cal.score(comps, yaw, pitch, self.config.frown).tolist()
        self._settled = 0
        problems = self._check_calibration(start, raw, t1)
        self.calibrations.append({"from_s": t1, **cal.to_json(), "window_s": [t0, t1], "problems": problems})
        if problems:
            log.warning("calibration at %.1f-%.1f s may not be neutral: %s", t0, t1, "; ".join(problems))
            # the details go to the log and the saved session; the banner has one short line
            self.message = "calibration not neutral (a frown): press c to redo"

    def _check_calibration(self, start: int, raw, t1: float) -> list[str]:
        """Why the calibration window (frames from ``start``, before ``t1``) may hold a frown
        rather than a neutral face (empty when it looks neutral).

        Two checks, each by the session's own frown-event rule (``events``): the face moved into
        a frown during the window (an event against the window's own reference), or the whole
        window reads as a frown against the population neutral (median at or above
        ``events.on_threshold``): a frown held throughout.
        """
        events = self.config.events
        t = np.asarray(self._t[start:], np.float64)
        inside = t < t1
        x = np.asarray(self._x[start:], np.float64)[inside]
        valid = np.asarray(self._valid[start:], bool)[inside]
        problems = []
        moved = detect_events(t[inside], x, valid, events, typical_step(self._t))
        if moved:
            e = max(moved, key=lambda e: e.peak)
            problems.append(f"the face frowned during it ({e.peak:.2f} FU at {e.peak_s:.1f} s, "
                            f"{e.duration_s:.1f} s long)")
        table = build_frame_table(raw, population_calibration(*self.config.families()), self.config)
        held = table["frown_intensity"].to_numpy(np.float64)[inside & table["valid"].to_numpy(bool)]
        level = float(np.median(held)) if held.size else np.nan
        if level >= events.on_threshold:
            problems.append(f"it reads as a frown against the population neutral ({level:.2f} FU, "
                            f"a frown from {events.on_threshold:g})")
        return problems

    def calibration_warnings(self) -> list[str]:
        """Lines for the saved session's warnings: calibrations that failed or did not finish,
        and the reference in use at the end, if its window did not look neutral."""
        out = list(self._cal_failures)
        if self._cal_start is not None and self._cal_start < len(self._t):  # asked for, not finished
            out.append(f"the calibration of {self._cal_duration:g} s from {self._t[self._cal_start]:.1f} s did not "
                       f"finish (the session ended at {self._t[-1]:.1f} s); the session is measured against the "
                       f"{self.calibration.method} reference")
        last = self.calibrations[-1]
        if last.get("problems"):
            t0, t1 = last["window_s"]
            out.append(f"the calibration at {t0:.1f}-{t1:.1f} s may not be a neutral face: "
                       f"{'; '.join(last['problems'])}; the session is measured against it: redo it (press c) with "
                       "the brows relaxed")
        return out

    # -- every frame -------------------------------------------------------------
    def step(self, frame: Frame) -> LiveFrame:
        """Measure one frame and return what to draw."""
        m = self.measurer.measure(frame)
        self.buffer.append(m)
        comps = {k: m[k] for k in COMPONENTS}
        params = self.config.frown
        terms = {k: float(v) for k, v in self.calibration.terms(comps, m["yaw"], m["pitch"], params).items()}
        x = float(combine_terms(terms, params, m["yaw"]))
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
                x = self._x[-1]  # against the new reference, as its bars
                terms = {k: float(v) for k, v in
                         self.calibration.terms(comps, m["yaw"], m["pitch"], params).items()}
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
        flags equal those :func:`frowning_mask` gives over the whole session, given the same
        typical frame step. The rule is given the typical step of every frame so far; where frames
        were dropped (a gap the rule ends an event at), the session's final one can differ from it
        in the last digits. The rule compares times within ``schema.TIME_TOLERANCE_S`` (1 µs), far
        more than such digits, so live and saved flags differ only for an event whose length falls
        within them of ``min_duration_s`` less that tolerance.
        """
        s = self._settled
        mask, open_from = frowning_state(np.asarray(self._t[s:]), np.asarray(self._x[s:], np.float64),
                                         np.asarray(self._valid[s:], bool), self.config.events,
                                         typical_step(self._t))
        self._frowning[s:] = mask.tolist()
        self._settled = s + open_from

    # -- results -----------------------------------------------------------------
    @property
    def frowning(self) -> np.ndarray:
        """The frowning flag of every frame so far, as the live view shows it."""
        return np.asarray(self._frowning, bool)

    def __len__(self) -> int:
        return len(self.buffer)

    @property
    def last_timestamp_s(self) -> float:
        """The time of the last frame measured (NaN before the first)."""
        return self._t[-1] if self._t else float("nan")

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
    if not valid:  # every other reason the frame is not valid (the QC limits and flags), by name
        said = {"head turned", "head tilted up/down"}
        for reason in invalid_reasons(m, qc)[0]:
            kind = reason_kind(reason)
            if kind not in said:
                out.append(_ADVICE.get(kind, f"not valid: {reason}"))
        if not out:
            out.append("not valid")
    return tuple(out)
