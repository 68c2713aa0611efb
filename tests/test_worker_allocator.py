"""A worker started with Dask's allocator settings reuses the memory of freed frames."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

# Allocate and free a 1080p frame's worth of memory 40 times; print the page faults it took.
FRAMES = """
import resource, sys
import numpy as np
from facefeedback.study.parallel import steady_allocator
steadied = steady_allocator() if sys.argv[1] == "steady" else False
np.ones((1080, 1920, 3), np.uint8)  # the first one is mapped in either case
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    frame = np.ones((1080, 1920, 3), np.uint8)
    del frame
print(steadied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str, **env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | env
    out = subprocess.run([sys.executable, "-c", FRAMES, mode], env=environ, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")
def test_frames_are_not_faulted_in_again_under_dasks_trim_threshold():
    dask_env = {"MALLOC_TRIM_THRESHOLD_": "65536"}  # what Dask's nanny gives its workers
    as_started, churned = faults("as started", **dask_env)
    steadied, steady = faults("steady", **dask_env)
    untouched, plain = faults("steady")  # no such setting: nothing to change
    assert (as_started, steadied, untouched) == ("False", "True", "False")
    assert churned > 40 * 100  # every frame faulted in anew (in 4 KiB or huge pages)
    assert steady < churned / 10 and plain < churned / 10
