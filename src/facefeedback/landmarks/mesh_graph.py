"""MediaPipe Face Mesh run frame by frame, its landmarks read as arrays.

:class:`FaceMeshGraph` runs the graph of MediaPipe's Face Mesh solution (models inside the
wheel) and gives each face's landmarks as an ``(n, 3)`` array in pixels. It feeds the graph
exactly as ``FaceMesh.process`` does (the same input packet at the same simulated timestamp)
and reads the same output, the face landmark lists, as the bytes MediaPipe's C++ side
serialises them into, turned into numbers in one NumPy step. ``process`` would build a result
class, parse every list into 478 protobuf objects and leave their numbers to be read again,
all while holding the GIL that the features of the frame before need
(:func:`facefeedback.measure.measure_frames`): about 0.8 ms of the calling thread's time a
frame, of which this keeps 0.05. The landmarks are the same floats bit for bit (a test checks
them against ``process``).

A video's frames can also be handed over one ahead (:meth:`FaceMeshGraph.submit`, then
:meth:`FaceMeshGraph.result` in the same order): ``process`` waits until the graph is idle
before the next frame can be added, so the graph stands still while the caller reads a result
and makes the next frame's packet; with the next frame already queued it goes on at once.
The graph takes its frames one at a time and in order whichever way they come (each frame's
tracking starts from the landmarks of the one before), so the landmarks are the same bit for
bit; MediaPipe alone took 2.1 ms a 640x360 frame this way against 2.4-2.6 ms (400 frames,
real face, machine otherwise idle). A frame that cannot be written is read in place, not copied
(:meth:`FaceMeshGraph.submit`).
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
import types
from collections import deque

import numpy as np

#: One serialised NormalizedLandmark holding x, y and z only, as it sits in a serialised
#: NormalizedLandmarkList (17 bytes): the entry's tag and length, then three tagged little-endian floats.
_ENTRY = np.dtype({"names": ["x", "y", "z"], "formats": ["<f4", "<f4", "<f4"], "offsets": [3, 8, 13],
                   "itemsize": 17})
#: The entry's fixed bytes: (offset, value) of the entry tag, its length, and the tags of x, y and z.
_ENTRY_TAGS = ((0, 0x0A), (1, 0x0F), (2, 0x0D), (7, 0x15), (12, 0x1D))


class _Deferred(types.ModuleType):
    """Stands in for a module in ``sys.modules`` until something reads from it; then the real
    module is imported (replacing this one there) and its names are copied here, so those that
    took this object get the real module's contents."""

    def __getattr__(self, name: str):  # called only for names not (yet) here
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
            self.__dict__.update(vars(importlib.import_module(self.__name__)))
        return object.__getattribute__(self, name)


#: Modules that ``import mediapipe`` imports and facefeedback's measuring never reads from: the
#: solutions' drawing helpers, which import matplotlib (about 0.4 s of CPU together), the
#: solutions that download their models when used (holistic, pose and objectron: about 0.08 s), and
#: MediaPipe Tasks (about 0.13 s), which only the optional blendshape backend uses.
DEFERRED_AT_IMPORT = ("mediapipe.python.solutions.drawing_utils", "mediapipe.python.solutions.drawing_styles",
                      "mediapipe.python.solutions.holistic", "mediapipe.python.solutions.objectron",
                      "mediapipe.python.solutions.pose",
                      "mediapipe.tasks.python")


def load_mediapipe() -> None:
    """Import MediaPipe, leaving the modules of :data:`DEFERRED_AT_IMPORT` to load on first use.

    ``import mediapipe`` imports every solution, their drawing helpers (and so matplotlib) and
    MediaPipe Tasks: about 0.6 s of CPU at every start of a command (and of every worker of a
    study), for modules that facefeedback's measuring never reads. Unless they are already loaded,
    a stand-in takes each one's place while MediaPipe is imported (and as its package's
    attribute), and the real module is imported the first time anything reads from it
    (``mp.solutions.drawing_utils`` or ``mp.tasks.vision`` in a user's script, for example), as it
    would have been at import.
    """
    if "mediapipe" in sys.modules:
        return
    deferred = [] if any(name in sys.modules for name in DEFERRED_AT_IMPORT) else \
        [sys.modules.setdefault(name, _Deferred(name)) for name in DEFERRED_AT_IMPORT]
    if deferred:
        _load_tasks_package()
    import mediapipe  # noqa: F401

    for stand_in in deferred:  # found in sys.modules, they were not bound to their package
        package, _, name = stand_in.__name__.rpartition(".")
        if not hasattr(sys.modules[package], name):
            setattr(sys.modules[package], name, stand_in)


