"""A model is one module and one registration: everything downstream follows from its result."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import pytest
from scipy import stats

from facefeedback.analysis import registry
from facefeedback.analysis.data import AnalysisData
from facefeedback.analysis.results import ModelResult, row
from facefeedback.cli import main
from facefeedback.study.simulated import write_simulated_study
from facefeedback.synthetic.studies import SimulationSettings

FAST = ["--n-boot", "50", "--n-perm", "49", "--n-perm-predictive", "5"]


@dataclass
class SpearmanResult(ModelResult):
    name = "spearman"
    rho: float
    p: float
    n: int

    def rows(self) -> list[dict]:
        return [row(self.name, "rho", self.rho, (float("nan"), float("nan")), self.p, "", "Spearman")]


def spearman_model(data: AnalysisData) -> SpearmanResult:
    res = stats.spearmanr(data.wide["frown_change"], data.wide["mood_change"])
    return SpearmanResult(rho=float(res.statistic), p=float(res.pvalue), n=len(data.wide))


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    write_simulated_study(out, SimulationSettings(n_per_arm=10), seed=5)
    return out


def test_a_registered_model_reaches_results_tables_and_report(study_dir, tmp_path, monkeypatch):
    assert main(["analyze", str(study_dir), "--outcome", "HAMD17", "--out", str(tmp_path / "before"),
                 *FAST]) == 0
    extra = registry.Registered("spearman", lambda d, s, rng: spearman_model(d), required=False)
    monkeypatch.setattr(registry, "MODELS", (*registry.MODELS, extra))
    out = tmp_path / "after"
    assert main(["analyze", str(study_dir), "--outcome", "HAMD17", "--out", str(out), *FAST]) == 0

    results = json.loads((out / "results.json").read_text())
    wide = pd.read_csv(out / "tables" / "participants.csv")
    want = stats.spearmanr(wide["frown_change"], wide["mood_change"])
    assert results["spearman"]["rho"] == pytest.approx(want.statistic, rel=1e-12)
    assert results["spearman"]["n"] == len(wide)
    assert results["spearman"]["rows"][0]["term"] == "rho"
    table = pd.read_csv(out / "tables" / "spearman.csv")
    assert table["estimate"].tolist() == pytest.approx([want.statistic])
    assert "spearman" in set(pd.read_csv(out / "tables" / "models.csv")["model"])
    assert "<td class=\"text\">spearman</td>" in (out / "report.html").read_text()
    # The other models drew from their own random streams: a new model moved none of their numbers.
    before = json.loads((tmp_path / "before" / "results.json").read_text())
    for name in ("primary", "arms", "mediation", "responders", "predictive", "mixed"):
        assert results[name] == before[name], name
