"""A study's events files, contrasts and capacity task, checked with the rest of the study file.

Each recording's events file is the recordings table's ``events`` cell (relative to the table's
folder) or ``<video stem>_events.tsv`` beside the video. Every file is checked (see
:func:`facefeedback.eventfiles.check_events`) before any work; so are the study file's
``contrasts`` (two trial types present in the events files) and ``capacity_task`` (a task of
the recordings table).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..changes import with_changes
from ..config import Config, load_config
from ..errors import ConfigError
from ..eventfiles import TRIAL_TYPE_PATTERN, check_recording_events, events_beside
from ..files import find_path
from ..textrows import case_clashes, is_missing
from .tables import Table


def study_events(t: Table, recordings: pd.DataFrame, config: Config, problems: list[str]
                 ) -> dict[str, pd.DataFrame]:
    """``recording_id -> checked trials`` for the recordings with an events file; adds the
    ``events`` column (the file's path, or None) to ``recordings`` and a problem per bad row."""
    index = {n: k for k, n in enumerate(t.line)}
    found, paths = {}, []
    for rid, line, media in zip(recordings["recording_id"], recordings["row"], recordings["path"]):
        cell = t.rows[index[line]].get("events", "")
        path = None
        if not is_missing(cell):
            path = (t.path.parent / cell).resolve()
            if not path.is_file():
                problems.append(f"{t.name} row {line}: events file {path} does not exist")
                path = None
        elif Path(media).is_file():
            path = events_beside(media)
        paths.append(str(path) if path is not None else None)
        if path is None:
            continue
        table, issues = check_recording_events(path, media, config.events)
        problems.extend(issues)
        if table is not None:
            found[rid] = table
    recordings["events"] = paths
    return found


def trial_types(events: dict[str, pd.DataFrame]) -> list[str]:
    """Every trial type of the study, in the order first met."""
    return list(dict.fromkeys(tt for table in events.values() for tt in table["trial_type"]))


def _clashes(name: str, types: list[str], contrasts: list[str]) -> bool:
    """Whether a contrast's columns (``<family>_response_<name>`` and its change columns) are
    those of a trial type's mean (``<family>_response_<type>_mean``) or of another contrast."""
    made = with_changes([name])
    taken = with_changes([f"{t}_mean" for t in types] + contrasts)
    return name in types or bool(made & taken)


def check_design(study_file: Path, contrasts: dict[str, tuple[str, str]], capacity_task: str | None,
                 types: list[str], tasks: list[str], checked: bool, problems: list[str]) -> None:
    """Contrasts name two trial types of the events files under a plain name of their own;
    the capacity task is a task of the recordings table. ``checked``: the events files were read
    (without them, which trial types exist is not known)."""
    for name, (a, b) in contrasts.items():
        where = f"{study_file}: contrasts.{name}"
        if not TRIAL_TYPE_PATTERN.match(name):
            problems.append(f"{where}: a contrast name must start with a letter and hold only letters, digits "
                            "and '_' (it names columns)")
        if _clashes(name, types, [other for other in contrasts if other != name]):
            problems.append(f"{where}: the name is a trial type's, or its columns (<family>_response_{name} and its "
                            "change and percent change) are a trial type mean's or another contrast's; give the "
                            "contrast a name of its own")
        if a == b:
            problems.append(f"{where}: compares {a} with itself")
        missing = [x for x in (a, b) if x not in types]
        if checked and missing:
            shown = ", ".join(types) if types else "none: no recording has an events file"
            problems.append(f"{where}: trial type(s) {', '.join(missing)} are in no events file (trial types: "
                            f"{shown})")
    if capacity_task is not None and tasks and capacity_task not in tasks:
        problems.append(f"{study_file}: capacity_task '{capacity_task}' is not a task of the recordings table "
                        f"({', '.join(tasks)})")


def check_trials(path: Path, spec, rtable: Table | None, recordings: pd.DataFrame | None,
                 config_file, problems: list[str]) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The recordings' events files (checked against the trial windows of ``config_file``, else of
    the study file's ``config``), the study's trial types, and its contrasts and capacity task."""
    events: dict[str, pd.DataFrame] = {}
    read = False
    if recordings is not None:
        try:
            config = load_config(config_file or (find_path(path.parent / spec.config) if spec.config else None))
        except ConfigError as exc:
            problems.append(str(exc))
            config = Config()
        before = len(problems)
        events = study_events(rtable, recordings, config, problems)
        read = len(problems) == before  # else which trial types exist is not known
    if events:  # a file at odds with itself is not among them (check_events said so): these are across files
        files = dict(zip(recordings["recording_id"], recordings["events"]))
        problems.extend(case_clashes([(tt, files[rid], line) for rid, table in events.items()
                                      for tt, line in zip(table["trial_type"], table["row"])], "trial types"))
    types = trial_types(events)
    tasks = list(dict.fromkeys(recordings["task"])) if recordings is not None else []
    check_design(path, spec.contrasts, spec.capacity_task, types, tasks, recordings is not None and read, problems)
    return events, types
