"""The HTML report: self-contained, every figure saved, and rendered by headless Chromium."""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import subprocess
import time
import urllib.request

import pytest

from facefeedback.analysis.analyze import AnalysisSettings, run_analysis
from facefeedback.report import write_report
from facefeedback.study.simulated import write_simulated_study
from facefeedback.synthetic.studies import SimulationSettings

FIGURES = ("before_after", "participant_lines", "change_scatter", "mediation", "time_series", "time_courses",
           "sensitivity")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    write_simulated_study(root, SimulationSettings(n_per_arm=10, trials_per_condition=3, capacity=True), seed=4)
    (root / "failures.csv").write_text(  # as run writes it: the path resolved, repeated in the error
        "recording_id,path,error\nsub-21_week6_rest,/home/lab/videos/Jane Doe 1985 week6.mp4,"
        "/home/lab/videos/Jane Doe 1985 week6.mp4: no face found in any frame\n")
    # As facefeedback run writes it (its columns the report reads): one pair beyond the validated range.
    (root / "features" / "comparability.csv").write_text(
        "participant_id,task,reference_session,session,recording_id,flagged,details\n"
        "sub-03,rest,baseline,week6,sub-03_week6_rest,True,\"contrast 0.26 -> 0.452 (ratio 1.74, comparable "
        "within x0.606 to x1.65)\"\n"
        "sub-04,rest,baseline,week6,sub-04_week6_rest,False,\n")
    run_analysis(root, "HAMD17", task="rest", settings=AnalysisSettings(n_boot=200, n_perm=199,
                                                                        n_perm_predictive=20),
                 report=write_report)
    return root / "analysis"


