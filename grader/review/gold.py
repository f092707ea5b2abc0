"""Reviews as gold labels: each reviewer's current label, in the long format `grader eval` reads.

Long format: `transcript_id, criterion_id, rater_id, score` with rater = reviewer and score = the
reviewed level, and two more columns about the item (transcript × criterion) the row belongs to:
`source`, how its gold was reached, and `gold`, that level:

- `single`: one reviewer labelled it; the gold is their level;
- `consensus`: two or more did; the gold is the median of their levels, rounded half up (the rule
  `grader eval` applies to every gold file, so its consensus is this column);
- `adjudicated`: an adjudicator resolved the reviewers' disagreement; the gold is the adjudicator's level.

Every reviewer's own level stays a row of its own (an adjudication never replaces them), so `grader
eval --gold RUN` measures the human ceiling on the team's independent labels. A label of
"insufficient evidence" has no level, so it is left out (and counted). `grader eval --gold RUN_DIR`
(and calibrate, compare) takes a run folder's reviews directly.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from grader.errors import GraderError
from grader.runs.folder import RunFolder, as_folder
from grader.runs.reviews import Review, adjudications, current_by_reviewer, current_decisions
from grader.spreadsheet import write_csv

GOLD_COLUMNS = ["transcript_id", "criterion_id", "rater_id", "score", "source", "gold"]
SOURCES = ("single", "consensus", "adjudicated")


@dataclass(frozen=True)
class GoldFrame:
    frame: pd.DataFrame  # GOLD_COLUMNS, one row per (transcript, criterion, reviewer) with a level
    left_out: int  # current labels without a level (insufficient evidence)

    def sources(self) -> dict[str, int]:
        """How many items (transcript × criterion) have each source."""
        items = self.frame.drop_duplicates(["transcript_id", "criterion_id"])
        return {s: int((items["source"] == s).sum()) for s in SOURCES}


def gold_frame(reviews: list[Review]) -> GoldFrame:
    labels = sorted(current_by_reviewer(reviews).values(), key=lambda r: (r.transcript_id, r.criterion_id, r.reviewer))
    resolved = adjudications(reviews)
    by_item: dict[tuple[str, str], list[Review]] = {}
    for r in labels:
        by_item.setdefault((r.transcript_id, r.criterion_id), []).append(r)
    rows = []
    for key, item in by_item.items():
        source, gold = item_gold(item, resolved.get(key))
        rows += [(r.transcript_id, r.criterion_id, r.reviewer, r.level_after, source, gold)
                 for r in item if r.level_after is not None]
    frame = pd.DataFrame(rows, columns=GOLD_COLUMNS)
    frame["score"] = frame["score"].astype("Int64")
    frame["gold"] = frame["gold"].astype("Int64")
    return GoldFrame(frame=frame, left_out=len(labels) - len(rows))


def item_gold(labels: list[Review], adjudication: Review | None) -> tuple[str, int | None]:
    """An item's gold source and level from its reviewers' current labels and its adjudication in force."""
    if adjudication is not None:
        return "adjudicated", adjudication.level_after
    levels = [r.level_after for r in labels if r.level_after is not None]
    if len(labels) == 1:
        return "single", levels[0] if levels else None
    return "consensus", consensus_level(levels)


def consensus_level(levels: list[int]) -> int | None:
    """The median level, rounded half up: `grader eval`'s consensus rule (`evaluate.round_half_up`)."""
    if not levels:
        return None
    return math.floor(float(np.median(levels)) + 0.5)


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
