"""A small generated study to run the whole pipeline on: ``sample_videos/demo_study/``.

Twelve participants in two arms (botox, placebo), a baseline and a week-6 visit,
three tasks per visit, every recording its own clip (as in a real study, where no two
recordings are the same file):

* ``rest``: a mostly neutral face with one brief, small spontaneous frown (a third of
  the participant's frown at that visit), each clip with its own sensor noise and the
  frown at its own moment; the study calibrates each participant on it (the least
  frowning frames);
* ``sad_film``: four trials with a BIDS events file (``<clip>_events.tsv``): two
  ``negative`` scenes, to which the participant frowns (the synthetic frown of
  :mod:`facefeedback.synthetic.faces`, at the participant's amplitude for that visit, peaking
  :data:`PEAK_S` after onset) and two ``neutral`` ones (a quarter of it). Every
  participant frowns about as much at baseline; at week 6 the botox arm frowns much
  less (the toxin), placebo about the same;
* ``max_frown``: three cued attempts to frown as hard as possible (events file with
  ``attempt`` trials), at the same amplitude: the maximal-frown check.

Scores (HAM-D 17 and PANAS negative affect) improve more where frowning fell
more, with noise, so the analysis has a known direction to find. All numbers
are drawn from one seed; the ground-truth amplitudes are in ``truth.csv``.
Clips are 320 px square at 10 fps, MPEG-4 Part 2, so the 72 of them stay small.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .faces import FaceAnchors, neutral_face
from .trials import Trial, trial_curve, write_curve_clip, write_events

FPS = 10.0
N_PARTICIPANTS = 12
#: Seconds of each task's clip.
SECONDS = {"rest": 4.0, "sad_film": 9.0, "max_frown": 6.0}
TASKS = tuple(SECONDS)
#: The trials: (onset s, duration s, trial type, share of the participant's frown).
TRIALS = {"sad_film": [(1.0, 1.2, "negative", 1.0), (3.2, 1.2, "neutral", 0.25), (5.4, 1.2, "negative", 1.0),
                       (7.6, 1.2, "neutral", 0.25)],
          "max_frown": [(1.0, 1.0, "attempt", 1.0), (3.0, 1.0, "attempt", 1.0), (5.0, 1.0, "attempt", 1.0)]}
#: Onset to the peak of each trial's frown (it starts 0.2 s after onset and is gone 0.5 s after the peak).
PEAK_S = 0.6
#: Side of the clips in pixels (the synthetic face is drawn at faces.SIZE, then reduced).
CLIP_SIZE = 320
#: The spontaneous frown at rest, as a share of the participant's frown at that visit.
REST_SHARE = 1 / 3


def rest_curve(t: np.ndarray, start_s: float) -> np.ndarray:
    """One brief frown, rising from ``start_s`` over 0.4 s, held 0.6 s, released over 0.4 s (peak 1)."""
    rise = np.clip((t - start_s) / 0.4, 0, 1)
    fall = np.clip((t - start_s - 1.0) / 0.4, 0, 1)
    return np.sin(np.pi / 2 * rise) ** 2 * (1 - np.sin(np.pi / 2 * fall) ** 2)


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
    for old in [*clips.glob("*.mp4"), *clips.glob("*_events.tsv")]:  # clips of an earlier layout
        old.unlink()
    base = neutral_face()
    anchors = FaceAnchors.find(base)
    people = design(seed)
    rng = np.random.default_rng(seed + 1000)  # the moment of each rest clip's frown
    written, recordings, scores = [], [], []
    for i, p in enumerate(people.itertuples(index=False)):
        for v, session in enumerate(("baseline", "week6")):
            amp = getattr(p, f"amp_{session}")
            for k, task in enumerate(TASKS):
                t = np.arange(int(round(SECONDS[task] * FPS))) / FPS
                clip = clips / f"{p.participant_id}_{session}_{task}.mp4"
                if task == "rest":
                    curve = REST_SHARE * amp * rest_curve(t, float(rng.uniform(1.0, SECONDS[task] - 1.6)))
                else:
                    trials = [Trial(o, d, tt, share * amp, latency_s=PEAK_S) for o, d, tt, share in TRIALS[task]]
                    curve = trial_curve(t, trials, fall_s=0.5)
                    write_events(clip.with_name(f"{clip.stem}_events.tsv"), trials)
                write_curve_clip(clip, curve, FPS, CLIP_SIZE, 2.0, seed + 100 * i + 10 * v + k, base, anchors)
                written.append(clip)
                recordings.append((p.participant_id, session, task, f"clips/{clip.name}"))
            for scale in ("HAMD17", "PANAS_NA"):
                scores.append((p.participant_id, session, scale, getattr(p, f"{scale}_{session}")))
    people[["participant_id", "arm", "age", "sex"]].to_csv(folder / "participants.tsv", sep="\t", index=False)
    pd.DataFrame(recordings, columns=["participant_id", "session", "task", "path"]).to_csv(
        folder / "recordings.tsv", sep="\t", index=False)
    pd.DataFrame(scores, columns=["participant_id", "session", "scale", "score"]).to_csv(
        folder / "scores.csv", index=False)
    people[["participant_id", "arm", "amp_baseline", "amp_week6"]].to_csv(folder / "truth.csv", index=False)
    return written
