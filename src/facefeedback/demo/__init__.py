"""The webcam demo: a live frown meter over the camera picture.

The same per-frame path as ``extract`` (:mod:`facefeedback.measure`), one frame at a
time: :mod:`.live` measures and keeps the session's state, :mod:`.overlay` draws it,
:mod:`.app` runs the loop (window or headless video) and saves the session.
"""

from .app import DemoOptions, DemoResult, DisplayError, run_demo

__all__ = ["DemoOptions", "DemoResult", "DisplayError", "run_demo"]
