"""How an output was made: the package versions and the time it was created, in one form.

Every output that records its provenance (a recording's ``provenance.json``, ``study.json``,
an analysis's ``results.json``, the output markers) takes its versions and its timestamp from
here, so they read the same everywhere.
"""

from __future__ import annotations

import platform
import time

from . import __version__

#: The format of every "created" timestamp: local time with its UTC offset (ISO 8601).
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
#: The packages an analysis's results depend on, besides facefeedback.
ANALYSIS_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "matplotlib")


def created() -> str:
    """Now, as every output's ``created`` field writes it (``2026-03-01T14:05:09+0100``)."""
    return time.strftime(CREATED_FORMAT)


def measurement_versions() -> dict[str, str]:
    """The software that measures a recording: facefeedback, MediaPipe, OpenCV, NumPy, pandas, Python."""
    import cv2
    import mediapipe
    import numpy as np
    import pandas as pd

    return {"facefeedback": __version__, "mediapipe": mediapipe.__version__, "opencv": cv2.__version__,
            "numpy": np.__version__, "pandas": pd.__version__, "python": platform.python_version()}


def analysis_versions() -> dict[str, str]:
    """facefeedback (the code running, as measurement_versions has it: an editable install's metadata
    keeps the version it was installed at) and the installed packages of :data:`ANALYSIS_PACKAGES`."""
    import importlib.metadata as md

    return {"facefeedback": __version__, **{n: md.version(n) for n in ANALYSIS_PACKAGES}}
