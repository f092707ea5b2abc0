"""An audit of one run folder: outcomes joined with the demographics file, and every table of the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from grader.audit.agreement import agreement_by_group, gold_pairs
from grader.audit.demographics import attribute_groups, read_demographics
from grader.audit.impact import AuditOptions, impact_table, score_differences
from grader.audit.outcomes import model_outcomes, reviewed_outcomes
from grader.errors import GraderError
from grader.ingest.rubric import Rubric
from grader.runs.folder import RunFolder, RunRecord, as_folder
from grader.runs.reviews import ReviewStore
from grader.runs.store import RunStore

Source = Literal["model", "reviewed"]


@dataclass
class AuditResult:
    """Everything the report shows, and the counts behind it."""

    run: str
    source: Source
    attributes: list[str]
    impact: pd.DataFrame
    scores: pd.DataFrame
    agreement: pd.DataFrame | None = None
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GoldInput:
    """Gold labels for agreement per group (read with `grader.agreement.gold.read_gold`)."""

    path: Path
    id_column: str = "transcript_id"
    scale: tuple[float, float] | None = None


def audit_run(run: str | Path | RunFolder, demographics: Path, *, id_column: str = "transcript_id",
              source: Source = "model", rubric: Rubric | str | Path | None = None, gold: GoldInput | None = None,
              attributes: list[str] | None = None, options: AuditOptions | None = None) -> AuditResult:
    """Audit a run's decisions per demographic group.

    Reviewed decisions are recomputed with the run's own rubric; `rubric` (a name or file) is only a
    check, or names the rubric of a run graded before manifests.
    """
    options = options or AuditOptions()
    folder = as_folder(run)
    record = folder.read()
    store = record.store
    try:
        outcomes = _outcomes(record, source, rubric)
        people = read_demographics(demographics, id_column=id_column, attributes=attributes)
        groups = attribute_groups(people)
        graded = set(outcomes["transcript_id"])
        audited = graded & set(people.frame.index)
        if not audited:
            raise GraderError(f"no id of the demographics file is a graded transcript of the run (ids like "
                              f"{', '.join(sorted(graded)[:3]) or 'none'})", path=demographics,
                              fix="use the transcript ids of the run, or name the id column with "
                                  "--demographics-id-column")
        kept = outcomes[outcomes["transcript_id"].isin(audited)]
        agreement = _agreement(store, gold, groups, audited, options) if gold else None
    finally:
        store.close()
    counts = {"graded": len(graded), "audited": len(audited), "no_demographics": len(graded - audited),
              "demographics_unmatched": len(set(people.frame.index) - graded)}
    return AuditResult(run=str(folder.path), source=source, attributes=people.attributes,
                       impact=impact_table(kept, groups, options), scores=score_differences(kept, groups),
                       agreement=agreement, counts=counts, problems=people.problems)


def _outcomes(record: RunRecord, source: Source, rubric: Rubric | str | Path | None) -> pd.DataFrame:
    store = record.store
    if source == "model":
        outcomes = model_outcomes(store)
        if outcomes.empty:
            raise GraderError("no finished score sheet in this run", path=store.path, fix="grade the run first")
        return outcomes
    outcomes = reviewed_outcomes(store, ReviewStore(store).reviews(), record.rubric(rubric))
    if outcomes.empty:
        raise GraderError("no transcript of this run has a review yet", path=store.path,
                          fix="review sheets with `grader review RUN` first, or audit with --source model")
    return outcomes


def _agreement(store: RunStore, gold: GoldInput, groups: dict[str, pd.Series], audited: set[str],
               options: AuditOptions) -> pd.DataFrame:
    from grader.agreement.evaluate import model_levels
    from grader.agreement.gold import read_gold

    model = model_levels(store)
    labels = read_gold(gold.path, criteria=sorted(set(model["criterion_id"])), transcripts=audited,
                       id_column=gold.id_column, scale=gold.scale)
    pairs = gold_pairs(model, labels)
    return agreement_by_group(pairs, groups, n_boot=options.agreement_boot, seed=options.seed)
