"""One analysis from a study folder to ``DIR/analysis``: the orchestrating function."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import AnalysisError, NotEstimable
from ..files import file_sha256, write_json, write_table
from .data import EXCLUSION_FIELDS, AnalysisData, load_study, prepare

logger = logging.getLogger(__name__)


#: Models that the analysis can do without: when one cannot be estimated it is marked so
#: (``{"not_estimable": reason, "rows": []}``) and the others stand. The primary model, the
#: arm comparisons and the mediation answer the study's question: without them it is an error.
MAY_BE_NOT_ESTIMABLE = ("responders", "predictive", "mixed")


@dataclass(frozen=True)
class AnalysisSettings:
    """Resampling sizes and the seed; saved with every result."""

    n_boot: int = 5000
    n_perm: int = 5000
    n_perm_predictive: int = 200
    seed: int = 0


def analyze_data(data: AnalysisData, settings: AnalysisSettings) -> dict:
    """Fit every model on prepared data; returns the ``results.json`` model entries.

    Each model draws from its own stream of ``numpy.random.SeedSequence(seed)``,
    so adding resamples to one model never changes another's numbers. BLAS runs
    on one thread here: the models solve thousands of tiny least-squares
    problems, for which extra BLAS threads only add synchronisation (measured:
    mediation 14.5 s with two threads, 8.1 s with one, on a busy 2-core machine).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _analyze_data(data, settings)


def _analyze_data(data: AnalysisData, settings: AnalysisSettings) -> dict:
    from .mediation import mediation_model
    from .mixed import mixed_model
    from .models import arms_model, primary_model
    from .predictive import predictive_model
    from .responders import responder_model

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(settings.seed).spawn(3)]
    timings = {}
    results = {}
    steps = (
        ("primary", lambda: primary_model(data, settings.n_boot, settings.n_perm, streams[0])),
        ("arms", lambda: arms_model(data, settings.n_boot, streams[1])),
        ("mediation", lambda: mediation_model(data, settings.n_boot, streams[2])),
        ("responders", lambda: responder_model(data, settings.seed)),
        ("predictive", lambda: predictive_model(data, settings.n_perm_predictive, settings.seed)),
        ("mixed", lambda: mixed_model(data)),
    )
    for name, step in steps:
        start = time.perf_counter()
        try:
            results[name] = step()
        except (NotEstimable, np.linalg.LinAlgError) as exc:
            reason = str(exc) if isinstance(exc, NotEstimable) else f"singular fit ({exc})"
            if name not in MAY_BE_NOT_ESTIMABLE:
                raise AnalysisError(f"the {name} model cannot be estimated: {reason}") from None
            logger.warning("%s model not estimable: %s", name, reason)
            results[name] = {"not_estimable": reason, "rows": []}
        timings[name] = round(time.perf_counter() - start, 3)
        logger.info("%s model: %.2f s", name, timings[name])
    results["timings_s"] = timings
    return results


def _versions() -> dict:
    import importlib.metadata as md

    names = ("facefeedback", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn",
             "matplotlib")
    return {n: md.version(n) for n in names}


def run_analysis(path, outcome: str, feature: str = "frown_intensity_mean",
                 task: str | None = None, session: str | None = None,
                 treated_arm: str | None = None, control_arm: str | None = None,
                 settings: AnalysisSettings = AnalysisSettings(), out_dir=None,
                 report: bool = True) -> dict:
    """Analyse a study and write ``results.json``, CSV tables and the report.

    Parameters
    ----------
    path : str or Path
        A study output folder or a session-features file (parquet or csv).
    outcome, feature, task, session, treated_arm, control_arm
        See :func:`facefeedback.analysis.data.prepare`.
    settings : AnalysisSettings
    out_dir : str or Path, optional
        Default ``<study folder>/analysis``, or ``analysis/`` next to a features file.
    report : bool
        Also write ``report.html`` and the figures.

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    study = load_study(path)
    data = prepare(study, outcome, feature, task, session, treated_arm, control_arm)
    out = Path(out_dir) if out_dir else (study.root or study.source.parent) / "analysis"
    start = time.perf_counter()
    models = analyze_data(data, settings)
    out.mkdir(parents=True, exist_ok=True)  # only once there is something to write
    results = {
        "provenance": {
            "input": str(study.source), "output": str(out), "input_sha256": file_sha256(study.source),
            "settings": asdict(settings), "versions": _versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "data": {
            "outcome": data.outcome, "feature": data.feature, "task": data.task,
            "session": data.session, "reference_session": data.reference_session,
            "sessions": data.sessions, "treated_arm": data.treated_arm,
            "control_arm": data.control_arm,
            "n": {arm: int((data.wide["arm"] == arm).sum())
                  for arm in (data.treated_arm, data.control_arm)},
            "excluded_participants": data.excluded,
        },
        **models,
        "analysis_time_s": round(time.perf_counter() - start, 3),
    }
    write_tables(results, data, out)
    write_json(out / "results.json", results)
    if report:
        from ..report import write_report

        write_report(results, data, study, out)
    logger.info("analysis written to %s", out)
    return results


def write_tables(results: dict, data: AnalysisData, out: Path) -> None:
    """``models.csv`` (every model, one line per estimate), ``participants.csv`` (the table the
    models were fitted on) and ``excluded_participants.csv`` (who was left out, and why)."""
    from .models import rows_frame

    tables = out / "tables"
    tables.mkdir(exist_ok=True)
    frame = rows_frame(results)
    write_table(frame, tables / "models.csv")
    for model, part in frame.groupby("model", sort=False):
        write_table(part, tables / f"{model}.csv")
    write_table(data.wide, tables / "participants.csv")
    write_table(pd.DataFrame(data.excluded, columns=list(EXCLUSION_FIELDS)),
                tables / "excluded_participants.csv")
