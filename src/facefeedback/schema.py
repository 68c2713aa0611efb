"""Column names and summary keys: the one place the data contract lives.

Every stage reads its column names from here, and ``tests/test_schema.py``
fails when this module drifts from the contract in the design document.
"""

from __future__ import annotations

import re

from .components.registry import FAMILIES, FROWN, REGISTRY, Family

#: Participants an arm needs for the analysis (with both visits analysed); a study whose arm has
#: fewer is measured, with a warning, and refused by ``analyze``.
MIN_PER_ARM = 3

# -- per-frame table (frames.parquet) ---------------------------------------

#: Two times (s) closer than this are the same time: frame times are sums and quotients of
#: floats (4/30 - 1/30 is 0.0999...), so a "0.1 s later" compared exactly would need three frames
#: at one place in a 30 frames/s recording and four at another.
TIME_TOLERANCE_S = 1e-6



def family_columns(family: Family) -> tuple[tuple[str, str, str, str], ...]:
    """A family's per-frame columns: its components, its intensity and its event flag."""
    return tuple((c.name, "float64", c.unit, c.doc) for c in family.components) + (
        (family.intensity, "float64", family.unit,
         f"{family.unit_name}: 0 at the neutral reference, 1 = {family.full_meaning}"),
        (family.active, "bool", "flag", f"inside a {family.name} event (hysteresis, minimum duration)"),
    )


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
    *(column for family in FAMILIES for column in family_columns(family)),
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
    ("valid", "bool", "flag", "face found, head pose within limits (qc.max_abs_yaw, qc.max_abs_pitch), sharp "
                              "enough (qc.min_sharpness), brightness within qc.min_brightness-qc.max_brightness, "
                              "every frown component measured, no QC flag: usable for statistics"),
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

#: The frown components (a frame without them is not valid), and every registered component.
COMPONENTS: tuple[str, ...] = FROWN.names
ALL_COMPONENTS: tuple[str, ...] = tuple(REGISTRY)
#: Each component's direction in its expression (+1: grows, -1: shrinks), and the family of each
#: summarised signal.
COMPONENT_SIGN: dict[str, int] = {c.name: c.direction for c in REGISTRY.values()}
SIGNAL_FAMILY: dict[str, Family] = {
    **{f.intensity: f for f in FAMILIES}, **{c.name: f for f in FAMILIES for c in f.components}}

#: Signals summarised per recording: each family's intensity and its components.
SUMMARISED_SIGNALS: tuple[str, ...] = tuple(name for f in FAMILIES for name in (f.intensity, *f.names))

# -- per-recording summary (summary.json, "features") ------------------------

#: The layout of summary.json and the rules its numbers follow (its feature names, its keys,
#: how events and trial windows are read from the frames). A study's recording outputs made
#: under another are rewritten from the cached measurements on the next run (no frame is
#: measured again). 2: the most frowning value named by direction (``_max``, ``_min``, not
#: ``_peak``), counts as integers, ``truncated``. 3: the smile family's features. 4: a trial
#: window's valid fraction counts the frame on screen as it opens, a stretch with no frames
#: ends an event, a still's time-based features are empty.
SUMMARY_VERSION = 4

#: Statistics taken over valid frames for every summarised signal: suffix, meaning. Each signal
#: also has its most frowning value, named by its frown direction (:func:`signal_statistics`).
SIGNAL_STATISTICS: tuple[tuple[str, str], ...] = (
    ("mean", "mean over valid frames"),
    ("median", "median over valid frames"),
    ("p90", "90th percentile over valid frames"),
)


def signal_statistics(signal: str) -> tuple[tuple[str, str], ...]:
    """The statistics of one summarised signal, suffix and meaning: :data:`SIGNAL_STATISTICS`,
    then its most expressive value, ``max`` (``min`` for a component that gets smaller in its
    expression: ``brow_gap`` and ``brow_lowering`` when frowning, ``lip_corner_pull`` when smiling)."""
    active = SIGNAL_FAMILY[signal].active if signal in SIGNAL_FAMILY else "frowning"
    if COMPONENT_SIGN.get(signal, +1) > 0:
        extreme = ("max", f"maximum over valid frames (its most {active} value: larger = more {active})")
    else:
        extreme = ("min", f"minimum over valid frames (its most {active} value: smaller = more {active})")
    return SIGNAL_STATISTICS + (extreme,)

#: Recording-level features that are not per-signal statistics: name, unit, meaning.
RECORDING_FEATURES: tuple[tuple[str, str, str], ...] = (
    ("n_frames", "count", "frames processed"),
    ("duration_s", "s", "time from the first to the last processed frame"),
    ("valid_fraction", "0-1", "fraction of processed frames that are valid"),
    *(feature for f in FAMILIES for feature in (
        (f"{f.name}_time_pct", "%", f"percent of valid time inside {f.name} events"),
        (f"{f.name}_events_per_min", "1/min", f"{f.name} events per minute of valid time"),
        (f"{f.name}_event_duration_mean_s", "s", f"mean duration of {f.name} events (NaN when there are none)"),
        (f"{f.name}_events_n", "count", f"number of {f.name} events"),
    )),
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


def family_feature_names(family: str) -> list[str]:
    """The per-recording features of one component family (``frown``, ``smile``): its event
    features and the statistics of its intensity and components, in summary.json's order."""
    names = [name for name, _, _ in RECORDING_FEATURES if name.startswith(f"{family}_")]
    for signal in SUMMARISED_SIGNALS:
        if SIGNAL_FAMILY[signal].name == family:
            names.extend(f"{signal}_{suffix}" for suffix, _ in signal_statistics(signal))
    return names


def feature_family(feature: str) -> str | None:
    """The family whose feature ``feature`` is (None for a quality or condition feature)."""
    for f in FAMILIES:
        if feature in family_feature_names(f.name):
            return f.name
    return None


# -- study outputs (session features) ----------------------------------------

#: Identifier columns of features/session_features.* (one row per participant x session x task).
SESSION_ID_COLUMNS: tuple[str, ...] = ("participant_id", "arm", "session", "task")

#: Suffixes of the change columns: for every feature and score X, ``X_change`` is the value
#: minus the value at the reference session (same participant, same task) and
#: ``X_pct_change`` is 100 * change / reference value (NaN when the reference is not above 0, or missing).
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
