"""The demo study's exports: .sav and .dta read back with every label, sidecars, dataset description, BIDS layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from facefeedback import bids
from facefeedback.cli import main
from facefeedback.config import load_config
from facefeedback.errors import ValidationError
from facefeedback.study.manifest import load_study
from facefeedback.study.pipeline import run_study
from facefeedback.study.statformats import FORMATS, SPSS, STATA, short_name, variable_names
from facefeedback.synthetic.example_study import N_PARTICIPANTS, TASKS

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo_study.yaml"
N_RECORDINGS = N_PARTICIPANTS * 2 * len(TASKS)  # the demo study: two visits, every task each
STRIDE = 2
READ = {"spss": pyreadstat.read_sav, "stata": pyreadstat.read_dta}


def demo_config():
    return load_config().updated(**{"input.stride": STRIDE, "progress": False})


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The shipped demo study (8 participants, 2 arms, 2 sessions, 3 tasks), run with --export spss,stata."""
    out = tmp_path_factory.mktemp("demo") / "out"
    report = run_study(load_study(DEMO), demo_config(), out, workers=2, export=("spss", "stata"))
    assert not report.failures
    return out


def tables_of(out: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict]:
    features = out / "features"
    book = pd.read_csv(features / "codebook.csv", keep_default_na=False, dtype=str)
    text = book[(book["table"] == "wide") & (book["type"] == "text")]["name"]
    tables = {"session_features": pd.read_parquet(features / "session_features.parquet"),
              "wide": pd.read_csv(features / "wide.csv", dtype={c: str for c in text})}
    return tables, book, json.loads((out / "study.json").read_text())


def size(text: str, fmt) -> int:
    return len(text.encode()) if fmt.bytes_limits else len(text)


@pytest.mark.parametrize("key", ["spss", "stata"])
@pytest.mark.parametrize("table", ["session_features", "wide"])
def test_statfiles_read_back_with_every_label_and_value(demo_run, key, table):
    fmt = FORMATS[key]
    tables, book, study = tables_of(demo_run)
    original, rows = tables[table], book[book["table"] == table]
    data, meta = READ[key](demo_run / "features" / f"{table}{fmt.suffix}")
    # Names: the codebook's, in order; within the format's limits.
    assert meta.column_names == rows[f"{key}_name"].tolist()
    assert all(size(n, fmt) <= fmt.max_name for n in meta.column_names)
    # Every variable has the codebook's label, cut to the format's limit.
    for name, label in zip(meta.column_names, rows["label"]):
        got = meta.column_names_to_labels[name]
        assert got and size(got, fmt) <= fmt.max_variable_label
        assert got == label or (got.endswith("...") and label.startswith(got[:-3].rstrip()))
    # arm, session and task: numeric codes in the study's order, labelled with their values.
    assert study["levels"]["session"] == ["baseline", "week6"] == study["sessions"]
    coded = [c for c in ("arm", "session", "task") if c in original]
    assert coded == (["arm", "session", "task"] if table == "session_features" else ["arm"])
    for column in coded:
        labels = meta.variable_value_labels[column]
        assert {int(k): v for k, v in labels.items()} == dict(enumerate(study["levels"][column], start=1))
        assert [labels[c] for c in data[column]] == original[column].tolist()
    if table == "session_features":
        assert {int(k): v for k, v in meta.variable_value_labels["is_reference"].items()} == {0: "no", 1: "yes"}
        assert (data["is_reference"] == original["is_reference"].astype(int)).all()
    # Values: the same numbers; missing values are system-missing (NaN when read back), text as given.
    numeric = rows[rows["type"].isin(["number", "integer"])]
    assert original[numeric["name"]].isna().any().any()  # there are missing values to check
    for name, out_name in zip(numeric["name"], numeric[f"{key}_name"]):
        np.testing.assert_array_equal(data[out_name].to_numpy(float), original[name].to_numpy(float), err_msg=name)
    for name, out_name in zip(rows[rows["type"] == "text"]["name"], rows[rows["type"] == "text"][f"{key}_name"]):
        if name not in coded:
            assert data[out_name].tolist() == original[name].fillna("").tolist()
    if key == "spss":
        expected = {"session": "ordinal", "arm": "nominal", "task": "nominal", "participant_id": "nominal"}
        assert {c: meta.variable_measure[c] for c in expected if c in data} == \
            {c: m for c, m in expected.items() if c in data}
        assert {meta.variable_measure[n] for n in numeric[f"{key}_name"]} == {"scale"}
        assert meta.notes[0].startswith("Made by facefeedback") and all(len(n.encode()) <= 80 for n in meta.notes)


