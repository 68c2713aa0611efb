"""The frown measure's numbers on the sample videos do not move unless a change means them to.

``tests/data/frown_reference.csv`` holds the frown columns of every sample video, scored against
the population neutral and against the neutral calibrated on the same video. A change that is
meant to move the frown measure writes it again, and says so:

    python tests/test_frown_reference.py --write
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from facefeedback.calibration import calibrate
from facefeedback.config import Config
from facefeedback.extract import read_raw, recording_result

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "frown_reference.csv"
#: The frown's per-frame columns compared (the raw components, the score and what the score feeds).
FROWN_COLUMNS = ("face_detected", "yaw", "pitch", "roll", "brow_gap", "brow_lowering", "glabella_lines",
                 "tone_reference", "frown_intensity", "frowning", "valid")


def frown_reference(samples: Path) -> pd.DataFrame:
    """The frown columns of every sample video, against the population neutral ("population")
    and against the neutral calibrated on the same video ("self"), one row per frame."""
    config = Config().updated(progress=False)
    parts = []
    for video in sorted(samples.glob("*.mp4")):
        info, raw = read_raw(video, config)
        population = recording_result(video, info, raw, config)
        cal = calibrate(population.frames, config.frown, config.calibration, source=video.name)
        own = recording_result(video, info, raw, config, cal)
        for label, frames in (("population", population.frames), ("self", own.frames)):
            part = frames[["frame", *FROWN_COLUMNS]].copy()
            part.insert(0, "calibration", label)
            part.insert(0, "video", video.name)
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_frown_columns_match_the_reference_on_the_sample_videos(samples):
    expected = pd.read_csv(REFERENCE)
    got = frown_reference(samples)
    assert list(got[["video", "calibration", "frame"]].itertuples(index=False)) == \
        list(expected[["video", "calibration", "frame"]].itertuples(index=False))
    for column in FROWN_COLUMNS:
        a, b = got[column].to_numpy(np.float64), expected[column].to_numpy(np.float64)
        assert (np.isnan(a) == np.isnan(b)).all(), column
        worst = float(np.nanmax(np.abs(a - b), initial=0.0))
        assert worst <= 1e-9, f"{column} moved by up to {worst:.3g}"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"write {REFERENCE.relative_to(ROOT)}")
    args = ap.parse_args()
    if args.write:
        table = frown_reference(ROOT / "sample_videos")
        table.to_csv(REFERENCE, index=False, float_format="%.17g")
        print(f"wrote {REFERENCE} ({len(table)} rows)")
