"""Simulated studies with known truth: the session-features table (and the per-frame tables
behind it) that the study pipeline would give, from a generative model.
:func:`facefeedback.study.simulated.write_simulated_study` writes them in the study layout.

Generative models
-----------------
For participant ``i`` in arm ``T_i`` (1 = toxin, 0 = placebo) and visit ``s``
(``s = 0`` is the baseline; ``w_s = s / (S - 1)`` rises linearly to 1 at the last
visit), with ``b = mediated / frown`` (HAM-D points per frown unit):

* baseline depression ``H0_i ~ N(baseline_mean, baseline_sd)`` (HAM-D 17 points)
  and baseline frowning ``F0_i ~ N(frown_baseline_mean, frown_baseline_sd)``
  (``frown_intensity_mean``, frown units);
* a persistent participant part of frowning ``u_i ~ N(0, frown_sd_participant)``
  and a visit part ``e_is ~ N(0, frown_sd_visit)``; the same for mood,
  ``v_i ~ N(0, mood_sd_participant)`` and ``n_is ~ N(0, mood_sd_visit)``; the
  toxin acts within two weeks, so its effect on frowning is the same at every
  later visit.

``model="change"`` (mood change follows the change in frowning)::

    dF_is = frown * T_i + u_i + e_is
    dH_is = w_s (placebo + direct * T_i) + b dF_is
            + baseline_slope (H0_i - baseline_mean) + v_i + n_is

``model="levels"`` (the analysis of covariance view: follow-up mood follows the
follow-up frown level and the baseline frown; frowning regresses to the mean
with ``rho = frown_stability`` and ``delta = frown_baseline_effect``), writing
``f_is = F_is - frown_baseline_mean`` for the frown level as a deviation::

    f_is  = rho f_i0 + frown * T_i + u_i + e_is          (s >= 1)
    H_is  = H0_i + w_s (placebo + direct * T_i) + b f_is + delta f_i0
            + baseline_slope (H0_i - baseline_mean) + v_i + n_is

so that ``dF_is = frown * T_i + (rho - 1) f_i0 + u_i + e_is`` is correlated with
the baseline frown, and ``dH_is`` carries ``b dF_is + (b + delta) f_i0``.

How frowning varies (``frown_scale``): ``"additive"`` (the default) is the equations above, in
which a frown level is normal and so may fall below 0, which no recording can give (with the
defaults, 28 % of the toxin arm's follow-up levels); ``"proportional"`` keeps every level above 0
by making each part a factor: the baseline ``F0_i`` is log-normal with the same mean and SD, the
participant and visit parts are ``exp(u_i)`` and ``exp(e_is)`` (log-normal with mean 1, the SDs
of ``u_i`` and ``e_is`` ``frown_sd_participant / frown_baseline_mean`` and ``frown_sd_visit /
frown_baseline_mean``: about the same spread in frown units at the mean level), and the toxin leaves the share ``m`` of a
participant's frowning::

    F_is = F0_i * m^T_i * exp(u_i + e_is)                           (change, s >= 1)
    F_is = F0 * (F0_i / F0)^rho * m^T_i * exp(u_i + e_is)           (levels, s >= 1)

(``F0`` = ``frown_baseline_mean``), with mood as above (``b dF_is``, or ``b f_is + delta f_i0``).
``m`` is set so that ``frown`` is still the toxin's effect on the mean follow-up level:
``m = 1 + frown / E[F_is | placebo]`` (``E`` = ``F0`` under the change model and
``F0 exp(rho (rho - 1) s^2 / 2)`` under the levels model, ``s^2 = ln(1 + (sd / F0)^2)`` the
log-variance of ``F0_i``), which needs ``frown > -E``. The toxin's effect then differs between
participants (a participant who frowns little loses little), but as ``T`` is randomised its
coefficient in the analysis of covariance models is still ``frown`` and that of ``dF`` is still
``b``: the truth below holds under both scales.

Under both models the truth is the same four numbers: ``a = frown`` (the toxin
effect on the change in frowning, equivalently on the follow-up frown level, at a
given baseline frown), the frown slope ``b`` (HAM-D points per frown unit of
change in frowning, equivalently of follow-up frown level, at given baselines),
the indirect effect ``a * b = mediated`` and the direct effect ``direct``; at the
last visit the toxin-vs-placebo difference in mood is ``direct + mediated``
points. These are the coefficients of the analysis of covariance models
``dH ~ dF + T + H0 + F0`` and ``dF ~ T + H0 + F0`` under both generative
models; the change-score models (without ``F0``) recover them under the change
model only. HAM-D 17 scores are rounded and kept in 0-52. A MADRS score is
``madrs_scale`` times the same latent severity (before rounding) plus
independent rating noise ``madrs_sd_rating``, rounded and kept in 0-60. Frown
features of every recording come from synthetic frames whose valid-frame mean of
``frown_intensity`` is ``F0_i + dF_is``
(:mod:`facefeedback.synthetic.frames`).

The defaults of the change model reproduce the published scale: HAM-D -47 % with
toxin vs -9 % with placebo at the last visit (Wollmer et al. 2012) and response rates of about
50 % vs 15 % (Finzi & Rosenthal 2014); ``docs/analysis.md`` lists the rates the
defaults give.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema
from ..changes import add_change_columns
from ..errors import AnalysisError
from ..textrows import ID_PATTERN
from . import frames as synthetic_frames
from .trial_study import TrialEffects

PRIMARY_SCALE = "HAMD17"
SECOND_SCALE = "MADRS"
TASK = "rest"
#: The two views of how mood follows frowning (see the module docstring).
GENERATIVE_MODELS = ("change", "levels")
#: How frowning varies: by added normal parts, or by factors that keep every level above 0.
FROWN_SCALES = ("additive", "proportional")


#: No effect is larger (frown units; HAM-D 17 points, on a scale of 0-52).
MAX_EFFECT = 100.0
#: Nor is the slope (points per frown unit: 25 by default; a full frown is 1).
MAX_SLOPE = 10_000.0


@dataclass(frozen=True)
class Effects:
    """Effects at the last visit: the study's known truth.

    Attributes
    ----------
    frown : float
        Toxin-minus-placebo change in ``frown_intensity_mean`` (frown units).
    direct : float
        Toxin effect on HAM-D 17 not carried by frowning (points).
    mediated : float
        Toxin effect on HAM-D 17 carried by the change in frowning (points);
        the frown-to-mood slope is ``mediated / frown``.
    placebo : float
        Change in HAM-D 17 in both arms at the last visit (points).
    """

    frown: float = -0.25
    direct: float = -3.5
    mediated: float = -6.25
    placebo: float = -2.25

    @property
    def slope(self) -> float:
        """Points of HAM-D 17 per frown unit of change in frowning (``b``)."""
        if self.frown == 0:
            if self.mediated != 0:
                raise AnalysisError(
                    f"a mediated effect ({self.mediated:g}) needs a non-zero frown effect")
            return 0.0
        return self.mediated / self.frown

    @classmethod
    def parse(cls, items: list[str] | None) -> Effects:
        """Effects from ``["frown=-0.25", "mediated=0", ...]``; names not given keep defaults.

        ``none`` alone means no effect at all (frown, direct and mediated are 0,
        the placebo response stays).
        """
        if not items:
            return cls()
        if items == ["none"]:
            return cls(frown=0.0, direct=0.0, mediated=0.0)
        names = [f.name for f in dataclasses.fields(cls)]
        values: dict[str, float] = {}
        for item in items:
            key, sep, text = item.partition("=")
            if not sep or key not in names:
                raise AnalysisError(
                    f"effect {item!r} is not NAME=VALUE with NAME one of {', '.join(names)} "
                    "(or 'none')")
            try:
                values[key] = float(text)
            except ValueError:
                raise AnalysisError(f"effect {item!r}: {text!r} is not a number") from None
            if not np.isfinite(values[key]):
                raise AnalysisError(f"effect {item!r}: {text!r} is not a finite number")
            if abs(values[key]) > MAX_EFFECT:  # 1e308 overflowed into warnings and a slope of -6e-308
                raise AnalysisError(f"effect {item!r}: beyond ±{MAX_EFFECT:g} (frown units, or points of a scale "
                                    "that spans at most 63)")
        effects = cls(**values)
        if abs(effects.slope) > MAX_SLOPE:  # raises when the combination is impossible
            raise AnalysisError(f"effects {', '.join(items)}: a frown-to-mood slope of {effects.slope:g} points per "
                                f"frown unit (mediated / frown) is beyond ±{MAX_SLOPE:g}; give a larger frown effect")
        return effects


@dataclass(frozen=True)
class SimulationSettings:
    """Everything that defines a simulated study except the seed.

    ``model`` is the generative model, ``"change"`` or ``"levels"`` (module
    docstring); ``frown_stability`` (``rho``) and ``frown_baseline_effect``
    (``delta``, HAM-D points per frown unit) are used by the levels model only.
    ``frown_scale`` is ``"additive"`` or ``"proportional"`` (module docstring).
    """

    n_per_arm: int = 40
    effects: Effects = Effects()
    model: str = "change"
    sessions: tuple[str, ...] = ("baseline", "week3", "week6")
    arms: tuple[str, str] = ("botox", "placebo")
    baseline_mean: float = 25.0
    baseline_sd: float = 4.0
    baseline_slope: float = -0.2
    mood_sd_participant: float = 6.0
    mood_sd_visit: float = 5.0
    frown_baseline_mean: float = 0.35
    frown_baseline_sd: float = 0.12
    frown_sd_participant: float = 0.09
    frown_sd_visit: float = 0.08
    madrs_scale: float = 1.2
    madrs_sd_rating: float = 2.0
    frown_stability: float = 0.5
    frown_baseline_effect: float = 15.0
    frown_scale: str = "additive"
    #: Trials per condition of the ``faces`` task (0: no such task) and whether there is a
    #: ``max_frown`` task (:mod:`facefeedback.synthetic.trial_study`); written with the frames only.
    trials_per_condition: int = 0
    capacity: bool = False
    trial_effects: TrialEffects = TrialEffects()

    def __post_init__(self) -> None:
        if self.model not in GENERATIVE_MODELS:
            raise AnalysisError(f"generative model {self.model!r} is not one of "
                                f"{', '.join(GENERATIVE_MODELS)}")
        if self.frown_scale not in FROWN_SCALES:
            raise AnalysisError(f"frown scale {self.frown_scale!r} is not one of {', '.join(FROWN_SCALES)}")
        if self.frown_scale == "proportional":
            self.toxin_share()  # raises when the toxin would remove more than all frowning
        if self.trials_per_condition < 0:
            raise AnalysisError(f"trials per condition must be at least 0, got {self.trials_per_condition}")
        if self.n_per_arm < 1:
            raise AnalysisError(f"n per arm must be at least 1, got {self.n_per_arm}")
        if len(self.sessions) < 2:
            raise AnalysisError("a simulated study needs a baseline and at least one later visit")
        if len({s.lower() for s in self.sessions}) != len(self.sessions):
            raise AnalysisError(f"sessions name a visit twice, or differ only by case ({', '.join(self.sessions)})")
        for s in self.sessions:  # they name folders and columns, as a measured study's do
            if not ID_PATTERN.match(s):
                raise AnalysisError(f"session '{s}' may hold only letters, digits, '.', '-' and '_'")
        if len({a.lower() for a in self.arms}) != 2:
            raise AnalysisError(f"the two arms need two names that differ by more than case, got {', '.join(self.arms)}")
        for name in ("frown_stability", "frown_baseline_effect"):
            if not np.isfinite(getattr(self, name)):
                raise AnalysisError(f"{name} must be a finite number, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def share_below_zero(self) -> float:
        """The share of the toxin arm's follow-up frown levels below 0 (none under the proportional
        scale): under the additive scale a level is normal, ``F0_i + frown + u_i + e_is`` (change
        model) or ``F0 + rho f_i0 + frown + u_i + e_is`` (levels model)."""
        if self.frown_scale == "proportional":
            return 0.0
        from scipy.stats import norm

        rho = self.frown_stability if self.model == "levels" else 1.0
        sd = np.sqrt((rho * self.frown_baseline_sd) ** 2 + self.frown_sd_participant ** 2 + self.frown_sd_visit ** 2)
        return float(norm.cdf(-(self.frown_baseline_mean + self.effects.frown) / sd))

    def baseline_log_sd(self) -> float:
        """SD of ``ln F0_i`` under the proportional scale (``F0_i`` log-normal, its mean and SD as set)."""
        return float(np.sqrt(np.log1p((self.frown_baseline_sd / self.frown_baseline_mean) ** 2)))

    def toxin_share(self) -> float:
        """``m``: the share of a participant's frowning the toxin leaves (proportional scale), set so
        that the toxin's effect on the mean follow-up level is ``effects.frown``."""
        placebo_mean = self.frown_baseline_mean
        if self.model == "levels":
            rho = self.frown_stability
            placebo_mean *= np.exp(rho * (rho - 1) * self.baseline_log_sd() ** 2 / 2)
        share = 1 + self.effects.frown / placebo_mean
        if share <= 0:
            raise AnalysisError(
                f"a frown effect of {self.effects.frown:g} FU would remove more than all frowning under the "
                f"proportional scale (the placebo arm's mean follow-up level is {placebo_mean:.3f} FU)")
        return float(share)


