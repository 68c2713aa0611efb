"""A family's intensity: its components combined against a neutral reference.

0 on the neutral face, 1 for a typical full expression (``frown_intensity`` in frown units,
a full deliberate frown; ``smile_intensity`` in smile units, a full smile). Which components a
family has, their direction, how a change is measured and their defaults come from the registry
(:mod:`.registry`); the weights and full changes from the family's config section. The neutral
reference, and how it follows head pose, is fitted in :mod:`facefeedback.calibration`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel

from ..config import FamilyConfig


def _relative(value: np.ndarray, neutral) -> np.ndarray:
    """(value - neutral) / neutral."""
    return (value - neutral) / neutral


def _log_ratio(value: np.ndarray, neutral) -> np.ndarray:
    """ln(value / neutral), the value floored at 1e-6."""
    return np.log(np.maximum(value, 1e-6) / neutral)


#: How a component's value is compared with its neutral, by the registry's ``Component.change``.
CHANGE_FUNCTIONS = {"relative": _relative, "log_ratio": _log_ratio}


def family_changes(components: Mapping[str, np.ndarray], neutral: BaseModel | Mapping[str, np.ndarray],
                   params: FamilyConfig) -> dict[str, np.ndarray]:
    """Each of the family's components' signed change from neutral, positive in the expression's
    direction (NaN where undefined): the component's change function (:data:`CHANGE_FUNCTIONS`, by
    its registry entry's ``change``) times its ``direction``."""
    n = neutral.model_dump() if isinstance(neutral, BaseModel) else neutral
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in params.family.components:
            change = CHANGE_FUNCTIONS[c.change](np.asarray(components[c.name], dtype=np.float64), n[c.name])
            change = change if c.direction > 0 else -change
            out[c.name] = np.where(np.isfinite(change), change, np.nan)
    return out


def family_terms(components: Mapping[str, np.ndarray], neutral: BaseModel | Mapping[str, np.ndarray],
                 params: FamilyConfig, noise: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
    """Each of the family's components' contribution in the family's units (before weighting), clipped at 0.

    A ``"relative"`` component (``brow_gap``, ``brow_lowering``, ``lip_corner_pull``,
    ``cheek_raise``): its relative change from neutral in the expression's direction, divided by
    that of a typical full expression; a ``"log_ratio"`` one (``glabella_lines``): the natural-log
    ratio to neutral, divided by that of a typical full expression (:func:`family_changes`).
    Changes away from the expression (a raised inner brow, AU1, in a frown; lines fading under
    softer light) count as 0, not as a negative expression. ``neutral`` is one reference, or each
    component's neutral per frame (a participant's neutral at each frame's head pose,
    :meth:`~facefeedback.calibration.Calibration.neutral_at`).

    ``noise``: each component's scatter on the participant's relaxed face, in the units of its
    change before the division (:func:`~facefeedback.calibration.fit_noise`). A change ``x`` is
    then shrunk to ``x^3 / (x^2 + noise^2)``: a change within the relaxed face's own scatter is
    mostly noise and is halved at one scatter, while an expression, many scatters away, keeps
    nearly all of it (a full frown's lines, 0.92 in ln, lose 1-3 %). A component without a
    scatter (or a scatter of 0) is not shrunk.
    """
    out = {}
    full = params.full_change
    for name, value in family_changes(components, neutral, params).items():
        value = np.maximum(value, 0.0)
        scatter = noise.get(name, 0.0) if noise else 0.0
        if scatter > 0:
            value = value**3 / (value**2 + scatter**2)
        out[name] = value / full[name]
    return out


def family_intensity(components: Mapping[str, np.ndarray], neutral: BaseModel | Mapping[str, np.ndarray],
                     params: FamilyConfig, yaw=None, noise: Mapping[str, float] | None = None) -> np.ndarray:
    """``intensity = sum_i w_i * term_i / sum_i w_i`` (see :func:`family_terms`); NaN without a face.

    With ``yaw`` (degrees), each weight is the one :func:`component_weights` gives at that head
    turn; with ``noise``, each change is shrunk by the relaxed face's scatter (:func:`family_terms`).
    Works on arrays (a recording) and on scalars (one live frame).
    """
    return combine_terms(family_terms(components, neutral, params, noise), params, yaw)


def component_weights(params: FamilyConfig, yaw=None) -> dict[str, np.ndarray | float]:
    """Each component's weight in its family's intensity, at a head turn of ``yaw`` degrees when given.

    A component with a ``yaw_fade_deg`` in the registry loses its weight as the head turns.
    ``brow_gap`` compares the two brow heads' picture across the face: as the head turns, the far
    brow head slides behind the nasal bridge's profile and the near one widens, and beyond about
    10 deg the gap stops following the corrugator (on the synthetic frown turned in 3D its change per
    unit of frown falls from 1.2 at |yaw| < 10 deg to 0.3 at 10-15 deg and 0.1 beyond; on a relaxed
    real face turned past 10 deg it reads 0.25 FU of false frown). Its weight therefore falls linearly
    from full at ``yaw_fade_deg[0]`` to 0 at ``[1]``; the others keep theirs, and the
    weighted mean renormalises, so the unit stays the frown unit.
    """
    weights: dict[str, np.ndarray | float] = dict(params.weights)
    if yaw is not None:
        for c in params.family.components:
            if c.yaw_fade_deg is None:
                continue
            lo, hi = c.yaw_fade_deg
            weights[c.name] = weights[c.name] * np.clip((hi - np.abs(np.asarray(yaw, np.float64))) / (hi - lo),
                                                        0.0, 1.0)
    return weights


def combine_terms(terms: dict[str, np.ndarray], params: FamilyConfig, yaw=None) -> np.ndarray:
    """The weighted mean of the components' terms (:func:`family_terms`): the family's intensity."""
    weights = component_weights(params, yaw)
    return sum(weights[k] * terms[k] for k in params.family.names) / sum(weights.values())
