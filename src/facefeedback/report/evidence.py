"""The report's trial evidence: event-locked time courses, the manipulation check with the
unblinding AUC, the specificity of the mediation and its sensitivity to confounding.

Each piece reads one typed result (``results.time_courses``, ``manipulation``, ``specificity``,
``sensitivity``) and is left out when the analysis has none.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from ..analysis.results import NotEstimableResult

#: Line styles of the sessions (first, second, ...) in the time-course figure.
SESSION_STYLES = ("-", "--", ":", "-.")


def fitted(results, name: str):
    """The model's result, or None when it does not apply or could not be estimated."""
    result = results.models.get(name)
    return None if result is None or isinstance(result, NotEstimableResult) else result


def time_course_figure(courses, treated: str, colours: dict):
    """One panel per arm, a line per condition and session, the 95 % band shaded."""
    from .figures import _plt

    plt = _plt()
    arms = list(dict.fromkeys(c["arm"] for c in courses.curves))
    arms.sort(key=lambda a: a != treated)
    sessions = list(dict.fromkeys(c["session"] for c in courses.curves))
    types = list(dict.fromkeys(c["trial_type"] for c in courses.curves))
    palette = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(arms), figsize=(5 * len(arms), 3.8), sharey=True, squeeze=False)
    t = np.asarray(courses.time_s)
    for ax, arm in zip(axes[0], arms):
        for c in (c for c in courses.curves if c["arm"] == arm):
            colour = palette(types.index(c["trial_type"]) % 10)
            style = SESSION_STYLES[sessions.index(c["session"]) % len(SESSION_STYLES)]
            mean = np.asarray(c["mean"], dtype=float)
            ax.plot(t, mean, style, color=colour, label=f"{c['trial_type']}, {c['session']} (n = {c['n']})")
            ax.fill_between(t, np.asarray(c["low"], dtype=float), np.asarray(c["high"], dtype=float),
                            color=colour, alpha=0.15, linewidth=0)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.axvspan(*courses.baseline_window_s, color="grey", alpha=0.08)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_title(arm, color=colours.get(arm, "black"))
        ax.set_xlabel("time from trial onset (s)")
        ax.legend(fontsize=7, frameon=False)
    axes[0][0].set_ylabel("frown_intensity minus baseline (FU)")
    fig.tight_layout()
    return fig


def sensitivity_figure(sens, outcome: str):
    """The indirect effect against the error correlation rho, with its band and the rho where it is 0."""
    from .figures import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    rho = np.asarray(sens.rho)
    ax.fill_between(rho, sens.indirect_low, sens.indirect_high, color="#7f8c8d", alpha=0.25, linewidth=0,
                    label="95 % bootstrap band")
    ax.plot(rho, sens.indirect, color="black", label="indirect effect")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(0, color="grey", linewidth=0.5, linestyle=":")
    ax.axvline(sens.rho_at_zero, color="#c0392b", linestyle="--",
               label=f"0 at rho = {sens.rho_at_zero:.2f}")
    ax.set_xlabel("rho: correlation of the frowning and mood model errors")
    ax.set_ylabel(f"indirect effect ({outcome} points)")
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def manipulation_table(man) -> pd.DataFrame:
    """One row per arm: capacity change, percent of baseline and the share losing half."""

    def ci(v: dict) -> str:
        return f"{v['ci'][0]:.3f} to {v['ci'][1]:.3f}"

    return pd.DataFrame([{
        "arm": arm, "n": a["n"], "baseline capacity (FU)": round(a["capacity_baseline"], 3),
        "capacity change (FU)": round(a["capacity_change"]["estimate"], 3),
        "95 % CI": ci(a["capacity_change"]),
        "% of baseline": round(a["pct_of_baseline"]["estimate"], 1),
        "lost >= 50 %": f"{a['lost_half']['n']}/{a['n']} ({100 * a['lost_half']['share']:.0f} %, 95 % CI "
                        f"{100 * a['lost_half']['ci'][0]:.0f} to {100 * a['lost_half']['ci'][1]:.0f} %)",
    } for arm, a in man.arms.items()])


