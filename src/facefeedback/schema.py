"""Column names and summary keys: the one place the data contract lives.

Every stage reads its column names from here, and ``tests/test_schema.py``
fails when this module drifts from the contract in the design document.
"""

from __future__ import annotations

import re

# -- per-frame table (frames.parquet) ---------------------------------------

#: (name, pandas dtype, unit, meaning) for every per-frame column, in order.
FRAME_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("frame", "int64", "index", "index of the frame in the source (0-based)"),
    ("timestamp_s", "float64", "s", "time from the start of the source, from the container"),
    ("face_detected", "bool", "flag", "a face was found"),
    ("n_faces", "int64", "count",
     "faces in view; in a video sampled by the face detector once a second of video and whenever the "
     "participant's track is lost or taken up, carried forward in between (landmarks.face_count_interval_s)"),
    ("yaw", "float64", "deg", "head yaw (positive: face turned to the image left)"),
    ("pitch", "float64", "deg", "head pitch (positive: chin up)"),
    ("roll", "float64", "deg", "head roll (positive: face tilted clockwise in the image)"),
    ("brow_gap", "float64", "IOD",
     "distance between the medial brow ends / inter-ocular distance (corrugator; smaller = drawn together)"),
    ("brow_lowering", "float64", "IOD",
     "height of the medial brows above the inner eye corners / inter-ocular distance "
     "(procerus, depressor supercilii; smaller = lowered)"),
    ("glabella_lines", "float64", "ratio",
     "oriented ridge energy of vertical/oblique lines between the brows, on log intensity, over the recording's "
     "tone_reference (higher = more lines)"),
    ("frown_intensity", "float64", "FU",
     "frown units: 0 at the neutral reference, 1 = a typical full deliberate frown"),
    ("frowning", "bool", "flag", "inside a frown event (hysteresis, minimum duration)"),
    ("tone_reference", "float64", "a.u.",
     "the recording's tone reference: the face's median response to the lines' filters (median over its first "
     "frontal faces; moves with the camera's tone curve)"),
    ("iod_px", "float64", "px", "inter-ocular distance in the picture: the face's size"),
    ("sharpness", "float64", "ratio",
     "fine structure left in the face: Laplacian energy of log intensity in the face box at 64 px wide "
     "over the same one octave coarser (lower = more blurred or fewer pixels)"),
    ("brightness", "float64", "0-255", "mean grey level in the face box"),
    ("noise_sd", "float64", "0-255", "sensor noise sd in the face box (grey, from its pixel-scale residual)"),
    # Imaging conditions (conditions.py): what the camera, its settings and the room did to the picture.
    ("log_contrast", "float64", "ln", "sd of ln(grey + 1) in the centre of the face box (x gamma under a tone curve)"),
    ("focus", "float64", "a.u.", "sd of the Laplacian of that log image / log_contrast: lower when blurred "
                                 "or small, higher when noisy; exposure and tone curve leave it"),
    ("noise", "float64", "grey levels", "sd of the finest-scale residual on the cheeks (sensor and "
                                        "compression noise)"),
    ("valid", "bool", "flag", "face found, head pose within limits, sharp enough, no QC flag: usable for statistics"),
    # QC flags: the frame lies outside the range in which the measure was validated
    ("face_too_small", "bool", "flag", "inter-ocular distance below qc.min_iod_px: too few pixels for the lines"),
    ("too_blurred", "bool", "flag", "sharpness below qc.min_sharpness: too little fine detail for the lines"),
    ("overexposed", "bool", "flag", "more than qc.max_clipped_fraction of the glabella's grey texture lost to clipped "
     "channels (>= 250), or the face around it too clipped for the tone reference"),
    ("occluded", "bool", "flag", "something (a hand, fingers, hair, a glasses frame) covers the brows or the glabella: "
     "occlusion score above qc.max_occlusion_score; always false for a still image"),
)

#: The QC flag columns; a frame with any of them raised is not valid.
QC_FLAGS: tuple[str, ...] = ("face_too_small", "too_blurred", "overexposed", "occluded")

#: Columns added only by the blendshape backend (MediaPipe Tasks FaceLandmarker).
BLENDSHAPE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("brow_down_left", "float64", "0-1", "MediaPipe blendshape browDownLeft (about FACS AU4, left)"),
    ("brow_down_right", "float64", "0-1", "MediaPipe blendshape browDownRight (about FACS AU4, right)"),
    ("brow_inner_up", "float64", "0-1", "MediaPipe blendshape browInnerUp (about FACS AU1)"),
)

FRAME_COLUMN_NAMES: tuple[str, ...] = tuple(c[0] for c in FRAME_COLUMNS)
BLENDSHAPE_COLUMN_NAMES: tuple[str, ...] = tuple(c[0] for c in BLENDSHAPE_COLUMNS)

#: The three frown components, each with the direction in which it moves when frowning.
COMPONENTS: tuple[str, ...] = ("brow_gap", "brow_lowering", "glabella_lines")
COMPONENT_FROWN_SIGN: dict[str, int] = {"brow_gap": -1, "brow_lowering": -1, "glabella_lines": +1}

#: Signals summarised per recording: the score and its components.
SUMMARISED_SIGNALS: tuple[str, ...] = ("frown_intensity",) + COMPONENTS

# -- per-recording summary (summary.json, "features") ------------------------

#: The layout of summary.json (its feature names, its keys). A study's recording outputs made
#: under another are rewritten from the cached measurements on the next run (no frame is
#: measured again). 2: the most frowning value named by direction (``_max``, ``_min``, not
#: ``_peak``), counts as integers, ``truncated``.
SUMMARY_VERSION = 2

