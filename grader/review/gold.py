"""Reviews as gold labels: each reviewer's current label, in the long format `grader eval` reads.

Long format: `transcript_id, criterion_id, rater_id, score` with rater = reviewer and score = the
reviewed level. A label of "insufficient evidence" has no level, so it is left out (and counted).
`grader eval --gold RUN_DIR` (and calibrate, compare) takes a run folder's reviews directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from grader.review.store import Review, ReviewStore, current, current_by_reviewer
from grader.runs.folder import RUN_DB
from grader.spreadsheet import write_csv

GOLD_COLUMNS = ["transcript_id", "criterion_id", "rater_id", "score"]
REVIEWS_GOLD_FILE = "reviews-gold.csv"  # written into a run folder given as --gold


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


def export_gold(run_dir: Path, out: Path) -> GoldFrame:
    """Write a run's reviews as a long gold CSV (text cells escaped for spreadsheets; `read_gold` undoes it)."""
    store = ReviewStore(run_dir / RUN_DB)
    try:
        gold = gold_frame(store.reviews())
    finally:
        store.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(gold.frame, out)
    return gold


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and (path / RUN_DB).is_file()


def reviews_as_gold(path: Path) -> Path:
    """`path` itself when it is a gold CSV; for a run folder, its reviews written to RUN/reviews-gold.csv."""
    if not is_run_folder(path):
        return path
    target = path / REVIEWS_GOLD_FILE
    export_gold(path, target)
    return target


def with_reviews(frame: pd.DataFrame, run_db: Path) -> pd.DataFrame:
    """A run's export rows with the current review of each criterion beside the model's level (empty if none)."""
    store = ReviewStore(run_db)
    try:
        decisions = decisions_frame(store.reviews())
    finally:
        store.close()
    return frame.merge(decisions, on=["transcript_id", "criterion_id"], how="left", validate="many_to_one")


def decisions_frame(reviews: list[Review]) -> pd.DataFrame:
    """The current decision per (transcript, criterion), to put beside the model's level in an export."""
    by_transcript: dict[str, list[Review]] = {}
    for review in reviews:
        by_transcript.setdefault(review.transcript_id, []).append(review)
    rows = [{"transcript_id": tid, "criterion_id": r.criterion_id, "reviewed_status": r.status_after,
             "reviewed_level": r.level_after, "reviewer": r.reviewer, "review_action": r.action.value,
             "review_reason": r.reason, "reviewed_at": r.created_at}
            for tid, part in by_transcript.items() for r in current(part).values()]
    frame = pd.DataFrame(rows, columns=["transcript_id", "criterion_id", "reviewed_status", "reviewed_level",
                                        "reviewer", "review_action", "review_reason", "reviewed_at"])
    frame["reviewed_level"] = frame["reviewed_level"].astype("Int64")
    return frame