def test_report_is_self_contained_with_every_figure(report_dir):
    page = (report_dir / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](?!data:)""", page), "external resource in the report"
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    for name in FIGURES:
        png = report_dir / "figures" / f"{name}.png"
        svg = report_dir / "figures" / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in svg.read_text()[:2000]
        assert f'id="fig-{name}"' in page


def test_report_holds_no_folder_of_the_labs_machine(report_dir):
    """A report is shared: the failed recording is named by its id and file name, the input by its
    file name; the lab's folders (a home folder, a participant's name in a folder) stay out."""
    page = html.unescape((report_dir / "report.html").read_text())
    assert "/home/lab" not in page and str(report_dir.parent) not in page
    assert "Jane Doe 1985 week6.mp4: no face found in any frame" in page and "sub-21_week6_rest" in page
    assert "Input session_features.parquet (sha256" in page  # the file read, by name


def test_report_states_the_trial_evidence(report_dir):
    """Manipulation check with the unblinding AUC, specificity and sensitivity, with the numbers of results.json."""
    page = html.unescape((report_dir / "report.html").read_text())
    results = json.loads((report_dir / "results.json").read_text())
    man = results["manipulation"]
    assert f"Unblinding AUC {man['auc']:.2f}" in page
    assert "Functional-unblinding risk" in page and man["sentence"] in page
    for arm, entry in man["arms"].items():
        assert f"{entry['lost_half']['n']}/{entry['n']}" in page
    assert results["specificity"]["sentence"] in page
    assert f"{results['sensitivity']['rho_at_zero']:.2f}" in page
    assert "Imai, Keele and Tingley 2010" in _methods(page)
    assert len(results["time_courses"]["curves"]) == 12  # 2 arms x 3 sessions x 2 conditions


def test_report_states_the_numbers(report_dir):
    page = (report_dir / "report.html").read_text()
    results = json.loads((report_dir / "results.json").read_text())
    slope = results["primary"]["frown_slope"]
    assert f"{slope:.3g}" in page
    assert f"{results['mediation']['indirect']['estimate']:.3g}" in page
    assert "no face found in any frame" in page  # the excluded recording and why
    assert "1 recording failed and was excluded:" in page
    # the example figure's caption says what its lines and its marks are
    assert "baseline and week6 recordings: the lines are the valid frames; frames not valid are marked" in page
    assert "1 of 2 later recordings" in page and "contrast 0.26 -&gt; 0.452 (ratio 1.74" in page
    # the data-quality columns say of what: the fraction of each recording's frames that are valid
    assert "<th>valid-frame fraction, mean</th><th>valid-frame fraction, minimum</th>" in page


def test_the_simulated_truth_is_stated_for_its_own_visit(report_dir):
    """The simulator states its effects at its last visit: the banner says which, and says so
    when another visit is analysed."""
    from types import SimpleNamespace

    from facefeedback.report.page import simulation_note

    page = html.unescape((report_dir / "report.html").read_text())
    results = json.loads((report_dir / "results.json").read_text())
    truth = results["provenance"]["simulation"]["truth"]
    assert results["data"]["session"] == truth["session"] == "week6"
    assert f"direct effect {truth['direct_effect']:g} HAMD17 points at week6)" in page
    assert "generated by 'facefeedback simulate' (change model; additive frowning; seed" in page
    other = SimpleNamespace(data={**results["data"], "session": "week3"}, provenance=results["provenance"])
    assert "points at week6, not the week3 analysed here)" in simulation_note(other)


def _methods(page: str) -> str:
    return html.unescape(re.search(r"<h2>Methods and results</h2><p>(.*?)</p>", page, re.S)[1])


def test_methods_name_both_baselines_and_the_design(report_dir):
    methods = _methods((report_dir / "report.html").read_text())
    assert ("adjusted for baseline HAMD17 and baseline frown_intensity_mean as covariates"
            in methods)
    assert "pretest-posttest control group design, Valente & MacKinnon 2017" in methods
    assert ("HAMD17_change ~ frown_intensity_mean_change + arm + HAMD17_baseline + "
            "frown_intensity_mean_baseline") in methods


def test_methods_say_when_the_change_score_model_was_used(report_dir, tmp_path):
    study = report_dir.parent
    run_analysis(study, "HAMD17", task="rest", out_dir=tmp_path,
                 settings=AnalysisSettings(n_boot=100, n_perm=99, n_perm_predictive=10,
                                           model="change-score"), report=write_report)
    methods = _methods((tmp_path / "report.html").read_text())
    assert "change scores adjusted for baseline HAMD17 only (change-score model" in methods
    assert "frown_intensity_mean_baseline" not in methods


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


async def _render(port: int, url: str) -> dict:
    from tornado.websocket import websocket_connect

    targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list").read())
    page = next(t for t in targets if t["type"] == "page")
    ws = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=1 << 26)
    counter = iter(range(1, 10**6))
    problems: list[str] = []

    async def call(method: str, **params) -> dict:
        msg_id = next(counter)
        ws.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await ws.read_message())
            if msg.get("id") == msg_id:
                return msg.get("result", {})
            record(msg)

    def record(msg: dict) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            problems.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            problems.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            problems.append(f"log: {params['entry'].get('text')}")
        elif method == "Page.loadEventFired":
            loaded.append(True)

    loaded: list[bool] = []
    for domain in ("Page", "Runtime", "Log"):
        await call(f"{domain}.enable")
    await call("Page.navigate", url=url)
    deadline = time.monotonic() + 30
    while not loaded and time.monotonic() < deadline:
        record(json.loads(await asyncio.wait_for(ws.read_message(), 30)))
    script = ("JSON.stringify(Array.from(document.images).map(i => ({id: i.closest('figure').id, "
              "complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})))")
    images = json.loads((await call("Runtime.evaluate", expression=script,
                                    returnByValue=True))["result"]["value"])
    title = (await call("Runtime.evaluate", expression="document.title",
                        returnByValue=True))["result"]["value"]
    await asyncio.sleep(0.3)  # late console messages
    ws.close()
    return {"loaded": bool(loaded), "images": images, "problems": problems, "title": title}


def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not installed (make system-deps installs it); cannot render the report")
    profile = tmp_path / "profile"
    proc = subprocess.Popen([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                             "--remote-debugging-port=0", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, "chromium exited before opening its debugging port"
            assert time.monotonic() < deadline, "chromium did not open its debugging port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        result = asyncio.run(_render(port, (report_dir / "report.html").as_uri()))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert result["loaded"], "the report never finished loading"
    assert result["problems"] == []
    assert result["title"].startswith("facefeedback analysis")
    assert sorted(i["id"] for i in result["images"]) == sorted(f"fig-{n}" for n in FIGURES)
    for image in result["images"]:
        assert image["complete"] and image["width"] > 100 and image["height"] > 100, image


def test_example_time_series_marks_frames_not_valid_and_why(tmp_path):
    """The example figure's lines are the valid frames; the others are marked, the legend saying why."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from facefeedback.report.figures import example_time_series

    def recording(rid: str, change) -> None:
        n = 40
        t = pd.DataFrame({"frame": np.arange(n), "timestamp_s": np.arange(n) / 10, "face_detected": True,
                          "yaw": 0.0, "pitch": 0.0, "sharpness": 0.4, "brightness": 120.0, "brow_gap": 0.44,
                          "brow_lowering": 0.31, "glabella_lines": 0.6, "frown_intensity": 0.2})
        change(t)
        t.loc[~t["face_detected"], ["yaw", "pitch", "brow_gap", "brow_lowering", "glabella_lines"]] = np.nan
        t["valid"] = (t["face_detected"] & (t["yaw"].abs() <= 25) & (t["sharpness"] >= 0.15))
        (tmp_path / "recordings" / rid).mkdir(parents=True)
        t.to_parquet(tmp_path / "recordings" / rid / "frames.parquet")

    def turned_and_lost(t):
        t.loc[10:12, "face_detected"] = False
        t.loc[20:21, "yaw"] = 40.0

    def blurred(t):
        t.loc[5:9, "sharpness"] = 0.05

    for pid in ("P01", "P02"):
        recording(f"{pid}_baseline_rest", turned_and_lost)
        recording(f"{pid}_week6_rest", blurred)
    data = SimpleNamespace(wide=pd.DataFrame({"participant_id": ["P01", "P02"], "arm": ["botox", "placebo"],
                                              "frown_change": [-0.1, 0.0]}),
                           treated_arm="botox", control_arm="placebo", task="rest",
                           reference_session="baseline", session="week6")
    fig = example_time_series(data, tmp_path)
    ax = fig.axes[0]
    assert ax.get_title() == "botox: P01, P01_baseline_rest and P01_week6_rest"
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["baseline", "baseline: 5 of 40 frames not valid (no face 3, head turned 2)",
                      "week6", "week6: 5 of 40 frames not valid (blurred 5)"]


