"""Build the frontal reference face shipped in src/facefeedback/data/reference_face.npy.

The reference is MediaPipe Face Mesh's 478 landmarks on a public-domain frontal
portrait (scikit-image's astronaut photograph, NASA), expressed in an anatomical
frame (eye line horizontal, unit inter-ocular distance) and made left-right
symmetric by averaging each point with its mirror. Run it again only to
regenerate the file; the result is deterministic for a given MediaPipe release.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import data

from facefeedback.geometry import symmetric_reference
from facefeedback.landmarks import FaceMeshBackend

OUT = Path(__file__).resolve().parents[1] / "src" / "facefeedback" / "data" / "reference_face.npy"


def main() -> None:
    image_bgr = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    with FaceMeshBackend(static_image_mode=True) as backend:
        obs = backend.detect(image_bgr)
    if obs is None:
        raise SystemExit("no face found in the reference portrait")
    ref = symmetric_reference(obs.points)
    np.save(OUT, ref.astype(np.float64))
    print(f"wrote {OUT} ({ref.shape[0]} points)")


if __name__ == "__main__":
    main()