def _clip_round(values: np.ndarray, scale: str) -> np.ndarray:
    low, high = schema.KNOWN_SCALES[scale][:2]
    return np.clip(np.round(values), low, high)


def simulate_levels(settings: SimulationSettings, rng: np.random.Generator) -> pd.DataFrame:
    """Participant x visit table of frown level and scale scores from the generative model.

    Returns
    -------
    pandas.DataFrame
        One row per participant and session: ``participant_id``, ``arm``,
        ``session``, ``age``, ``frown_intensity_mean``, ``HAMD17``, ``MADRS``.
    """
    eff, n = settings.effects, settings.n_per_arm
    n_total, n_visits = 2 * n, len(settings.sessions)
    treated = np.repeat([1.0, 0.0], n)
    h0 = rng.normal(settings.baseline_mean, settings.baseline_sd, n_total)
    # Standard normal draws, in the order the frown's and mood's parts have always been drawn.
    z_f0, z_u = rng.standard_normal(n_total), rng.standard_normal(n_total)
    v = rng.normal(0.0, settings.mood_sd_participant, n_total)
    z_e = rng.standard_normal((n_total, n_visits))
    weights = np.arange(n_visits) / (n_visits - 1)
    # frown_driver is what mood follows: the change in frowning, or the follow-up level - mean
    f0, d_frown, frown_driver = _frown_levels(settings, treated, z_f0, z_u, z_e)
    f0_dev = (f0 - settings.frown_baseline_mean)[:, None]
    h0_scored = _clip_round(h0, PRIMARY_SCALE)
    d_mood = (weights[None, :] * (eff.placebo + eff.direct * treated[:, None])
              + eff.slope * frown_driver
              + settings.baseline_slope * (h0_scored - settings.baseline_mean)[:, None]
              + v[:, None] + rng.normal(0.0, settings.mood_sd_visit, (n_total, n_visits)))
    if settings.model == "levels":
        d_mood += settings.frown_baseline_effect * f0_dev
    d_frown[:, 0] = 0.0
    d_mood[:, 0] = 0.0
    latent = h0_scored[:, None] + d_mood
    madrs = settings.madrs_scale * latent + rng.normal(0.0, settings.madrs_sd_rating, latent.shape)
    ids = participant_ids(n_total)
    arm = np.where(treated == 1, settings.arms[0], settings.arms[1])
    age = np.round(rng.normal(45.0, 11.0, n_total).clip(18, 80))
    return pd.DataFrame({
        "participant_id": np.repeat(ids, n_visits),
        "arm": np.repeat(arm, n_visits),
        "session": np.tile(settings.sessions, n_total),
        "age": np.repeat(age, n_visits),
        "frown_intensity_mean": (f0[:, None] + d_frown).ravel(),
        PRIMARY_SCALE: _clip_round(latent, PRIMARY_SCALE).ravel(),
        SECOND_SCALE: _clip_round(madrs, SECOND_SCALE).ravel(),
    })


