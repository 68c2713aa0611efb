"""The change-score rule: change and percent change of a measure from the reference session.

One rule for every table that holds changes: the session features of a measured study
(:mod:`facefeedback.study.features`) and of a simulated one (:mod:`facefeedback.synthetic`).
``X_change = X - X_ref``; ``X_pct_change = 100 * (X - X_ref) / X_ref``, missing where
``X_ref`` is not above 0 (docs/data_contract.md): a percentage of a negative amount has the
change's opposite sign (-0.2 to -0.1 would read -50 %), and of 0 none.
"""

from __future__ import annotations

import pandas as pd

from . import schema


def change_columns(names: list[str]) -> list[str]:
    """``X_change`` and ``X_pct_change`` for every name, in that order."""
    return [f"{x}{suffix}" for x in names for suffix in (schema.CHANGE_SUFFIX, schema.PCT_CHANGE_SUFFIX)]


def with_changes(names) -> set[str]:
    """Every column the names make in a table that holds changes: each name and its change columns."""
    names = list(names)
    return set(names) | set(change_columns(names))


def change_from(values: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Change and percent change of ``values`` from ``reference`` (aligned frames, same columns)."""
    out = {}
    for x in values.columns:
        diff = values[x] - reference[x]
        ref = reference[x].where(reference[x] > 0)  # a percentage of a positive amount only
        out[f"{x}{schema.CHANGE_SUFFIX}"] = diff
        out[f"{x}{schema.PCT_CHANGE_SUFFIX}"] = 100.0 * diff / ref
    return pd.DataFrame(out, index=values.index)


def add_change_columns(table: pd.DataFrame, columns: list[str], reference: str) -> pd.DataFrame:
    """``table`` with ``X_change`` and ``X_pct_change`` of ``columns`` against the same
    participant and task at the ``reference`` session."""
    keys = ["participant_id", "task"]
    ref = table.loc[table["session"] == reference, keys + columns]
    merged = table[keys].merge(ref, on=keys, how="left").set_index(table.index)
    changes = change_from(table[columns].astype(float), merged[columns].astype(float))
    return pd.concat([table, changes], axis=1)
