"""Building miniature study folders for the study tests."""

from __future__ import annotations

from pathlib import Path


def write_study(folder: Path, recordings: list[tuple[str, str, str, Path]], scores: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pids = list(dict.fromkeys(r[0] for r in recordings))
    arms = ["botox", "placebo"]
    (folder / "participants.tsv").write_text(
        "participant_id\tarm\tage\n" + "".join(f"{p}\t{arms[i % 2]}\t{30 + i}\n" for i, p in enumerate(pids)))
    (folder / "recordings.tsv").write_text(
        "participant_id\tsession\ttask\tpath\n" + "".join(f"{p}\t{s}\t{t}\t{path}\n" for p, s, t, path in recordings))
    text = "participants: participants.tsv\nrecordings: recordings.tsv\nsessions: [baseline, week6]\n" \
           "calibration: {tasks: [rest], percentile: 20}\n"
    if scores:
        (folder / "scores.csv").write_text("participant_id,session,scale,score\n" + scores)
        text += "scores: scores.csv\n"
    (folder / "study.yaml").write_text(text)
    return folder / "study.yaml"