def _mediation(total_ci, proportion, table=()):
    from facefeedback.analysis.mediation import MediationResult

    effect = {"estimate": 0.0, "ci": [-1.0, 1.0], "p": 1.0}
    return MediationResult(n_boot=100, method="", formulas={}, a=0.0, a_ci=[0.0, 0.0], b=0.0, notes=[],
                           indirect=effect, direct=effect,
                           total={"estimate": sum(total_ci) / 2, "ci": list(total_ci), "p": 1.0},
                           proportion_mediated={"estimate": proportion, "ci": [-5.0, 5.0], "p": 1.0},
                           table=list(table))


def test_proportion_mediated_is_not_defined_when_the_total_effect_is_about_zero():
    from facefeedback.report.page import NOT_DEFINED, proportion_mediated_text

    assert NOT_DEFINED == "not defined (total effect ≈ 0: its 95 % CI includes 0)"
    assert proportion_mediated_text(_mediation((-3.0, 2.0), -0.001)) == NOT_DEFINED  # was "-0.00"
    assert proportion_mediated_text(_mediation((-9.6, -0.2), -0.2011)) == "-0.2"
    assert proportion_mediated_text(_mediation((1.0, 4.0), -0.0)) == "0"
    assert proportion_mediated_text(_mediation((1.0, 4.0), float("nan"))) == NOT_DEFINED
    # the table of every model says the same
    from facefeedback.analysis.models import PrimaryResult
    from facefeedback.analysis.results import AnalysisResults, row
    from facefeedback.report.page import models_table

    mediation = _mediation((-3.0, 2.0), -0.001, [row("mediation", "proportion mediated", -0.001,
                                                     (-5.0, 5.0), 0.9, "bootstrap", "")])
    primary = PrimaryResult(formula="", n=0, r_squared=0.0, n_boot=0, n_perm=99, frown_slope=0.0,
                            frown_slope_ci=[0.0, 0.0], p_permutation=1.0, t_observed=0.0)
    table = models_table(AnalysisResults(provenance={}, data={}, model={}, timings_s={},
                                         models={"primary": primary, "mediation": mediation}))
    assert table.loc[0, ["estimate", "ci_low", "ci_high", "p_value"]].tolist() == [NOT_DEFINED, "", "", ""]


def test_a_measure_that_cannot_be_negative_gets_no_interval_below_zero():
    """3 per arm with a small, skewed frown: the t interval would reach below 0 FU."""
    from types import SimpleNamespace

    import pandas as pd

    from facefeedback.report.figures import before_after

    long = pd.DataFrame({"arm": ["botox"] * 6 + ["placebo"] * 6,
                         "session": ["baseline", "week6"] * 6,
                         "frown": [0.30, 0.01, 0.25, 0.02, 0.35, 0.30, 0.28, 0.27, 0.31, 0.29, 0.26, 0.25]})
    data = SimpleNamespace(long=long, sessions=["baseline", "week6"], feature="frown_intensity_mean",
                           treated_arm="botox", control_arm="placebo")
    ax = before_after(data).axes[0]
    lows = [seg[:, 1].min() for c in ax.collections for seg in getattr(c, "get_segments", list)()]
    assert lows and min(lows) == 0.0  # the botox week-6 interval is cut at 0, none goes below
    assert "95 % t interval; cut at 0, below which the measure cannot go" in ax.get_title()
    data.feature = "my_own_score"  # a feature of unknown range keeps its whole interval
    ax = before_after(data).axes[0]
    assert min(seg[:, 1].min() for c in ax.collections for seg in getattr(c, "get_segments", list)()) < 0
