"""A simulated study written in the study pipeline's output layout (``facefeedback simulate``).

The study itself, participants, scores and per-frame series with known truth, comes from
:mod:`facefeedback.synthetic.studies`; this module writes it where ``facefeedback run`` would
write a measured one, marked as simulated everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import __version__, schema
from ..components.registry import FAMILIES
from ..config import EventConfig
from ..errors import OutputError
from ..files import atomic_write_text, write_json, write_table
from ..output_folders import check_output_path, plan_output, refuse_study_folder, writing
from ..summary import detect_events, events_to_json
from ..synthetic.studies import (
    PRIMARY_SCALE,
    TASK,
    SimulationSettings,
    participant_ids,
    simulate_study,
)
from ..synthetic.trial_study import CAPACITY_TASK, CONTRASTS, TRIAL_TASK, TRIAL_TYPES
from .outputs import SIMULATED_STUDY, is_measured_study
from .simulated_trials import simulate_trial_rows, study_trials, trial_truth

#: What a reader of a simulated study is told, wherever it says where its data came from.
SIMULATED_NOTE = "simulated by 'facefeedback simulate': no participant was measured"


def simulated_files(settings: SimulationSettings) -> list[str]:
    """Every file :func:`write_simulated_study` writes, relative to its folder."""
    tasks = [TASK] + ([TRIAL_TASK] if settings.trials_per_condition > 0 else []) + (
        [CAPACITY_TASK] if settings.capacity else [])
    ids = participant_ids(2 * settings.n_per_arm)
    rids = [f"{pid}_{session}_{task}" for task in tasks for pid in ids for session in settings.sessions]
    with_events = [rid for rid in rids if not rid.endswith(f"_{TASK}")]
    return ["study.json", "failures.csv", "features/session_features.parquet", "features/session_features.csv",
            *(f"recordings/{rid}/{name}" for rid in rids for name in ("frames.parquet", "summary.json")),
            *(f"recordings/{rid}/{name}" for rid in with_events for name in ("trials.parquet", "events.tsv")),
            *(["features/trials.parquet"] if with_events else [])]


def write_simulated_study(out_dir, settings: SimulationSettings, seed: int = 0, force: bool = False) -> dict:
    """Simulate a study and write it in the study pipeline's output layout.

    Writes ``study.json``, ``features/session_features.parquet`` and ``.csv``,
    ``recordings/<recording_id>/frames.parquet`` and ``summary.json`` and an empty
    ``failures.csv`` under ``out_dir``; every one says it is simulated (``study.json``'s
    ``simulated``, the tables' Parquet metadata, the summaries' ``source``). The simulated
    study of an earlier call is replaced as a whole (files of participants it no longer has
    are removed); anything else in the folder is left as it is.

    Raises
    ------
    OutputError
        ``out_dir`` holds a measured study (always refused), or files facefeedback did not
        write where the simulated study goes (unless ``force``).

    Returns
    -------
    dict
        The content of ``study.json``, whose ``"simulation"`` entry holds the
        settings, the seed and the true coefficients.
    """
    out = Path(out_dir)
    check_output_path(out)
    if out.is_dir() and is_measured_study(out):
        raise OutputError(f"{out}: holds a measured study ('facefeedback run'); a simulated study is never "
                          "written over one: choose another --out")
    refuse_study_folder(out)  # nor into a run's folder that has no study yet (interrupted)
    plan = plan_output(out, SIMULATED_STUDY, simulated_files(settings), force)
    table, frames = simulate_study(settings, seed, with_frames=True)
    extra, recordings = simulate_trial_rows(table, settings, seed)
    if recordings:
        table = pd.concat([table, extra], ignore_index=True)
        frames = frames + [r["frames"] for r in recordings]
    by_id = {r["recording_id"]: r for r in recordings}
    table.attrs["facefeedback"] = {"simulated": True}
    feature_names = schema.summary_feature_names()
    eff = settings.effects
    study = {
        "simulated": True,
        "note": SIMULATED_NOTE,
        "sessions": list(settings.sessions),
        "reference_session": settings.sessions[0],
        "simulation": {
            "seed": seed,
            "settings": settings.to_dict(),
            "truth": {"generative_model": settings.model, "frown_scale": settings.frown_scale,
                      "frown_effect": eff.frown, "direct_effect": eff.direct,
                      "indirect_effect": eff.mediated, "frown_slope": eff.slope,
                      "total_effect": eff.direct + eff.mediated, "outcome": PRIMARY_SCALE,
                      "feature": "frown_intensity_mean", "session": settings.sessions[-1],
                      **trial_truth(settings)},
        },
        "study": {"capacity_task": CAPACITY_TASK if settings.capacity else None,
                  "contrasts": {k: list(v) for k, v in CONTRASTS.items()} if settings.trials_per_condition else {}},
        "trial_types": list(TRIAL_TYPES) if settings.trials_per_condition else [],
        "provenance": {"generator": "facefeedback simulate", "version": __version__},
    }
    with writing(plan) as staging:
        for row, rec in enumerate(table["recording_id"]):
            rec_dir = staging / "recordings" / rec
            rec_dir.mkdir(parents=True)
            write_table(frames[row], rec_dir / "frames.parquet")
            table_row = frames[row]
            events = {f.name: detect_events(table_row["timestamp_s"], table_row[f.intensity],
                                            table_row["valid"], EventConfig()) for f in FAMILIES}
            summary = {"source": f"simulated:{rec}",
                       "features": {k: table.at[row, k] for k in feature_names},
                       "events": events_to_json(events["frown"]),
                       "smile_events": events_to_json(events["smile"]), "calibration": {}}
            if rec in by_id:
                summary.update(by_id[rec]["summary"])
                write_table(by_id[rec]["trials"], rec_dir / "trials.parquet")
                by_id[rec]["events"].to_csv(rec_dir / "events.tsv", sep="\t", index=False)
            write_json(rec_dir / "summary.json", summary)
        (staging / "features").mkdir()
        write_table(table, staging / "features" / "session_features.parquet")
        write_table(table, staging / "features" / "session_features.csv")
        trials = study_trials(recordings, dict(zip(table["participant_id"], table["arm"])))
        if trials is not None:
            write_table(trials, staging / "features" / "trials.parquet")
        atomic_write_text(staging / "failures.csv", "recording_id,path,error\n")
        write_json(staging / "study.json", study)
    return study