def test_spss_notes_keep_a_long_original_name_whole():
    """An SPSS note line holds 80 bytes: a renamed column's original name goes on over the next
    lines instead of ending in '...' (the notes are where the .sav says what each name was)."""
    from facefeedback.study.statfiles import _notes

    original = "Lebensqualität_Gesamtwert_Fragebogen_lang_" + "ü" * 30 + "_Ende"
    notes = _notes("wide", "wide.parquet", [("Lebensqualit_t_Gesamtwert", original)])
    assert all(len(n.encode()) <= 80 for n in notes) and not any(n.endswith("...") for n in notes)
    listed = notes[notes.index(next(n for n in notes if n.startswith("Lebensqualit_t_Gesamtwert = "))):]
    assert "".join(n.removeprefix("  ") for n in listed) == f"Lebensqualit_t_Gesamtwert = {original}"


def test_names_too_long_for_stata_are_shortened_and_the_codebook_says_so(demo_run):
    _, book, _ = tables_of(demo_run)
    long = book[book["name"].str.len() > STATA.max_name]
    assert len(long) > 50  # most wide names are longer than 32 characters
    assert (long["stata_name"] != long["name"]).all() and (long["stata_name"].str.len() <= 32).all()
    for table in ("session_features", "wide"):
        names = book[book["table"] == table]["stata_name"].str.lower()
        assert names.is_unique
    fits = book[book["name"].str.len() <= STATA.max_name]
    assert (fits["stata_name"] == fits["name"]).all() and (book["spss_name"] == book["name"]).all()
    md = (demo_run / "features" / "codebook.md").read_text()
    assert "| wide | `frown_intensity_mean_week6_sad_film` | `frown_intensity_mean_week6_sad_film` | " \
           "`frown_intens_mean_week6_sad_film` |" in md
    _, meta = pyreadstat.read_dta(demo_run / "features" / "wide.dta")
    assert "stata_name" in meta.file_label


def test_name_rules_are_deterministic_and_keep_to_each_format():
    assert short_name(("frown_intensity_mean", "week6", "sad_film"), STATA) == "frown_intens_mean_week6_sad_film"
    assert short_name(("brow_gap_mean", "week6", "rest"), STATA) == "brow_gap_mean_week6_rest"  # fits: kept
    hashed = short_name(("glabella_lines_p90_pct_change", "followup_month12", "autobiographical_recall"), STATA)
    assert len(hashed) <= 32 and hashed == short_name(("glabella_lines_p90_pct_change", "followup_month12",
                                                       "autobiographical_recall"), STATA)
    columns = [("Age (years)", ("Age (years)",)), ("age_years", ("age_years",)), ("int", ("int",)),
               ("with", ("with",)), ("str12", ("str12",)), ("1st_visit", ("1st_visit",)),
               ("x" * 70, ("x" * 70,)), ("Größe", ("Größe",))]
    for fmt in (SPSS, STATA):
        names = variable_names(columns, fmt)
        assert names == variable_names(columns, fmt)
        assert len({n.lower() for n in names}) == len(names)  # SPSS names ignore case
        assert all(len(n) <= fmt.max_name and n[0].isalpha() and n.replace("_", "").isalnum() and n.isascii()
                   for n in names), names
        assert not any(fmt.is_reserved(n) for n in names)
    spss, stata = variable_names(columns, SPSS), variable_names(columns, STATA)
    assert spss[3] == "with_v" and stata[2] == "int_v" and stata[4] == "str12_v" and stata[3] == "with_v"
    assert spss[0] != spss[1] and spss[0].startswith("Age_years_")  # Age_years and age_years clash in SPSS


