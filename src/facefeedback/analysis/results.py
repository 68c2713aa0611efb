"""The typed results of an analysis: what the models found, as the report and the command read it.

Each model returns one dataclass (a subclass of :class:`ModelResult`, defined beside the model)
whose :meth:`ModelResult.rows` gives its lines of the table of every model (:data:`ROW_FIELDS`)
and whose :meth:`ModelResult.to_json` gives its entry of ``results.json``. :class:`AnalysisResults`
holds them all, with the provenance and the data description; ``results.mediation`` is the
mediation model's result. This module imports no model, so the report can depend on it alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import ClassVar

import pandas as pd

#: Columns of the table of every model.
ROW_FIELDS = ("model", "term", "estimate", "ci_low", "ci_high", "p_value", "interval", "test")


def row(model: str, term: str, estimate: float, ci: tuple[float, float], p: float,
        interval: str, test: str) -> dict:
    """One line of the table of every model."""
    return dict(zip(ROW_FIELDS, (model, term, float(estimate), float(ci[0]), float(ci[1]),
                                 float(p), interval, test)))


@dataclass
class ModelResult:
    """What one model found. Subclasses add their numbers as fields.

    ``table`` holds the model's lines of the table of every model when they are made while
    fitting; a subclass whose lines follow from its fields builds them in :meth:`rows` instead.
    """

    #: The model's name in ``results.json``, the tables and the report.
    name: ClassVar[str] = ""
    #: Where ``rows`` goes among the entry's keys: after this field ("" first, None last).
    rows_after: ClassVar[str | None] = None
    table: list[dict] = field(default_factory=list, kw_only=True, repr=False)

    def rows(self) -> list[dict]:
        """The model's lines of the table of every model (:data:`ROW_FIELDS`)."""
        return list(self.table)

    def to_json(self) -> dict:
        """The model's entry of ``results.json``: its fields and its ``rows``."""
        names = [f.name for f in fields(self) if f.name != "table"]
        if self.rows_after is None:
            at = len(names)
        else:
            at = names.index(self.rows_after) + 1 if self.rows_after else 0
        out = {n: getattr(self, n) for n in names[:at]}
        out["rows"] = self.rows()
        out.update((n, getattr(self, n)) for n in names[at:])
        return out


@dataclass
class NotEstimableResult(ModelResult):
    """A model that could not be estimated on these data, and why."""

    model: str
    reason: str

    def to_json(self) -> dict:
        return {"not_estimable": self.reason, "rows": []}


@dataclass
class AnalysisResults:
    """Every model's result, with how the analysis was made (the content of ``results.json``).

    ``models`` maps each model's name to its result, or to None for a model that does not
    apply to the data (the mixed model with two sessions); a model's result is also an
    attribute (``results.primary``).
    """

    provenance: dict
    data: dict
    model: dict  # the model of change: name, baseline covariates, formulas, reference
    models: dict[str, ModelResult | None]
    timings_s: dict[str, float]
    analysis_time_s: float = 0.0

    def __getattr__(self, name: str):
        models = self.__dict__.get("models") or {}
        if name in models:
            return models[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or model {name!r}")

    def rows(self) -> list[dict]:
        """The lines of every model, in the order the models ran."""
        return [r for result in self.models.values() if result is not None for r in result.rows()]

    def rows_frame(self) -> pd.DataFrame:
        """The table of every model (``tables/models.csv``)."""
        return pd.DataFrame(self.rows(), columns=list(ROW_FIELDS))

    def not_estimable(self) -> dict[str, str]:
        """The models that could not be estimated, with the reason."""
        return {name: r.reason for name, r in self.models.items() if isinstance(r, NotEstimableResult)}

    def to_json(self) -> dict:
        """The content of ``results.json``."""
        return {"provenance": self.provenance, "data": self.data, "model": self.model,
                **{name: None if r is None else r.to_json() for name, r in self.models.items()},
                "timings_s": self.timings_s, "analysis_time_s": self.analysis_time_s}


def term_label(term: str, factors: dict[str, str]) -> str:
    """A model term (statsmodels' name, factors joined by ``:``) named for the reader: each factor
    looked up in ``factors``, a categorical one by its part before the level, which stays as it is
    (``C(session, Treatment('baseline'))[T.week6]:treated`` -> ``session[T.week6]:arm[botox]``).
    Only whole factors are replaced: a level named ``treated4w`` keeps its name."""
    named = []
    for factor in term.split(":"):
        categorical = re.match(r"^(C\(.*\))(\[.*\])$", factor)
        if categorical:
            named.append(factors.get(categorical.group(1), categorical.group(1)) + categorical.group(2))
        else:
            named.append(factors.get(factor, factor))
    return ":".join(named)