def trial_mixed_html(trial) -> str:
    """The trial-level mixed model's paragraph: what was fitted and whether it converged; a fit
    that did not converge is a note, and its terms are not in the table of every model."""
    what = (f"Trial-level mixed model: {html.escape(trial.formula)}, {trial.n_trials} trials of "
            f"{trial.n_participants} participants. {html.escape(trial.sentence)}")
    if not trial.converged:
        return f'<p class="note">{what} Its rows in the table of every model are empty (NaN, "not converged").</p>'
    return f"<p>{what} Its terms are in the table of every model.</p>"


def evidence_sentences(results) -> str:
    """The methods-text sentences of the trial evidence (empty without it)."""
    out = []
    man, spec, sens = (fitted(results, n) for n in ("manipulation", "specificity", "sensitivity"))
    if man is not None:
        arms = "; ".join(f"{arm} {a['capacity_change']['estimate']:.3f} FU ({a['pct_of_baseline']['estimate']:.0f} % "
                         f"of baseline, {a['lost_half']['n']}/{a['n']} lost at least half)"
                         for arm, a in man.arms.items())
        out.append(f"Maximal frown (manipulation check), change from baseline: {arms}. {man.sentence}")
    if spec is not None:
        out.append(spec.sentence)
    if sens is not None:
        out.append(sens.sentence)
    return " ".join(out)


def evidence_html(results, fig_dir, colours: dict) -> str:
    """The report's section of trial evidence: figures saved under ``fig_dir``, tables and sentences."""
    from .figures import save
    from .page import figure_html, table_html

    d = results.data
    parts = []
    courses = fitted(results, "time_courses")
    if courses is not None:
        png, _ = save(time_course_figure(courses, d["treated_arm"], colours), fig_dir / "time_courses")
        parts.append(figure_html(png, "Event-locked frown response per condition and session (mean over "
                                      "participants with 95 % band; each participant's trials averaged first); the "
                                      "shaded grey span is the baseline window.", "time_courses"))
    trial = fitted(results, "trial_mixed")
    if trial is not None:
        parts.append(trial_mixed_html(trial))
    man = fitted(results, "manipulation")
    if man is not None:
        parts.append("<h3>Manipulation check and blinding</h3>" + table_html(manipulation_table(man)))
        parts.append(f"<p>{html.escape(d['treated_arm'])} minus {html.escape(d['control_arm'])}: "
                     f"{man.difference['estimate']:.3f} FU (95 % CI {man.difference['ci'][0]:.3f} to "
                     f"{man.difference['ci'][1]:.3f}). Unblinding AUC {man.auc_text} (95 % CI {man.auc_ci[0]:.2f} "
                     f"to {man.auc_ci[1]:.2f}, {html.escape(man.auc_interval)}"
                     + ("; complete separation" if man.separation_complete else "")
                     + f").</p><p class=\"blinding\">{html.escape(man.sentence)}</p>")
    spec = fitted(results, "specificity")
    if spec is not None:
        parts.append(f"<h3>Specificity</h3><p class=\"specificity\">{html.escape(spec.sentence)}</p>")
    elif isinstance(results.models.get("specificity"), NotEstimableResult):
        # said where the reader looks for it, not only among the notes under the table of every model
        parts.append(f'<h3>Specificity</h3><p class="note">Not estimable: '
                     f'{html.escape(results.models["specificity"].reason)}.</p>')
    sens = fitted(results, "sensitivity")
    if sens is not None:
        png, _ = save(sensitivity_figure(sens, d["outcome"]), fig_dir / "sensitivity")
        parts.append("<h3>Sensitivity to confounding</h3>" + figure_html(
            png, "Indirect effect as a function of rho, the correlation an unmeasured confounder of frowning and mood "
                 "would induce between the errors of the two models (Imai, Keele and Tingley 2010).", "sensitivity"))
        parts.append(f"<p>{html.escape(sens.sentence)}</p>")
    return "<h2>Trials, manipulation check and robustness</h2>" + "".join(parts) if parts else ""
