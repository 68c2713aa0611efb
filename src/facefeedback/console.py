"""Keep the native libraries' chatter off the researcher's terminal.

MediaPipe and TensorFlow Lite write notes straight to file descriptor 2 from
their own threads ("Created TensorFlow Lite XNNPACK delegate", "Feedback manager
requires ..."), which would bury the one-line messages that matter. For the
length of a command, :func:`native_output_silenced` points descriptor 2 at
/dev/null while Python's own ``sys.stderr`` (our messages, warnings, progress
bars) keeps writing to the terminal. Worker processes started inside inherit
the silenced descriptor. ``facefeedback -v`` or ``FACEFEEDBACK_NATIVE_LOGS=1``
leaves everything as it is.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_output_silenced(enabled: bool = True):
    """Silence descriptor 2 for native code during the ``with`` block; Python's stderr still shows."""
    if not enabled or os.environ.get("FACEFEEDBACK_NATIVE_LOGS") == "1":
        yield
        return
    try:
        python_on_fd2 = sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a captured or replaced stderr
        python_on_fd2 = False
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover - no descriptor 2 to redirect
        yield
        return
    original = sys.stderr
    if python_on_fd2:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=original.encoding,
                               errors=original.errors)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if python_on_fd2:
                sys.stderr.close()
                sys.stderr = original
