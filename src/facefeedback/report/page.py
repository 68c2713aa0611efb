"""The self-contained HTML page: figures as data URIs, tables, methods, data quality."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.data import ALL_TASKS
from ..analysis.results import AnalysisResults, NotEstimableResult

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
.simulated{background:#7b241c;color:#fff;padding:0.6rem 1rem;font-family:Helvetica,Arial,sans-serif;font-weight:bold}
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


#: What the page says of a proportion mediated whose total effect cannot be told from 0.
NOT_DEFINED = "not defined (total effect ≈ 0: its 95 % CI includes 0)"


def proportion_defined(mediation) -> bool:
    """Whether the proportion mediated, a*b / total, means anything: only when the total effect's
    95 % interval excludes 0 (near 0 the ratio swings between large positive and negative values,
    and a '-0.00' would read as a finding). ``mediation``: the mediation model's result."""
    low, high = mediation.total["ci"]
    estimate = mediation.proportion_mediated["estimate"]
    return estimate is not None and bool(np.isfinite(estimate)) and (low > 0 or high < 0)


def proportion_mediated_text(mediation, digits: int = 2) -> str:
    """The proportion mediated for the page, or why it is not defined (:func:`proportion_defined`)."""
    if not proportion_defined(mediation):
        return NOT_DEFINED
    return fmt(mediation.proportion_mediated["estimate"] + 0.0, digits)  # + 0.0: no "-0"


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


def models_table(results: AnalysisResults) -> pd.DataFrame:
    """The table of every model, with p-values formatted to their resolution."""
    frame = results.rows_frame()
    resolution = {"primary": results.primary.n_perm + 1, "mediation": results.mediation.n_boot}
    frame["p_value"] = [fmt_p(p, resolution.get(m)) for m, p in
                        zip(frame["model"], frame["p_value"])]
    if not proportion_defined(results.mediation):
        frame = frame.astype({"estimate": object, "ci_low": object, "ci_high": object})
        undefined = (frame["model"] == "mediation") & (frame["term"] == "proportion mediated")
        frame.loc[undefined, ["estimate", "ci_low", "ci_high", "p_value"]] = [NOT_DEFINED, "", "", ""]
    return frame


def simulation_note(results: AnalysisResults) -> str:
    """What a reader of a simulated study's analysis is told first ("" for measured data)."""
    if not results.data.get("simulated"):
        return ""
    sim = results.provenance.get("simulation") or {}
    truth = sim.get("truth") or {}
    # The simulator states its effects at its last visit: at another visit they are not these.
    at = truth.get("session")
    where = (f" at {at}" + (f", not the {results.data['session']} analysed here"
                            if at != results.data.get("session") else "")) if at else ""
    # which generative model and frown scale (a study simulated before the scale existed has none)
    how = "".join(f"{truth[key]} {label}; " for key, label in (("generative_model", "model"),
                                                                ("frown_scale", "frowning")) if truth.get(key))
    known = (f" ({how}seed {sim['seed']}; true indirect effect {truth['indirect_effect']:g}, direct effect "
             f"{truth['direct_effect']:g} {truth.get('outcome', '')} points{where})"
             if "seed" in sim and {"indirect_effect", "direct_effect"} <= set(truth) else "")
    return (f"Simulated data: this study was generated by 'facefeedback simulate'{known}; "
            "no participant was measured.")


def methods_paragraph(results: AnalysisResults) -> str:
    """The methods text with this analysis's numbers filled in."""
    d, prim, med, arms = results.data, results.primary, results.mediation, results.arms
    settings = results.provenance["settings"]
    n = d["n"]
    mood, frown = arms.mood, arms.frown
    ind, dirc = med.indirect, med.direct
    pred = results.models.get("predictive")
    responders = results.models.get("responders")
    resp = ((getattr(responders, "response", None) or {}).get("rates", {}))
    spec = results.model
    covariates = " and ".join(f"baseline {name.removesuffix('_baseline')}"
                              for name in spec["baseline_covariates"])
    text = (
        (simulation_note(results) + " " if d.get("simulated") else "") +
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
        + model_sentence(spec, covariates) +
        f"In the primary model ({prim.formula}, ordinary least squares, n = {prim.n}) the "
        f"change in {d['outcome']} per unit change in {d['feature']} was "
        f"{fmt(prim.frown_slope)} (95 % stratified bootstrap CI, expanded percentile, "
        f"{fmt(prim.frown_slope_ci[0])}"
        f" to {fmt(prim.frown_slope_ci[1])}, {settings['n_boot']} resamples; Freedman-Lane "
        f"permutation p = {fmt_p(prim.p_permutation, prim.n_perm + 1)} with residuals "
        f"permuted within arm, {prim.n_perm} permutations). "
        f"In the mediation analysis (product of coefficients; {med.n_boot} bootstrap resamples "
        f"stratified by arm, both models refitted on each, expanded percentile intervals after "
        f"Hesterberg 2015; adjusted for {covariates}; path a {fmt(med.a)}, 95 % CI {fmt(med.a_ci[0])} to "
        f"{fmt(med.a_ci[1])}) the indirect effect of {d['treated_arm']} "
        f"through frowning was {fmt(ind['estimate'])} (95 % CI {fmt(ind['ci'][0])} to "
        f"{fmt(ind['ci'][1])}), the direct effect {fmt(dirc['estimate'])} (95 % CI "
        f"{fmt(dirc['ci'][0])} to {fmt(dirc['ci'][1])}), proportion mediated "
        f"{proportion_mediated_text(med)}. ")
    if resp:
        parts = [f"{arm} {fmt(100 * r['rate'], 3)} % ({r['k']}/{r['n']})" for arm, r in resp.items()]
        text += f"Response (≥ 50 % drop): {', '.join(parts)}. "
    if getattr(pred, "r2", None) is not None:
        text += (f"Added to {', '.join(pred.covariates)}, a ridge model of {len(pred.features)} frown "
                 f"features changed the cross-validated R² of the change in {d['outcome']} by "
                 f"{fmt(pred.r2_added)} (from {fmt(pred.r2_covariates)} to {fmt(pred.r2)}; {pred.cv}, "
                 f"permutation p = {fmt_p(pred.permutation_p)}). ")
    from .evidence import evidence_sentences

    text += evidence_sentences(results) + " "
    text += (f"Seed {settings['seed']}; facefeedback "
             f"{results.provenance['versions']['facefeedback']}.")
    return text


