"""Nothing lost: the one rule every command follows when it writes (facefeedback.output_folders).

A file is replaced or deleted only when facefeedback wrote it (the folder's marker, or an
older version's outputs recognised as such); anything else survives byte for byte; a
command killed in the middle of a commit leaves the old or the new outputs once the next
command has looked at the folder; path problems are one line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from output_helpers import assert_intact, plant, staging_left

from facefeedback.cli import main
from facefeedback.errors import OutputError
from facefeedback.output_folders import OutputKind, plan_output, recover, writing
from facefeedback.output_marker import MARKER, owned_files

KIND = OutputKind("demo", "a demo output", last=("b.txt",))
GENERATIONS = {1: ("a.txt", "b.txt", "sub/c.txt"), 2: ("a.txt", "b.txt", "sub/d.txt", "e.txt")}
WRITER = r"""
import sys
from pathlib import Path
from facefeedback.output_folders import OutputKind, plan_output, writing
gen, folder = sys.argv[1], Path(sys.argv[2])
files = {"1": ("a.txt", "b.txt", "sub/c.txt"), "2": ("a.txt", "b.txt", "sub/d.txt", "e.txt")}[gen]
kind = OutputKind("demo", "a demo output", last=("b.txt",))
with writing(plan_output(folder, kind, files)) as staging:
    for rel in files:
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_text(f"generation {gen}: {rel}")
"""


def write_generation(folder: Path, gen: int, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRITER, str(gen), str(folder)], capture_output=True, text=True,
                          timeout=60, **popen)


def generation_of(folder: Path) -> int:
    """Which generation of outputs the folder holds, checking that it holds all of it and nothing more."""
    owned = owned_files(folder, KIND)
    (gen,) = [g for g, files in GENERATIONS.items() if set(files) == owned]
    for rel in owned:
        assert (folder / rel).read_text() == f"generation {gen}: {rel}"
    left = [rel for g, files in GENERATIONS.items() if g != gen for rel in files if rel not in owned]
    assert not any((folder / rel).exists() for rel in left), "another generation's file is left"
    return gen


def test_a_rerun_replaces_its_own_outputs_and_nothing_else(tmp_path):
    folder = tmp_path / "out"
    assert write_generation(folder, 1).returncode == 0
    foreign = plant(folder / "notes.txt", folder / "sub" / "mine.csv", folder / "photos" / "P01.jpg")
    assert write_generation(folder, 2).returncode == 0
    assert generation_of(folder) == 2  # sub/c.txt, which only the first wrote, is gone
    assert_intact(foreign)
    marker = json.loads((folder / MARKER).read_text())
    assert sorted(marker["outputs"]["demo"]["files"]) == sorted(GENERATIONS[2])
    assert not staging_left(tmp_path)


def test_a_file_in_the_way_stops_before_any_work_and_force_overwrites_only_it(tmp_path):
    folder = tmp_path / "out"
    foreign = plant(folder / "b.txt", folder / "notes.txt")
    with pytest.raises(OutputError) as err:
        plan_output(folder, KIND, GENERATIONS[1])
    text = str(err.value)
    assert str(folder) in text and "b.txt" in text and "--out" in text and "--force" in text and "\n" not in text
    assert_intact(foreign)
    with writing(plan_output(folder, KIND, GENERATIONS[1], force=True)) as staging:
        for rel in GENERATIONS[1]:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(f"generation 1: {rel}")
    assert generation_of(folder) == 1
    assert_intact({folder / "notes.txt": foreign[folder / "notes.txt"]})


def test_an_error_while_writing_leaves_the_earlier_outputs(tmp_path):
    folder = tmp_path / "out"
    assert write_generation(folder, 1).returncode == 0
    with pytest.raises(RuntimeError), writing(plan_output(folder, KIND, GENERATIONS[2])) as staging:
        (staging / "a.txt").write_text("half of generation 2")
        raise RuntimeError("the models failed")
    assert generation_of(folder) == 1
    assert not staging_left(tmp_path)


@pytest.mark.parametrize("kill_at", range(1, 9))
def test_sigkill_at_any_rename_of_a_commit_leaves_old_or_new(tmp_path, kill_at):
    """Killed at the k-th rename of its commit (1: before the journal lands ... 7: before the
    staging is removed; 8 is past the end): the folder ends up with one whole generation."""
    from output_helpers import KILLER

    folder = tmp_path / "out"
    assert write_generation(folder, 1).returncode == 0
    foreign = plant(folder / "notes.txt", folder / "sub" / "mine.csv")
    killer = KILLER.replace("from facefeedback.cli import main\nsys.exit(main(sys.argv[3:]))",
                            WRITER.replace("sys.argv[1], Path(sys.argv[2])", "sys.argv[3], Path(sys.argv[4])"))
    proc = subprocess.run([sys.executable, "-c", killer, "commit", str(kill_at), "2", str(folder)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == (0 if kill_at == 8 else -9), proc.stderr
    assert_intact(foreign)
    # A reader that checks the file written last sees a whole generation even before recovery.
    if (folder / "b.txt").read_text() == "generation 2: b.txt":
        assert all((folder / rel).read_text() == f"generation 2: {rel}" for rel in GENERATIONS[2])
    recover(folder)
    assert generation_of(folder) == (1 if kill_at == 1 else 2)
    assert_intact(foreign)
    assert not staging_left(tmp_path)


def test_outputs_of_a_version_without_markers_are_recognised(tmp_path):
    """An extract output folder from before markers: its own files are replaced, the user's kept."""
    from facefeedback.recording_outputs import RECORDING

    folder = tmp_path / "P01"
    folder.mkdir()
    (folder / "frames.csv").write_text("frame\n0\n")
    (folder / "summary.json").write_text("{}")
    (folder / "provenance.json").write_text(json.dumps({"versions": {"facefeedback": "0.1.0"}}))
    foreign = plant(folder / "consent.pdf")
    assert owned_files(folder, RECORDING) == {"frames.csv", "summary.json", "provenance.json"}
    with writing(plan_output(folder, RECORDING, ["frames.parquet", "summary.json", "provenance.json"])) as st:
        for name in ("frames.parquet", "summary.json", "provenance.json"):
            (st / name).write_text("new")
    assert not (folder / "frames.csv").exists() and (folder / "frames.parquet").read_text() == "new"
    assert_intact(foreign)
    # Another command's outputs written there since (a marker without this kind) change nothing.
    older = tmp_path / "P03"
    older.mkdir()
    (older / "summary.json").write_text("{}")
    (older / "provenance.json").write_text(json.dumps({"versions": {"facefeedback": "0.1.0"}}))
    with writing(plan_output(older, KIND, ["a.txt"])) as st:
        (st / "a.txt").write_text("another kind's file")
    assert owned_files(older, RECORDING) == {"summary.json", "provenance.json"}
    # Without the provenance an older version wrote, nothing there is taken for ours.
    other = tmp_path / "P02"
    plant(other / "summary.json")
    assert owned_files(other, RECORDING) == frozenset()


