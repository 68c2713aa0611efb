"""One analysis from a study folder to ``DIR/analysis``: the orchestrating function."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import AnalysisError, NotEstimable
from ..files import file_sha256, write_json, write_table
from ..output_folders import OutputKind, plan_output, writing
from ..provenance import analysis_versions, created
from .baselines import describe
from .data import EXCLUSION_FIELDS, AnalysisData, prepare
from .results import AnalysisResults, ModelResult, NotEstimableResult
from .settings import AnalysisSettings
from .study_features import StudyFeatures, load_study_features

logger = logging.getLogger(__name__)

__all__ = ["AnalysisSettings", "analyze_data", "run_analysis", "write_tables"]

DEFAULT_SETTINGS = AnalysisSettings()
#: What writes more into the analysis folder from the results (the report): it is called with
#: the results, the data the models were fitted on, the study's features and the folder.
Writer = Callable[[AnalysisResults, AnalysisData, StudyFeatures, Path], object]


def _earlier_analysis(folder: Path) -> list[str]:
    """An analysis folder written before output markers: known by its results.json."""
    try:
        results = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return []
    if not (isinstance(results, dict) and "provenance" in results and "primary" in results):
        return []
    files = ["results.json"] + (["report.html"] if (folder / "report.html").is_file() else [])
    files += [f"figures/{p.name}" for p in sorted((folder / "figures").glob("*")) if p.suffix in (".png", ".svg")]
    return files + [f"tables/{p.name}" for p in sorted((folder / "tables").glob("*.csv"))]


#: ``analysis/``: results.json, tables/, report.html and figures/, replaced as a whole by each run.
ANALYSIS = OutputKind("analysis", "an analysis", _earlier_analysis, last=("results.json",))
ANALYSIS_FILES = ("results.json", "report.html", "tables/models.csv", "tables/participants.csv")


def analyze_data(data: AnalysisData, settings: AnalysisSettings
                 ) -> tuple[dict[str, ModelResult | None], dict[str, float]]:
    """Fit every registered model (:data:`facefeedback.analysis.registry.MODELS`) on prepared
    data; returns each model's result and the seconds it took.

    Each model draws from its own stream of ``numpy.random.SeedSequence(seed)``,
    so adding resamples to one model never changes another's numbers. BLAS runs
    on one thread here: the models solve thousands of tiny least-squares
    problems, for which extra BLAS threads only add synchronisation (measured:
    mediation 14.5 s with two threads, 8.1 s with one, on a busy 2-core machine).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _analyze_data(data, settings)


def _analyze_data(data: AnalysisData, settings: AnalysisSettings
                  ) -> tuple[dict[str, ModelResult | None], dict[str, float]]:
    from .registry import MODELS

    streams = [np.random.default_rng(s)
               for s in np.random.SeedSequence(settings.seed).spawn(len(MODELS))]
    results: dict[str, ModelResult | None] = {}
    timings = {}
    for registered, rng in zip(MODELS, streams):
        name = registered.name
        start = time.perf_counter()
        try:
            results[name] = registered.fit(data, settings, rng)
        except (NotEstimable, np.linalg.LinAlgError) as exc:
            reason = str(exc) if isinstance(exc, NotEstimable) else f"singular fit ({exc})"
            if registered.required:
                raise AnalysisError(f"the {name} model cannot be estimated: {reason}") from None
            logger.warning("%s model not estimable: %s", name, reason)
            results[name] = NotEstimableResult(name, reason)
        timings[name] = round(time.perf_counter() - start, 3)
        logger.info("%s model: %.2f s", name, timings[name])
    return results, timings


def run_analysis(path, outcome: str, feature: str = "frown_intensity_mean",
                 task: str | None = None, session: str | None = None,
                 treated_arm: str | None = None, control_arm: str | None = None,
                 settings: AnalysisSettings = DEFAULT_SETTINGS, out_dir=None,
                 report: Writer | None = None, force: bool = False,
                 control_feature: str = "smile_intensity_mean") -> AnalysisResults:
    """Analyse a study and write ``results.json`` and the CSV tables (and, through ``report``,
    the report).

    Parameters
    ----------
    path : str or Path
        A study output folder or a session-features file (parquet or csv).
    outcome, feature, task, session, treated_arm, control_arm, control_feature
        See :func:`facefeedback.analysis.data.prepare`.
    settings : AnalysisSettings
    out_dir : str or Path, optional
        Default ``<study folder>/analysis``, or ``analysis/`` next to a features file. What
        an earlier analysis wrote there and this one does not is removed; other files stay.
    report : callable, optional
        Writes ``report.html`` and the figures into the folder being written
        (:func:`facefeedback.report.write_report`); the analysis knows no report itself.
    force : bool
        Overwrite files in the way that facefeedback did not write.

    Returns
    -------
    AnalysisResults
        What ``results.json`` holds, typed.
    """
    study = load_study_features(path)
    data = prepare(study, outcome, feature, task, session, treated_arm, control_arm, control_feature)
    out = Path(out_dir) if out_dir else (study.root or study.source.parent) / "analysis"
    plan = plan_output(out, ANALYSIS, [f for f in ANALYSIS_FILES if report or f != "report.html"], force)
    start = time.perf_counter()
    models, timings = analyze_data(data, settings)
    results = AnalysisResults(
        provenance={
            "input": str(study.source), "output": str(out), "input_sha256": file_sha256(study.source),
            "settings": asdict(settings), "versions": analysis_versions(), "created": created(),
            **({"simulation": study.simulation} if study.simulation is not None else {}),
        },
        data={
            "outcome": data.outcome, "feature": data.feature, "task": data.task,
            "session": data.session, "reference_session": data.reference_session,
            "sessions": data.sessions, "treated_arm": data.treated_arm,
            "control_arm": data.control_arm, "control_feature": data.control_feature,
            "capacity_task": study.capacity_task,
            "n": {arm: int((data.wide["arm"] == arm).sum())
                  for arm in (data.treated_arm, data.control_arm)},
            "excluded_participants": data.excluded,
            "simulated": study.simulation is not None,
        },
        model=describe(data, settings.model), models=models, timings_s=timings,
        analysis_time_s=round(time.perf_counter() - start, 3))
    with writing(plan) as staging:
        write_tables(results, data, staging)
        write_json(staging / "results.json", results.to_json())
        if report is not None:
            report(results, data, study, staging)
    logger.info("analysis written to %s", out)
    return results


def write_tables(results: AnalysisResults, data: AnalysisData, out: Path) -> None:
    """``models.csv`` (every model, one line per estimate), ``participants.csv`` (the table the
    models were fitted on) and ``excluded_participants.csv`` (who was left out, and why)."""
    tables = out / "tables"
    tables.mkdir(exist_ok=True)
    frame = results.rows_frame()
    write_table(frame, tables / "models.csv")
    for model, part in frame.groupby("model", sort=False):
        write_table(part, tables / f"{model}.csv")
    write_table(data.wide, tables / "participants.csv")
    write_table(pd.DataFrame(data.excluded, columns=list(EXCLUSION_FIELDS)),
                tables / "excluded_participants.csv")
