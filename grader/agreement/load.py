"""A run and the gold labels for it, read for evaluation, calibration and comparison.

The rubric comes from the run's manifest; a rubric given by the user is only a checked override.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from grader.agreement.gold import GoldLabels, read_gold
from grader.agreement.spec import GoldSpec
from grader.errors import GraderError
from grader.ingest.rubric import Rubric
from grader.runs.folder import RunFolder, RunRecord, as_folder


@dataclass(frozen=True)
class LoadedRun:
    """A run's record, its rubric, its levels (`evaluate.model_levels`) and the gold for its transcripts."""

    run: RunRecord
    rubric: Rubric
    model: pd.DataFrame
    gold: GoldLabels

    @property
    def model_name(self) -> str:
        manifest = self.run.manifest
        return manifest.settings.model if manifest else self.run.store.meta().get("model", "")

    @property
    def prompt_version(self) -> str:
        manifest = self.run.manifest
        return manifest.prompt_version if manifest else self.run.store.meta().get("prompt_version", "")


def load_run(run: str | Path | RunFolder, spec: GoldSpec, rubric: str | Path | None = None) -> LoadedRun:
    """A run's grades and the gold labels for its transcripts; a clear error when either is missing."""
    from grader.agreement.evaluate import model_levels

    record = as_folder(run).read()
    checked = record.rubric(rubric)
    model = model_levels(record.store)
    gold = read_gold(spec.path, criteria=[c.id for _, c in checked.criteria()],
                     transcripts=set(model["transcript_id"]), binning=spec.binning,
                     cut_points=parse_cut_points(spec.cut_points), group_pattern=spec.group_pattern,
                     id_column=spec.id_column, scale=parse_scale(spec.scale))
    return LoadedRun(run=record, rubric=checked, model=model, gold=gold)


def parse_cut_points(value: str | list[float] | None) -> list[float] | None:
    if value is None or isinstance(value, list):
        return value
    try:
        points = [float(c) for c in value.split(",")]
    except ValueError:
        points = []
    if len(points) != 4 or not all(math.isfinite(p) for p in points) or sorted(points) != points:
        raise GraderError(f"not 4 ascending numbers: {value!r}", where="--cut-points",
                          fix="give 4 ascending cut points, e.g. --cut-points 2.5,3.5,4.5,5.5")
    return points


def parse_scale(value: str | tuple[float, float] | None) -> tuple[float, float] | None:
    if value is None or isinstance(value, tuple):
        return value
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise GraderError(f"not a scale: {value!r}", where="--scale", fix="give the lowest and then the highest "
                          "score, e.g. --scale 1,7")
    return low, high


def candidate_texts(inputs: list[str], id_column: str = "interview_id", text_column: str = "transcript",
                    on_error: Callable[[GraderError], None] | None = None) -> dict[str, str]:
    """transcript id -> the candidate's words, for the baseline; unreadable transcripts are skipped."""
    from grader.agreement.baseline import candidate_text
    from grader.ingest.inputs import iter_sources

    texts = {}
    for source in iter_sources(inputs, id_column=id_column, text_column=text_column):
        try:
            texts[source.id] = candidate_text(source.load())
        except GraderError as exc:
            if on_error:
                on_error(exc)
    return texts


def run_notes(loaded: LoadedRun) -> list[str]:
    """What a reader must know about the run: its settings and whether level probabilities exist."""
    notes = [f"Run: model {loaded.model_name or '?'}, prompt {loaded.prompt_version or '?'}, "
             f"rubric {loaded.rubric.id} ({loaded.rubric.content_hash()})."]
    with_probs = int(loaded.model["expected"].notna().sum())
    if with_probs:
        notes.append(f"Level probabilities (G-Eval): {with_probs} of {len(loaded.model)} grades have them.")
    else:
        reasons = loaded.model["level_probs_note"].dropna().unique()
        notes.append("Level probabilities (G-Eval): NOT AVAILABLE in this run ("
                     + ("; ".join(reasons) or "no grades") + ").")
    return notes
