"""Monte Carlo power of the primary test and of the mediation test.

Each simulated study comes from :func:`facefeedback.synthetic.studies.simulate_study`
(without frames) with its own seed, and is analysed with the same functions
``facefeedback analyze`` uses. The primary test rejects when its permutation
p-value is below ``alpha``; the mediation test when the bootstrap interval of
the indirect effect at level ``1 - alpha`` excludes 0. Power is the rejection rate, reported with a
Wilson 95 % interval for the Monte Carlo error.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd

from .. import schema
from ..errors import AnalysisError
from ..output_folders import OutputKind
from ..processes import end_with_parent
from ..synthetic.studies import PRIMARY_SCALE, Effects, SimulationSettings, simulate_study
from .baselines import ANCOVA
from .data import prepare
from .study_features import StudyFeatures

logger = logging.getLogger(__name__)


POWER_FILES = ("power.csv", "power.json", "power.png", "power.svg")
#: What a power analysis wrote before output markers (it wrote no power.json then).
_LEGACY_POWER_FILES = ("power.csv", "power.png", "power.svg")


def _earlier_power(folder) -> list[str]:
    """Power outputs written before output markers: known by power.csv's header."""
    try:
        with open(folder / "power.csv", encoding="utf-8") as fh:
            ours = fh.readline().startswith("n_per_arm,studies,")
    except (OSError, UnicodeDecodeError):
        return []
    return [f for f in _LEGACY_POWER_FILES if (folder / f).is_file()] if ours else []


#: ``power/``: the table and the plot, replaced as a whole by each run.
POWER = OutputKind("power", "a power analysis", _earlier_power)


def one_study(settings: SimulationSettings, seed: int, n_perm: int, n_boot: int,
              alpha: float = 0.05, model: str = ANCOVA, mixed: bool = False) -> dict:
    """Simulate one study and run the primary and mediation tests on it.

    Parameters
    ----------
    settings : SimulationSettings
        The generative model and its truth.
    seed : int
    n_perm, n_boot : int
        Permutations of the primary test; bootstrap resamples of the primary
        model's intervals and of the mediation model (0: no intervals, no
        mediation).
    alpha : float
        The level of both tests: the primary test rejects when its p-value is below it, the
        mediation test when the indirect effect's ``1 - alpha`` interval excludes 0.
    model : {"ancova", "change-score"}
        The analysis model (:mod:`facefeedback.analysis.baselines`).
    mixed : bool
        Also fit the repeated-visits mixed model (:mod:`facefeedback.analysis.mixed`; the
        settings need more than two sessions).

    Returns
    -------
    dict
        ``seed``, ``n_per_arm``, ``p_primary``, ``primary_rejects``, ``slope``;
        with ``n_boot``: ``slope_low``/``slope_high`` and, for each of
        ``indirect``, ``direct`` and ``a``, the estimate and ``_low``/``_high``
        bounds of its ``1 - alpha`` interval, and ``mediation_rejects``; with ``mixed``:
        ``mixed_slope`` (the mixed model's frown coefficient) and ``_low``/``_high`` bounds of its
        Wald 95 % interval, ``p_mixed`` and ``mixed_rejects``.
    """
    from .mediation import mediation_model
    from .models import primary_model

    table, _ = simulate_study(settings, seed, with_frames=False)
    study = StudyFeatures(table, list(settings.sessions), settings.sessions[0], source=None)
    data = prepare(study, PRIMARY_SCALE, treated_arm=settings.arms[0])
    rng = np.random.default_rng([seed, 7])
    prim = primary_model(data, n_boot, n_perm, rng, model)
    out = {"seed": seed, "n_per_arm": settings.n_per_arm, "p_primary": prim.p_permutation,
           "primary_rejects": prim.p_permutation < alpha, "slope": prim.frown_slope}
    if n_boot:
        med = mediation_model(data, n_boot, rng, model, level=1 - alpha)
        out["slope_low"], out["slope_high"] = prim.frown_slope_ci
        for key, effect in (("indirect", med.indirect), ("direct", med.direct)):
            out[key] = effect["estimate"]
            out[f"{key}_low"], out[f"{key}_high"] = effect["ci"]
        out["a"] = med.a
        out["a_low"], out["a_high"] = med.a_ci
        out["mediation_rejects"] = med.indirect["excludes_zero"]
    if mixed:
        from .mixed import mixed_model

        fit = mixed_model(data, model)
        if fit is None:
            raise AnalysisError(f"the mixed model needs more than two sessions; the settings have "
                                f"{len(settings.sessions)}")
        slope = next(r for r in fit.rows() if r["term"] == data.feature + schema.CHANGE_SUFFIX)
        out.update({"mixed_slope": slope["estimate"], "mixed_slope_low": slope["ci_low"],
                    "mixed_slope_high": slope["ci_high"], "p_mixed": slope["p_value"],
                    "mixed_rejects": slope["p_value"] < alpha})
    return out