def _frown_levels(settings: SimulationSettings, treated: np.ndarray, z_f0: np.ndarray, z_u: np.ndarray,
                  z_e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Baseline frown levels ``F0_i``, changes ``dF_is`` and what mood follows (``dF_is``, or under
    the levels model the follow-up level's deviation ``f_is``), at every visit (the caller sets the
    baseline's change to 0), from standard normal draws for ``F0_i``, ``u_i`` and ``e_is``."""
    mean, rho = settings.frown_baseline_mean, settings.frown_stability
    if settings.frown_scale == "additive":
        f0 = mean + settings.frown_baseline_sd * z_f0
        d_frown = settings.effects.frown * treated[:, None] + (settings.frown_sd_participant * z_u)[:, None] + (
            settings.frown_sd_visit * z_e)
        if settings.model == "change":
            return f0, d_frown, d_frown
        f0_dev = (f0 - mean)[:, None]
        driver = rho * f0_dev + d_frown  # the follow-up level regresses to the mean
        return f0, driver - f0_dev, driver
    log_sd = settings.baseline_log_sd()
    f0 = mean * np.exp(log_sd * z_f0 - log_sd ** 2 / 2)
    sd_u, sd_e = settings.frown_sd_participant / mean, settings.frown_sd_visit / mean
    factors = np.exp((sd_u * z_u - sd_u ** 2 / 2)[:, None] + sd_e * z_e - sd_e ** 2 / 2)  # mean 1
    expected = f0 if settings.model == "change" else mean * (f0 / mean) ** rho
    level = (expected * np.where(treated == 1, settings.toxin_share(), 1.0))[:, None] * factors
    d_frown = level - f0[:, None]
    return f0, d_frown, d_frown if settings.model == "change" else level - mean


def participant_ids(n_total: int) -> list[str]:
    """``sub-01`` ... : the simulated participants' ids, zero-padded to one width."""
    width = len(str(n_total))
    return [f"sub-{i + 1:0{width}d}" for i in range(n_total)]


def simulate_study(settings: SimulationSettings, seed: int = 0, *,
                   with_frames: bool = True) -> tuple[pd.DataFrame, list[pd.DataFrame] | None]:
    """A simulated ``session_features`` table (and the per-frame tables behind it).

    Parameters
    ----------
    settings : SimulationSettings
        Design and known truth.
    seed : int
        Seed of the random generator; the same seed gives the same study.
    with_frames : bool
        Synthesize frames and take every recording feature from them with the pipeline's
        summary (:func:`facefeedback.synthetic.frames.recording_summaries`). Without
        frames the table holds only ``frown_intensity_mean`` and the scores (and
        their changes), which is all the power and calibration runs need.

    Returns
    -------
    features : pandas.DataFrame
        The long table of ``docs/data_contract.md``.
    frames : list of pandas.DataFrame or None
        The per-frame table of every recording (in the order of ``features``), when ``with_frames``.
    """
    rng = np.random.default_rng(seed)
    table = simulate_levels(settings, rng)
    table.insert(3, "task", TASK)
    table.insert(4, "recording_id", table["participant_id"] + "_" + table["session"] + "_" + TASK)
    frames = None
    if with_frames:
        feature_names = schema.summary_feature_names()
        signals = synthetic_frames.synthesize_signals(table["frown_intensity_mean"].to_numpy(), rng,
                                                      proportional=settings.frown_scale == "proportional")
        frames_rng = np.random.default_rng([seed, 1])
        frames = [synthetic_frames.frames_table(signals, row, frames_rng) for row in range(len(table))]
        feats, _ = synthetic_frames.recording_summaries(frames)
        table = pd.concat([table.drop(columns="frown_intensity_mean"),
                           feats.set_index(table.index)], axis=1)
    else:
        feature_names = ["frown_intensity_mean"]
    scales = [PRIMARY_SCALE, SECOND_SCALE]
    table = table[[c for c in table.columns if c not in scales] + scales]
    table = add_change_columns(table, feature_names + scales, settings.sessions[0])
    table["is_reference"] = table["session"] == settings.sessions[0]
    return table, frames
