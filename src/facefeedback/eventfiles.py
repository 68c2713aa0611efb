"""Events files: when each trial of a recording began, for how long, and of which kind.

The format is BIDS ``_events.tsv``: tab-separated, a header row, the columns ``onset``
(seconds on the recording's own clock: the container's timestamps, as in the per-frame
table's ``timestamp_s``), ``duration`` (seconds) and ``trial_type``; other columns are kept
and copied into each trial's row. A recording's events file is given to ``extract --events``,
named in the recordings table's ``events`` column, or lies beside the video as
``<video stem>_events.tsv``.

:func:`check_events` collects every problem of a file (missing columns, onsets that are not
numbers, negative or past the recording's end, trials whose windows overlap) as one line each,
naming the file and its row (the header is row 1), so that nothing is processed until all are
fixed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .config import EventConfig
from .errors import ValidationError
from .schema import SUMMARISED_SIGNALS, TIME_TOLERANCE_S
from .textrows import case_clashes, is_missing, parse_number, read_rows, typed_column

REQUIRED = ("onset", "duration", "trial_type")
#: A trial type becomes part of column names (``frown_response_<trial_type>_mean``): keep it plain.
TRIAL_TYPE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SUFFIX = "_events.tsv"
#: Columns that each trial's row is given (:func:`facefeedback.trials.trial_table`): an events file's
#: own column of one of these names would be overwritten or doubled, so it is refused.
COMPUTED_COLUMNS = ("row", "included", "valid_fraction_baseline", "valid_fraction_response")
#: The statistics of each series' response in a trial's row (``<series>_response_<stat>``).
RESPONSE_STATS = ("mean", "peak", "latency_s", "area")
#: The measured series' prefixes (``frown``, ``smile``, each component): ``<prefix>_baseline_mean``
#: and ``<prefix>_response_<stat>`` are a trial's own columns; a lab's ``key_response_latency_s`` is not.
_COMPUTED_MEASURE = re.compile(
    rf"^({'|'.join(s.removesuffix('_intensity') for s in SUMMARISED_SIGNALS)})"
    rf"_(baseline_mean|response_({'|'.join(RESPONSE_STATS)}))$")




def is_computed_column(name: str) -> bool:
    """Whether a trial's row gets a column ``name`` of its own making (a window's share of valid
    frames, ``included``, or a series' baseline or response measure)."""
    return name in COMPUTED_COLUMNS or bool(_COMPUTED_MEASURE.match(name))


def events_beside(video: str | os.PathLike) -> Path | None:
    """``<video stem>_events.tsv`` in the video's folder, when there is one."""
    video = Path(video)
    candidate = video.with_name(video.stem + SUFFIX)
    try:
        return candidate if candidate.is_file() else None
    except OSError:  # a name longer than the file system holds: no such file
        return None


def recording_duration_s(video: str | os.PathLike) -> float | None:
    """How long the video's container says it runs (frames / frame rate); None when it does not say."""
    from .io import FrameSource

    with FrameSource(video, prefetch=0) as src:
        info = src.info
    if info.kind != "video" or not info.n_frames or not info.fps:
        return None
    return info.n_frames / info.fps


