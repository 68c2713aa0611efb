"""The report's figures, each a matplotlib ``Figure`` built from plain values."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import schema
from ..analysis.data import ALL_TASKS
from ..bids import frames_table
from ..files import read_table
from .page import proportion_mediated_text

logger = logging.getLogger(__name__)

ARM_COLOURS = ("#c0392b", "#2471a3")  # treated, control


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colours(data) -> dict:
    return {data.treated_arm: ARM_COLOURS[0], data.control_arm: ARM_COLOURS[1]}


def _mean_ci(values: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    values = values[np.isfinite(values)]
    if values.size < 2:
        return float(np.mean(values)) if values.size else np.nan, np.nan
    return float(values.mean()), float(stats.t.ppf(0.975, values.size - 1) * stats.sem(values))


def lower_bound(feature: str) -> float | None:
    """The least value a feature can take: 0 for every recording feature facefeedback measures
    (frown units are floored at 0; distances, line energies, counts, times, fractions and imaging
    conditions cannot be negative); None for a feature of unknown range."""
    return 0.0 if feature in schema.summary_feature_names() else None


def before_after(data):
    """Frown feature per arm at every session: participants as dots, mean with 95 % t interval.

    For a feature that cannot be negative (:func:`lower_bound`), an interval reaching below 0 is
    cut at 0: the mean lies in it exactly when it lies in the whole interval (the mean cannot be
    negative), so the coverage is kept, and the title says where that happened.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    sessions = [s for s in data.sessions if s in set(data.long["session"])]
    rng = np.random.default_rng(0)  # jitter only
    floor, cut = lower_bound(data.feature), False
    for k, (arm, colour) in enumerate(_colours(data).items()):
        for i, session in enumerate(sessions):
            v = data.long.loc[(data.long["arm"] == arm) & (data.long["session"] == session),
                              "frown"].to_numpy(dtype=float)
            x = i + (k - 0.5) * 0.3
            ax.scatter(x + rng.uniform(-0.06, 0.06, v.size), v, s=9, color=colour, alpha=0.35,
                       linewidths=0)
            mean, half = _mean_ci(v)
            below = half
            if floor is not None and np.isfinite(half) and mean - half < floor:
                below, cut = max(mean - floor, 0.0), True
            ax.errorbar(x, mean, yerr=[[below], [half]], fmt="o", color=colour, ms=6, capsize=4,
                        label=arm if i == 0 else None)
    ax.set_xticks(range(len(sessions)), sessions)
    ax.set_ylabel(data.feature)
    ax.set_title(f"{data.feature} by arm and session\n(mean, 95 % t interval"
                 + (f"; cut at {floor:g}, below which the measure cannot go)" if cut else ")"), fontsize=10)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def participant_lines(data):
    """Score and frown feature across visits, one line per participant, per arm."""
    plt = _plt()
    arms = list(_colours(data).items())
    fig, axes = plt.subplots(2, 2, figsize=(8, 6), sharex=True, sharey="row")
    order = {s: i for i, s in enumerate(data.sessions)}
    for col, (arm, colour) in enumerate(arms):
        part = data.long[data.long["arm"] == arm]
        for r, (column, label) in enumerate((("score", data.outcome), ("frown", data.feature))):
            ax = axes[r, col]
            for _, one in part.groupby("participant_id"):
                ax.plot(one["visit"], one[column], color=colour, alpha=0.25, lw=0.8)
            means = part.groupby("visit")[column].mean()
            ax.plot(means.index, means.to_numpy(), color=colour, lw=2.5, marker="o")
            ax.set_ylabel(label if col == 0 else "")
            if r == 0:
                ax.set_title(f"{arm} (n = {part['participant_id'].nunique()})")
    for ax in axes[1]:
        ax.set_xticks(list(order.values()), list(order))
    fig.tight_layout()
    return fig


