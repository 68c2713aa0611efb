"""Calibration on simulated studies with known truth (fast settings).

The full-setting version is ``scripts/calibrate_analysis.py``. The bounds here
are wide enough for Monte Carlo error at these sizes and narrow enough that a
broken permutation scheme, a one-sided p-value, or a biased estimator fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from facefeedback.analysis.power import simulate_many
from facefeedback.analysis.simulate import Effects, SimulationSettings


def test_primary_test_holds_its_level_without_an_effect():
    """400 null studies: the permutation test rejects at alpha = 0.05 in 3-7 %."""
    settings = SimulationSettings(n_per_arm=20, effects=Effects.parse(["none"]))
    sims = simulate_many(settings, 400, seed=1, n_perm=399, n_boot=0)
    rate = sims["primary_rejects"].mean()
    assert 0.03 <= rate <= 0.07, rate
    # p-values of a calibrated test are uniform: no pile-up anywhere
    assert stats.kstest(sims["p_primary"], "uniform").pvalue > 0.001


def test_primary_test_holds_its_level_when_toxin_moves_frowning_but_not_mood_through_it():
    """The arm changes frowning and mood directly; frowning itself does nothing."""
    effects = Effects(frown=-0.25, direct=-9.5, mediated=0.0)
    sims = simulate_many(SimulationSettings(n_per_arm=20, effects=effects), 200, seed=2,
                         n_perm=399, n_boot=0)
    k = int(sims["primary_rejects"].sum())
    assert stats.binomtest(k, 200, 0.05).pvalue > 0.001, k


def test_mediation_detects_the_default_effect_and_is_centred_on_the_truth():
    """Default effects, 40 per arm: the interval excludes 0 in most studies; no bias."""
    truth = Effects()
    sims = simulate_many(SimulationSettings(n_per_arm=40), 30, seed=3, n_perm=99, n_boot=200)
    # Full setting requires >= 80 % of 400 studies; 30 studies allow Monte Carlo slack.
    assert sims["mediation_rejects"].mean() >= 0.7
    for column, true in (("indirect", truth.mediated), ("slope", truth.slope),
                         ("a", truth.frown)):
        bias = sims[column].mean() - true
        assert abs(bias) <= 0.10 * abs(true), (column, sims[column].mean(), true)


@pytest.mark.slow
def test_mediation_calibration_full_setting():
    sims = simulate_many(SimulationSettings(n_per_arm=40), 400, seed=5, n_perm=999, n_boot=1000,
                         n_jobs=2)
    assert sims["mediation_rejects"].mean() >= 0.80
    truth = Effects()
    for column, true in (("indirect", truth.mediated), ("direct", truth.direct),
                         ("slope", truth.slope)):
        assert abs(sims[column].mean() - true) <= 0.10 * abs(true)
    assert 0.03 <= np.mean(simulate_many(
        SimulationSettings(n_per_arm=40, effects=Effects.parse(["none"])), 400, seed=6,
        n_perm=999, n_boot=0, n_jobs=2)["primary_rejects"]) <= 0.07
