"""The BIDS-derivatives face of extract: dataset description, per-frame sidecars, --format bids."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from output_helpers import assert_intact, plant, run_killed, staging_left

from facefeedback import __version__, bids, schema
from facefeedback.cli import main
from facefeedback.config import config_hash, load_config
from facefeedback.errors import InputError
from facefeedback.files import read_table, write_table
from facefeedback.output_marker import read_marker

SCHEMA_COLUMNS = {name: (dtype, unit, meaning)
                  for name, dtype, unit, meaning in schema.FRAME_COLUMNS + schema.BLENDSHAPE_COLUMNS}


def check_frame_sidecar(table_path):
    """The sidecar beside a per-frame table names exactly its columns, each as the schema describes it."""
    table = read_table(table_path)
    sidecar = json.loads(bids.sidecar_path(table_path).read_text())
    if table_path.name.endswith(".tsv.gz"):  # BIDS 1.10: no header row; the sidecar lists the columns
        assert sidecar.pop("Columns") == list(table.columns)
        import gzip

        first = gzip.decompress(table_path.read_bytes()).decode().splitlines()[0].split("\t")
        assert first[0] == "0" and "frame" not in first  # the first frame's row, not the names
    assert list(sidecar) == list(table.columns)
    for name, entry in sidecar.items():
        dtype, unit, meaning = SCHEMA_COLUMNS[name]
        assert entry["Description"] == meaning
        if dtype == "bool":
            assert entry["Levels"] == {"True": "yes", "False": "no"} and "Units" not in entry
        else:
            assert entry["Units"] == unit and "Levels" not in entry
    return table


def test_frame_sidecar_describes_every_schema_column_and_only_those():
    names = [c[0] for c in schema.FRAME_COLUMNS + schema.BLENDSHAPE_COLUMNS]
    sidecar = bids.frame_sidecar(names)
    assert list(sidecar) == names
    assert all(entry["Description"] for entry in sidecar.values())
    with pytest.raises(ValueError, match="not in facefeedback.schema"):
        bids.frame_sidecar(["frame", "mystery"])


def test_bids_tsv_round_trips_values_and_missing_cells(tmp_path):
    """A compressed table has no header row (BIDS 1.10: its columns are the sidecar's ``Columns``);
    one written before, with a header row and a sidecar without ``Columns``, still reads."""
    table = pd.DataFrame({"frame": [0, 1, 2], "brow_gap": [0.1 + 0.2, np.nan, 1 / 3], "valid": [True, False, True]})
    path = tmp_path / "x_desc-frown_timeseries.tsv.gz"
    write_table(table, path)
    bids.write_sidecar(path, bids.frame_sidecar(table.columns, listed=True))
    first = path.read_bytes()
    write_table(table, path)
    assert path.read_bytes() == first  # no time stamp inside the gzip stream
    import gzip

    text = gzip.decompress(first).decode()
    assert text.splitlines()[0] == "0\t0.30000000000000004\tTrue" and "\tn/a\t" in text
    pd.testing.assert_frame_equal(read_table(path), table)
    old = tmp_path / "y_desc-frown_timeseries.tsv.gz"
    old.write_bytes(gzip.compress(("frame\tbrow_gap\tvalid\n" + text).encode()))
    bids.write_sidecar(old, bids.frame_sidecar(table.columns))
    pd.testing.assert_frame_equal(read_table(old), table)
    bids.sidecar_path(path).unlink()  # no sidecar, no names: refused, not read with its first row as names
    with pytest.raises(InputError, match="x_desc-frown_timeseries.json, which cannot be read"):
        read_table(path)


@pytest.mark.parametrize("name, expected", [
    ("sub-01_ses-2_task-interview_video", [("sub", "01"), ("ses", "2"), ("task", "interview")]),
    ("sub-P7_task-rest", [("sub", "P7"), ("task", "rest")]),
    ("sub-01_desc-raw_run-2", [("sub", "01"), ("run", "2")]),
    ("P01_baseline_rest", None), ("task-rest_sub-01", None), ("sub-01_ses-a_b_c", None), ("sub-01_ses-a-b", None),
    ("sub-01_sub-02", None), ("frontal_frown", None),
])
def test_entities_are_read_only_from_bids_style_names(name, expected):
    assert bids.name_entities(name) == expected


def test_study_ids_become_labels_when_they_can_and_only_one_to_one():
    recordings = pd.DataFrame({
        "recording_id": ["sub-01_baseline_sad_film", "P_7_week-6_rest", "P7_week6_rest", "x_baseline_rest"],
        "participant_id": ["sub-01", "P_7", "P7", "x"], "session": ["baseline", "week-6", "week6", "baseline"],
        "task": ["sad_film", "rest", "rest", "rest"]})
    names = bids.study_timeseries_names(recordings)
    assert names["sub-01_baseline_sad_film"] == \
        "sub-01/ses-baseline/beh/sub-01_ses-baseline_task-sadfilm_desc-frown_timeseries"
    assert names["x_baseline_rest"] == "sub-x/ses-baseline/beh/sub-x_ses-baseline_task-rest_desc-frown_timeseries"
    # P_7 and P7 (and week-6 and week6) would share a label: neither gets one
    assert "P_7_week-6_rest" not in names and "P7_week6_rest" not in names


@pytest.fixture(scope="module")
def bids_named_clip(tmp_path_factory, samples):
    folder = tmp_path_factory.mktemp("bids_clips")
    clip = folder / "sub-07_ses-2_task-frown_video.mp4"
    shutil.copy(samples / "frontal_frown.mp4", clip)
    return clip


def test_extract_writes_description_and_sidecars(bids_named_clip, samples, tmp_path):
    out = tmp_path / "out"
    args = ["--out", str(out), "--stride", "6", "--no-progress"]
    assert main(["extract", str(bids_named_clip), str(samples / "lighting_neutral.mp4"), *args]) == 0
    for name in ("sub-07_ses-2_task-frown_video", "lighting_neutral"):
        assert bids.frames_table(out / name) == out / name / "frames.parquet"
        check_frame_sidecar(out / name / "frames.parquet")
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative" and description["BIDSVersion"] == bids.BIDS_VERSION
    config = load_config().updated(**{"input.stride": 6})
    assert [(g["Name"], g["Version"], g["ConfigHash"]) for g in description["GeneratedBy"]] == \
        [("facefeedback", __version__, config_hash(config))]
    assert "SourceDatasets" not in description
    # Another setting into the same folder adds its record; the same one again does not.
    main(["extract", str(samples / "lighting_neutral.mp4"), "--out", str(out), "--stride", "5", "--no-progress"])
    main(["extract", str(samples / "lighting_neutral.mp4"), "--out", str(out), "--stride", "5", "--no-progress"])
    hashes = [g["ConfigHash"] for g in json.loads((out / "dataset_description.json").read_text())["GeneratedBy"]]
    assert hashes == [config_hash(config), config_hash(config.updated(**{"input.stride": 5}))]


def test_extract_format_bids_places_tables_by_entities(bids_named_clip, samples, tmp_path):
    out = tmp_path / "out"
    args = ["--out", str(out), "--stride", "6", "--no-progress"]
    assert main(["extract", str(bids_named_clip), str(samples / "lighting_neutral.mp4"), "--format", "bids",
                 *args]) == 0
    placed = out / "sub-07" / "ses-2" / "beh" / "sub-07_ses-2_task-frown_desc-frown_timeseries.tsv.gz"
    assert bids.frames_table(out / "sub-07_ses-2_task-frown_video") == placed
    kept = out / "lighting_neutral" / "lighting_neutral_desc-frown_timeseries.tsv.gz"
    assert bids.frames_table(out / "lighting_neutral") == kept  # no entities in its name: its own folder
    tables = {p: check_frame_sidecar(p) for p in (placed, kept)}
    assert not (out / "sub-07_ses-2_task-frown_video" / "frames.parquet").exists()
    # The same numbers as in Parquet.
    main(["extract", str(bids_named_clip), "--out", str(tmp_path / "pq"), "--stride", "6", "--no-progress"])
    pd.testing.assert_frame_equal(tables[placed],
                                  pd.read_parquet(tmp_path / "pq" / "sub-07_ses-2_task-frown_video" / "frames.parquet"))
    # Back to Parquet: the BIDS table and its sidecar go, the folder's table comes back.
    main(["extract", str(bids_named_clip), *args])
    assert not placed.exists() and not bids.sidecar_path(placed).exists()
    assert bids.frames_table(out / "sub-07_ses-2_task-frown_video").name == "frames.parquet"


def test_extract_refuses_a_folder_of_another_dataset(samples, tmp_path, capsys):
    out = tmp_path / "raw_dataset"
    out.mkdir()
    (out / "dataset_description.json").write_text(json.dumps({"Name": "lab data", "BIDSVersion": "1.9.0"}))
    code = main(["extract", str(samples / "lighting_neutral.mp4"), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "dataset_description.json: describes another dataset" in err
    assert sorted(p.name for p in out.iterdir()) == ["dataset_description.json"]  # nothing was processed


def test_openface_export_reads_bids_tables(bids_named_clip, tmp_path):
    out = tmp_path / "out"
    main(["extract", str(bids_named_clip), "--out", str(out), "--format", "bids", "--stride", "6", "--no-progress"])
    assert main(["export", "--openface", str(out)]) == 0
    table = pd.read_csv(out / "openface" / "sub-07_ses-2_task-frown_video.csv", skipinitialspace=True)
    frames = read_table(bids.frames_table(out / "sub-07_ses-2_task-frown_video"))
    assert table["frame"].tolist() == (frames["frame"] + 1).tolist()


# -- who owns a BIDS table's place, and a kill in the middle ---------------------------------

BIDS_TABLE = "sub-07/ses-2/beh/sub-07_ses-2_task-frown_desc-frown_timeseries.tsv.gz"
BIDS_SIDECAR = BIDS_TABLE.replace(".tsv.gz", ".json")
RECORDING_FOLDER = "sub-07_ses-2_task-frown_video"


def _bids_extract(clip, out, *extra):
    return ["extract", str(clip), "--out", str(out), "--format", "bids", "--stride", "6", "--no-progress", *extra]


def _files(out):
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


WHOLE = sorted([".facefeedback.json", "dataset_description.json", f"{RECORDING_FOLDER}/.facefeedback.json",
                f"{RECORDING_FOLDER}/provenance.json", f"{RECORDING_FOLDER}/summary.json",
                "sub-07/ses-2/beh/.facefeedback.json", BIDS_SIDECAR, BIDS_TABLE])


@pytest.mark.parametrize("theirs", [BIDS_SIDECAR, BIDS_TABLE])
def test_a_users_file_where_a_bids_table_goes_stops_extract_and_force_overwrites_only_it(
        bids_named_clip, tmp_path, capsys, theirs):
    out = tmp_path / "out"
    foreign = plant(out / theirs, out / "sub-07" / "ses-2" / "beh" / "notes.txt")
    assert main(_bids_extract(bids_named_clip, out)) != 0
    err = capsys.readouterr().err
    (line,) = [e for e in err.splitlines() if e.startswith("error:")]
    assert f"{Path(theirs).name} is not part of a recording's outputs written by facefeedback" in line
    assert "--force" in line and "Traceback" not in err
    assert_intact(foreign)
    assert not (out / RECORDING_FOLDER).exists()  # nothing processed, nothing written
    assert main(_bids_extract(bids_named_clip, out, "--force")) == 0  # exactly that file overwritten
    assert_intact({p: d for p, d in foreign.items() if p.name == "notes.txt"})
    assert bids.frames_table(out / RECORDING_FOLDER) == out / BIDS_TABLE
    check_frame_sidecar(out / BIDS_TABLE)
    beh = out / "sub-07" / "ses-2" / "beh"
    assert read_marker(beh) == {f"recording at ../../../{RECORDING_FOLDER}": sorted(
        [Path(BIDS_SIDECAR).name, Path(BIDS_TABLE).name])}
    assert read_marker(out) == {"dataset description": ["dataset_description.json"]}
    assert main(_bids_extract(bids_named_clip, out)) == 0  # its own now: rewritten without --force


KILLS = [("name", Path(BIDS_TABLE).name), ("name", Path(BIDS_SIDECAR).name), ("commit", 1), ("commit", 2),
         ("commit", 4)]


@pytest.mark.parametrize("earlier, kill", [(False, k) for k in [*KILLS, ("name", RECORDING_FOLDER)]]
                         + [(True, k) for k in KILLS])
def test_a_killed_bids_extract_leaves_no_orphan_table(bids_named_clip, tmp_path, kill, earlier):
    """Killed anywhere in the commit, into a new folder or over earlier outputs: the next command
    finds the earlier or the new outputs whole, and the BIDS tree holds exactly its files."""
    out = tmp_path / "out"
    if earlier:
        assert main(_bids_extract(bids_named_clip, out, "--end", "1")) == 0
        before = (out / BIDS_TABLE).read_bytes()
    run_killed(*kill, _bids_extract(bids_named_clip, out))
    assert main(_bids_extract(bids_named_clip, out, "--end", "0.5")) == 0
    assert _files(out) == WHOLE and not staging_left(out)
    assert len(read_table(out / BIDS_TABLE)) == json.loads(
        (out / RECORDING_FOLDER / "summary.json").read_text())["features"]["n_frames"]
    if earlier:
        assert (out / BIDS_TABLE).read_bytes() != before


def test_a_second_input_with_the_same_entities_keeps_its_table_in_its_own_folder(bids_named_clip, tmp_path,
                                                                                   caplog):
    twin = tmp_path / "sub-07_ses-2_task-frown_desc-again.mp4"
    shutil.copy(bids_named_clip, twin)
    out = tmp_path / "out"
    assert main(_bids_extract(bids_named_clip, out)[:2] + [str(twin)] + _bids_extract(bids_named_clip, out)[2:]) == 0
    assert bids.frames_table(out / RECORDING_FOLDER) == out / BIDS_TABLE
    own = out / twin.stem / bids.in_folder_name(twin.stem)
    assert bids.frames_table(out / twin.stem) == own and own.is_file()
    assert f"is the table of the recording in ../../../{RECORDING_FOLDER}; {twin.stem} keeps" in caplog.text


def test_a_bids_tree_on_another_file_system_is_written(bids_named_clip, tmp_path):
    """sub-07/ on another disk than the recording's folder: its table is moved there by a copy
    (a rename cannot cross file systems), and a rerun replaces it the same way."""
    elsewhere = Path("/dev/shm")
    if not elsewhere.is_dir() or os.stat(elsewhere).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system to put the BIDS tree on")
    other = Path(tempfile.mkdtemp(dir=elsewhere))
    try:
        out = tmp_path / "out"
        out.mkdir()
        (out / "sub-07").symlink_to(other, target_is_directory=True)
        notes = "sub-07/ses-2/beh/notes.txt"  # a user's file beside the table, on the other disk
        foreign = plant(out / notes)
        for _ in range(2):
            assert main(_bids_extract(bids_named_clip, out)) == 0
            found = sorted(os.path.relpath(os.path.join(d, f), out).replace(os.sep, "/")
                           for d, _, files in os.walk(out, followlinks=True) for f in files)
            assert found == sorted([*WHOLE, notes])  # (the symlink followed) and no staging left on either disk
            assert bids.frames_table(out / RECORDING_FOLDER) is not None
            assert_intact(foreign)
    finally:
        shutil.rmtree(other, ignore_errors=True)
