"""Figures and the self-contained HTML report of an analysis.

:func:`write_report` writes ``report.html`` (figures embedded as data URIs, so
the file opens anywhere with no network) and every figure as PNG and SVG under
``figures/``.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import atomic_write_text

if TYPE_CHECKING:
    from ..analysis.data import AnalysisData
    from ..analysis.results import AnalysisResults
    from ..analysis.study_features import StudyFeatures

logger = logging.getLogger(__name__)


def write_report(results: AnalysisResults, data: AnalysisData, study: StudyFeatures, out_dir) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/figures/*.png|svg``.

    Parameters
    ----------
    results : facefeedback.analysis.results.AnalysisResults
        What the analysis found (``results.json``, typed).
    data : facefeedback.analysis.data.AnalysisData
    study : facefeedback.analysis.data.StudyFeatures
    out_dir : str or Path

    Returns
    -------
    Path
        The report file.
    """
    import pandas as pd

    from ..analysis.results import NotEstimableResult
    from . import figures
    from .evidence import evidence_html
    from .page import (
        STYLE,
        comparability_html,
        figure_html,
        left_out_sentence,
        methods_paragraph,
        models_table,
        not_estimable_notes,
        quality_tables,
        simulation_note,
        table_html,
    )

    out = Path(out_dir)
    fig_dir = out / "figures"
    d = results.data
    specs = [
        ("before_after", lambda: figures.before_after(data),
         f"{d['feature']} per arm at every session."),
        ("participant_lines", lambda: figures.participant_lines(data),
         f"{d['outcome']} and {d['feature']} across visits: thin lines participants, "
         "thick lines arm means."),
        ("change_scatter", lambda: figures.change_scatter(data),
         f"Change in {d['feature']} vs change in {d['outcome']}, {d['reference_session']} to "
         f"{d['session']}, with OLS fit and 95 % confidence band per arm."),
        ("mediation", lambda: figures.mediation_diagram(data, results.mediation),
         "Mediation: arm to change in frowning to change in mood, with 95 % bootstrap intervals; "
         f"both paths adjusted for {', '.join(results.model['baseline_covariates'])}."),
        ("time_series", lambda: figures.example_time_series(data, study.root, d.get("capacity_task")),
         f"Example frown intensity of one participant per arm (the arm's median frown change), "
         f"{d['reference_session']} and {d['session']} recordings: the lines are the valid frames; frames "
         "not valid are marked along the bottom, the legend saying how many and why."),
    ]
    parts = []
    for name, build, caption in specs:
        fig = build()
        if fig is None:
            parts.append(f'<p class="note">{html.escape(name)}: per-frame tables not found next '
                         "to the features; figure left out.</p>")
            continue
        png, _ = figures.save(fig, fig_dir / name)
        parts.append(figure_html(png, caption, name))
    valid, failures = quality_tables(study, data)
    excluded = d["excluded_participants"]
    quality = [table_html(valid) if valid is not None else
               "<p>No valid-frame fractions in the data.</p>",
               f"<p>{len(failures)} recording{' failed and was' if len(failures) == 1 else 's failed and were'} "
               "excluded"
               + (":</p>" + table_html(failures) if len(failures) else ".</p>"),
               f"<p>{html.escape(left_out_sentence(excluded))}"
               + (":</p>" + table_html(pd.DataFrame(excluded)) if excluded else ".</p>")]
    quality.append(comparability_html(study, data))
    spec = results.model
    model_note = (f"<p>Model of change: {html.escape(spec['name'])} (baseline covariates: "
                  f"{html.escape(', '.join(spec['baseline_covariates']))}; "
                  f"{html.escape(spec['reference'])}). Formulas: "
                  + "; ".join(f"{html.escape(k)}: {html.escape(v)}"
                              for k, v in spec["formulas"].items()) + ".</p>")
    mixed = results.models.get("mixed")
    mixed = mixed if mixed is not None and not isinstance(mixed, NotEstimableResult) else None
    mixed_note = ("" if mixed is None else
                  f"<p>Mixed model: {html.escape(mixed.formula)}, "
                  f"{mixed.n_observations} observations of {mixed.n_participants} "
                  f"participants; converged: {mixed.converged}.</p>")
    notes = (not_estimable_notes(results) + getattr(results.models.get("primary"), "notes", [])
             + results.mediation.notes
             + getattr(results.models.get("responders"), "notes", [])
             + (mixed.warnings if mixed is not None else []))
    prov = results.provenance
    simulated = simulation_note(results)
    banner = f'<p class="simulated">{html.escape(simulated)}</p>' if simulated else ""
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>facefeedback analysis{' of SIMULATED data' if simulated else ''}: {html.escape(d['outcome'])} and {html.escape(d['feature'])}</title>
<style>{STYLE}</style></head><body>{banner}
<h1>Frowning and mood: {html.escape(d['treated_arm'])} vs {html.escape(d['control_arm'])}</h1>
<p>Outcome {html.escape(d['outcome'])}, frown measure {html.escape(d['feature'])}, task
{html.escape(d['task'])}, {html.escape(d['reference_session'])} to {html.escape(d['session'])}.</p>
<h2>Methods and results</h2><p>{html.escape(methods_paragraph(results))}</p>
<h2>Figures</h2>{''.join(parts)}
{evidence_html(results, fig_dir, figures._colours(data))}
<h2>Every model</h2>{model_note}{table_html(models_table(results))}{mixed_note}
{''.join(f'<p class="note">{html.escape(n)}</p>' for n in notes)}
<h2>Data quality</h2>{''.join(quality)}
<h2>Provenance</h2><p>Input {html.escape(Path(prov['input']).name)} (sha256 {prov['input_sha256'][:16]}…),
created {html.escape(prov['created'])}; versions:
{html.escape(', '.join(f'{k} {v}' for k, v in prov['versions'].items()))}.</p>
</body></html>
"""
    path = out / "report.html"
    atomic_write_text(path, body)
    logger.info("report written to %s", path)
    return path