def _load_tasks_package() -> None:
    """Load the package ``mediapipe.tasks`` (its ``__init__`` holds only a docstring) before
    ``mediapipe`` itself, with the stand-in of ``mediapipe.tasks.python`` as its attribute.

    ``mediapipe`` binds ``import mediapipe.tasks.python as tasks``, which, with the stand-in in
    ``sys.modules``, takes the package from ``sys.modules`` and the stand-in from it; imported
    later, the package would replace ``mediapipe.tasks`` (the stand-in) with itself.
    """
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")  # a top-level package's spec: nothing is imported
    found = importlib.machinery.PathFinder.find_spec("mediapipe.tasks", list(spec.submodule_search_locations or []))
    if found is None:
        return
    package = importlib.util.module_from_spec(found)
    sys.modules["mediapipe.tasks"] = package
    found.loader.exec_module(package)
    package.python = sys.modules["mediapipe.tasks.python"]


@functools.cache
def one_thread(solution: type) -> type:
    """A MediaPipe solution class (``face_mesh.FaceMesh``, ``face_detection.FaceDetection``, ...)
    whose graph runs its calculators in one thread (made once per class).

    MediaPipe runs a graph's calculators in a pool of as many threads as the machine has cores,
    handing each frame from thread to thread as one calculator after another becomes ready. A
    frame's calculators mostly wait for the one before, so the pool adds next to no parallelism,
    only the handing over: each hand-over wakes a thread, which on a machine whose cores are busy
    with the decoding and the features waits for one. Face Mesh in one thread gives the same
    landmarks bit for bit (a test checks them against ``process``), with about 0.3 ms less CPU
    time a 640x360 frame (5.8-6.0 ms against 6.0-6.7). Should the solution's internals differ from
    those of the MediaPipe version pinned, the class is returned as it is.
    """
    if not hasattr(solution, "_initialize_graph_interface"):
        return solution

    class OneThread(solution):
        def _initialize_graph_interface(self, *args, **kwargs):
            config = super()._initialize_graph_interface(*args, **kwargs)
            _one_thread(config)
            return config

    OneThread.__name__ = OneThread.__qualname__ = solution.__name__
    return OneThread


def _one_thread(config) -> None:
    """Give a CalculatorGraphConfig's default executor one thread (a thread pool's only option),
    unless the graph chose an executor or a thread count of its own."""
    from mediapipe.framework import thread_pool_executor_pb2

    if config.num_threads:
        return
    executor = next((e for e in config.executor if not e.name), None)
    if executor is None:
        executor = config.executor.add()
    if executor.type not in ("", "ThreadPoolExecutor"):
        return
    options = executor.options.Extensions[thread_pool_executor_pb2.ThreadPoolExecutorOptions.ext]
    if not options.num_threads:
        options.num_threads = 1


def _scale(width: int, height: int) -> np.ndarray:
    return np.array([width, height, width], dtype=np.float64)


def _wire_to_pixels(data: bytes, width: int, height: int) -> np.ndarray | None:
    """A serialised NormalizedLandmarkList whose entries hold exactly x, y and z (17 bytes each)
    as an (n, 3) array in pixels; None for any other layout (visibility set, ...)."""
    n, rest = divmod(len(data), 17)
    if rest or not n or any(data[at::17] != bytes((tag,)) * n for at, tag in _ENTRY_TAGS):
        return None
    entries = np.frombuffer(data, dtype=_ENTRY)
    points = np.empty((n, 3))
    for k, axis in enumerate("xyz"):
        points[:, k] = entries[axis]
    points *= _scale(width, height)
    return points


def _to_pixels(landmarks, width: int, height: int) -> np.ndarray:
    """Landmarks (a NormalizedLandmarkList or a list of landmarks) as an (n, 3) array in pixels.

    A list in the 17-byte layout is read at once (ten times faster than 1,434 attribute
    reads); anything else takes the attribute path.
    """
    if hasattr(landmarks, "SerializeToString") and len(landmarks.landmark):
        fast = _wire_to_pixels(landmarks.SerializeToString(), width, height)
        if fast is not None and len(fast) == len(landmarks.landmark):
            return fast
        landmarks = landmarks.landmark
    flat = [c for p in landmarks for c in (p.x, p.y, p.z)]
    return np.array(flat, dtype=np.float64).reshape(-1, 3) * _scale(width, height)


def _serialised_to_pixels(data: bytes, width: int, height: int) -> np.ndarray:
    fast = _wire_to_pixels(data, width, height)
    if fast is not None:
        return fast
    from mediapipe.framework.formats import landmark_pb2

    return _to_pixels(landmark_pb2.NormalizedLandmarkList.FromString(data), width, height)


