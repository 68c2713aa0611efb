"""Frame sources: video files, still images and cameras behind one iterator.

Every source yields :class:`Frame` values (index in the source, timestamp in
seconds, BGR image). Video timestamps come from the container (OpenCV's
``CAP_PROP_POS_MSEC`` after each read), so variable-frame-rate phone video
keeps its real timing; rotation metadata is applied by OpenCV's FFmpeg backend.

Examples
--------
>>> with FrameSource("clip.mp4", stride=2) as source:   # doctest: +SKIP
...     for frame in source:
...         print(frame.index, frame.timestamp_s, frame.image.shape)
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".wmv", ".m4v", ".mpg", ".mpeg", ".mts", ".m2ts", ".ts", ".3gp"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

#: A video whose decoding ends before this fraction of both the frames and the duration its
#: container declares is truncated (see :meth:`FrameSource._check_complete`).
TRUNCATION_FRACTION = 0.9
#: Containers with no frame count, whose count OpenCV takes from the duration.
DURATION_COUNTED = frozenset({".mkv", ".webm"})


@dataclass(frozen=True)
class Frame:
    """One decoded picture: ``index`` in the source, ``timestamp_s`` from its start, BGR ``image``.

    ``rgb`` is the same picture in the channel order the landmark model takes; it is made
    once, on first use (by the decoding thread when frames are read ahead), and cannot be
    written: MediaPipe reads such an array where it is instead of copying it into its packet
    (at 1080p a 6 MB copy a frame; see :meth:`facefeedback.landmarks.FaceMeshGraph.submit`).
    """

    index: int
    timestamp_s: float
    image: np.ndarray

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        rgb = cv2.cvtColor(self.image, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False
        return rgb


@dataclass(frozen=True)
class SourceInfo:
    """What a source says about itself before it is read, and whether reading it ended early.

    ``truncated`` is set once a video read with ``keep_truncated`` has ended short of what its
    container declares (see :meth:`FrameSource._check_complete`); ``decoded_frames`` and
    ``decoded_s`` then say how far decoding got, of ``expected_frames`` (the declared count from
    where the stream starts: a Matroska stream that starts late never had the frames before it).
    """

    name: str
    kind: str  # "video", "image" or "camera"
    fps: float | None
    n_frames: int | None
    width: int
    height: int
    truncated: bool = False
    decoded_frames: int | None = None
    decoded_s: float | None = None
    expected_frames: int | None = None
    #: The high-dynamic-range transfer the container declares ("HLG", "PQ"), else None.
    hdr: str | None = None

    def truncation(self) -> str | None:
        """The line that says how far a truncated video was decoded (None when it was not truncated)."""
        if not self.truncated:
            return None
        return truncation_text(self.decoded_frames, self.decoded_s, self.expected_frames or self.n_frames, self.fps)


def truncation_text(n_read: int, read_s: float, declared: int, fps: float) -> str:
    return (f"truncated or corrupt video: decoding stopped at frame {n_read} of the {declared}, "
            f"{read_s:.2f} s into the {declared / fps:.2f} s the container declares")


def is_camera_spec(spec: str | int) -> bool:
    """A camera is named by its index: ``0``, ``1``..."""
    return isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit())


class FrameSource:
    """Iterate over the frames of one video, image or camera.

    Parameters
    ----------
    spec : str, Path or int
        A video or image path, or a camera index.
    stride : int
        Keep every ``stride``-th frame of a video (frames in between are grabbed, not converted).
    start_s, end_s : float, optional
        Keep frames with ``start_s <= timestamp_s < end_s`` (video only).
    max_side : int, optional
        Downscale frames whose longer side exceeds this many pixels (aspect kept).
    prefetch : int
        Frames decoded ahead in a background thread (0: decode in the caller's thread).
        OpenCV releases the GIL while decoding, so decoding overlaps with landmark detection.
    keep_truncated : bool
        A video that ends before what its container declares keeps the frames decoded: ``info``
        then says so (``truncated``, ``decoded_frames``, ``decoded_s``) once iteration ends.
        False: an :class:`InputError` at the end of iteration.
    """

    def __init__(
        self,
        spec: str | os.PathLike | int,
        *,
        stride: int = 1,
        start_s: float | None = None,
        end_s: float | None = None,
        max_side: int | None = None,
        prefetch: int = 4,
        keep_truncated: bool = False,
    ) -> None:
        if stride < 1:
            raise InputError(f"{spec}: stride must be a whole number >= 1, got {stride}")
        if start_s is not None and end_s is not None and end_s <= start_s:
            raise InputError(f"{spec}: end time {end_s} s is not after start time {start_s} s")
        self.spec = spec
        self.stride = int(stride)
        self.start_s = start_s
        self.end_s = end_s
        self.max_side = max_side
        self.prefetch = int(prefetch)
        self.keep_truncated = bool(keep_truncated)
        self._cap: cv2.VideoCapture | None = None
        self.info = self._open()

    # -- opening ------------------------------------------------------------
    def _open(self) -> SourceInfo:
        spec = self.spec
        if is_camera_spec(spec):
            cap = cv2.VideoCapture(int(spec))
            if not cap.isOpened():
                raise InputError(
                    f"camera {spec}: cannot be opened (no camera at that index?); "
                    "use --source PATH to read a video file instead"
                )
            self._cap = cap
            self.kind = "camera"
            return SourceInfo(f"camera{spec}", "camera", _positive(cap.get(cv2.CAP_PROP_FPS)), None,
                              int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        path = Path(spec)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not a video or image file")
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise InputError(f"{path}: not a readable image (corrupt, or not a {suffix[1:]} file)")
            self.kind = "image"
            self._image = image
            return SourceInfo(path.name, "image", None, 1, image.shape[1], image.shape[0])
        if suffix not in VIDEO_SUFFIXES:
            allowed = ", ".join(sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES))
            raise InputError(f"{path}: '{suffix or path.name}' is not a supported video or image type ({allowed})")
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise InputError(f"{path}: cannot be opened as a video (corrupt or empty file, or a container "
                             "or codec OpenCV cannot read)")
        threads = decoding_threads(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) * int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if threads:  # FFmpeg's thread count is set when a video is opened: open it again (about 10 ms)
            cap.release()
            cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._cap = cap
        self.kind = "video"
        # With auto-orientation on, OpenCV reports the size of the rotated picture.
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return SourceInfo(path.name, "video", _positive(cap.get(cv2.CAP_PROP_FPS)),
                          declared if declared > 0 else None, width, height, hdr=hdr_transfer(path))

    # -- iteration ----------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        if self.kind == "image":
            yield Frame(0, 0.0, self._scaled(self._image))
            return
        if self.prefetch <= 0 or self.kind == "camera":
            yield from self._decode()
            return
        yield from _prefetched(_with_rgb(self._decode()), self.prefetch)

    def _decode(self) -> Iterator[Frame]:
        cap = self._cap
        assert cap is not None
        name = self.info.name if self.kind == "camera" else str(self.spec)
        fps = self.info.fps or 30.0
        t_camera0 = time.monotonic()
        index = -1
        last_ts = -np.inf
        kept = 0
        start_frames = 0.0  # where the stream starts, in frames of the nominal rate (see _check_complete)
        while True:
            if not cap.grab():
                break
            index += 1
            if index == 0 and self.kind == "video":
                start_frames = max(float(cap.get(cv2.CAP_PROP_PTS)), 0.0)
            if self.kind == "camera":
                ts = time.monotonic() - t_camera0
            else:
                ts = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if not np.isfinite(ts) or ts < 0 or (ts <= last_ts and index > 0):
                    # Some containers give no time for a frame: step from the previous one.
                    ts = index / fps if not np.isfinite(last_ts) else last_ts + 1.0 / fps
                last_ts = ts
            if self.start_s is not None and ts < self.start_s:
                continue
            if self.end_s is not None and ts >= self.end_s:
                break
            if index % self.stride:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                break
            kept += 1
            yield Frame(index, float(ts), self._scaled(image))
        n_read = index + 1
        if self.kind == "camera":
            if n_read == 0:
                raise InputError(f"{name}: the camera gave no picture; check it is connected and not in use")
            return
        if n_read == 0:
            raise InputError(f"{name}: no frame could be decoded (zero-frame video, or a codec OpenCV cannot read)")
        read_to_end = self.end_s is None or last_ts < self.end_s
        if read_to_end:
            self._check_complete(name, n_read, last_ts + 1.0 / fps, start_frames)
        if kept == 0:
            until = f" to {self.end_s:g} s" if self.end_s is not None else ""
            stride = f" at stride {self.stride}" if self.stride > 1 else ""
            why = (f"the recording is {last_ts + 1.0 / fps:.2f} s long" if read_to_end else
                   f"the range holds no frame{stride} of this {fps:g} fps video")
            raise InputError(f"{name}: no frame from {self.start_s or 0:g} s{until}{stride}: {why}")

    def _check_complete(self, name: str, n_read: int, read_s: float, start_frames: float = 0.0) -> None:
        """Raise, or with ``keep_truncated`` mark ``info``, when decoding ended before the end of
        the stream.

        The container declares a frame count and, through it and the nominal frame rate, a
        duration. Matroska and WebM store no frame count: theirs is the duration times the
        nominal rate, which overstates a variable-frame-rate recording, and runs from the file's
        time 0 (``start_frames``: where the stream starts, in frames). So a video is truncated
        only when it falls short of both: fewer frames than declared *and* less time than
        declared were decoded.
        """
        declared, fps = self.info.n_frames, self.info.fps
        if not declared or not fps:
            return
        if Path(str(self.spec)).suffix.lower() in DURATION_COUNTED:
            # that duration runs from the file's time 0, and a stream can start later (video after
            # audio, a clip cut from a longer one): the frames before its start were never there
            declared = max(int(round(declared - start_frames)), 1)
        duration = declared / fps
        if n_read < TRUNCATION_FRACTION * declared and read_s < TRUNCATION_FRACTION * duration:
            if not self.keep_truncated:
                raise InputError(f"{name}: {truncation_text(n_read, read_s, declared, fps)}")
            self.mark_truncated(n_read, read_s, declared)

    def mark_truncated(self, n_read: int, read_s: float, expected: int | None = None) -> None:
        """Say in ``info`` that reading ended early, after ``n_read`` frames and ``read_s`` seconds
        (of ``expected`` frames: the container's count when not given)."""
        self.info = replace(self.info, truncated=True, decoded_frames=n_read, decoded_s=round(read_s, 3),
                            expected_frames=expected)

    def _scaled(self, image: np.ndarray) -> np.ndarray:
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if self.max_side and max(image.shape[:2]) > self.max_side:
            f = self.max_side / max(image.shape[:2])
            image = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        return image

    # -- context management -------------------------------------------------
    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: Transfer characteristics (ITU-T H.273) of high-dynamic-range video.
HDR_TRANSFERS = {16: "PQ", 18: "HLG"}
#: How much of a file's start and end is searched for its colour description: an MP4's or MOV's
#: 'moov' box lies at one end, a Matroska file's track headers at its start.
HEADER_BYTES = 4 << 20


def hdr_transfer(path: Path) -> str | None:
    """The HDR transfer a video's container declares: an MP4 or MOV 'colr' box (as phones write), or a Matroska/WebM track's Colour.TransferCharacteristics; None when neither
    says PQ or HLG. OpenCV decodes such video without tone mapping: its picture comes out pale."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
            size = f.seek(0, os.SEEK_END)
            f.seek(max(size - HEADER_BYTES, len(head)))
            tail = f.read(HEADER_BYTES)
    except OSError:
        return None
    for data in (head, tail):
        at = data.find(b"colrncl")  # 'nclx' (MP4) or 'nclc' (QuickTime): primaries, transfer, matrix
        while at >= 0 and at + 12 <= len(data):
            transfer = int.from_bytes(data[at + 10:at + 12], "big")
            if data[at + 7:at + 8] in (b"x", b"c") and transfer in HDR_TRANSFERS:
                return HDR_TRANSFERS[transfer]
            at = data.find(b"colrncl", at + 1)
    tracks = head.find(b"\x16\x54\xae\x6b")  # Matroska's Tracks element: its Colour elements within
    if tracks >= 0:
        window = head[tracks:tracks + 65536]
        at = window.find(b"\x55\xba\x81")  # TransferCharacteristics, one byte of value
        if at >= 0 and at + 3 < len(window) and window[at + 3] in HDR_TRANSFERS:
            return HDR_TRANSFERS[window[at + 3]]
    return None


def _positive(value: float) -> float | None:
    return float(value) if value and np.isfinite(value) and value > 0 else None


def _with_rgb(frames: Iterator[Frame]) -> Iterator[Frame]:
    """Make each frame's RGB copy here, in the decoding thread (OpenCV releases the GIL)."""
    for frame in frames:
        frame.rgb  # noqa: B018 - computed and cached on the frame
        yield frame


_DONE = object()


def decoding_threads(pixels: int, cores: int | None = None) -> int:
    """FFmpeg's threads for decoding a video whose frames have ``pixels`` pixels: 1 for frames of
    at most 1280 x 720 on a machine of at most 2 cores, else 0 (FFmpeg's own choice, a thread a core).

    Measuring keeps two cores busy (Face Mesh and the features, each in its thread), and the video
    is decoded in a thread of its own beside them. Where no core is left and a frame decodes in a
    fraction of Face Mesh's time, FFmpeg's frame threads only add their own work: a 640x360 H.264
    frame took 1.0 ms of CPU in one thread and 1.2-1.5 ms in FFmpeg's threads on 2 cores, and
    ``extract`` ran about 5 % faster with one. A 1080p frame takes about as long to decode as Face
    Mesh takes to measure it, and there FFmpeg's threads were about 4 % faster. The frames are the
    same either way.
    """
    cores = os.cpu_count() if cores is None else cores
    return 1 if (cores or 1) <= 2 and pixels <= 1280 * 720 else 0


def _prefetched(frames: Iterator[Frame], depth: int) -> Iterator[Frame]:
    """Run ``frames`` in a background thread, ``depth`` frames ahead; errors re-raise here."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        buffer.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            buffer.put(exc)

    thread = threading.Thread(target=work, name="frame-decoder", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
