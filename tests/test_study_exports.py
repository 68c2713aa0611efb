"""The demo study's exports: sidecars, dataset description, BIDS layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from facefeedback import bids
from facefeedback.config import load_config
from facefeedback.errors import ValidationError
from facefeedback.study.manifest import load_study
from facefeedback.study.pipeline import run_study

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "configs" / "demo_study.yaml"
STRIDE = 2


def demo_config():
    return load_config().updated(**{"input.stride": STRIDE, "progress": False})


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The shipped demo study (8 participants, 2 arms, 2 sessions, 2 tasks)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    report = run_study(load_study(DEMO), demo_config(), out, workers=2)
    assert not report.failures
    return out


def test_run_writes_dataset_description_and_frame_sidecars(demo_run):
    from test_bids import check_frame_sidecar

    description = json.loads((demo_run / "dataset_description.json").read_text())
    study = json.loads((demo_run / "study.json").read_text())
    assert description["Name"] == "demo study (synthetic frowns)" and description["DatasetType"] == "derivative"
    assert description["GeneratedBy"][0]["ConfigHash"] == study["run"]["config_hash"]
    assert description["GeneratedBy"][0]["Version"] == study["run"]["versions"]["facefeedback"]
    folders = sorted((demo_run / "recordings").iterdir())
    assert len(folders) == 32
    for folder in folders:
        check_frame_sidecar(bids.frames_table(folder))


def test_format_bids_run_places_every_recording_and_keeps_the_numbers(demo_run, tmp_path):
    from test_bids import check_frame_sidecar

    out = tmp_path / "bids"
    shutil.copytree(demo_run, out)
    config = demo_config().updated(output_format="bids")
    report = run_study(load_study(DEMO), config, out, workers=2)
    assert (report.measured, report.written) == (0, 32)
    for folder in sorted((out / "recordings").iterdir()):
        pid, session, task = folder.name.split("_", 2)
        expected = out / pid / f"ses-{session}" / "beh" / \
            f"{pid}_ses-{session}_task-{task.replace('_', '')}_desc-frown_timeseries.tsv.gz"
        assert bids.frames_table(folder) == expected and not (folder / "frames.parquet").exists()
        table = check_frame_sidecar(expected)
        pd.testing.assert_frame_equal(table, pd.read_parquet(demo_run / "recordings" / folder.name / "frames.parquet"))
    # A rerun keeps every recording.
    report = run_study(load_study(DEMO), config, out, workers=2)
    assert (report.measured, report.written, report.kept) == (0, 0, 32)


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