# --------------------------------------------------------------------------- path problems, every command

def _one_line_error(capsys, argv, *fragments):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def _commands(samples: Path, out: str) -> dict[str, list[str]]:
    clip = str(samples / "frontal_frown.mp4")
    return {
        "extract": ["extract", clip, "--out", out, "--end", "0.3"],
        "calibrate": ["calibrate", clip, "--out", out, "--end", "0.8", "--percentile", "50"],
        "simulate": ["simulate", "--out", out, "--n-per-arm", "3"],
        "power": ["power", "--n", "3", "--sims", "2", "--n-perm", "20", "--n-boot", "9", "--out", out],
        "webcam": ["webcam", "--source", clip, "--headless", "--out", out],
        "webcam --record": ["webcam", "--source", clip, "--headless", "--out", str(Path(out).parent / "s"),
                            "--record", out + "/demo.mp4"],
    }


@pytest.mark.parametrize("command", ["extract", "calibrate", "simulate", "power", "webcam", "webcam --record"])
def test_out_under_a_file_is_one_line(samples, tmp_path, capsys, command):
    blocker = tmp_path / "notes.txt"
    foreign = plant(blocker)
    _one_line_error(capsys, _commands(samples, str(blocker / "sub"))[command], str(blocker), "is a file",
                    "choose another")
    assert_intact(foreign)


@pytest.mark.parametrize("command", ["extract", "simulate", "power", "webcam"])
def test_out_naming_a_file_is_one_line(samples, tmp_path, capsys, command):
    blocker = tmp_path / "notes.txt"
    foreign = plant(blocker)
    _one_line_error(capsys, _commands(samples, str(blocker))[command], str(blocker), "is a file")
    assert_intact(foreign)


def test_calibration_out_naming_a_folder_is_one_line(samples, tmp_path, capsys):
    _one_line_error(capsys, _commands(samples, str(tmp_path))["calibrate"], str(tmp_path), "is a folder")