def change_scatter(data):
    """Change in frowning vs change in mood with an OLS line and its 95 % band per arm."""
    import statsmodels.api as sm

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for arm, colour in _colours(data).items():
        part = data.wide[data.wide["arm"] == arm]
        x = part["frown_change"].to_numpy(dtype=float)
        y = part["mood_change"].to_numpy(dtype=float)
        ax.scatter(x, y, s=16, color=colour, alpha=0.7, label=f"{arm} (n = {x.size})")
        if x.size >= 3 and np.ptp(x) > 0:
            fit = sm.OLS(y, sm.add_constant(x)).fit()
            grid = np.linspace(x.min(), x.max(), 50)
            pred = fit.get_prediction(sm.add_constant(grid)).summary_frame(alpha=0.05)
            ax.plot(grid, pred["mean"], color=colour, lw=2)
            ax.fill_between(grid, pred["mean_ci_lower"], pred["mean_ci_upper"], color=colour,
                            alpha=0.15, linewidth=0)
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set(xlabel=f"change in {data.feature} ({data.reference_session} to {data.session})",
           ylabel=f"change in {data.outcome}")
    ax.set_title("Change in frowning vs change in mood (OLS fit, 95 % band)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def mediation_diagram(data, mediation):
    """Arm -> frown change -> mood change, with the path estimates and intervals."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6)
    ax.axis("off")
    boxes = {"arm": (1.2, 1.2, f"arm\n{data.treated_arm} vs {data.control_arm}"),
             "m": (5.0, 4.6, f"change in\n{data.feature}"),
             "y": (8.8, 1.2, f"change in\n{data.outcome}")}
    for x, y, text in boxes.values():
        ax.text(x, y, text, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.5", fc="#f4f6f7", ec="#34495e"))

    def arrow(a, b, label, xy):
        ax.annotate("", xy=boxes[b][:2], xytext=boxes[a][:2],
                    arrowprops=dict(arrowstyle="-|>", color="#34495e", lw=1.5,
                                    shrinkA=32, shrinkB=32))
        ax.text(*xy, label, ha="center", va="center", fontsize=8.5)

    ind, dirc = mediation.indirect, mediation.direct
    a_low, a_high = mediation.a_ci
    arrow("arm", "m", f"a = {mediation.a:.3g}\n[{a_low:.3g}, {a_high:.3g}]", (2.0, 3.4))
    arrow("m", "y", f"b = {mediation.b:.3g}", (7.9, 3.4))
    arrow("arm", "y", f"direct = {dirc['estimate']:.3g} [{dirc['ci'][0]:.3g}, {dirc['ci'][1]:.3g}]",
          (5.0, 0.75))
    ax.text(5.0, 2.6, f"indirect (a×b) = {ind['estimate']:.3g} "
                      f"[{ind['ci'][0]:.3g}, {ind['ci'][1]:.3g}]\n"
                      f"proportion mediated: {proportion_mediated_text(mediation)}", ha="center", fontsize=9,
            color="#922b21")
    fig.tight_layout()
    return fig


def example_time_series(data, root: Path | None, skip_task: str | None = None):
    """Frown intensity over time in one recording per arm at the reference and analysed session.

    The example participant of each arm is the one whose frown change is the
    arm's median; the title names both recordings. Valid frames make the lines; the
    frames that are not valid are marked along the bottom, the legend saying why
    (:func:`facefeedback.qc.invalid_reasons`). Returns ``None`` when the per-frame
    tables are not available. ``skip_task`` (the capacity task: maximal frowns on request) is never
    the example.
    """
    if root is None:
        return None
    plt = _plt()
    picks = []
    for arm in (data.treated_arm, data.control_arm):
        part = data.wide[data.wide["arm"] == arm].sort_values("frown_change")
        pid = part["participant_id"].iloc[len(part) // 2]
        # With every task averaged, the example shows the first task recorded.
        task = data.task if data.task != ALL_TASKS else "*"
        paths = {s: [f for f in sorted((root / "recordings").glob(f"{pid}_{s}_{task}"))
                     if frames_table(f) and not (skip_task and f.name == f"{pid}_{s}_{skip_task}")]
                 for s in (data.reference_session, data.session)}
        if all(paths.values()):
            picks.append((arm, pid, {s: found[0] for s, found in paths.items()}))
    if not picks:
        logger.info("no per-frame tables for the example time series")
        return None
    fig, axes = plt.subplots(len(picks), 1, figsize=(8, 2.6 * len(picks)), squeeze=False)
    for ax, (arm, pid, paths) in zip(axes[:, 0], picks):
        for k, ((session, path), style) in enumerate(zip(paths.items(), ("--", "-"))):
            frames = read_table(frames_table(path))
            y = frames["frown_intensity"].where(frames["valid"])
            (line,) = ax.plot(frames["timestamp_s"], y, style, lw=1.2, label=session,
                              alpha=1.0 if session == data.session else 0.75)
            _mark_invalid(ax, frames, path, session, line.get_color(), k)
        ax.set(ylabel="frown_intensity (FU)",
               title=f"{arm}: {pid}, {' and '.join(p.name for p in paths.values())}")
        ax.set_ylim(bottom=-0.12 * max(ax.get_ylim()[1], 0.1))
        ax.legend(frameon=False, loc="upper right", fontsize=7.5)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def _mark_invalid(ax, frames, folder: Path, session: str, colour, row: int) -> None:
    """Mark the frames of one recording that are not valid along the bottom (below 0 FU, one row
    per session), the legend saying why: the kinds of reason and their frame counts, against the
    QC limits the recording was measured with."""
    from collections import Counter

    from ..qc import invalid_reasons, reason_kind

    bad = ~frames["valid"].to_numpy(bool)
    if not bad.any():
        return
    kinds = Counter(reason_kind(r) for reasons in invalid_reasons(frames[bad], _qc_limits(folder))
                    for r in reasons or ("not valid",))
    why = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())
    ax.plot(frames["timestamp_s"].to_numpy(float)[bad], np.full(bad.sum(), 0.025 + 0.035 * row),
            "|", color=colour, ms=5, transform=ax.get_xaxis_transform(),
            label=f"{session}: {bad.sum()} of {len(bad)} frames not valid ({why})")


def _qc_limits(folder: Path):
    """The QC limits a recording was measured with (its provenance), else the defaults."""
    import json

    from ..config import Config, QCConfig

    try:
        return Config.model_validate(json.loads((folder / "provenance.json").read_text())["config"]).qc
    except (OSError, ValueError, KeyError, TypeError):  # none, or another version's: the limits now
        return QCConfig()


def save(fig, stem: Path) -> tuple[bytes, list[Path]]:
    """Save a figure as PNG and SVG; returns the PNG bytes (for embedding) and the paths."""
    import io

    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    png = buf.getvalue()
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    paths[0].write_bytes(png)
    fig.savefig(paths[1], format="svg")
    plt.close(fig)
    return png, paths
