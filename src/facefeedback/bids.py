"""The BIDS-derivatives face of the outputs: dataset description, column sidecars, entity names.

A BIDS derivative dataset (https://bids-specification.readthedocs.io) carries a
``dataset_description.json`` at its root and, beside each table, a JSON sidecar
that says what every column holds (``Description``, ``Units``, ``Levels``).
The per-frame sidecar is derived from :mod:`facefeedback.schema`; the session
tables' sidecars from the codebook (:mod:`facefeedback.study.codebook`), so
neither can drift from the tables.

With ``--format bids`` a recording's per-frame table is written as
``<entities>_desc-frown_timeseries.tsv.gz`` (tab-separated, gzip, ``n/a`` for missing
values, and, as BIDS 1.10 requires of compressed tabular files, no header row: the sidecar
lists the columns under ``Columns``) under ``sub-<label>/[ses-<label>/]beh/`` of the
output folder when the recording's identifiers make BIDS labels (letters and
digits), and in the recording's own folder otherwise. The recording's
``provenance.json`` names where its table is (``frames_table``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from . import __version__, schema
from .errors import InputError
from .files import COMPRESSED_TSV, sidecar_path, write_json
from .output_marker import OutputKind

BIDS_VERSION = "1.10.0"
TOOL = "facefeedback"
DESCRIPTION_FILE = "dataset_description.json"
TIMESERIES_SUFFIX = "_desc-frown_timeseries"
TIMESERIES_EXTENSION = COMPRESSED_TSV
#: BIDS datatype folder of the per-frame tables: measures of behaviour.
DATATYPE = "beh"
#: Levels of a boolean column as pandas writes them to CSV and TSV.
BOOLEAN_LEVELS = {"True": "yes", "False": "no"}
LEGACY_TABLES = ("frames.parquet", "frames.csv")

_LABEL = re.compile(r"^[A-Za-z0-9]+$")


# -- column sidecars ------------------------------------------------------------


def column_entry(description: str, units: str | None = None, levels: dict[str, str] | None = None,
                 **extra: str) -> dict:
    """One column of a sidecar: ``Description``, then ``Units`` and ``Levels`` when they apply."""
    entry: dict = {"Description": description}
    if units:
        entry["Units"] = units
    if levels:
        entry["Levels"] = dict(levels)
    entry.update({k: v for k, v in extra.items() if v})
    return entry


def frame_sidecar(columns: Iterable[str], listed: bool = False) -> dict:
    """Sidecar of a per-frame table: every column described from :mod:`facefeedback.schema`; with
    ``listed`` (a ``.tsv.gz``, which has no header row) first ``Columns``, their names in order."""
    known = {name: (dtype, unit, meaning)
             for name, dtype, unit, meaning in schema.FRAME_COLUMNS + schema.BLENDSHAPE_COLUMNS}
    columns = list(columns)
    out: dict = {"Columns": columns} if listed else {}
    for name in columns:
        if name not in known:
            raise ValueError(f"per-frame column {name!r} is not in facefeedback.schema")
        dtype, unit, meaning = known[name]
        boolean = dtype == "bool"
        out[name] = column_entry(meaning, None if boolean else unit, BOOLEAN_LEVELS if boolean else None)
    return out


def write_sidecar(table: str | os.PathLike, sidecar: dict) -> Path:
    """Write ``sidecar`` beside ``table`` (atomically); returns its path."""
    path = sidecar_path(table)
    write_json(path, sidecar)
    return path


# -- dataset_description.json -----------------------------------------------------


def _is_ours(description: dict) -> bool:
    generated = description.get("GeneratedBy")
    return isinstance(generated, list) and any(isinstance(g, dict) and g.get("Name") == TOOL for g in generated)


def read_description(folder: str | os.PathLike) -> dict | None:
    """The folder's dataset_description.json when facefeedback wrote it; None when there is none.

    Raises
    ------
    InputError
        The folder holds a dataset_description.json of another dataset (or an unreadable one):
        writing derivatives into it would misdescribe that dataset.
    """
    path = Path(folder) / DESCRIPTION_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc}); give an output folder of its own") from None
    if not isinstance(data, dict) or not _is_ours(data):
        raise InputError(f"{path}: describes another dataset (not written by {TOOL}); "
                         "give an output folder of its own, e.g. <dataset>/derivatives/facefeedback")
    return data


def generated_by(config_hash: str) -> dict:
    """The ``GeneratedBy`` record of this version of facefeedback with one resolved config."""
    return {"Name": TOOL, "Version": __version__,
            "Description": f"frown measurement with the config whose hash is {config_hash} "
                          "(provenance.json and study.json hold the config itself)",
            "ConfigHash": config_hash}


def _earlier_description(folder: Path) -> list[str]:
    """A dataset_description.json an earlier version wrote (no marker): ours by its ``GeneratedBy``."""
    try:
        return [DESCRIPTION_FILE] if read_description(folder) is not None else []
    except InputError:
        return []


#: ``extract``'s ``dataset_description.json`` at the top of its ``--out`` (a study's is part of
#: the study's own files).
DESCRIPTION = OutputKind("dataset description", "a derivative dataset's description", _earlier_description)


def write_description(folder: str | os.PathLike, name: str, config_hash: str,
                      source_datasets: list[dict] | None = None, keep_earlier: bool = False,
                      into: str | os.PathLike | None = None) -> Path:
    """Write ``folder/dataset_description.json`` of a derivative dataset.

    Parameters
    ----------
    name : str
        The dataset's name.
    config_hash : str
        :func:`facefeedback.config.config_hash` of the settings the outputs were made with.
    source_datasets : list of dict, optional
        BIDS ``SourceDatasets`` records (``URL``, ``DOI``, ``Version``).
    keep_earlier : bool
        Keep the ``GeneratedBy`` records of earlier runs with other settings (``extract`` adds
        recordings to a folder; a study run rewrites all of its outputs with one config).
    into : path, optional
        Where to write the file (a staging folder of ``folder``; default ``folder`` itself).
    """
    folder = Path(folder)
    earlier = read_description(folder) if keep_earlier else None
    record = generated_by(config_hash)
    generated = [record]
    if earlier:
        key = (record["Version"], record["ConfigHash"])
        generated = [g for g in earlier["GeneratedBy"]
                     if isinstance(g, dict) and (g.get("Version"), g.get("ConfigHash")) != key] + generated
    data = {"Name": name, "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative", "GeneratedBy": generated}
    if source_datasets:
        data["SourceDatasets"] = source_datasets
    path = Path(into if into is not None else folder) / DESCRIPTION_FILE
    write_json(path, data)
    return path


# -- entities and where a per-frame table goes --------------------------------------


def entity_label(value: str, key: str) -> str:
    """The BIDS label of an identifier: a leading ``<key>-`` dropped, then only letters and digits.

    >>> entity_label("sub-01", "sub"), entity_label("sad_film", "task")
    ('01', 'sadfilm')
    """
    if value.startswith(f"{key}-"):
        value = value[len(key) + 1:]
    return re.sub(r"[^A-Za-z0-9]", "", value)


def timeseries_name(entities: list[tuple[str, str]]) -> str:
    """Path of a per-frame table, relative to the dataset and without extension, from its entities.

    >>> timeseries_name([("sub", "01"), ("ses", "baseline"), ("task", "rest")])
    'sub-01/ses-baseline/beh/sub-01_ses-baseline_task-rest_desc-frown_timeseries'
    """
    values = dict(entities)
    folders = [f"sub-{values['sub']}"] + ([f"ses-{values['ses']}"] if "ses" in values else []) + [DATATYPE]
    stem = "_".join(f"{k}-{v}" for k, v in entities)
    return "/".join(folders) + "/" + stem + TIMESERIES_SUFFIX


def _one_to_one(ids: Iterable[str], key: str) -> dict[str, str]:
    """Identifier -> label for the identifiers whose label is not empty and not shared with another."""
    labels = {i: entity_label(i, key) for i in dict.fromkeys(ids)}
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    return {i: label for i, label in labels.items() if label and counts[label] == 1}


def study_timeseries_names(recordings) -> dict[str, str]:
    """``recording_id -> timeseries_name`` for a study's recordings whose ids make BIDS labels.

    ``recordings`` has ``recording_id``, ``participant_id``, ``session`` and ``task``. Each id
    becomes a label by :func:`entity_label`; recordings whose participant, session or task has
    no label, or shares it with another id, are left out (their table stays in their folder).
    """
    subs = _one_to_one(recordings["participant_id"], "sub")
    sessions = _one_to_one(recordings["session"], "ses")
    tasks = _one_to_one(recordings["task"], "task")
    out = {}
    for rid, p, s, t in zip(recordings["recording_id"], recordings["participant_id"], recordings["session"],
                            recordings["task"]):
        if p in subs and s in sessions and t in tasks:
            out[rid] = timeseries_name([("sub", subs[p]), ("ses", sessions[s]), ("task", tasks[t])])
    return out


def name_entities(name: str) -> list[tuple[str, str]] | None:
    """The entities of a BIDS-style name (``sub-01_ses-1_task-rest``, optionally ``_<suffix>``).

    None when the name does not start with ``sub-<label>`` or a part is neither an entity nor
    the final suffix. A ``desc`` entity is dropped (the table's own is ``desc-frown``).

    >>> name_entities("sub-01_ses-2_task-interview_video")
    [('sub', '01'), ('ses', '2'), ('task', 'interview')]
    """
    parts = name.split("_")
    if parts and "-" not in parts[-1] and _LABEL.match(parts[-1]):
        parts = parts[:-1]  # the suffix
    entities = []
    for part in parts:
        key, sep, value = part.partition("-")
        if not (sep and _LABEL.match(key) and _LABEL.match(value)):
            return None
        entities.append((key, value))
    if not entities or entities[0][0] != "sub" or len({k for k, _ in entities}) != len(entities):
        return None
    return [(k, v) for k, v in entities if k != "desc"]


def in_folder_name(name: str) -> str:
    """File name of a per-frame table kept in its recording's folder with ``--format bids``."""
    return f"{name}{TIMESERIES_SUFFIX}{TIMESERIES_EXTENSION}"


def frames_table(folder: str | os.PathLike) -> Path | None:
    """The per-frame table of a recording folder: where its provenance says, else frames.parquet/.csv.

    None when the folder holds no table.
    """
    folder = Path(folder)
    try:
        named = json.loads((folder / "provenance.json").read_text()).get("frames_table")
    except (OSError, ValueError, AttributeError):
        named = None
    candidates = [Path(os.path.normpath(folder / named))] if isinstance(named, str) \
        else [folder / n for n in LEGACY_TABLES]
    for path in candidates:
        if path.is_file():
            return path
    return None
