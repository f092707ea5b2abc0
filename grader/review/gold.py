"""Reviews as gold labels: each reviewer's current label, in the long format `grader eval` reads.

Long format: `transcript_id, criterion_id, rater_id, score` with rater = reviewer and score = the
reviewed level. A label of "insufficient evidence" has no level, so it is left out (and counted).
`grader eval --gold RUN_DIR` (and calibrate, compare) takes a run folder's reviews directly.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from grader.errors import GraderError
from grader.runs.folder import RunFolder, as_folder
from grader.runs.reviews import Review, current_by_reviewer, current_decisions
from grader.spreadsheet import write_csv

GOLD_COLUMNS = ["transcript_id", "criterion_id", "rater_id", "score"]


@dataclass(frozen=True)
class GoldFrame:
    frame: pd.DataFrame  # GOLD_COLUMNS, one row per (transcript, criterion, reviewer) with a level
    left_out: int  # current labels without a level (insufficient evidence)


def gold_frame(reviews: list[Review]) -> GoldFrame:
    labels = sorted(current_by_reviewer(reviews).values(), key=lambda r: (r.transcript_id, r.criterion_id, r.reviewer))
    rows = [(r.transcript_id, r.criterion_id, r.reviewer, r.level_after) for r in labels if r.level_after is not None]
    frame = pd.DataFrame(rows, columns=GOLD_COLUMNS)
    frame["score"] = frame["score"].astype("Int64")
    return GoldFrame(frame=frame, left_out=len(labels) - len(rows))


def run_reviews(run: str | Path | RunFolder) -> list[Review]:
    """Every review row of a run (a clear error when it is not a run folder)."""
    store = as_folder(run).reviews()
    try:
        return store.reviews()
    finally:
        store.close()


def export_gold(run: str | Path | RunFolder, out: Path) -> GoldFrame:
    """Write a run's reviews as a long gold CSV (text cells escaped for spreadsheets; `read_gold` undoes it)."""
    gold = gold_frame(run_reviews(run))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(gold.frame, out, option="--out")  # whole or not at all: a full disk leaves any earlier file
    return gold


def reviews_as_gold(path: Path) -> Path:
    """`path` itself when it is a gold CSV; for a run folder, its reviews written to RUN/reviews-gold.csv (or, when
    the folder may not be written, to a temporary file)."""
    folder = RunFolder(path)
    if not folder.is_run():
        return path
    gold = gold_frame(run_reviews(folder))
    try:
        write_csv(gold.frame, folder.reviews_gold)
        return folder.reviews_gold
    except GraderError:  # a read-only run folder: its reviews are still gold
        target = Path(tempfile.mkdtemp(prefix="grader-gold-")) / folder.reviews_gold.name
        write_csv(gold.frame, target)
        return target


def with_reviews(frame: pd.DataFrame, run: str | Path | RunFolder) -> pd.DataFrame:
    """A run's export rows with the current review of each criterion beside the model's level (empty if none)."""
    decisions = decisions_frame(run_reviews(run))
    return frame.merge(decisions, on=["transcript_id", "criterion_id"], how="left", validate="many_to_one")


def decisions_frame(reviews: list[Review]) -> pd.DataFrame:
    """The current decision per (transcript, criterion), to put beside the model's level in an export."""
    rows = [{"transcript_id": r.transcript_id, "criterion_id": r.criterion_id, "reviewed_status": r.status_after,
             "reviewed_level": r.level_after, "reviewer": r.reviewer, "review_action": r.action.value,
             "review_reason": r.reason, "reviewed_at": r.created_at} for r in current_decisions(reviews).values()]
    frame = pd.DataFrame(rows, columns=["transcript_id", "criterion_id", "reviewed_status", "reviewed_level",
                                        "reviewer", "review_action", "review_reason", "reviewed_at"])
    frame["reviewed_level"] = frame["reviewed_level"].astype("Int64")
    return frame