def _one_study_one_thread(job: tuple) -> dict:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # tiny problems: threads only cost
        return one_study(*job)


def simulate_many(settings: SimulationSettings, n_studies: int, seed: int, n_perm: int,
                  n_boot: int, alpha: float = 0.05, n_jobs: int = 1,
                  model: str = ANCOVA, mixed: bool = False) -> pd.DataFrame:
    """:func:`one_study` on ``n_studies`` studies (seeds ``seed*100003 + i``), optionally in parallel."""
    jobs = [(settings, seed * 100003 + i, n_perm, n_boot, alpha, model, mixed)
            for i in range(n_studies)]
    if n_jobs > 1:
        # The workers end with this process, however it ends (a killed command leaves none behind).
        with ProcessPoolExecutor(max_workers=n_jobs, initializer=end_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            rows = list(pool.map(_one_study_one_thread, jobs, chunksize=max(1, n_studies // (4 * n_jobs))))
    else:
        rows = [_one_study_one_thread(job) for job in jobs]
    return pd.DataFrame(rows)


def power_table(settings: SimulationSettings, sizes: list[int], n_studies: int, seed: int = 0,
                n_perm: int = 999, n_boot: int = 500, alpha: float = 0.05,
                n_jobs: int = 1) -> pd.DataFrame:
    """Power of both tests for each number per arm in ``sizes``.

    Returns
    -------
    pandas.DataFrame
        One row per size: ``n_per_arm``, ``studies``, ``power_primary`` and
        ``power_mediation`` with ``_low``/``_high`` Wilson bounds.
    """
    from .responders import rate_with_interval

    rows = []
    for size in sizes:
        sims = simulate_many(replace(settings, n_per_arm=int(size)), n_studies, seed + size,
                             n_perm, n_boot, alpha, n_jobs)
        row = {"n_per_arm": int(size), "studies": n_studies}
        for test, column in (("primary", "primary_rejects"), ("mediation", "mediation_rejects")):
            rate = rate_with_interval(int(sims[column].sum()), n_studies)
            row.update({f"power_{test}": rate["rate"], f"power_{test}_low": rate["ci"][0],
                        f"power_{test}_high": rate["ci"][1]})
        logger.info("n per arm %d: power primary %.3f, mediation %.3f", size,
                    row["power_primary"], row["power_mediation"])
        rows.append(row)
    return pd.DataFrame(rows)


def power_record(settings: SimulationSettings, sizes: list[int], n_studies: int, seed: int, n_perm: int,
                 n_boot: int, alpha: float) -> dict:
    """What ``power.json`` holds: everything that makes :func:`power_table`'s figures (the same
    arguments give the same table), with the software versions and the time it was made."""
    from ..provenance import analysis_versions, created

    simulation = settings.to_dict()
    simulation.pop("n_per_arm")  # the sizes below
    for unused in ("trials_per_condition", "capacity", "trial_effects"):  # power simulates no frames
        simulation.pop(unused)
    return {"sizes": [int(n) for n in sizes], "studies_per_size": n_studies, "seed": seed,
            "study_seeds": "study i of n per arm: (seed + n) * 100003 + i",
            "n_perm": n_perm, "n_boot": n_boot, "alpha": alpha, "analysis_model": ANCOVA,
            "simulation": simulation, "toxin_levels_below_zero": settings.share_below_zero(),
            "provenance": {"versions": analysis_versions(), "created": created()}}


def describe_settings(settings: SimulationSettings) -> str:
    """One line naming the generative model, the frown scale and the effects (the plot's subtitle)."""
    eff = settings.effects
    return (f"{settings.model} model, {settings.frown_scale} frowning; toxin effects: frown {eff.frown:g} FU, "
            f"mediated {eff.mediated:g}, direct {eff.direct:g} HAM-D points; placebo response (both arms) "
            f"{eff.placebo:g}")


def true_values(effects: Effects) -> dict[str, float]:
    """The truth of each estimate :func:`one_study` returns with intervals."""
    return {"slope": effects.slope, "a": effects.frown, "indirect": effects.mediated,
            "direct": effects.direct, "mixed_slope": effects.slope}


def calibration_table(sims: pd.DataFrame, effects: Effects) -> pd.DataFrame:
    """Mean estimate, relative bias and 95 % interval coverage against the truth.

    Parameters
    ----------
    sims : pandas.DataFrame
        From :func:`simulate_many` with ``n_boot`` > 0.
    effects : Effects
        The truth the studies were simulated with.

    Returns
    -------
    pandas.DataFrame
        One row per estimate with intervals in ``sims`` (``slope``, ``a``, ``indirect``,
        ``direct``; ``mixed_slope``):
        ``truth``, ``mean``, ``sd`` (across studies), ``bias_pct`` (mean minus
        truth, in % of the truth),
        ``covered`` (studies whose interval holds the truth), ``studies``,
        ``coverage`` with its Wilson 95 % interval (``coverage_low``/``_high``),
        the share of intervals wholly below and wholly above the truth, and
        ``wrong_sign``: the share of estimates whose sign is opposite to that of
        the truth (NaN for a truth of 0).
    """
    from .responders import rate_with_interval

    rows = []
    for name, true in true_values(effects).items():
        if f"{name}_low" not in sims:  # no intervals (n_boot 0), or no mixed model
            continue
        low, high = sims[f"{name}_low"], sims[f"{name}_high"]
        covered = int(((low <= true) & (true <= high)).sum())
        rate = rate_with_interval(covered, len(sims))
        rows.append({"estimate": name, "truth": true, "mean": sims[name].mean(),
                     "sd": sims[name].std(ddof=1),
                     "bias_pct": 100 * (sims[name].mean() - true) / abs(true),
                     "covered": covered, "studies": len(sims), "coverage": rate["rate"],
                     "coverage_low": rate["ci"][0], "coverage_high": rate["ci"][1],
                     "below": float((high < true).mean()), "above": float((low > true).mean()),
                     "wrong_sign": (float((np.sign(sims[name]) == -np.sign(true)).mean())
                                    if true else float("nan"))})
    return pd.DataFrame(rows)


def plot_power(table: pd.DataFrame, path_stem, alpha: float = 0.05, subtitle: str = "") -> list:
    """Power curves with Monte Carlo intervals, saved as ``<stem>.png`` and ``.svg``; ``subtitle``
    (the settings, :func:`describe_settings`) goes under the plot."""
    import matplotlib

    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    n = table["n_per_arm"]
    for test, colour in (("primary", "#1f77b4"), ("mediation", "#d62728")):
        y = table[f"power_{test}"]
        err = [y - table[f"power_{test}_low"], table[f"power_{test}_high"] - y]
        ax.errorbar(n, y, yerr=err, marker="o", color=colour, capsize=3, label=f"{test} test")
    ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="participants per arm", ylabel=f"power (alpha = {alpha:g})", ylim=(0, 1.02))
    ax.legend(loc="lower right")
    if subtitle:
        import textwrap

        fig.text(0.01, 0.01, textwrap.fill(subtitle, 90), fontsize=7, color="#444444", va="bottom")
        fig.tight_layout(rect=(0, 0.07, 1, 1))
    else:
        fig.tight_layout()
    stem = Path(path_stem)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for p in paths:
        fig.savefig(p, dpi=120)
    plt.close(fig)
    return paths