def test_feature_sidecars_name_every_column(demo_run):
    tables, book, study = tables_of(demo_run)
    features = demo_run / "features"
    for table, data in tables.items():
        sidecar = json.loads((features / f"{table}.json").read_text())
        assert list(sidecar) == list(data.columns)
        rows = book[book["table"] == table].set_index("name")
        for name, entry in sidecar.items():
            assert entry["Description"] == rows.loc[name, "meaning"]
            if rows.loc[name, "unit"] in ("IOD", "FU", "s", "%", "points"):
                assert entry["Units"] == rows.loc[name, "unit"]
        assert list(sidecar["arm"]["Levels"]) == study["levels"]["arm"]
        # The .dta's renamed columns are named in the sidecar too.
        _, meta = pyreadstat.read_dta(features / f"{table}.dta", metadataonly=True)
        stata = {entry.get("StataName", name) for name, entry in sidecar.items()}
        assert set(meta.column_names) == stata
    assert list(json.loads((features / "session_features.json").read_text())["session"]["Levels"]) == \
        ["baseline", "week6"]
    book_sidecar = json.loads((features / "codebook.json").read_text())
    assert list(book_sidecar) == list(pd.read_csv(features / "codebook.csv").columns)


def test_run_writes_dataset_description_and_frame_sidecars(demo_run):
    from test_bids import check_frame_sidecar

    description = json.loads((demo_run / "dataset_description.json").read_text())
    study = json.loads((demo_run / "study.json").read_text())
    assert description["Name"] == "demo study (synthetic frowns)" and description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["ConfigHash"] == study["run"]["config_hash"]
    assert description["GeneratedBy"][0]["Version"] == study["run"]["versions"]["facefeedback"]
    folders = sorted((demo_run / "recordings").iterdir())
    assert len(folders) == N_RECORDINGS
    for folder in folders:
        check_frame_sidecar(bids.frames_table(folder))


def test_format_bids_run_places_every_recording_and_keeps_the_numbers(demo_run, tmp_path):
    from test_bids import check_frame_sidecar

    out = tmp_path / "bids"
    shutil.copytree(demo_run, out)
    config = demo_config().updated(output_format="bids")
    report = run_study(load_study(DEMO), config, out, workers=2)
    assert (report.measured, report.written) == (0, N_RECORDINGS)
    for folder in sorted((out / "recordings").iterdir()):
        pid, session, task = folder.name.split("_", 2)
        expected = out / pid / f"ses-{session}" / "beh" / \
            f"{pid}_ses-{session}_task-{task.replace('_', '')}_desc-frown_timeseries.tsv.gz"
        assert bids.frames_table(folder) == expected and not (folder / "frames.parquet").exists()
        table = check_frame_sidecar(expected)
        pd.testing.assert_frame_equal(table, pd.read_parquet(demo_run / "recordings" / folder.name / "frames.parquet"))
    # The .sav / .dta written by the first run are kept current; a rerun keeps every recording.
    assert (out / "features" / "wide.sav").stat().st_mtime >= (out / "features" / "wide.csv").stat().st_mtime
    report = run_study(load_study(DEMO), config, out, workers=2)
    assert (report.measured, report.written, report.kept) == (0, 0, N_RECORDINGS)


