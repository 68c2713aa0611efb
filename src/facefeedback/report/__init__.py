"""Figures and the self-contained HTML report of an analysis.

:func:`write_report` writes ``report.html`` (figures embedded as data URIs, so
the file opens anywhere with no network) and every figure as PNG and SVG under
``figures/``.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from ..files import atomic_write_text

logger = logging.getLogger(__name__)


def write_report(results: dict, data, study, out_dir) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/figures/*.png|svg``.

    Parameters
    ----------
    results : dict
        The content of ``results.json``.
    data : facefeedback.analysis.data.AnalysisData
    study : facefeedback.analysis.data.StudyInput
    out_dir : str or Path

    Returns
    -------
    Path
        The report file.
    """
    import pandas as pd

    from . import figures
    from .page import (
        STYLE,
        figure_html,
        left_out_sentence,
        methods_paragraph,
        models_table,
        not_estimable_notes,
        quality_tables,
        table_html,
    )

    out = Path(out_dir)
    fig_dir = out / "figures"
    d = results["data"]
    specs = [
        ("before_after", lambda: figures.before_after(data),
         f"{d['feature']} per arm at every session."),
        ("participant_lines", lambda: figures.participant_lines(data),
         f"{d['outcome']} and {d['feature']} across visits: thin lines participants, "
         "thick lines arm means."),
        ("change_scatter", lambda: figures.change_scatter(data),
         f"Change in {d['feature']} vs change in {d['outcome']}, {d['reference_session']} to "
         f"{d['session']}, with OLS fit and 95 % confidence band per arm."),
        ("mediation", lambda: figures.mediation_diagram(data, results["mediation"]),
         "Mediation: arm to change in frowning to change in mood, with 95 % bootstrap intervals."),
        ("time_series", lambda: figures.example_time_series(data, study.root),
         "Example frown intensity over one recording per arm (participant with the arm's median "
         "frown change), valid frames only."),
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
               f"<p>{len(failures)} recordings failed and were excluded"
               + (":</p>" + table_html(failures) if len(failures) else ".</p>"),
               f"<p>{html.escape(left_out_sentence(excluded))}"
               + (":</p>" + table_html(pd.DataFrame(excluded)) if excluded else ".</p>")]
    mixed = results.get("mixed")
    mixed_note = ("" if not mixed or "not_estimable" in mixed else
                  f"<p>Mixed model: {html.escape(mixed['formula'])}, "
                  f"{mixed['n_observations']} observations of {mixed['n_participants']} "
                  f"participants; converged: {mixed['converged']}.</p>")
    notes = (not_estimable_notes(results) + results["mediation"].get("notes", [])
             + results.get("responders", {}).get("notes", []) + (mixed or {}).get("warnings", []))
    prov = results["provenance"]
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>facefeedback analysis: {html.escape(d['outcome'])} and {html.escape(d['feature'])}</title>
<style>{STYLE}</style></head><body>
<h1>Frowning and mood: {html.escape(d['treated_arm'])} vs {html.escape(d['control_arm'])}</h1>
<p>Outcome {html.escape(d['outcome'])}, frown measure {html.escape(d['feature'])}, task
{html.escape(d['task'])}, {html.escape(d['reference_session'])} to {html.escape(d['session'])}.</p>
<h2>Methods and results</h2><p>{html.escape(methods_paragraph(results))}</p>
<h2>Figures</h2>{''.join(parts)}
<h2>Every model</h2>{table_html(models_table(results))}{mixed_note}
{''.join(f'<p class="note">{html.escape(n)}</p>' for n in notes)}
<h2>Data quality</h2>{''.join(quality)}
<h2>Provenance</h2><p>Input {html.escape(prov['input'])} (sha256 {prov['input_sha256'][:16]}…),
created {html.escape(prov['created'])}; versions:
{html.escape(', '.join(f'{k} {v}' for k, v in prov['versions'].items()))}.</p>
</body></html>
"""
    path = out / "report.html"
    atomic_write_text(path, body)
    logger.info("report written to %s", path)
    return path
