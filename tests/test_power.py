"""``facefeedback power``: table and plot, and power that responds to effect and size."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from process_helpers import HAS_PROC, cmdline, cpu_ticks, kill_alone_once_working

from facefeedback.analysis.power import power_table
from facefeedback.cli import main
from facefeedback.synthetic.studies import Effects, SimulationSettings

FAST = ["--sims", "16", "--n-perm", "99", "--n-boot", "120", "--seed", "1"]


def test_power_table_and_plot(tmp_path, capsys):
    out = tmp_path / "power"
    assert main(["power", "--n", "8", "40", *FAST, "--out", str(out)]) == 0
    table = pd.read_csv(out / "power.csv")
    assert list(table["n_per_arm"]) == [8, 40]
    for test in ("primary", "mediation"):
        p = table[f"power_{test}"]
        assert ((table[f"power_{test}_low"] <= p) & (p <= table[f"power_{test}_high"])).all()
    # default effects: far more power with 40 per arm than with 8
    assert table["power_mediation"].iloc[1] >= 0.7
    assert table["power_mediation"].iloc[1] > table["power_mediation"].iloc[0]
    assert (out / "power.png").read_bytes()[:4] == b"\x89PNG"
    svg = (out / "power.svg").read_text()
    assert "<svg" in svg[:2000] and "change model, additive frowning" in svg  # the settings, under the plot
    assert "power_primary" in capsys.readouterr().out
    # power.json holds what made the table: run again from it, the same table
    record = json.loads((out / "power.json").read_text())
    assert record["sizes"] == [8, 40] and record["seed"] == 1 and record["analysis_model"] == "ancova"
    assert record["simulation"]["effects"] == {"frown": -0.25, "direct": -3.5, "mediated": -6.25, "placebo": -2.25}
    assert record["simulation"]["frown_scale"] == "additive" and record["provenance"]["versions"]["facefeedback"]
    sim = record["simulation"]
    settings = SimulationSettings(**{**sim, "effects": Effects(**sim["effects"]), "sessions": tuple(sim["sessions"]),
                                     "arms": tuple(sim["arms"])})
    again = power_table(settings, record["sizes"], record["studies_per_size"], record["seed"], record["n_perm"],
                        record["n_boot"], record["alpha"])
    pd.testing.assert_frame_equal(again, table)


def test_no_effect_gives_no_power(tmp_path):
    out = tmp_path / "null"
    assert main(["power", "--n", "20", "--effect", "none", *FAST, "--out", str(out)]) == 0
    table = pd.read_csv(out / "power.csv")
    assert table["power_primary"].iloc[0] <= 0.25
    assert table["power_mediation"].iloc[0] <= 0.25


def test_bad_sizes_are_one_line(tmp_path, capsys):
    assert main(["power", "--n", "2", "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "at least 3" in err and err.count("\n") == 1


def test_power_under_the_levels_model(tmp_path):
    """The ANCOVA analysis keeps its power when mood follows the frown level."""
    out = tmp_path / "levels"
    assert main(["power", "--n", "40", "--model", "levels", *FAST, "--out", str(out)]) == 0
    table = pd.read_csv(out / "power.csv")
    assert table["power_mediation"].iloc[0] >= 0.7
    assert table["power_primary"].iloc[0] >= 0.6


@pytest.mark.skipif(not HAS_PROC, reason="processes are listed from /proc (Linux)")
def test_its_workers_end_with_a_killed_command(tmp_path):
    """Killed alone (as the out-of-memory killer would), ``power --jobs 2`` leaves no simulation
    running: its workers would otherwise go on with their share and hold the command's output."""
    proc = subprocess.Popen([sys.executable, "-m", "facefeedback.cli", "power", "--n", "30", "--sims", "400",
                             "--jobs", "2", "--out", str(tmp_path / "power")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)

    def working(tree):  # both workers are simulating
        busy = [pid for pid in tree if cpu_ticks(pid) > 20 and "resource_tracker" not in cmdline(pid)]
        return len(busy) >= 2

    left = kill_alone_once_working(proc, working)
    assert not left, left
    assert not (tmp_path / "power" / "power.csv").exists()



def test_frown_scale_reaches_the_simulations(tmp_path, capsys):
    """``--frown-scale proportional`` simulates proportional frowning: an effect larger than the mean
    level is refused there (and only there), before anything is simulated."""
    argv = ["power", "--n", "8", "--effect", "frown=-0.4", "--sims", "1", "--n-perm", "20", "--n-boot", "9"]
    assert main([*argv, "--frown-scale", "proportional", "--out", str(tmp_path / "p")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "more than all frowning" in err
    assert not (tmp_path / "p").exists()
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0


def test_alpha_sets_the_level_of_the_mediation_test_too():
    """At alpha 0.01 the mediation test reads the indirect effect's 99 % interval: the same
    resamples give a wider interval than at 0.05, and it excludes 0 in fewer studies. (It read
    the 95 % interval whatever the alpha: at 0.01 its power stayed that of 0.05.)"""
    from facefeedback.analysis.power import one_study, simulate_many

    settings = SimulationSettings(n_per_arm=20)
    loose, strict = (one_study(settings, 3, 19, 300, alpha=alpha) for alpha in (0.05, 0.01))
    assert strict["indirect_low"] < loose["indirect_low"] and strict["indirect_high"] > loose["indirect_high"]
    assert strict["indirect"] == loose["indirect"]
    rejects = [simulate_many(settings, 24, seed=5, n_perm=19, n_boot=200, alpha=alpha)["mediation_rejects"].sum()
               for alpha in (0.05, 0.01)]
    assert rejects[1] < rejects[0], rejects