def test_a_rerun_keeps_an_openface_export_current(demo_run, tmp_path):
    """A rerun with another calibration rewrites the recordings' tables: an OpenFace export in its
    default place is written again with them, as the .sav and .dta are (it kept the old values,
    up to 0.03 FU off, and nothing said so)."""
    from facefeedback.files import read_table
    from facefeedback.study.openface import openface_table, to_openface_csv

    out = tmp_path / "out"
    shutil.copytree(demo_run, out)
    assert main(["export", str(out), "--openface"]) == 0
    folder = sorted((out / "recordings").iterdir())[0]
    before = (out / "openface" / f"{folder.name}.csv").read_text()
    study_file = tmp_path / "study.yaml"  # the same study, each participant's neutral from more frames
    study_file.write_text(DEMO.read_text().replace("../sample_videos", str(ROOT / "sample_videos"))
                          .replace("  percentile: 20\n", "  percentile: 45\n"))
    report = run_study(load_study(study_file), demo_config(), out, workers=2)
    assert report.measured == 0 and report.written == N_RECORDINGS
    after = (out / "openface" / f"{folder.name}.csv").read_text()
    assert after == to_openface_csv(openface_table(read_table(bids.frames_table(folder)))) != before


def test_source_datasets_go_into_the_description(demo_run, tmp_path):
    study_file = tmp_path / "study.yaml"
    text = DEMO.read_text().replace("../sample_videos", str(ROOT / "sample_videos"))
    study_file.write_text(text + "source_datasets:\n  - url: https://openneuro.org/datasets/ds000001\n"
                                 "    doi: 10.18112/openneuro.ds000001.v1.0.0\n    version: 1.0.0\n")
    out = tmp_path / "out"
    shutil.copytree(demo_run, out)
    run_study(load_study(study_file), demo_config(), out, workers=2)
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["SourceDatasets"] == [{"URL": "https://openneuro.org/datasets/ds000001",
                                              "DOI": "doi:10.18112/openneuro.ds000001.v1.0.0", "Version": "1.0.0"}]


@pytest.mark.parametrize("entry, problem", [
    ("{doi: 'openneuro ds1'}", "is not a DOI"), ("{url: 'openneuro.org/ds1'}", "is not a URL"),
    ("{version: 1.0.0}", "give the source dataset's url or doi"), ("{url: 'https://x.org', id: 3}", "id"),
])
def test_a_bad_source_dataset_is_named(tmp_path, entry, problem):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(DEMO.read_text().replace("../sample_videos", str(ROOT / "sample_videos"))
                          + f"source_datasets: [{entry}]\n")
    with pytest.raises(ValidationError) as err:
        load_study(study_file)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(f"{study_file}: source_datasets.0") and problem in err.value.problems[0]