def model_sentence(spec: dict, covariates: str) -> str:
    """Which model of change was fitted, and the design it comes from."""
    if spec["name"] == "ancova":
        return (f"Every model of change was adjusted for {covariates} as covariates (analysis of "
                "covariance model of the pretest-posttest control group design, Valente & "
                "MacKinnon 2017). ")
    return (f"The models used change scores adjusted for {covariates} only (change-score model "
            "of the pretest-posttest control group design; it assumes that mood follows the "
            "change in frowning whatever the baseline frown, see Valente & MacKinnon 2017). ")


def left_out_sentence(excluded: list[dict], reasons: bool = False) -> str:
    """"3 participants left out" (with ``reasons``: each one's id and reason after a colon)."""
    n = len(excluded)
    text = f"{n} participant{'' if n == 1 else 's'} left out"
    if reasons and excluded:
        text += ": " + "; ".join(f"{e['participant_id']} ({e['reason']})" for e in excluded)
    return text


def not_estimable_notes(results: AnalysisResults) -> list[str]:
    """One line for each model that could not be estimated, with the reason."""
    names = {"mixed": "Mixed model", "responders": "Responder model", "predictive": "Predictive model"}
    return [f"{names.get(k, k)} not estimable: {v.reason}" for k, v in results.models.items()
            if isinstance(v, NotEstimableResult)]


def quality_tables(study, data) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Valid-frame fraction per arm and session, and the recordings that failed."""
    valid = None
    table = study.features
    if "valid_fraction" in table:
        part = table[table["participant_id"].isin(set(data.wide["participant_id"]))]
        if data.task != ALL_TASKS:
            part = part[part["task"] == data.task]
        valid = (part.groupby(["arm", "session"], sort=False)["valid_fraction"]
                 .agg(**{"recordings": "count", "valid-frame fraction, mean": "mean",
                         "valid-frame fraction, minimum": "min"}).reset_index())
    failures = study.failures if study.failures is not None else pd.DataFrame(
        columns=["recording_id", "path", "error"])
    # A report is shared: the lab's folders (a user's home, a file named after the participant's
    # appointment) stay out of it, as in the rest of the page; the recording id and file name say which.
    failures = pd.DataFrame({"recording_id": failures["recording_id"],
                             "file": [Path(p).name for p in failures["path"]],
                             "error": [str(e).replace(str(p), Path(p).name) if str(p) else str(e)
                                       for p, e in zip(failures["path"], failures["error"])]})
    return valid, failures


def comparability_html(study, data) -> str:
    """Visit comparability: the analysed participants' later recordings whose imaging conditions
    differ from the reference visit's beyond the validated range (features/comparability.csv)."""
    table = study.comparability
    if table is None:
        return ("<p>Visit comparability: no features/comparability.csv beside the session features; the "
                "visits' imaging conditions were not compared.</p>")
    part = table[table["participant_id"].isin(set(data.wide["participant_id"].astype(str)))]
    if data.task != ALL_TASKS:
        part = part[part["task"] == data.task]
    flagged = part[part["flagged"].astype(bool)]
    head = (f"<p>Visit comparability: {len(flagged)} of {len(part)} later recordings of the analysed "
            "participants were made under imaging conditions (face size, brightness, contrast, focus, noise, "
            "head movement) that differ from the reference visit's beyond the range the measure is validated "
            "for")
    if not len(flagged):
        return head + ".</p>"
    shown = flagged[["participant_id", "task", "reference_session", "session", "details"]].rename(
        columns={"reference_session": "reference", "details": "conditions beyond the validated range"})
    return (head + "; their change in frowning is partly a change of camera or light (features/"
            "comparability.csv):</p>" + table_html(shown.reset_index(drop=True)))
