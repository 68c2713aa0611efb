"""Whether a linear model's estimates and tests are defined on the data, and if not, why.

Every least-squares model checks its design here before it is fitted: a term or an
outcome that does not vary, terms that determine one another, or an outcome fitted
exactly leave coefficients or test statistics undefined. Fitting anyway gives NaN
statistics (and from them meaningless p-values) or a singular-matrix failure; the
check names the cause instead, in a :class:`~facefeedback.errors.NotEstimable`.
"""

from __future__ import annotations

import numpy as np

from ..errors import NotEstimable


def _constant(values: np.ndarray) -> bool:
    return float(np.ptp(values)) <= 1e-12 * max(1.0, float(np.abs(values).max()))


def check_design(x, y, names: list[str], outcome: str, unit: str = "participants") -> None:
    """Raise :class:`NotEstimable` unless OLS of ``y`` on ``x`` has defined estimates and tests.

    Parameters
    ----------
    x : array, shape (n, p)
        The design, an intercept column included.
    y : array, shape (n,)
    names : list of str
        The name of each column of ``x``, as the results show it.
    outcome : str
        The name of ``y``.
    unit : str
        What a row is, for the message ("participants", "observations").
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = x.shape
    if n <= p:
        raise NotEstimable(f"{n} {unit} for {p} coefficients ({', '.join(names)})")
    if _constant(y):
        raise NotEstimable(f"{outcome} does not vary: it is {y[0]:.6g} for all {n} {unit}")
    for j in range(p):
        if _constant(x[:, j]) and x[0, j] != 1.0:
            raise NotEstimable(f"{names[j]} does not vary: it is {x[0, j]:.6g} for all {n} {unit}")
    if np.linalg.matrix_rank(x) < p:
        # The direction the design cannot tell apart: the terms with weight in it are collinear.
        v = np.linalg.svd(x / np.linalg.norm(x, axis=0))[2][-1]
        involved = [name for name, w in zip(names, v) if abs(w) > 1e-6]
        raise NotEstimable(f"{' and '.join(involved)} are collinear: each is determined by the "
                           "others, so their coefficients are not")
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    if resid @ resid <= 1e-20 * ((y - y.mean()) @ (y - y.mean())):
        raise NotEstimable(f"{outcome} is fitted exactly by {', '.join(names)}: with no residual "
                           "variance no test is defined")
