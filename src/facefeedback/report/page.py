"""The self-contained HTML page: figures as data URIs, tables, methods, data quality."""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd

from ..analysis.data import ALL_TASKS

STYLE = """
body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1,h2{font-family:Helvetica,Arial,sans-serif;color:#1b2631}
table{border-collapse:collapse;font-size:0.85rem;margin:0.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ccc;padding:0.25rem 0.6rem;text-align:right}
th:first-child,td:first-child,td.text{text-align:left}
figure{margin:1rem 0 2rem}
figure img{max-width:100%;height:auto}
figcaption{font-size:0.85rem;color:#555}
.note{color:#7b241c}
"""


def fmt(value, digits: int = 3) -> str:
    """A number for the page: ``3`` significant digits, blanks for missing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    value = float(value)
    if not np.isfinite(value):
        return ""
    return f"{value:.{digits}g}"


def fmt_p(p, n_resamples: int | None = None) -> str:
    """A p-value; a resampling p of 0 is shown as below its resolution."""
    if p is None or not np.isfinite(p):
        return ""
    if p == 0 and n_resamples:
        return f"< {1 / n_resamples:.2g}"
    return f"{p:.3g}" if p >= 0.001 else f"{p:.1e}"


def table_html(frame: pd.DataFrame) -> str:
    """A DataFrame as an escaped HTML table (strings left-aligned)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, r in frame.iterrows():
        cells = []
        for value in r:
            text = value if isinstance(value, str) else fmt(value)
            cls = ' class="text"' if isinstance(value, str) else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure_html(png: bytes, caption: str, name: str) -> str:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (f'<figure id="fig-{name}"><img src="{uri}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def models_table(results: dict) -> pd.DataFrame:
    """The table of every model, with p-values formatted to their resolution."""
    from ..analysis.models import rows_frame

    frame = rows_frame(results)
    resolution = {"primary": results["primary"]["n_perm"] + 1,
                  "mediation": results["mediation"]["n_boot"]}
    frame["p_value"] = [fmt_p(p, resolution.get(m)) for m, p in
                        zip(frame["model"], frame["p_value"])]
    return frame


def methods_paragraph(results: dict) -> str:
    """The methods text with this analysis's numbers filled in."""
    d, prim, med, arms = results["data"], results["primary"], results["mediation"], results["arms"]
    settings = results["provenance"]["settings"]
    n = d["n"]
    mood, frown = arms["mood"], arms["frown"]
    ind, dirc = med["indirect"], med["direct"]
    pred = results.get("predictive", {})
    resp = results.get("responders", {}).get("response", {}).get("rates", {})
    text = (
        f"We analysed {n[d['treated_arm']]} participants in the {d['treated_arm']} arm and "
        f"{n[d['control_arm']]} in the {d['control_arm']} arm with {d['outcome']} and "
        f"{d['feature']} (task {d['task']}) at {d['reference_session']} and {d['session']}"
        + (f"; {left_out_sentence(d['excluded_participants'], reasons=True)}"
           if d["excluded_participants"] else "") + ". "
        f"Frowning changed by {fmt(frown['mean_treated'])} vs {fmt(frown['mean_control'])} "
        f"(difference {fmt(frown['difference'])}, 95 % CI {fmt(frown['difference_ci'][0])} to "
        f"{fmt(frown['difference_ci'][1])}, Hedges' g {fmt(frown['hedges_g'])}, Welch p = "
        f"{fmt_p(frown['welch_p'])}), and {d['outcome']} by {fmt(mood['mean_treated'])} vs "
        f"{fmt(mood['mean_control'])} points (difference {fmt(mood['difference'])}, 95 % CI "
        f"{fmt(mood['difference_ci'][0])} to {fmt(mood['difference_ci'][1])}, g "
        f"{fmt(mood['hedges_g'])}, Welch p = {fmt_p(mood['welch_p'])}). "
        f"In the primary model ({prim['formula']}, ordinary least squares, n = {prim['n']}) the "
        f"change in {d['outcome']} per unit change in {d['feature']} was "
        f"{fmt(prim['frown_slope'])} (95 % stratified bootstrap CI {fmt(prim['frown_slope_ci'][0])}"
        f" to {fmt(prim['frown_slope_ci'][1])}, {settings['n_boot']} resamples; Freedman-Lane "
        f"permutation p = {fmt_p(prim['p_permutation'], prim['n_perm'] + 1)} with residuals "
        f"permuted within arm, {prim['n_perm']} permutations). "
        f"In the mediation analysis (statsmodels, {med['n_boot']} bootstrap resamples, "
        f"adjusted for baseline {d['outcome']}) the indirect effect of {d['treated_arm']} "
        f"through frowning was {fmt(ind['estimate'])} (95 % CI {fmt(ind['ci'][0])} to "
        f"{fmt(ind['ci'][1])}), the direct effect {fmt(dirc['estimate'])} (95 % CI "
        f"{fmt(dirc['ci'][0])} to {fmt(dirc['ci'][1])}), proportion mediated "
        f"{fmt(med['proportion_mediated']['estimate'], 2)}. ")
    if resp:
        parts = [f"{arm} {fmt(100 * r['rate'], 3)} % ({r['k']}/{r['n']})" for arm, r in resp.items()]
        text += f"Response (≥ 50 % drop): {', '.join(parts)}. "
    if pred and "r2" in pred:
        text += (f"A ridge model of the change in {d['outcome']} from {len(pred['features'])} "
                 f"frown features reached a cross-validated R² of {fmt(pred['r2'])} "
                 f"({pred['cv']}, permutation p = {fmt_p(pred['permutation_p'])}). ")
    text += (f"Seed {settings['seed']}; facefeedback "
             f"{results['provenance']['versions']['facefeedback']}.")
    return text


def left_out_sentence(excluded: list[dict], reasons: bool = False) -> str:
    """"3 participants left out" (with ``reasons``: each one's id and reason after a colon)."""
    n = len(excluded)
    text = f"{n} participant{'' if n == 1 else 's'} left out"
    if reasons and excluded:
        text += ": " + "; ".join(f"{e['participant_id']} ({e['reason']})" for e in excluded)
    return text


def not_estimable_notes(results: dict) -> list[str]:
    """One line for each model that could not be estimated, with the reason."""
    names = {"mixed": "Mixed model", "responders": "Responder model", "predictive": "Predictive model"}
    return [f"{names.get(k, k)} not estimable: {v['not_estimable']}" for k, v in results.items()
            if isinstance(v, dict) and "not_estimable" in v]


def quality_tables(study, data) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Valid-frame fraction per arm and session, and the recordings that failed."""
    valid = None
    table = study.features
    if "valid_fraction" in table:
        part = table[table["participant_id"].isin(set(data.wide["participant_id"]))]
        if data.task != ALL_TASKS:
            part = part[part["task"] == data.task]
        valid = (part.groupby(["arm", "session"], sort=False)["valid_fraction"]
                 .agg(recordings="count", mean="mean", minimum="min").reset_index())
    failures = study.failures if study.failures is not None else pd.DataFrame(
        columns=["recording_id", "path", "error"])
    return valid, failures