def test_export_command_writes_and_refuses_with_one_line(demo_run, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(demo_run, out)
    for f in (out / "features").glob("*.sav"):
        f.unlink()
    assert main(["export", str(out), "--spss"]) == 0
    assert "session_features.sav, wide.sav" in capsys.readouterr().out
    data, _ = pyreadstat.read_sav(out / "features" / "wide.sav")
    assert len(data) == N_PARTICIPANTS
    assert main(["export", str(out), "--stata", "--openface"]) == 0  # DIR first, several formats at once
    assert f"{N_RECORDINGS} OpenFace-style CSV files" in capsys.readouterr().out and (out / "openface").is_dir()
    for args, message in [([str(out)], "choose what to write"),
                          ([str(out / "recordings"), "--stata"], "study.json: not found"),
                          ([str(out), "--spss", "--out", str(tmp_path)], "--out is where the OpenFace CSVs go")]:
        assert main(["export", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    # A codebook from before the labels: say what to do.
    book = pd.read_csv(out / "features" / "codebook.csv").drop(columns=["label"])
    book.to_csv(out / "features" / "codebook.csv", index=False)
    assert main(["export", str(out), "--stata"]) == 2
    assert "run 'facefeedback run' again" in capsys.readouterr().err


def test_run_rejects_an_unknown_export_format(capsys):
    assert main(["run", str(DEMO), "--out", "/nonexistent/out", "--export", "spss,sas"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --export 'spss,sas'") and err.count("\n") == 1


def test_codebook_labels_derive_from_the_schema(demo_run):
    _, book, _ = tables_of(demo_run)
    rows = book.set_index(["table", "name"])
    assert rows.loc[("session_features", "frown_intensity_mean"), "label"] == \
        "frown_intensity mean over valid frames (FU)"
    assert rows.loc[("session_features", "brow_gap_p90_change"), "label"] == "change in brow_gap_p90 from baseline (IOD)"
    assert rows.loc[("wide", "frown_intensity_mean_change_week6_sad_film"), "label"] == \
        "week6 sad_film: change in frown_intensity_mean from baseline (FU)"
    assert rows.loc[("session_features", "arm"), "levels"] == "1 = botox; 2 = placebo"
    # a change of a percentage is in percentage points; a percent change of it is in %
    assert rows.loc[("session_features", "frown_time_pct_change"), ["unit", "label"]].tolist() == [
        "percentage points", "change in frown_time_pct from baseline (percentage points)"]
    assert rows.loc[("session_features", "frown_time_pct_pct_change"), "unit"] == "%"
    # a trial response is in its series' unit: FU for the frown, SU for the smile (it said a.u.)
    assert rows.loc[("session_features", "frown_response_negative_mean"), "unit"] == "FU"
    assert rows.loc[("session_features", "smile_response_negative_mean"), "unit"] == "SU"
    labels = book.groupby("table")["label"]
    assert all(group.is_unique for _, group in labels)  # no two variables of a table share a label


def test_the_demo_trials_and_maximal_frown_follow_the_known_truth(demo_run):
    """sad_film: two negative and two neutral trials per clip, the negative frown four times the
    neutral one; max_frown: three attempts at the visit's amplitude, so its percent of baseline is
    100 * amp_week6 / amp_baseline of truth.csv."""
    long = pd.read_parquet(demo_run / "features" / "session_features.parquet")
    truth = pd.read_csv(ROOT / "sample_videos" / "demo_study" / "truth.csv").set_index("participant_id")
    film = long[long["task"] == "sad_film"]
    assert (film["trials_negative_n"] == 2).all() and (film["trials_neutral_n"] == 2).all()
    assert (film["frown_response_negative_mean"] > 2 * film["frown_response_neutral_mean"]).all()
    np.testing.assert_allclose(film["frown_response_negative_vs_neutral"],
                               film["frown_response_negative_mean"] - film["frown_response_neutral_mean"])
    assert long.loc[long["task"] != "sad_film", "frown_response_negative_vs_neutral"].isna().all()
    later = long[(long["task"] == "max_frown") & (long["session"] == "week6")].set_index("participant_id")
    expected = 100 * truth["amp_week6"] / truth["amp_baseline"]
    assert (later["frown_capacity_attempts_n"] == 3).all()
    # Every attempt's peak frame is valid (no frown, however strong, is flagged as occluded); at this
    # stride the sampled peaks leave a few points (measured: at most 3.4 points off the truth).
    pct = later["frown_capacity_pct_of_baseline"]
    assert (abs(pct - expected[later.index]) < 6).all(), pct
    assert pct[later["arm"] == "botox"].max() < 60 < 75 < pct[later["arm"] == "placebo"].min()
    trials = pd.read_parquet(demo_run / "recordings" / "sub-01_baseline_sad_film" / "trials.parquet")
    assert list(trials["trial_type"]) == ["negative", "neutral", "negative", "neutral"] and trials["included"].all()
    assert not (demo_run / "recordings" / "sub-01_baseline_rest" / "trials.parquet").exists()
    every = pd.read_parquet(demo_run / "features" / "trials.parquet")
    assert every.groupby(["task", "trial_type"]).size().to_dict() == {
        ("max_frown", "attempt"): 2 * 3 * N_PARTICIPANTS, ("sad_film", "negative"): 2 * 2 * N_PARTICIPANTS,
        ("sad_film", "neutral"): 2 * 2 * N_PARTICIPANTS}
    tables, book, _ = tables_of(demo_run)
    assert "frown_response_negative_vs_neutral_change_week6_sad_film" in tables["wide"].columns
    assert not any(c.startswith("frown_capacity") and c.endswith("sad_film") for c in tables["wide"].columns)
    assert set(long.columns) == set(book.loc[book["table"] == "session_features", "name"])
