"""A small generated study to run the whole pipeline on: ``sample_videos/demo_study/``.

Eight participants in two arms (botox, placebo), a baseline and a week-6 visit,
two tasks per visit:

* ``rest``: a neutral face (one of two clips, reused across participants and
  visits, as a lab's rest recordings would all look alike); the study
  calibrates each participant on it;
* ``sad_film``: the synthetic frowns of :mod:`facefeedback.synth`, scaled per
  participant and visit. Every participant frowns about as much at baseline;
  at week 6 the botox arm frowns much less (the toxin), placebo about the same.

Scores (HAM-D 17 and PANAS negative affect) improve more where frowning fell
more, with noise, so the analysis has a known direction to find. All numbers
are drawn from one seed; the ground-truth amplitudes are in ``truth.csv``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..synth import SIZE, FaceAnchors, frown_curve, frown_face, neutral_face

SECONDS = 6.0
FPS = 10.0
N_PARTICIPANTS = 8


def write_clip(path: Path, amplitude: float, seed: int, base: np.ndarray, anchors: FaceAnchors) -> None:
    """A clip of the synthetic frown curve scaled by ``amplitude`` (0 = a neutral face throughout)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(SECONDS * FPS))) / FPS
    curve = amplitude * frown_curve(t)
    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (SIZE, SIZE))
    try:
        for a in curve:
            img = frown_face(base, anchors, float(a)).astype(np.float32) + rng.normal(0, 2.0, base.shape)
            writer.write(np.clip(img, 0, 255).astype(np.uint8))
    finally:
        writer.release()
    tmp.replace(path)


def design(seed: int = 7) -> pd.DataFrame:
    """One row per participant: arm, covariates, frown amplitudes per visit and scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(N_PARTICIPANTS):
        arm = "botox" if i % 2 == 0 else "placebo"
        base_amp = float(np.round(rng.uniform(0.75, 1.0), 2))
        kept = rng.uniform(0.25, 0.45) if arm == "botox" else rng.uniform(0.85, 1.05)
        week6_amp = float(np.round(min(base_amp * kept, 1.0), 2))
        hamd0 = int(rng.integers(16, 25))
        drop = 12 * (base_amp - week6_amp) + rng.normal(2.0, 1.5)  # less frowning, better mood
        hamd6 = int(np.clip(round(hamd0 - drop), 0, 52))
        na0 = int(rng.integers(24, 36))
        na6 = int(np.clip(round(na0 - 10 * (base_amp - week6_amp) - rng.normal(1.0, 1.5)), 10, 50))
        rows.append({"participant_id": f"sub-{i + 1:02d}", "arm": arm, "age": int(rng.integers(28, 62)),
                     "sex": "F" if rng.random() < 0.6 else "M", "amp_baseline": base_amp, "amp_week6": week6_amp,
                     "HAMD17_baseline": hamd0, "HAMD17_week6": hamd6, "PANAS_NA_baseline": na0,
                     "PANAS_NA_week6": na6})
    return pd.DataFrame(rows)


def write_demo_study(folder: str | Path, seed: int = 7) -> list[Path]:
    """Write the clips and the participants, recordings and scores tables; return the clip paths."""
    folder = Path(folder)
    clips = folder / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    base = neutral_face()
    anchors = FaceAnchors.find(base)
    people = design(seed)
    written = []
    for k in range(2):
        path = clips / f"rest_{k + 1}.mp4"
        write_clip(path, 0.0, seed + 100 + k, base, anchors)
        written.append(path)
    recordings, scores = [], []
    for i, p in enumerate(people.itertuples(index=False)):
        for session in ("baseline", "week6"):
            amp = getattr(p, f"amp_{session}")
            clip = clips / f"{p.participant_id}_{session}_sad_film.mp4"
            write_clip(clip, amp, seed + 10 * i + (session == "week6"), base, anchors)
            written.append(clip)
            recordings += [(p.participant_id, session, "rest", f"clips/rest_{(i % 2) + 1}.mp4"),
                           (p.participant_id, session, "sad_film", f"clips/{clip.name}")]
            for scale in ("HAMD17", "PANAS_NA"):
                scores.append((p.participant_id, session, scale, getattr(p, f"{scale}_{session}")))
    people[["participant_id", "arm", "age", "sex"]].to_csv(folder / "participants.tsv", sep="\t", index=False)
    pd.DataFrame(recordings, columns=["participant_id", "session", "task", "path"]).to_csv(
        folder / "recordings.tsv", sep="\t", index=False)
    pd.DataFrame(scores, columns=["participant_id", "session", "scale", "score"]).to_csv(
        folder / "scores.csv", index=False)
    people[["participant_id", "arm", "amp_baseline", "amp_week6"]].to_csv(folder / "truth.csv", index=False)
    return written