def test_study_run_and_analysis_with_a_file_in_the_way(tmp_path, capsys, samples):
    from study_helpers import write_study

    study = write_study(tmp_path / "study", [("P01", "baseline", "rest", samples / "frontal_frown.mp4")])
    blocker = tmp_path / "notes.txt"
    foreign = plant(blocker)
    _one_line_error(capsys, ["run", str(study), "--out", str(blocker)], str(blocker), "is a file")
    assert main(["simulate", "--out", str(tmp_path / "sim"), "--n-per-arm", "3"]) == 0
    capsys.readouterr()  # what simulate said (its summary and its warning) is not analyze's
    _one_line_error(capsys, ["analyze", str(tmp_path / "sim"), "--outcome", "HAMD17", "--out", str(blocker)],
                    str(blocker), "is a file")
    _one_line_error(capsys, ["export", "--openface", str(tmp_path / "sim"), "--out", str(blocker / "x")],
                    str(blocker), "is a file")
    assert_intact(foreign)


def _read_only_runner():
    """A way to run a command where the folder is read-only even for root: a read-only tmpfs
    mounted in a private mount namespace, or, failing that, the unprivileged user nobody."""
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o ro tmpfs /mnt"],
                           capture_output=True) if shutil.which("unshare") else None
    if probe is not None and probe.returncode == 0:
        def run(folder: Path, argv: list[str]) -> subprocess.CompletedProcess:
            script = 'mount -t tmpfs -o ro tmpfs "$0" && exec "$@"'
            return subprocess.run(["unshare", "-m", "sh", "-c", script, str(folder), sys.executable, "-m",
                                   "facefeedback.cli", *argv], capture_output=True, text=True, timeout=120)
        return "read-only file system", run
    if os.geteuid() != 0:
        def run(folder: Path, argv: list[str]) -> subprocess.CompletedProcess:
            folder.chmod(0o555)
            return subprocess.run([sys.executable, "-m", "facefeedback.cli", *argv], capture_output=True,
                                  text=True, timeout=120)
        return "no permission", run
    pytest.skip("no way to make a folder read-only for root here (unshare -m not permitted)")


@pytest.mark.parametrize("command", ["extract", "simulate", "power", "webcam", "calibrate"])
def test_read_only_folder_is_one_line(samples, command):
    why, run = _read_only_runner()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "readonly"
        folder.mkdir()
        proc = run(folder, _commands(samples, str(folder / "out"))[command])
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: {folder}: cannot write there ({why})"), lines[0]


def test_read_only_folder_for_an_unprivileged_user(tmp_path):
    """The same check by permission: the user nobody cannot write a root-owned 0555 folder."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run as the user nobody")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o755)
        folder = Path(tmp) / "readonly"
        folder.mkdir(mode=0o555)
        folder.chmod(0o555)
        proc = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                               "facefeedback.cli", "simulate", "--out", str(folder / "sim"), "--n-per-arm", "3"],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": tmp})
    if "Permission denied" in proc.stderr and "facefeedback" not in proc.stderr:
        pytest.skip(f"the user nobody cannot run this interpreter: {proc.stderr.strip()[:200]}")
    assert proc.returncode != 0
    assert proc.stderr.strip() == f"error: {folder}: cannot write there (no permission to write); " \
                                  "choose another --out", proc.stderr


def test_long_file_name_is_measured_and_a_bad_input_does_not_stop_the_others(samples, tmp_path, capsys):
    long_clip = tmp_path / ("P01_baseline_rest_" + "x" * 232 + ".mp4")
    assert len(long_clip.name) == 254
    shutil.copy(samples / "frontal_frown.mp4", long_clip)
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    out = tmp_path / "out"
    rc = main(["extract", str(long_clip), str(broken), str(samples / "lighting_neutral.mp4"), "--out", str(out),
               "--end", "0.3", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == \
        [line for line in err.splitlines() if str(broken) in line]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted([long_clip.stem, "lighting_neutral"])
    assert (out / long_clip.stem / "frames.parquet").is_file()


def test_a_name_too_long_for_the_file_system_is_one_line(samples, tmp_path, capsys):
    out = tmp_path / ("s" * 300)
    _one_line_error(capsys, ["extract", str(samples / "frontal_frown.mp4"), "--out", str(out)],
                    "longer than the file system")
    assert not os.path.lexists(out)