#: Statistics taken over valid frames for every summarised signal: suffix, meaning. Each signal
#: also has its most frowning value, named by its frown direction (:func:`signal_statistics`).
SIGNAL_STATISTICS: tuple[tuple[str, str], ...] = (
    ("mean", "mean over valid frames"),
    ("median", "median over valid frames"),
    ("p90", "90th percentile over valid frames"),
)


def signal_statistics(signal: str) -> tuple[tuple[str, str], ...]:
    """The statistics of one summarised signal, suffix and meaning: :data:`SIGNAL_STATISTICS`,
    then its most frowning value, ``max`` (``min`` for ``brow_gap`` and ``brow_lowering``,
    which get smaller when frowning)."""
    if COMPONENT_FROWN_SIGN.get(signal, +1) > 0:
        extreme = ("max", "maximum over valid frames (its most frowning value: larger = more frowning)")
    else:
        extreme = ("min", "minimum over valid frames (its most frowning value: smaller = more frowning)")
    return SIGNAL_STATISTICS + (extreme,)

#: Recording-level features that are not per-signal statistics: name, unit, meaning.
RECORDING_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("n_frames", "count", "frames processed"),
    ("duration_s", "s", "time from the first to the last processed frame"),
    ("valid_fraction", "0-1", "fraction of processed frames that are valid"),
    ("frown_time_pct", "%", "percent of valid time inside frown events"),
    ("frown_events_per_min", "1/min", "frown events per minute of valid time"),
    ("frown_event_duration_mean_s", "s", "mean duration of frown events (NaN when there are none)"),
    ("frown_events_n", "count", "number of frown events"),
)


#: The recording's imaging conditions over its frames with a face (conditions.py): name, unit, meaning.
#: Two visits are compared on them (features/comparability.csv); they are not frown features.
CONDITION_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("iod_px_median", "px", "median inter-ocular distance in the image (face size)"),
    ("brightness_median", "0-255", "median mean grey level of the face box"),
    ("log_contrast_median", "ln", "median sd of ln(grey + 1) in the face's centre "
                                  "(a tone curve x**gamma multiplies it by gamma)"),
    ("focus_median", "a.u.", "median fine detail relative to contrast (lower when blurred or small, "
                             "higher when noisy)"),
    ("noise_median", "grey levels", "median noise on the cheeks"),
    ("yaw_spread", "deg", "head yaw, 95th minus 5th percentile (head movement)"),
    ("pitch_spread", "deg", "head pitch, 95th minus 5th percentile (head movement)"),
)

#: Recording features that describe the recording's quality, not the frown.
QUALITY_FEATURES: tuple[str, ...] = ("n_frames", "duration_s", "valid_fraction") + tuple(
    name for name, _, _ in CONDITION_FEATURES)


def summary_feature_names() -> list[str]:
    """Names of the per-recording features, in the order summary.json lists them."""
    names = [name for name, _, _ in RECORDING_FEATURES]
    for signal in SUMMARISED_SIGNALS:
        names.extend(f"{signal}_{suffix}" for suffix, _ in signal_statistics(signal))
    names.extend(name for name, _, _ in CONDITION_FEATURES)
    return names


# -- study outputs (session features) ----------------------------------------

#: Identifier columns of features/session_features.* (one row per participant x session x task).
SESSION_ID_COLUMNS: tuple[str, ...] = ("participant_id", "arm", "session", "task")

#: Suffixes of the change columns: for every feature and score X, ``X_change`` is the value
#: minus the value at the reference session (same participant, same task) and
#: ``X_pct_change`` is 100 * change / reference value (NaN when the reference is 0 or missing).
CHANGE_SUFFIX = "_change"
PCT_CHANGE_SUFFIX = "_pct_change"

#: Known questionnaire scales: name -> (minimum, maximum, remission cut-off or None, meaning).
KNOWN_SCALES: dict[str, tuple[float, float, float | None, str]] = {
    "HAMD17": (0, 52, 7, "Hamilton Depression Rating Scale, 17 items"),
    "MADRS": (0, 60, 10, "Montgomery-Asberg Depression Rating Scale"),
    "BDI2": (0, 63, 13, "Beck Depression Inventory II"),
    "PHQ9": (0, 27, 4, "Patient Health Questionnaire 9"),
    "PANAS_NA": (10, 50, None, "PANAS negative affect"),
    "LSAS": (0, 144, None, "Liebowitz Social Anxiety Scale"),
}


# -- trials and the maximal frown (trials.py, study/trial_features.py) -------------------------

#: Session-feature columns from events files and the capacity task (their names depend on the
#: study's trial types and contrasts): ``<p>_response_<trial_type>_mean``, ``<p>_response_<contrast>``,
#: ``trials_<trial_type>_n``, ``frown_capacity``, ``frown_capacity_attempts_n``,
#: ``<component>_at_capacity``, ``frown_capacity_pct_of_baseline``.
_TRIAL_FEATURE = re.compile(r"^(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)*_response_\w+|trials_\w+_n|frown_capacity"
                            r"(?:_attempts_n|_pct_of_baseline)?|\w+_at_capacity)$")


def is_trial_feature(column: str) -> bool:
    """True for a session-features column of trial responses or the maximal frown (not its change
    columns): a frown feature like the summary's, whose name the study's design makes."""
    return not column.endswith((CHANGE_SUFFIX, PCT_CHANGE_SUFFIX)) and bool(_TRIAL_FEATURE.match(column))
