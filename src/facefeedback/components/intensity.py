"""``frown_intensity``: the frown components combined against a neutral reference.

0 on the neutral face, 1 for a typical full deliberate frown. The neutral reference, and how
it follows head pose, is fitted in :mod:`facefeedback.calibration`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..config import FrownConfig, NeutralReference
from ..schema import COMPONENTS

#: |yaw| (deg) over which brow_gap's weight in frown_intensity falls from full to 0 (see component_weights).
BROW_GAP_YAW_FADE_DEG = (10.0, 15.0)


def frown_terms(components: Mapping[str, np.ndarray], neutral: NeutralReference | Mapping[str, np.ndarray],
                params: FrownConfig) -> dict[str, np.ndarray]:
    """Each component's contribution in frown units (before weighting), clipped at 0.

    ``brow_gap`` and ``brow_lowering``: relative shrinkage from neutral, divided by the
    shrinkage of a typical full frown; ``glabella_lines``: natural-log ratio to neutral,
    divided by that of a typical full frown. Changes away from frowning (a raised inner
    brow, AU1; lines fading under softer light) count as 0, not as negative frowning.
    ``neutral`` is one reference, or each component's neutral per frame (a participant's
    neutral at each frame's head pose, :meth:`~facefeedback.calibration.Calibration.neutral_at`).
    """
    n = neutral.model_dump() if isinstance(neutral, NeutralReference) else neutral
    gap = np.asarray(components["brow_gap"], dtype=np.float64)
    low = np.asarray(components["brow_lowering"], dtype=np.float64)
    lines = np.asarray(components["glabella_lines"], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = {
            "brow_gap": (n["brow_gap"] - gap) / n["brow_gap"],
            "brow_lowering": (n["brow_lowering"] - low) / n["brow_lowering"],
            "glabella_lines": np.log(np.maximum(lines, 1e-6) / n["glabella_lines"]),
        }
    out = {}
    for name, value in raw.items():
        value = np.where(np.isfinite(value), value, np.nan)
        out[name] = np.maximum(value, 0.0) / params.full_frown[name]
    return out


def frown_intensity(components: Mapping[str, np.ndarray], neutral: NeutralReference | Mapping[str, np.ndarray],
                    params: FrownConfig, yaw=None) -> np.ndarray:
    """``frown_intensity = sum_i w_i * term_i / sum_i w_i`` (see :func:`frown_terms`); NaN without a face.

    With ``yaw`` (degrees), each weight is the one :func:`component_weights` gives at that head
    turn. Works on arrays (a recording) and on scalars (one live frame).
    """
    return combine_terms(frown_terms(components, neutral, params), params, yaw)


def component_weights(params: FrownConfig, yaw=None) -> dict[str, np.ndarray | float]:
    """Each component's weight in frown_intensity, at a head turn of ``yaw`` degrees when given.

    ``brow_gap`` compares the two brow heads' picture across the face: as the head turns, the far
    brow head slides behind the nasal bridge's profile and the near one widens, and beyond about
    10 deg the gap stops following the corrugator (on the synthetic frown turned in 3D its change per
    unit of frown falls from 1.2 at |yaw| < 10 deg to 0.3 at 10-15 deg and 0.1 beyond; on a relaxed
    real face turned past 10 deg it reads 0.25 FU of false frown). Its weight therefore falls linearly
    from full at ``BROW_GAP_YAW_FADE_DEG[0]`` to 0 at ``[1]``; the others keep theirs, and the
    weighted mean renormalises, so the unit stays the frown unit.
    """
    weights: dict[str, np.ndarray | float] = dict(params.weights)
    if yaw is not None:
        lo, hi = BROW_GAP_YAW_FADE_DEG
        weights["brow_gap"] = weights["brow_gap"] * np.clip((hi - np.abs(np.asarray(yaw, np.float64))) / (hi - lo),
                                                            0.0, 1.0)
    return weights


def combine_terms(terms: dict[str, np.ndarray], params: FrownConfig, yaw=None) -> np.ndarray:
    """The weighted mean of the components' terms (:func:`frown_terms`): frown_intensity."""
    weights = component_weights(params, yaw)
    return sum(weights[k] * terms[k] for k in COMPONENTS) / sum(weights.values())