class _Closable:
    """Usable in ``with``: :meth:`close` on the way out."""

    def close(self) -> None:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Outputs:
    """Takes the place of ``SolutionBase``'s dict of output packets, which the graph's observer
    (in the graph's own thread) fills: the packets of a one-output graph kept by timestamp until
    taken, so that several frames can be in the graph at once."""

    #: Seconds to wait for a frame's output before asking the graph to finish everything queued
    #: (``wait_until_idle``, which also raises the graph's error, if any): MediaPipe gives every
    #: frame an output (an empty packet when no face is found), so this is only a safeguard.
    PATIENCE_S = 2.0

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._packets: dict[int, object] = {}
        self._latest = -1

    def __setitem__(self, stream: str, packet) -> None:
        at = packet.timestamp.value
        with self._ready:
            self._packets[at] = packet
            self._latest = max(self._latest, at)
            self._ready.notify()

    def take(self, timestamp: int, graph):
        """The output packet of the frame added at ``timestamp`` (None if the graph gave none)."""
        with self._ready:
            answered = self._ready.wait_for(lambda: self._latest >= timestamp, self.PATIENCE_S)
        if not answered:
            graph.wait_until_idle()
        with self._ready:
            for earlier in [at for at in self._packets if at < timestamp]:
                del self._packets[earlier]
            return self._packets.pop(timestamp, None)


class FaceMeshGraph(_Closable):
    """MediaPipe Face Mesh with ``options`` (those of ``face_mesh.FaceMesh``); :meth:`faces` gives
    what ``FaceMesh.process(rgb).multi_face_landmarks`` holds, each face as an (n, 3) array in pixels.

    :meth:`submit` and :meth:`result` split :meth:`faces` in two, so that the next frame can be
    queued before this one's result is read (see the module's docstring).

    Examples
    --------
    >>> with FaceMeshGraph(max_num_faces=1, refine_landmarks=True) as mesh:   # doctest: +SKIP
    ...     faces = mesh.faces(rgb)            # [array of shape (478, 3)] or []
    """

    OUTPUT = "multi_face_landmarks"

    def __init__(self, **options) -> None:
        load_mediapipe()
        from mediapipe.python.solutions import face_mesh

        self._mesh = one_thread(face_mesh.FaceMesh)(**options)
        inputs = getattr(self._mesh, "_input_stream_type_info", None) or {}
        outputs = getattr(self._mesh, "_output_stream_type_info", None) or {}
        # The solution's internals read here are those of mediapipe 0.10's SolutionBase (the
        # version pinned); should they change, process() and the attribute path take over.
        self._direct = len(inputs) == 1 and list(outputs) == [self.OUTPUT] and all(
            hasattr(self._mesh, name) for name in ("_graph", "_graph_outputs", "_simulated_timestamp", "_make_packet"))
        #: Frames submitted whose result is not taken yet: (timestamp, width, height), or the
        #: image itself when ``process`` does the work.
        self._pending: deque = deque()
        if self._direct:
            from mediapipe.python._framework_bindings import _packet_getter

            self._stream, self._stream_type = next(iter(inputs.items()))
            self._serialised_list = _packet_getter._get_serialized_proto_list
            self._outputs = self._mesh._graph_outputs = _Outputs()

    def faces(self, rgb: np.ndarray) -> list[np.ndarray]:
        """The landmarks of every face found in an RGB image (the tracking state is kept between
        calls); every frame submitted before must have had its result taken."""
        self.submit(rgb)
        return self.result()

    def submit(self, rgb: np.ndarray) -> None:
        """Add an RGB image to the graph without waiting for its landmarks (:meth:`result` gives
        them, frame by frame in the order submitted).

        As ``process``, the graph copies an image that can be written and reads one that cannot
        (``flags.writeable`` False: a video frame's :attr:`facefeedback.io.Frame.rgb`) where it
        is, holding a reference to it; that saves a copy of every frame (6 MB at 1080p). A
        read-only image laid out with gaps is copied into one that is not (MediaPipe reads only
        contiguous arrays by reference).
        """
        if not rgb.flags.writeable and not rgb.flags.c_contiguous:
            rgb = np.ascontiguousarray(rgb)
            rgb.flags.writeable = False
        if not self._direct:
            self._pending.append(rgb)
            return
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"Face Mesh takes a three-channel RGB image, got shape {rgb.shape}")
        # As SolutionBase.process: step the simulated 30 fps clock, add the frame.
        mesh = self._mesh
        mesh._simulated_timestamp += 33333
        packet = mesh._make_packet(self._stream_type, rgb).at(mesh._simulated_timestamp)
        mesh._graph.add_packet_to_input_stream(stream=self._stream, packet=packet)
        self._pending.append((mesh._simulated_timestamp, rgb.shape[1], rgb.shape[0]))

    def result(self) -> list[np.ndarray]:
        """The landmarks of every face in the earliest submitted frame whose result is not taken yet."""
        if not self._pending:
            raise RuntimeError("no frame was submitted to Face Mesh whose result is still to be taken")
        if not self._direct:
            rgb = self._pending.popleft()
            h, w = rgb.shape[:2]
            return [_to_pixels(f, w, h) for f in (self._mesh.process(rgb).multi_face_landmarks or [])]
        timestamp, w, h = self._pending.popleft()
        found = self._outputs.take(timestamp, self._mesh._graph)
        if found is None or found.is_empty():
            return []
        return [_serialised_to_pixels(data, w, h) for data in self._serialised_list(found)]

    def close(self) -> None:
        self._pending.clear()
        self._mesh.close()
