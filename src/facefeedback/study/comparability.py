"""Visit comparability: were a participant's visits recorded under comparable imaging conditions?

The study's result is a change in frowning between the reference visit and a later one. If
the camera, its exposure or tone curve, the light, the distance, the focus or the head
movement differed between the two, part of that change is the camera. Every recording's
summary holds its imaging conditions (``schema.CONDITION_FEATURES``, see
:mod:`facefeedback.conditions`); :func:`compare_visits` sets each later recording beside the
same participant's reference-session recording of the same task (or, when there is none,
the recordings the participant's neutral reference was fitted on) and flags every condition
that differs beyond the range the measure is validated for (``config.comparability``):

* a *ratio* condition (face size, brightness, contrast, focus) is flagged when
  later / reference lies outside ``1/r`` to ``r``; face size also when either visit's face is
  smaller than ``qc.min_iod_px`` (the smallest face the measure holds on, the same limit
  that marks a frame ``face_too_small``);
* noise is flagged when the noise one visit has on top of the other's,
  ``sqrt(|later^2 - reference^2|)`` (noise adds in quadrature), exceeds its bound;
* head-movement spread (yaw, pitch) is flagged when the two differ by more than their bound.

A condition that could not be measured at either visit (a failed recording, no face
found) is not flagged by the comparison; failures.csv and the recording's own warnings say why.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema
from ..config import ComparabilityConfig, QCConfig
from .manifest import Study

#: Identifier columns of comparability.csv.
ID_COLUMNS = ("participant_id", "task", "reference_session", "session", "reference_recording_id", "recording_id")


@dataclass(frozen=True)
class Condition:
    """One imaging condition as two visits are compared on it."""

    feature: str  # a name in schema.CONDITION_FEATURES
    label: str  # how a warning names it
    comparison: str  # "ratio", "quadrature" or "difference"
    bound: str  # the ComparabilityConfig field that bounds it

    @property
    def change_column(self) -> str:
        return f"{self.feature}_{'ratio' if self.comparison == 'ratio' else 'difference'}"


CONDITIONS: tuple[Condition, ...] = (
    Condition("iod_px_median", "face size", "ratio", "max_iod_ratio"),
    Condition("brightness_median", "brightness", "ratio", "max_brightness_ratio"),
    Condition("log_contrast_median", "contrast", "ratio", "max_contrast_ratio"),
    Condition("focus_median", "focus", "ratio", "max_focus_ratio"),
    Condition("noise_median", "noise", "quadrature", "max_noise_difference"),
    Condition("yaw_spread", "head yaw spread", "difference", "max_pose_spread_difference"),
    Condition("pitch_spread", "head pitch spread", "difference", "max_pose_spread_difference"),
)


def change(condition: Condition, reference: np.ndarray, later: np.ndarray) -> np.ndarray:
    """How far the later visit's value is from the reference visit's, in the condition's own terms."""
    reference, later = np.asarray(reference, float), np.asarray(later, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if condition.comparison == "ratio":
            # A reference of 0 (a black face box, no contrast) is a measured value: any later
            # value above it is an unbounded ratio, which is flagged; 0 at both is no change.
            zero = np.where(later == 0, 1.0, np.where(later > 0, np.inf, np.nan))
            return np.where(reference > 0, later / reference, np.where(reference == 0, zero, np.nan))
        if condition.comparison == "quadrature":
            d = later**2 - reference**2
            return np.sign(d) * np.sqrt(np.abs(d))
        return later - reference


def exceeds(condition: Condition, value: np.ndarray, bounds: ComparabilityConfig) -> np.ndarray:
    """True where a change (:func:`change`) lies beyond the condition's bound (False where unknown)."""
    limit = getattr(bounds, condition.bound)
    value = np.asarray(value, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if condition.comparison == "ratio":
            return (value > limit) | (value < 1.0 / limit)
        return np.abs(value) > limit


def visit_pairs(study: Study) -> list[tuple[str, list[str]]]:
    """Every recording after the reference session, with the recordings it is compared with."""
    rec = study.recordings
    ref = rec[rec["session"] == study.reference_session].set_index(["participant_id", "task"])["recording_id"]
    pairs = []
    for row in rec[rec["session"] != study.reference_session].itertuples(index=False):
        key = (row.participant_id, row.task)
        if key in ref.index:
            pairs.append((row.recording_id, [ref.loc[key]]))
        else:
            pairs.append((row.recording_id, list(study.calibration_rows(row.participant_id)["recording_id"])))
    return pairs


def compare_visits(study: Study, summaries: dict[str, dict], bounds: ComparabilityConfig,
                   min_iod_px: float = QCConfig().min_iod_px) -> pd.DataFrame:
    """The comparability table: one row per recording after the reference session.

    Parameters
    ----------
    study : Study
    summaries : dict
        ``recording_id -> summary["features"]`` of the recordings that were measured.
    bounds : ComparabilityConfig

    Returns
    -------
    pandas.DataFrame
        Columns :func:`comparability_columns`; a reference made of several recordings (the
        calibration recordings) takes the median of their values.
    """
    rows = {r.recording_id: r for r in study.recordings.itertuples(index=False)}
    pairs = visit_pairs(study)
    shape = (len(pairs), len(CONDITIONS))  # also when no recording comes after the reference session
    ref_values = np.array([_condition_values(summaries, refs) for _, refs in pairs]).reshape(shape)
    later_values = np.array([_condition_values(summaries, [rid]) for rid, _ in pairs]).reshape(shape)
    out = pd.DataFrame({
        "participant_id": [rows[rid].participant_id for rid, _ in pairs],
        "task": [rows[rid].task for rid, _ in pairs],
        "reference_session": study.reference_session,
        "session": [rows[rid].session for rid, _ in pairs],
        "reference_recording_id": ["+".join(refs) for _, refs in pairs],
        "recording_id": [rid for rid, _ in pairs],
    })
    flags = {}
    for j, c in enumerate(CONDITIONS):
        ref, later = ref_values[:, j], later_values[:, j]
        moved = change(c, ref, later)
        flag = exceeds(c, moved, bounds)
        if c.feature == "iod_px_median":
            with np.errstate(invalid="ignore"):
                flag |= (ref < min_iod_px) | (later < min_iod_px)
        out[f"{c.feature}_reference"] = ref
        out[f"{c.feature}_followup"] = later
        out[c.change_column] = moved
        out[f"{c.feature}_flag"] = flag.astype(bool)
        flags[c] = flag
    out["flagged"] = np.any(list(flags.values()), axis=0)
    out["flagged_conditions"] = [", ".join(c.label for c in CONDITIONS if flags[c][i]) for i in range(len(pairs))]
    out["details"] = [_details(out.iloc[i], bounds, min_iod_px) for i in range(len(pairs))]
    return out[comparability_column_names()]


def _condition_values(summaries: dict[str, dict], rids: list[str]) -> np.ndarray:
    """Each condition of ``rids`` (the median over several recordings; NaN where none has it)."""
    # summary.json stores a condition no frame could give (no face in the recording) as null
    table = np.array([[summaries.get(r, {}).get(c.feature) for c in CONDITIONS] for r in rids],
                     dtype=float).reshape(len(rids), len(CONDITIONS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a condition no recording has: NaN, as meant
        return np.nanmedian(table, axis=0)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _details(row: pd.Series, bounds: ComparabilityConfig, min_iod_px: float) -> str:
    """The flagged conditions of one pair, each with both values and its bound."""
    units = {name: f" {unit}" if unit in ("px", "grey levels", "deg") else "" for name, unit, _ in
             schema.CONDITION_FEATURES}
    parts = []
    for c in CONDITIONS:
        if not row[f"{c.feature}_flag"]:
            continue
        ref, later, moved = row[f"{c.feature}_reference"], row[f"{c.feature}_followup"], row[c.change_column]
        limit = getattr(bounds, c.bound)
        if c.comparison == "ratio":
            why = f"comparable within x{_fmt(1 / limit)} to x{_fmt(limit)}"
            if np.isfinite(moved):
                why = f"ratio {_fmt(moved)}, {why}"
            if c.feature == "iod_px_median" and np.nanmin([ref, later]) < min_iod_px:
                why += f"; faces are validated from {min_iod_px:g} px"
        elif c.comparison == "quadrature":
            why = f"{abs(moved):.3g} grey levels {'added' if moved > 0 else 'removed'}, comparable up to {limit:g}"
        else:
            why = f"difference {moved:+.3g} deg, comparable up to {limit:g}"
        unit = units[c.feature]
        parts.append(f"{c.label} {_fmt(ref)}{unit} -> {_fmt(later)}{unit} ({why})")
    return "; ".join(parts)


def pair_warnings(table: pd.DataFrame) -> list[str]:
    """One line per flagged pair, naming participant, task, both sessions and every flagged condition."""
    lines = []
    for r in table[table["flagged"]].itertuples(index=False):
        lines.append(f"visits not comparable: participant {r.participant_id}, task {r.task}, {r.session} "
                     f"({r.recording_id}) vs {r.reference_session} ({r.reference_recording_id}): {r.details}")
    return lines


# -- column contract (the codebook reads it) -----------------------------------------------------


def comparability_column_names() -> list[str]:
    return [name for name, *_ in comparability_columns(ComparabilityConfig())]


def comparability_columns(bounds: ComparabilityConfig, min_iod_px: float = QCConfig().min_iod_px
                          ) -> list[tuple[str, str, str, str, str]]:
    """(name, unit, meaning, range, how computed) of every column of comparability.csv, in order."""
    units = {name: unit for name, unit, _ in schema.CONDITION_FEATURES}
    meanings = {name: meaning for name, _, meaning in schema.CONDITION_FEATURES}
    text = "text"
    cols = [
        ("participant_id", "id", "participant identifier", text, "recordings table"),
        ("task", "category", "task of both recordings (or of the later one, when compared with the "
                             "calibration recordings)", text, "recordings table"),
        ("reference_session", "category", "the session every change is measured from", text, "study file"),
        ("session", "category", "the later visit", text, "recordings table"),
        ("reference_recording_id", "id", "the reference-session recording of the same task; without one, "
                                         "the participant's calibration recordings joined by '+'", text,
         "same participant and task at the reference session, else the calibration recordings"),
        ("recording_id", "id", "the later recording", text, "recordings table"),
    ]
    for c in CONDITIONS:
        unit, meaning = units[c.feature], meanings[c.feature]
        limit = getattr(bounds, c.bound)
        cols.append((f"{c.feature}_reference", unit, f"{meaning}: reference visit", ">= 0",
                     "recordings/<reference_recording_id>/summary.json (median of them for several)"))
        cols.append((f"{c.feature}_followup", unit, f"{meaning}: later visit", ">= 0",
                     "recordings/<recording_id>/summary.json"))
        if c.comparison == "ratio":
            cols.append((c.change_column, "ratio", f"{c.label}: later / reference", "> 0",
                         f"{c.feature}_followup / {c.feature}_reference"))
            rule = f"ratio outside {1 / limit:.3g} to {limit:g} (config comparability.{c.bound})"
            if c.feature == "iod_px_median":
                rule += f", or either face below {min_iod_px:g} px (qc.min_iod_px)"
        elif c.comparison == "quadrature":
            cols.append((c.change_column, unit, f"{c.label}: noise the later visit has on top of the "
                                                "reference's (negative: less noise)", "any real",
                         "sign(later - reference) * sqrt(abs(later^2 - reference^2))"))
            rule = f"abs(difference) > {limit:g} (config comparability.{c.bound})"
        else:
            cols.append((c.change_column, unit, f"{c.label}: later minus reference", "any real",
                         f"{c.feature}_followup - {c.feature}_reference"))
            rule = f"abs(difference) > {limit:g} (config comparability.{c.bound})"
        cols.append((f"{c.feature}_flag", "flag", f"{c.label} differs beyond the validated range", "true/false",
                     f"{rule}; a missing value flags nothing"))
    cols += [
        ("flagged", "flag", "any condition flagged: the two visits were not recorded under comparable "
                            "conditions", "true/false", "any <condition>_flag"),
        ("flagged_conditions", "text", "the flagged conditions, by name", text,
         "the names of the <condition>_flag columns that are true, joined by ', '"),
        ("details", "text", "each flagged condition with both values and its bound", text,
         "the flagged conditions' values and config comparability bounds (the line study.json's warnings give)"),
    ]
    return cols
