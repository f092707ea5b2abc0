"""Reviews in the run store (`reviews`, `review_notes`, migration `003_reviews`; `review_assignments` and
`review_retractions`, migration `005_review_team`): rows are only ever added.

The current decision on a criterion is its latest adjudication, else its latest row; a reviewer's
current label is their latest row that is not an adjudication (their gold label). A decision taken
back (undo) is never edited or deleted: a retraction row names it, and from then on it counts for
nothing (`Review.retracted_by`), so the decision before it is current again. A page says which
review it saw (`seen`, the latest row's id, or None), and a decision on a criterion with a newer row
is refused (`StaleReviewError`): a stale page never silently undoes a newer decision, whoever made
it. A blind reviewer sees only their own decisions, so their `seen` is their own latest row (`mine`).
The check and the insert are one `BEGIN IMMEDIATE` transaction, so two servers on the same run (two
reviewers) are safe too.

Assignments (`--overlap K`) are rows too: each transcript is given to the K least-loaded reviewers
when it is first seen, and never taken back, so a batch that adds transcripts, or a reviewer who
joins, leaves every earlier assignment as it was.

The tables are the run store's (`grader.runs.store`); this module is the only code that reads or
writes them, through the store a `RunFolder` opened. WAL lets it sit beside a running batch.
"""

from __future__ import annotations

import hashlib
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
    adjudicate = "adjudicate"  # an adjudicator's resolution of reviewers who disagree: the item's gold


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
    retracted_by: int | None = None  # the retraction row that took this decision back (undo), if any

    @property
    def effective(self) -> bool:
        return self.retracted_by is None

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


class Retraction(BaseModel):
    """A decision taken back by the reviewer who made it (undo): the decision stays, marked as retracted."""

    model_config = ConfigDict(frozen=True)
    id: int
    review_id: int
    reviewer: str
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


class NothingToRetractError(GraderError):
    """Undo asked for a decision that is not the reviewer's latest one in force."""

    def __init__(self, message: str, latest_id: int | None) -> None:
        super().__init__(message, fix="reload the page: undo takes back your latest decision still in force")
        self.latest_id = latest_id


