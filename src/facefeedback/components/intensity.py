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


def family_terms(components: Mapping[str, np.ndarray], neutral: BaseModel | Mapping[str, np.ndarray],
                 params: FamilyConfig) -> dict[str, np.ndarray]:
    """Each of the family's components' contribution in the family's units (before weighting), clipped at 0.

    A ``"relative"`` component (``brow_gap``, ``brow_lowering``, ``lip_corner_pull``,
    ``cheek_raise``): its relative change from neutral in the expression's direction, divided by
    that of a typical full expression; a ``"log_ratio"`` one (``glabella_lines``): the natural-log
    ratio to neutral, divided by that of a typical full expression. Changes away from the
    expression (a raised inner brow, AU1, in a frown; lines fading under softer light) count as
    0, not as a negative expression. ``neutral`` is one reference, or each component's neutral
    per frame (a participant's neutral at each frame's head pose,
    :meth:`~facefeedback.calibration.Calibration.neutral_at`).
    """
    n = neutral.model_dump() if isinstance(neutral, BaseModel) else neutral
    raw = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in params.family.components:
            x = np.asarray(components[c.name], dtype=np.float64)
            if c.change == "log_ratio":
                ratio = np.log(np.maximum(x, 1e-6) / n[c.name])
                raw[c.name] = ratio if c.direction > 0 else -ratio
            else:
                raw[c.name] = (n[c.name] - x) / n[c.name] if c.direction < 0 else (x - n[c.name]) / n[c.name]
    out = {}
    full = params.full_change
    for name, value in raw.items():
        value = np.where(np.isfinite(value), value, np.nan)
        out[name] = np.maximum(value, 0.0) / full[name]
    return out


def family_intensity(components: Mapping[str, np.ndarray], neutral: BaseModel | Mapping[str, np.ndarray],
                     params: FamilyConfig, yaw=None) -> np.ndarray:
    """``intensity = sum_i w_i * term_i / sum_i w_i`` (see :func:`family_terms`); NaN without a face.

    With ``yaw`` (degrees), each weight is the one :func:`component_weights` gives at that head
    turn. Works on arrays (a recording) and on scalars (one live frame).
    """
    return combine_terms(family_terms(components, neutral, params), params, yaw)


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
