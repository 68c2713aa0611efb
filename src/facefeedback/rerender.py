"""A recording re-rendered as another visit's camera would have recorded it.

Each function takes a BGR frame (uint8) and returns the re-rendered frame: another tone
curve, exposure, white balance, focus, resolution, sensor noise, compression or light. They
are used to translate the range the measure is validated for into bounds on the imaging
conditions (``scripts/derive_comparability_bounds.py``) and to make test recordings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def tone_curve(image: np.ndarray, gamma: float) -> np.ndarray:
    """``255 * (I / 255) ** gamma``: gamma < 1 brightens the mid-tones, > 1 darkens them."""
    lut = _to_uint8(255.0 * (np.arange(256) / 255.0) ** gamma)
    return cv2.LUT(image, lut)


def exposure(image: np.ndarray, gain: float) -> np.ndarray:
    """Every intensity times ``gain`` (clipped at white)."""
    return _to_uint8(image.astype(np.float32) * gain)


def white_balance(image: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """Each channel (B, G, R) times its own gain."""
    return _to_uint8(image.astype(np.float32) * np.asarray(gains, np.float32))


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian defocus of ``sigma`` pixels."""
    return cv2.GaussianBlur(image, (0, 0), sigma)


def rescale(image: np.ndarray, factor: float) -> np.ndarray:
    """The frame at ``factor`` times its resolution (area averaging when smaller)."""
    h, w = image.shape[:2]
    size = (max(1, int(round(w * factor))), max(1, int(round(h * factor))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)


def sensor_noise(image: np.ndarray, gain: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A darker exposure (``gain``) with Gaussian noise of ``sigma`` grey levels in every channel."""
    return _to_uint8(image.astype(np.float32) * gain + rng.normal(0.0, sigma, image.shape).astype(np.float32))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """The frame after JPEG compression at ``quality`` (0-100)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def ffmpeg_exe() -> str:
    """imageio-ffmpeg's ffmpeg, or the system's; a RuntimeError saying how to get one when neither is there."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("H.264 needs ffmpeg: pip install imageio-ffmpeg (or install ffmpeg)")
    return ffmpeg


def h264_video(source: str | os.PathLike, target: str | os.PathLike, bitrate: str = "300k") -> Path:
    """Write ``source`` re-encoded as H.264 at ``bitrate`` (libx264 through imageio-ffmpeg's or the system's
    ffmpeg), at its own frame rate: compression works across frames, so it takes the whole video."""
    ffmpeg = ffmpeg_exe()
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
           "-r", f"{fps:.3f}", "-i", "-", "-c:v", "libx264", "-b:v", bitrate, "-pix_fmt", "yuv420p", str(target)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE) as proc:
        try:
            while (frame := cap.read()[1]) is not None:
                proc.stdin.write(np.ascontiguousarray(frame[:h, :w]).tobytes())
        finally:
            proc.stdin.close()
            cap.release()
    if proc.returncode:
        raise RuntimeError(f"{source}: ffmpeg could not encode H.264 (exit {proc.returncode})")
    return Path(target)


def light_gradient(image: np.ndarray, left: float, right: float) -> np.ndarray:
    """Light falling off across the frame: intensity times ``left`` at the left edge to ``right`` at the right."""
    ramp = np.linspace(left, right, image.shape[1], dtype=np.float32)[None, :, None]
    return _to_uint8(image.astype(np.float32) * ramp)


def rerender_video(source: str | os.PathLike, target: str | os.PathLike, transform: Transform,
                   max_frames: int | None = None) -> Path:
    """Write ``source`` re-rendered frame by frame through ``transform`` (MPEG-4 Part 2, same frame rate)."""
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    target = Path(target)
    writer = None
    n = 0
    try:
        while max_frames is None or n < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            out = transform(frame)
            if writer is None:
                h, w = out.shape[:2]
                writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            writer.write(out)
            n += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if n == 0:
        raise ValueError(f"{source}: no frames could be read")
    return target