_EFFECTIVE = "NOT EXISTS (SELECT 1 FROM review_retractions x WHERE x.review_id = r.id)"
_SELECT_REVIEWS = ("SELECT r.*, (SELECT x.id FROM review_retractions x WHERE x.review_id = r.id) AS retracted_by "
                   "FROM reviews r")


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
    def add_review(self, review: Review, seen: int | None, *, mine: str | None = None) -> Review:
        """Append a review (its `id` and `created_at` are assigned here) unless a row newer than `seen` exists.

        `mine` (a blind reviewer's name): `seen` is that reviewer's own latest decision on the criterion, the
        only one they could see; otherwise it is the criterion's latest row in force, whoever made it.
        """
        with self.store.transaction(immediate=True) as db:
            latest = self._latest_review(db, review.transcript_id, review.criterion_id, mine)
            if (latest.id if latest else None) != (seen or None):
                whose = "your latest decision on " if mine else ""
                raise StaleReviewError(f"{whose}criterion {review.criterion_id} of {review.transcript_id} was "
                                       f"reviewed after this page was made: "
                                       f"{latest.describe() if latest else 'no review (it was taken back)'}",
                                       latest.id if latest else None)
            values = review.model_copy(update={"created_at": _now(), "retracted_by": None}).model_dump(
                mode="json", exclude={"id"})
            cursor = db.execute(f"INSERT INTO reviews ({_REVIEW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                tuple(values[c.strip()] for c in _REVIEW_COLUMNS.split(",")))
            return Review(id=cursor.lastrowid, **values)

    def reviews(self, transcript_id: str | None = None) -> list[Review]:
        """Every review row, oldest first (of one transcript, or of the whole run), retracted ones marked."""
        where, args = ("WHERE r.transcript_id = ?", (transcript_id,)) if transcript_id else ("", ())
        return [Review(**r) for r in self._rows(f"{_SELECT_REVIEWS} {where} ORDER BY r.id", args)]

    @staticmethod
    def _latest_review(db: sqlite3.Connection, transcript_id: str, criterion_id: str,
                       mine: str | None = None) -> Review | None:
        """The latest row in force on a criterion (of `mine` only, adjudications left out, when given)."""
        only = " AND r.reviewer = ? AND r.action != 'adjudicate'" if mine else ""
        rows = _dicts(db.execute(f"{_SELECT_REVIEWS} WHERE r.transcript_id = ? AND r.criterion_id = ? AND {_EFFECTIVE}"
                                 f"{only} ORDER BY r.id DESC LIMIT 1",
                                 (transcript_id, criterion_id, *((mine,) if mine else ()))))
        return Review(**rows[0]) if rows else None

    def retract(self, review_id: int, reviewer: str) -> tuple[Retraction, Review]:
        """Take back `reviewer`'s decision `review_id` (undo): only their latest decision in force on its criterion
        (of the same kind: a label, or an adjudication), so undo walks back one decision at a time."""
        with self.store.transaction(immediate=True) as db:
            rows = _dicts(db.execute(f"{_SELECT_REVIEWS} WHERE r.id = ?", (review_id,)))
            if not rows or rows[0]["reviewer"] != reviewer:
                raise NothingToRetractError(f"review {review_id} is not a decision of {reviewer}", None)
            review = Review(**rows[0])
            kind = "= 'adjudicate'" if review.action is Action.adjudicate else "!= 'adjudicate'"
            newest = _dicts(db.execute(f"SELECT r.id FROM reviews r WHERE r.transcript_id = ? AND r.criterion_id = ? "
                                       f"AND r.reviewer = ? AND r.action {kind} AND {_EFFECTIVE} "
                                       "ORDER BY r.id DESC LIMIT 1",
                                       (review.transcript_id, review.criterion_id, reviewer)))
            latest = newest[0]["id"] if newest else None
            if review.retracted_by is not None or latest != review.id:
                state = "was already taken back" if review.retracted_by is not None else "is not your latest decision"
                raise NothingToRetractError(f"review {review_id} ({review.criterion_id} of {review.transcript_id}) "
                                            f"{state}", latest)
            created = _now()
            cursor = db.execute("INSERT INTO review_retractions (review_id, reviewer, created_at) VALUES (?, ?, ?)",
                                (review_id, reviewer, created))
            retraction = Retraction(id=cursor.lastrowid or 0, review_id=review_id, reviewer=reviewer,
                                    created_at=created)
            return retraction, review.model_copy(update={"retracted_by": retraction.id})

    # -- assignments ---------------------------------------------------------------------------------
    def assign(self, transcript_ids: list[str], reviewers: list[str], overlap: int) -> dict[str, list[str]]:
        """Each transcript's `overlap` reviewers, assigning those that have fewer now (stored, never taken back).

        A transcript keeps the reviewers it was given first (only those still in `reviewers` count); one with
        fewer than `overlap` gets the reviewers with the fewest assignments, ties broken by a hash of
        (transcript, reviewer) so the order of names favours nobody. Transcripts are filled in id order, so
        the same run and team always give the same assignment, and the loads differ by at most one.
        """
        if overlap > len(reviewers):
            raise GraderError(f"an overlap of {overlap} needs at least {overlap} reviewers, not {len(reviewers)}",
                              where="--overlap", fix="lower --overlap or add reviewers to the reviewers file")
        team = set(reviewers)
        with self.store.transaction(immediate=True) as db:
            given: dict[str, list[str]] = {}
            for tid, who in db.execute("SELECT transcript_id, reviewer FROM review_assignments ORDER BY id"):
                if who in team:
                    given.setdefault(tid, []).append(who)
            load = {r: 0 for r in reviewers}
            for tid in transcript_ids:
                for who in given.get(tid, [])[:overlap]:
                    load[who] += 1
            created = _now()
            for tid in sorted(transcript_ids):
                have = given.setdefault(tid, [])
                while len(have) < overlap:
                    pick = min((r for r in reviewers if r not in have),
                               key=lambda r, tid=tid: (load[r], _tie(tid, r)))
                    db.execute("INSERT OR IGNORE INTO review_assignments (transcript_id, reviewer, created_at) "
                               "VALUES (?, ?, ?)", (tid, pick, created))
                    have.append(pick)
                    load[pick] += 1
        return {tid: given[tid][:overlap] for tid in transcript_ids}

    # -- notes ---------------------------------------------------------------------------------------
    def add_note(self, transcript_id: str, reviewer: str, note: str, seen: int | None, *,
                 mine: bool = False) -> Note:
        """Append a note unless one newer than `seen` exists (with `mine`: a newer note of this reviewer's own)."""
        with self.store.transaction(immediate=True) as db:
            row = self._latest_note(db, transcript_id, reviewer if mine else None)
            if (row["id"] if row else None) != (seen or None):
                raise StaleReviewError(f"the note on {transcript_id} was changed by {row['reviewer'] if row else '?'} "
                                       f"at {row['created_at'] if row else '?'} after this page was made",
                                       row["id"] if row else None)
            created = _now()
            cursor = db.execute("INSERT INTO review_notes (transcript_id, reviewer, note, created_at) "
                                "VALUES (?, ?, ?, ?)", (transcript_id, reviewer, note, created))
            return Note(id=cursor.lastrowid or 0, transcript_id=transcript_id, reviewer=reviewer, note=note,
                        created_at=created)

    def latest_note(self, transcript_id: str, reviewer: str | None = None) -> Note | None:
        """The transcript's latest note (of one reviewer, when given: a blind reviewer's own)."""
        with self.store.connection() as db:
            row = self._latest_note(db, transcript_id, reviewer)
        return Note(**row) if row else None

    @staticmethod
    def _latest_note(db: sqlite3.Connection, transcript_id: str, reviewer: str | None) -> dict[str, Any] | None:
        only, args = (" AND reviewer = ?", (transcript_id, reviewer)) if reviewer else ("", (transcript_id,))
        rows = _dicts(db.execute(f"SELECT * FROM review_notes WHERE transcript_id = ?{only} ORDER BY id DESC LIMIT 1",
                                 args))
        return rows[0] if rows else None


def _tie(transcript_id: str, reviewer: str) -> str:
    return hashlib.sha256(f"{transcript_id}\0{reviewer}".encode()).hexdigest()


def current(reviews: list[Review]) -> dict[str, Review]:
    """The current decision per criterion: its latest adjudication in force, else its latest row in force."""
    return {key[1]: r for key, r in current_decisions(reviews).items()}


def current_decisions(reviews: list[Review]) -> dict[tuple[str, str], Review]:
    """The current decision of every reviewed criterion of a run: (transcript, criterion) -> its adjudication in
    force, else its latest row in force."""
    latest = {(r.transcript_id, r.criterion_id): r for r in reviews if r.effective}
    latest.update(adjudications(reviews))
    return latest


def adjudications(reviews: list[Review]) -> dict[tuple[str, str], Review]:
    """The adjudication in force per (transcript, criterion): its latest adjudication row not taken back."""
    return {(r.transcript_id, r.criterion_id): r for r in reviews if r.effective and r.action is Action.adjudicate}


def current_by_reviewer(reviews: list[Review]) -> dict[tuple[str, str, str], Review]:
    """Each reviewer's current label: (transcript, criterion, reviewer) -> their latest row in force (adjudications
    are not labels: they resolve the labels)."""
    return {(r.transcript_id, r.criterion_id, r.reviewer): r for r in reviews
            if r.effective and r.action is not Action.adjudicate}


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
