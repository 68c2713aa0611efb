"""A video's per-frame table, every column, stays the same (to 1e-9, as the frown reference; it
was the same to the bit where written) unless a change means it to.

``tests/data/video_table_reference.csv`` holds the whole per-frame table of ``moving_frown.mp4``
(a face moving across the pixel grid), scored against the population neutral. The still-image
path measures a face at several sub-pixel positions (:meth:`GlabellaFilter.views
<facefeedback.components.glabella.GlabellaFilter.views>`); a video, measured once a frame, must not
see that. A change that is meant to move a video's numbers writes the reference again, and says so:

    python tests/test_video_table.py --write
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from facefeedback.config import Config
from facefeedback.extract import read_raw, recording_result

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "video_table_reference.csv"
VIDEO = "moving_frown.mp4"


def video_table(samples: Path) -> pd.DataFrame:
    """The per-frame table of the sample video, against the population neutral."""
    config = Config().updated(progress=False)
    info, raw = read_raw(samples / VIDEO, config)
    return recording_result(samples / VIDEO, info, raw, config).frames


def test_a_videos_table_is_unchanged(samples):
    expected = pd.read_csv(REFERENCE, float_precision="round_trip")
    got = video_table(samples)
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for column in got.columns:
        a, b = got[column].to_numpy(np.float64), expected[column].to_numpy(np.float64)
        differ = ~((np.abs(a - b) <= 1e-9) | (np.isnan(a) & np.isnan(b)))
        assert not differ.any(), f"{column} differs on {differ.sum()} frames (first: frame {np.flatnonzero(differ)[0]})"


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    written = video_table(ROOT / "sample_videos")
    written.to_csv(REFERENCE, index=False, float_format="%.17g")
    print(f"wrote {REFERENCE} ({len(written)} rows, {written.shape[1]} columns)")
