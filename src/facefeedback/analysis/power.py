"""Monte Carlo power of the primary test and of the mediation test.

Each simulated study comes from :func:`facefeedback.analysis.simulate.simulate_study`
(without frames) with its own seed, and is analysed with the same functions
``facefeedback analyze`` uses. The primary test rejects when its permutation
p-value is below ``alpha``; the mediation test when the bootstrap interval of
the indirect effect excludes 0. Power is the rejection rate, reported with a
Wilson 95 % interval for the Monte Carlo error.
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd

from ..output_folders import OutputKind
from .data import StudyInput, prepare
from .simulate import PRIMARY_SCALE, SimulationSettings, simulate_study

logger = logging.getLogger(__name__)


POWER_FILES = ("power.csv", "power.png", "power.svg")


def _earlier_power(folder) -> list[str]:
    """Power outputs written before output markers: known by power.csv's header."""
    try:
        with open(folder / "power.csv", encoding="utf-8") as fh:
            ours = fh.readline().startswith("n_per_arm,studies,")
    except (OSError, UnicodeDecodeError):
        return []
    return [f for f in POWER_FILES if (folder / f).is_file()] if ours else []


#: ``power/``: the table and the plot, replaced as a whole by each run.
POWER = OutputKind("power", "a power analysis", _earlier_power)


def one_study(settings: SimulationSettings, seed: int, n_perm: int, n_boot: int,
              alpha: float = 0.05) -> dict:
    """Simulate one study and run the primary and mediation tests on it.

    Returns
    -------
    dict
        ``seed``, ``n_per_arm``, ``p_primary``, ``primary_rejects``, ``slope``,
        ``indirect``, ``indirect_low``, ``indirect_high``, ``mediation_rejects``,
        ``direct``, ``a``.
    """
    from .mediation import mediation_model
    from .models import primary_model

    table, _ = simulate_study(settings, seed, with_frames=False)
    study = StudyInput(table, list(settings.sessions), settings.sessions[0], source=None)
    data = prepare(study, PRIMARY_SCALE, treated_arm=settings.arms[0])
    rng = np.random.default_rng([seed, 7])
    prim = primary_model(data, 0, n_perm, rng)
    out = {"seed": seed, "n_per_arm": settings.n_per_arm, "p_primary": prim["p_permutation"],
           "primary_rejects": prim["p_permutation"] < alpha, "slope": prim["frown_slope"]}
    if n_boot:
        med = mediation_model(data, n_boot, rng)
        low, high = med["indirect"]["ci"]
        out.update(indirect=med["indirect"]["estimate"], indirect_low=low, indirect_high=high,
                   mediation_rejects=not (low <= 0 <= high),
                   direct=med["direct"]["estimate"], a=med["a"])
    return out


def _run(job: tuple) -> dict:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # tiny problems: threads only cost
        return one_study(*job)


def simulate_many(settings: SimulationSettings, n_studies: int, seed: int, n_perm: int,
                  n_boot: int, alpha: float = 0.05, n_jobs: int = 1) -> pd.DataFrame:
    """:func:`one_study` on ``n_studies`` studies (seeds ``seed*100003 + i``), optionally in parallel."""
    jobs = [(settings, seed * 100003 + i, n_perm, n_boot, alpha) for i in range(n_studies)]
    if n_jobs > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            rows = list(pool.map(_run, jobs, chunksize=max(1, n_studies // (4 * n_jobs))))
    else:
        rows = [_run(job) for job in jobs]
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
    from statsmodels.stats.proportion import proportion_confint

    rows = []
    for size in sizes:
        sims = simulate_many(replace(settings, n_per_arm=int(size)), n_studies, seed + size,
                             n_perm, n_boot, alpha, n_jobs)
        row = {"n_per_arm": int(size), "studies": n_studies}
        for test, column in (("primary", "primary_rejects"), ("mediation", "mediation_rejects")):
            k = int(sims[column].sum())
            low, high = proportion_confint(k, n_studies, alpha=0.05, method="wilson")
            row.update({f"power_{test}": k / n_studies, f"power_{test}_low": low,
                        f"power_{test}_high": high})
        logger.info("n per arm %d: power primary %.3f, mediation %.3f", size,
                    row["power_primary"], row["power_mediation"])
        rows.append(row)
    return pd.DataFrame(rows)


def plot_power(table: pd.DataFrame, path_stem, alpha: float = 0.05) -> list:
    """Power curves with Monte Carlo intervals, saved as ``<stem>.png`` and ``.svg``."""
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
    fig.tight_layout()
    stem = Path(path_stem)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for p in paths:
        fig.savefig(p, dpi=120)
    plt.close(fig)
    return paths
