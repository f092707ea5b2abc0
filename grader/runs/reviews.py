"""Reviews in the run store (`reviews`, `review_notes`, migration `003_reviews`): rows are only ever added.

The current decision on a criterion is its latest row; a reviewer's current label is their latest
row (their gold label). A page says which review it saw (`seen`, the latest row's id, or None), and
a decision on a criterion with a newer row is refused (`StaleReviewError`): a stale page never
silently undoes a newer decision, whoever made it. The check and the insert are one `BEGIN
IMMEDIATE` transaction, so two servers on the same run (two reviewers) are safe too.

The tables are the run store's (`grader.runs.store`); this module is the only code that reads or
writes them, through the store a `RunFolder` opened. WAL lets it sit beside a running batch.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from grader.errors import GraderError
from grader.runs.store import RunStore


class Action(StrEnum):
    confirm = "confirm"
    override = "override"


class Review(BaseModel):
    """One decision on one criterion: what the level was before and after, who decided, when and why."""

    model_config = ConfigDict(frozen=True)
    id: int
    transcript_id: str
    criterion_id: str
    reviewer: str
    action: Action
    status_before: str | None
    level_before: int | None
    status_after: str
    level_after: int | None
    reason: str
    created_at: str

    def describe(self) -> str:
        after = self.level_after if self.level_after is not None else self.status_after.replace("_", " ")
        return f"{self.reviewer} ({self.action.value}, {after}) at {self.created_at}"


class Note(BaseModel):
    """A reviewer's free note on a whole transcript; the latest is current."""

    model_config = ConfigDict(frozen=True)
    id: int
    transcript_id: str
    reviewer: str
    note: str
    created_at: str


class StaleReviewError(GraderError):
    """The page was made before a newer review of the same criterion (or note of the same transcript)."""

    def __init__(self, message: str, latest_id: int | None) -> None:
        super().__init__(message, fix="reload the page, look at the newer decision, then decide again")
        self.latest_id = latest_id


_REVIEW_COLUMNS = ("transcript_id, criterion_id, reviewer, action, status_before, level_before, status_after, "
                   "level_after, reason, created_at")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ReviewStore:
    """Append-only access to a run's reviews and notes (the store stays open: the caller closes it)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def close(self) -> None:
        self.store.close()

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self.store.connection() as db:
            return _dicts(db.execute(sql, args))

    # -- reviews -------------------------------------------------------------------------------------
    def add_review(self, review: Review, seen: int | None) -> Review:
        """Append a review (its `id` and `created_at` are assigned here) unless a row newer than `seen` exists."""
        with self.store.transaction(immediate=True) as db:
            latest = self._latest_review(db, review.transcript_id, review.criterion_id)
            if (latest.id if latest else None) != (seen or None):
                raise StaleReviewError(f"criterion {review.criterion_id} of {review.transcript_id} was reviewed "
                                       f"after this page was made: {latest.describe() if latest else 'no review'}",
                                       latest.id if latest else None)
            values = review.model_copy(update={"created_at": _now()}).model_dump(mode="json", exclude={"id"})
            cursor = db.execute(f"INSERT INTO reviews ({_REVIEW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                tuple(values[c.strip()] for c in _REVIEW_COLUMNS.split(",")))
            return Review(id=cursor.lastrowid, **values)

    def reviews(self, transcript_id: str | None = None) -> list[Review]:
        """Every review row, oldest first (of one transcript, or of the whole run)."""
        where, args = ("WHERE transcript_id = ?", (transcript_id,)) if transcript_id else ("", ())
        return [Review(**r) for r in self._rows(f"SELECT * FROM reviews {where} ORDER BY id", args)]

    @staticmethod
    def _latest_review(db: sqlite3.Connection, transcript_id: str, criterion_id: str) -> Review | None:
        rows = _dicts(db.execute("SELECT * FROM reviews WHERE transcript_id = ? AND criterion_id = ? "
                                 "ORDER BY id DESC LIMIT 1", (transcript_id, criterion_id)))
        return Review(**rows[0]) if rows else None

    # -- notes ---------------------------------------------------------------------------------------
    def add_note(self, transcript_id: str, reviewer: str, note: str, seen: int | None) -> Note:
        with self.store.transaction(immediate=True) as db:
            rows = _dicts(db.execute("SELECT * FROM review_notes WHERE transcript_id = ? ORDER BY id DESC LIMIT 1",
                                     (transcript_id,)))
            row = rows[0] if rows else None
            if (row["id"] if row else None) != (seen or None):
                raise StaleReviewError(f"the note on {transcript_id} was changed by {row['reviewer']} at "
                                       f"{row['created_at']} after this page was made", row["id"])
            created = _now()
            cursor = db.execute("INSERT INTO review_notes (transcript_id, reviewer, note, created_at) "
                                "VALUES (?, ?, ?, ?)", (transcript_id, reviewer, note, created))
            return Note(id=cursor.lastrowid or 0, transcript_id=transcript_id, reviewer=reviewer, note=note,
                        created_at=created)

    def latest_note(self, transcript_id: str) -> Note | None:
        rows = self._rows("SELECT * FROM review_notes WHERE transcript_id = ? ORDER BY id DESC LIMIT 1",
                          (transcript_id,))
        return Note(**rows[0]) if rows else None


def current(reviews: list[Review]) -> dict[str, Review]:
    """The current decision per criterion: its latest row, whoever wrote it."""
    return {r.criterion_id: r for r in reviews}


def current_decisions(reviews: list[Review]) -> dict[tuple[str, str], Review]:
    """The current decision of every reviewed criterion of a run: (transcript, criterion) -> its latest row."""
    return {(r.transcript_id, r.criterion_id): r for r in reviews}


def current_by_reviewer(reviews: list[Review]) -> dict[tuple[str, str, str], Review]:
    """Each reviewer's current label: (transcript, criterion, reviewer) -> their latest row."""
    return {(r.transcript_id, r.criterion_id, r.reviewer): r for r in reviews}


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
