"""What a study run keeps between runs, keyed so that only what changed is redone.

Two levels, both written to a temporary name and renamed into place, so a run
killed at any moment leaves either a complete entry or none:

* **raw measurements** (``DIR/cache/raw/<key>/``): the per-frame measurements
  before calibration, keyed by the file's SHA-256 and the hash of the settings
  that change them (``input`` and ``landmarks``) and the software versions. A
  new calibration or event threshold reuses them: MediaPipe does not run again.
* **recording outputs** (``DIR/recordings/<recording_id>/``): up to date when
  their provenance names the same file hash, the same config hash, the same
  raw measurements, the same calibration and the same table format.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import __version__, bids, schema
from ..components.registry import REGISTRY
from ..config import Config, config_hash, dump_config
from ..files import json_text, temporary_name
from ..io import SourceInfo

log = logging.getLogger(__name__)

RAW_FILE = "raw.parquet"
INFO_FILE = "info.json"


def software() -> dict[str, str]:
    """The versions of the software that measures: facefeedback's, MediaPipe's, OpenCV's."""
    import cv2
    import mediapipe

    return {"facefeedback": __version__, "mediapipe": mediapipe.__version__, "opencv": cv2.__version__}


def software_text(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def measurement_hash(config: Config) -> str:
    """Hash of the settings and software that change raw measurements (not calibration or events)."""
    data = {"input": dump_config(config)["input"], "landmarks": dump_config(config)["landmarks"],
            "config_version": config.config_version, **software(),
            # the registered components and how each is measured: a new one is measured afresh
            "components": [[c.name, c.measure, *c.extra_raw] for c in REGISTRY.values()]}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def raw_key(sha256: str, config: Config) -> str:
    return f"{sha256[:24]}-{measurement_hash(config)}"


@dataclass(frozen=True)
class RawEntry:
    """A cached raw measurement: its folder, what the source said, and how long measuring took."""

    key: str
    folder: Path
    info: SourceInfo
    run_time_s: float

    def table(self) -> pd.DataFrame:
        return pd.read_parquet(self.folder / RAW_FILE)

    @property
    def frames(self) -> int:
        """Rows of the raw measurements (from the file's footer; the table is not read)."""
        import pyarrow.parquet as pq

        return pq.read_metadata(self.folder / RAW_FILE).num_rows


class RawCache:
    """Raw per-frame measurements under ``root``, one folder per key."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def get(self, key: str) -> RawEntry | None:
        folder = self.root / key
        try:
            meta = json.loads((folder / INFO_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if not (folder / RAW_FILE).is_file():
            return None
        return RawEntry(key, folder, SourceInfo(**meta["info"]), float(meta["run_time_s"]))

    def put(self, key: str, raw: pd.DataFrame, info: SourceInfo, run_time_s: float) -> RawEntry:
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / key
        tmp = temporary_name(final)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            raw.to_parquet(tmp / RAW_FILE, index=False)
            meta = {"info": info.__dict__, "run_time_s": run_time_s}
            (tmp / INFO_FILE).write_text(json_text(meta))
            try:
                os.rename(tmp, final)
            except OSError:  # another worker measured the same file meanwhile: keep its (identical) entry
                if self.get(key) is None:
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return RawEntry(key, final, info, run_time_s)


def stamp(sha256: str, key: str, config: Config, calibration: dict, bids_name: str | None = None) -> dict:
    """What a recording's provenance records about how it was made, for :func:`is_current`.

    The per-frame table's format and BIDS name are part of it: the same numbers in another
    layout are other outputs; so is the layout of summary.json (``schema.SUMMARY_VERSION``).
    """
    return {"sha256": sha256, "raw_key": key, "config_hash": config_hash(config), "calibration": calibration,
            "format": config.output_format, "bids_name": bids_name if config.output_format == "bids" else None,
            "summary_version": schema.SUMMARY_VERSION}


def is_current(folder: Path, wanted: dict) -> bool:
    """True when ``folder`` holds complete outputs made from exactly ``wanted`` (see :func:`stamp`)."""
    try:
        made = json.loads((folder / "provenance.json").read_text()).get("study_stamp")
    except (OSError, json.JSONDecodeError):
        return False
    if made != wanted:
        return False
    table = bids.frames_table(folder)
    return (folder / "summary.json").is_file() and table is not None and bids.sidecar_path(table).is_file()
