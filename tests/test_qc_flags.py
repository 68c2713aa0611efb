"""Frames outside the measure's validated range are flagged, not valid, and a recording that is
mostly such frames says so in its summary."""

from __future__ import annotations

import cv2
import numpy as np

from facefeedback.config import Config
from facefeedback.extract import recording_result
from facefeedback.io import Frame
from facefeedback.measure import FrameMeasurer, MeasurementBuffer
from facefeedback.synth import neutral_face

CONFIG = Config().updated(progress=False)


def _measure(images):
    buffer = MeasurementBuffer()
    with FrameMeasurer(CONFIG) as m:
        for i, img in enumerate(images):
            buffer.append(m.measure(Frame(i, i / 15, img)))
    return buffer.raw_table()


def test_small_and_overexposed_faces_are_flagged_and_warned_about(tmp_path):
    face = neutral_face()  # inter-ocular distance about 108 px
    small = cv2.copyMakeBorder(cv2.resize(face, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA),
                               144, 144, 144, 144, cv2.BORDER_REFLECT)
    bright = np.clip(face.astype(np.float32) * 1.8, 0, 255).astype(np.uint8)
    raw = _measure([face, bright, face, small, small, small, small])
    assert raw["face_detected"].all()
    assert raw["face_too_small"].tolist() == [False, False, False, True, True, True, True]
    assert raw["overexposed"].tolist() == [False, True, False, False, False, False, False]
    info = type("Info", (), {"kind": "video", "width": 480, "height": 480, "fps": 15.0, "n_frames": 7})()
    (tmp_path / "clip.mp4").write_bytes(b"")  # provenance records the file
    result = recording_result(tmp_path / "clip.mp4", info, raw, CONFIG, sha256="0")
    assert result.frames["valid"].tolist() == [True, False, True, False, False, False, False]
    warnings = result.summary["warnings"]
    assert len(warnings) == 1 and "too small" in warnings[0] and "60 px" in warnings[0], warnings
