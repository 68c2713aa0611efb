"""Two parallel mediators with known indirect effects and a baseline imbalance between the arms.

Per participant (``T`` = 1 in the treated arm), for the frown ``F`` and the control expression
``C`` (a smile) at baseline (0) and follow-up (1), and the mood score ``S``::

    F0 ~ N(frown_mean + imbalance_f T, frown_sd)      F1 = frown_mean + r (F0 - frown_mean) + a1 T + e
    C0 ~ N(smile_mean + imbalance_c T, smile_sd)      C1 = smile_mean + r (C0 - smile_mean) + a2 T + e
    S0 ~ N(25, 4)                                     dS = b1 dF + b2 dC + c T - 0.2 (S0 - 25) + e

With ``r`` < 1 each change regresses towards the mean, so an arm that starts higher on a
mediator shows a change that is only that start: the change models must adjust for each
mediator's baseline for ``a1`` and ``a2`` (and the indirect effects ``a1 b1`` and ``a2 b2``)
to be unbiased. The imbalance is built into the generative model here, so that the bias of a
model that ignores it shows in the mean over studies, not only in single unlucky studies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TwoMediators:
    """The known truth of :func:`two_mediator_table` (module docstring)."""

    a1: float = -0.12
    b1: float = -15.0
    a2: float = 0.05
    b2: float = 8.0
    c: float = -1.0
    stability: float = 0.5
    frown_mean: float = 0.35
    frown_sd: float = 0.12
    smile_mean: float = 0.4
    smile_sd: float = 0.12
    imbalance_f: float = 0.05
    imbalance_c: float = 0.1
    visit_sd: float = 0.06
    mood_sd: float = 3.0

    @property
    def frown_indirect(self) -> float:
        return self.a1 * self.b1

    @property
    def control_indirect(self) -> float:
        return self.a2 * self.b2


def two_mediator_table(eff: TwoMediators, n_per_arm: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per participant, in the columns of ``AnalysisData.wide`` the specificity model
    reads: ``participant_id``, ``arm`` (botox / placebo), ``treated``, ``baseline``,
    ``mood_change``, ``frown_baseline``, ``frown_change``, ``control_baseline``, ``control_change``."""
    n = 2 * n_per_arm
    t = np.repeat([1, 0], n_per_arm)
    f0 = rng.normal(eff.frown_mean + eff.imbalance_f * t, eff.frown_sd)
    c0 = rng.normal(eff.smile_mean + eff.imbalance_c * t, eff.smile_sd)
    f1 = eff.frown_mean + eff.stability * (f0 - eff.frown_mean) + eff.a1 * t + rng.normal(0, eff.visit_sd, n)
    c1 = eff.smile_mean + eff.stability * (c0 - eff.smile_mean) + eff.a2 * t + rng.normal(0, eff.visit_sd, n)
    s0 = rng.normal(25.0, 4.0, n)
    ds = eff.b1 * (f1 - f0) + eff.b2 * (c1 - c0) + eff.c * t - 0.2 * (s0 - 25.0) + rng.normal(0, eff.mood_sd, n)
    return pd.DataFrame({"participant_id": [f"p{i:03d}" for i in range(n)],
                         "arm": np.where(t == 1, "botox", "placebo"), "treated": t, "baseline": s0,
                         "mood_change": ds, "frown_baseline": f0, "frown_change": f1 - f0,
                         "control_baseline": c0, "control_change": c1 - c0})