def check_events(path: str | os.PathLike, params: EventConfig, recording_s: float | None = None
                 ) -> tuple[pd.DataFrame | None, list[str]]:
    """The trials of an events file, and one line per problem (the table is None when there is one).

    Parameters
    ----------
    path : path
        The events file.
    params : EventConfig
        The trial windows: trials whose response windows overlap, or whose baseline window
        overlaps an earlier trial's response window, are problems.
    recording_s : float, optional
        The recording's length: an onset past it is a problem.

    The table has ``onset``, ``duration``, ``trial_type``, the file's other columns, and
    ``row`` (the row in the file), in onset order.
    """
    path = Path(path)
    problems: list[str] = []
    read = read_rows(path, "\t", REQUIRED, problems, kind="events file",
                     hint="an events file is tab-separated, with onset, duration and trial_type")
    if read is None:
        return None, problems
    if not read.rows:
        problems.append(f"{path}: no trials (only a header row)")
        return None, problems
    header = read.columns
    for name in header:
        if is_computed_column(name):
            problems.append(f"{path}: column '{name}' has the name of a column each trial is given "
                            "(included, valid fractions, baseline and response measures); rename it")
    kept = []
    for i, row in enumerate(read.rows):
        where = read.where(i)
        onset, duration = parse_number(row["onset"]), parse_number(row["duration"])
        if onset is None:
            problems.append(f"{where}: onset '{row['onset']}' is not a number (seconds from the start)")
        elif onset < 0:
            problems.append(f"{where}: onset {row['onset']} is negative")
        elif recording_s is not None and onset >= recording_s:
            problems.append(f"{where}: onset {row['onset']} s is past the recording's end ({recording_s:.2f} s)")
        if duration is None and not (is_missing(row["duration"]) and params.response_window_s):
            problems.append(f"{where}: duration '{row['duration']}' is not a number (seconds; n/a only with "
                            "events.response_window_s set)")
        elif duration is not None and duration < 0:
            problems.append(f"{where}: duration {row['duration']} is negative")
        elif duration == 0 and not params.response_window_s:  # its response window would hold no time
            problems.append(f"{where}: duration 0 gives the trial no response window; give the stimulus's "
                            "duration, or set events.response_window_s")
        if not TRIAL_TYPE_PATTERN.match(row["trial_type"]):
            problems.append(f"{where}: trial_type '{row['trial_type']}' must start with a letter and hold only "
                            "letters, digits and '_' (it names columns)")
        kept.append({**row, "onset": onset, "duration": np.nan if duration is None else duration, "row": read.line[i]})
    problems.extend(case_clashes([(row["trial_type"], read.name, line) for row, line in zip(read.rows, read.line)],
                                 "trial types"))
    if problems:
        return None, problems
    extra = [h for h in header if h not in REQUIRED]
    table = pd.DataFrame(kept, columns=[*REQUIRED, *extra, "row"])
    for column in extra:  # numbers where they are all numbers, 'n/a' missing: as a participants table's covariates
        table[column] = typed_column(list(table[column]))
    table = table.sort_values("onset", kind="stable").reset_index(drop=True)
    problems.extend(_overlaps(path, table, params))
    return (None if problems else table), problems


def response_window(onset: float, duration: float, params: EventConfig) -> tuple[float, float]:
    """A trial's response window [start, end) in seconds on the recording's clock."""
    start, end = params.response_window_s if params.response_window_s is not None else (0.0, duration)
    return onset + start, onset + end


def baseline_window(onset: float, params: EventConfig) -> tuple[float, float]:
    return onset + params.baseline_window_s[0], onset + params.baseline_window_s[1]


def _overlaps(path: Path, table: pd.DataFrame, params: EventConfig) -> list[str]:
    """A trial's windows must not reach into an earlier trial's response window."""
    problems = []
    responses = [response_window(o, d, params) for o, d in zip(table["onset"], table["duration"])]
    for k in range(1, len(table)):
        start = min(responses[k][0], baseline_window(table["onset"][k], params)[0])
        for j in range(k):
            if responses[j][1] > start + TIME_TOLERANCE_S:  # the same time, whatever the rounding of sums
                which = "response" if responses[j][1] > responses[k][0] else "baseline"
                problems.append(
                    f"{path.name} row {table['row'][k]}: the trial at {table['onset'][k]:g} s overlaps the "
                    f"one at {table['onset'][j]:g} s (row {table['row'][j]}): its {which} window starts before "
                    f"that trial's response window ends at {responses[j][1]:g} s; trials need their windows apart")
                break
    return problems


def check_recording_events(path: str | os.PathLike, video: str | os.PathLike, params: EventConfig
                           ) -> tuple[pd.DataFrame | None, list[str]]:
    """:func:`check_events` against the length of ``video`` (when it can be read: a video that
    cannot is reported when it is measured)."""
    from .errors import InputError

    try:
        length = recording_duration_s(video)
    except InputError:
        length = None
    return check_events(path, params, length)


def load_events(path: str | os.PathLike, params: EventConfig, recording_s: float | None = None) -> pd.DataFrame:
    """:func:`check_events`, raising a :class:`ValidationError` with every problem."""
    table, problems = check_events(path, params, recording_s)
    if problems:
        raise ValidationError(problems, f"{path}: {len(problems)} problem(s) in the events file; "
                                        "nothing was processed")
    return table
