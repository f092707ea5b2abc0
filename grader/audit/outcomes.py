"""What the audit counts: each transcript's decision and score, per competency and overall.

One row per (transcript, outcome): `outcome` is a competency id or `overall`, `decision` is
`pass`, `fail` or `undetermined`, `score` the weighted mean level (None when nothing counted).

The overall rule: **pass** when every competency passes, **fail** when any competency fails, and
**undetermined** otherwise (some competency undetermined, none failed). The overall score is the
mean of the competency scores, and has no value unless every competency has one. Undetermined
decisions and missing scores are counted and left out of rates; they are never counted as fails.

Sources of decisions: `model` reads the score sheets in the run store (only `transcript_id` and
`competencies[*]`: `competency_id` or `id`, `name`, `decision`, `score`, so the reader survives
changes elsewhere in the sheet). `reviewed` recomputes the decisions from the reviewers' levels
(`outcomes_from_levels`, with the rubric's weights and minimums) where a transcript was reviewed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from grader.grading.aggregate import decide, score_range
from grader.ingest.rubric import Rubric
from grader.runs.reviews import Review, current_decisions
from grader.runs.store import RunStore

OVERALL = "overall"
PASS, FAIL, UNDETERMINED = "pass", "fail", "undetermined"
COLUMNS = ["transcript_id", "outcome", "name", "decision", "score"]
OVERALL_RULE = ("overall pass = every competency passes; overall fail = any competency fails; otherwise "
                "undetermined (left out). Overall score = mean of the competency scores, none if any is missing.")


def overall(decisions: list[str], scores: list[float | None]) -> tuple[str, float | None]:
    """The overall decision and score of one transcript from its competencies' (see the module's rule)."""
    if not decisions:
        return UNDETERMINED, None
    decision = FAIL if FAIL in decisions else PASS if all(d == PASS for d in decisions) else UNDETERMINED
    known = [s for s in scores if s is not None]
    return decision, (sum(known) / len(known) if known and len(known) == len(scores) else None)


def sheet_rows(sheet: dict[str, Any]) -> list[dict[str, Any]]:
    """Outcome rows of one score sheet (its JSON already parsed)."""
    tid = str(sheet["transcript_id"])
    rows = [{"transcript_id": tid, "outcome": str(c.get("competency_id") or c.get("id")),
             "name": str(c.get("name") or c.get("competency_id") or c.get("id")),
             "decision": str(c.get("decision") or UNDETERMINED),
             "score": None if c.get("score") is None else float(c["score"])} for c in sheet.get("competencies", [])]
    decision, score = overall([r["decision"] for r in rows], [r["score"] for r in rows])
    return [*rows, {"transcript_id": tid, "outcome": OVERALL, "name": "Overall", "decision": decision,
                    "score": score}]


def outcomes_frame(sheets: Iterable[str]) -> pd.DataFrame:
    """Outcome rows of every sheet JSON given."""
    rows = [row for text in sheets for row in sheet_rows(json.loads(text))]
    return pd.DataFrame(rows, columns=COLUMNS)


def model_outcomes(store: RunStore) -> pd.DataFrame:
    """The model's decisions: every finished score sheet of the run."""
    return outcomes_frame(store.sheets())


def outcomes_from_levels(levels: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    """Decisions recomputed from levels (`transcript_id, criterion_id, level`; NaN = no level), as a sheet would.

    This is how reviewed levels become decisions: the same weighted score, range and minimum as
    `grader.grading.aggregate`.
    """
    rows: list[dict[str, Any]] = []
    for tid, part in levels.groupby("transcript_id", sort=True):
        by_criterion = {str(k): (None if pd.isna(v) else float(v)) for k, v in zip(part["criterion_id"], part["level"],
                                                                                 strict=True)}
        comps = []
        for comp in rubric.competencies:
            score, low, high, _ = score_range(comp, {c.id: by_criterion.get(c.id) for c in comp.criteria})
            comps.append({"transcript_id": str(tid), "outcome": comp.id, "name": comp.name,
                          "decision": decide(low, high, comp.min_passing_score).value,
                          "score": None if score is None else round(score, 3)})
        decision, score = overall([c["decision"] for c in comps], [c["score"] for c in comps])
        rows += [*comps, {"transcript_id": str(tid), "outcome": OVERALL, "name": "Overall", "decision": decision,
                          "score": score}]
    return pd.DataFrame(rows, columns=COLUMNS)


def reviewed_levels(reviews: list[Review]) -> pd.DataFrame:
    """The current reviewed level of every reviewed criterion (its latest review, whoever made it)."""
    rows = [(r.transcript_id, r.criterion_id, r.level_after) for r in current_decisions(reviews).values()]
    frame = pd.DataFrame(rows, columns=["transcript_id", "criterion_id", "level"])
    frame["level"] = frame["level"].astype("Float64")
    return frame


def reviewed_outcomes(store: RunStore, reviews: list[Review], rubric: Rubric) -> pd.DataFrame:
    """Decisions after review: reviewed levels where there are any, the model's counted level elsewhere.

    Only transcripts with at least one review are included; the others are left out of the audit.
    """
    from grader.agreement.evaluate import model_levels

    reviewed = reviewed_levels(reviews)
    model = model_levels(store)[["transcript_id", "criterion_id", "level"]]
    model = model[model["transcript_id"].isin(set(reviewed["transcript_id"]))]
    merged = model.merge(reviewed, on=["transcript_id", "criterion_id"], how="outer", suffixes=("_model", ""),
                         indicator=True)
    merged["level"] = merged["level"].where(merged["_merge"] != "left_only", merged["level_model"])
    return outcomes_from_levels(merged[["transcript_id", "criterion_id", "level"]], rubric)
