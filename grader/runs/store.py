"""The run store: one SQLite database per run (WAL) holding every call's grade, usage and timing.

Each finished call is committed on its own, keyed by `grader.grading.grade.call_key`, so a crash or
`kill -9` loses at most the calls in flight, and running the same batch again resumes: a key
that is stored is never asked again (the store is also the response cache). Transcripts that
could not be read are stored as dead letters with their reason. The schema grows by named,
append-only migrations.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.grading.grades import CriterionGrade, SampleGrade
from grader.scrub import scrub

MIGRATIONS: list[tuple[str, str]] = [
    ("001_initial", """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE transcripts (
            transcript_id TEXT PRIMARY KEY, source TEXT NOT NULL, status TEXT NOT NULL,
            transcript_hash TEXT, error TEXT, sheet TEXT, updated_at TEXT NOT NULL);
        CREATE TABLE calls (
            key TEXT PRIMARY KEY, transcript_id TEXT NOT NULL, competency_id TEXT NOT NULL,
            criterion_id TEXT NOT NULL, status TEXT NOT NULL, level INTEGER, model TEXT NOT NULL,
            prompt_version TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, cached_prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL, seconds REAL NOT NULL, attempts INTEGER NOT NULL,
            grade TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX calls_by_transcript ON calls (transcript_id);
    """),
    ("002_manifest", """
        CREATE TABLE manifest (
            id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, created_at TEXT NOT NULL);
    """),
    ("003_reviews", """
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY AUTOINCREMENT, transcript_id TEXT NOT NULL, criterion_id TEXT NOT NULL,
            reviewer TEXT NOT NULL, action TEXT NOT NULL, status_before TEXT, level_before INTEGER,
            status_after TEXT NOT NULL, level_after INTEGER, reason TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX reviews_by_criterion ON reviews (transcript_id, criterion_id, id);
        CREATE TABLE review_notes (
            id INTEGER PRIMARY KEY AUTOINCREMENT, transcript_id TEXT NOT NULL, reviewer TEXT NOT NULL,
            note TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX review_notes_by_transcript ON review_notes (transcript_id, id);
        CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews
            BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
        CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews
            BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;
        CREATE TRIGGER notes_no_update BEFORE UPDATE ON review_notes
            BEGIN SELECT RAISE(ABORT, 'notes are append-only'); END;
        CREATE TRIGGER notes_no_delete BEFORE DELETE ON review_notes
            BEGIN SELECT RAISE(ABORT, 'notes are append-only'); END;
    """),
    # every transcript a stored call answers for: two ids with the same text share the calls, each keeps its rows
    ("004_transcript_calls", """
        CREATE TABLE transcript_calls (
            transcript_id TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (transcript_id, key));
        INSERT OR IGNORE INTO transcript_calls SELECT transcript_id, key FROM calls;
    """),
    # a review team (`grader review --reviewers --overlap`): who is asked to grade which transcript, and decisions
    # taken back (undo); both append-only like the reviews, so nothing a reviewer did is ever lost
    ("005_review_team", """
        CREATE TABLE review_assignments (
            id INTEGER PRIMARY KEY AUTOINCREMENT, transcript_id TEXT NOT NULL, reviewer TEXT NOT NULL,
            created_at TEXT NOT NULL, UNIQUE (transcript_id, reviewer));
        CREATE TABLE review_retractions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, review_id INTEGER NOT NULL UNIQUE REFERENCES reviews (id),
            reviewer TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE TRIGGER assignments_no_update BEFORE UPDATE ON review_assignments
            BEGIN SELECT RAISE(ABORT, 'assignments are append-only'); END;
        CREATE TRIGGER assignments_no_delete BEFORE DELETE ON review_assignments
            BEGIN SELECT RAISE(ABORT, 'assignments are append-only'); END;
        CREATE TRIGGER retractions_no_update BEFORE UPDATE ON review_retractions
            BEGIN SELECT RAISE(ABORT, 'retractions are append-only'); END;
        CREATE TRIGGER retractions_no_delete BEFORE DELETE ON review_retractions
            BEGIN SELECT RAISE(ABORT, 'retractions are append-only'); END;
    """),
    # each sample of each judge (--samples, --judge), stored as it finishes; the grade made of them is in `calls`
    # under `parent_key`, so every reader of `calls` still finds one grade per transcript and criterion
    ("006_sample_calls", """
        CREATE TABLE sample_calls (
            key TEXT PRIMARY KEY, parent_key TEXT NOT NULL, transcript_id TEXT NOT NULL, judge TEXT NOT NULL,
            sample INTEGER NOT NULL, status TEXT NOT NULL, level INTEGER, model TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL, cached_prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
            seconds REAL NOT NULL, attempts INTEGER NOT NULL, grade TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX sample_calls_by_parent ON sample_calls (parent_key);
    """),
]
CALL_COLUMNS = ("key, transcript_id, competency_id, criterion_id, status, level, model, prompt_version, prompt_tokens, "
                "cached_prompt_tokens, completion_tokens, seconds, attempts, grade, created_at")


class StoreError(GraderError):
    """The run store's database cannot be used (damaged, not a database, or held)."""


class ReadOnlyRunError(StoreError):
    """A write to a run folder that can only be read."""


READ_ONLY_FIX = "make the run folder writable (e.g. chmod -R u+w RUN), or copy it somewhere writable"


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    """A connection to the store: read-write, or read-only (immutable when the folder forbids the WAL's files)."""
    try:
        if not read_only:
            return sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                             isolation_level=None)
        try:
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return db
        except sqlite3.OperationalError:  # a WAL database in a folder where its -shm file cannot be made
            db.close()
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                   check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the run store ({exc})", path=path,
                         fix="give a run folder you can read (and write, to grade into it)") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunStore:
    """Thread-safe access to one run's database (opened by `grader.runs.folder.RunFolder`).

    `read_only` opens it without writing anything, even in a read-only folder (there the WAL's
    shared-memory file cannot be made, so SQLite is told the file is immutable: nothing can write
    to a folder nobody may write to). A write to a read-only store is a `ReadOnlyRunError`.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.Lock()
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = _connect(self.path, read_only)
        try:
            if read_only:
                self._check_migrated()
            else:
                self._setup()
        except GraderError:
            self._db.close()
            raise

    def _setup(self) -> None:
        with self.connection() as db:
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _migrate(self) -> None:
        with self.connection() as db:
            db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
            done = {row[0] for row in db.execute("SELECT name FROM migrations")}
            for name, sql in MIGRATIONS:
                if name not in done:
                    record = f"INSERT INTO migrations VALUES ('{name}', '{_now()}');"
                    db.executescript(f"BEGIN; {sql} {record} COMMIT;")

    def _check_migrated(self) -> None:
        """A store opened read-only cannot be migrated: it must have every migration already."""
        with self.connection() as db:
            db.execute("PRAGMA busy_timeout=10000")
            done = {row[0] for row in db.execute("SELECT name FROM migrations")}
        missing = [name for name, _ in MIGRATIONS if name not in done]
        if missing:
            raise ReadOnlyRunError(f"the run store was written by an older grader and lacks {', '.join(missing)}, "
                                   "which cannot be added to a read-only run folder", path=self.path,
                                   fix="make the folder writable once (any grader command then updates it), or "
                                       "copy it somewhere writable")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; a damaged database file becomes a clear error, not a traceback."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.IntegrityError:
                raise
            except sqlite3.DatabaseError as exc:
                if self.read_only and "readonly" in str(exc):
                    raise ReadOnlyRunError("the run folder is read-only, so nothing can be written to it",
                                           path=self.path.parent, fix=READ_ONLY_FIX) from None
                raise StoreError(f"the run store cannot be read or written ({exc})", path=self.path,
                                 fix="if the file was damaged (truncated, overwritten), restore it from a copy or "
                                     "grade into a new --run folder; if another program holds it, wait") from None

    @contextlib.contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, in one transaction: all of it is written, or none.

        `immediate` takes SQLite's write lock at the start, so a check and the write it allows are
        atomic across processes (two review servers on one run).
        """
        if self.read_only:
            raise ReadOnlyRunError("the run folder is read-only, so nothing can be written to it",
                                   path=self.path.parent, fix=READ_ONLY_FIX)
        with self.connection() as db:
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- the cache protocol of grader.grading.grade -------------------------------------------------------
    def get(self, key: str) -> CriterionGrade | None:
        with self.connection() as db:
            row = db.execute("SELECT grade FROM calls WHERE key = ?", (key,)).fetchone()
        return self._grade(row[0]) if row else None

    def _grade(self, text: str) -> CriterionGrade:
        try:
            return CriterionGrade.model_validate_json(text)
        except ValueError as exc:
            raise StoreError(f"a stored grade is not readable ({' '.join(str(exc).split())[:200]})", path=self.path,
                             fix="restore the run store from a copy, or grade into a new --run folder") from None

    def link(self, key: str, transcript_id: str) -> None:
        """File a stored call under one more transcript (one with the same text): it gets its own rows."""
        with self.connection() as db:
            db.execute("INSERT OR IGNORE INTO transcript_calls VALUES (?, ?)", (transcript_id, key))

    def put(self, key: str, transcript_id: str, grade: CriterionGrade) -> None:
        u = grade.usage
        if grade.reason:
            grade = grade.model_copy(update={"reason": scrub(grade.reason)})
        with self.transaction() as db:  # the call and its transcript link
            db.execute(f"INSERT OR REPLACE INTO calls ({CALL_COLUMNS}) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (key, transcript_id, grade.competency_id, grade.criterion_id, grade.status.value,
                        grade.level, grade.model, grade.prompt_version, u.prompt_tokens, u.cached_prompt_tokens,
                        u.completion_tokens, grade.seconds, grade.attempts, grade.model_dump_json(), _now()))
            db.execute("INSERT OR IGNORE INTO transcript_calls VALUES (?, ?)", (transcript_id, key))

    # -- samples of one criterion (--samples, --judge): each stored as it finishes ---------------------------
    def get_sample(self, key: str) -> SampleGrade | None:
        with self.connection() as db:
            row = db.execute("SELECT grade FROM sample_calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return SampleGrade.model_validate_json(row[0])
        except ValueError as exc:
            raise StoreError(f"a stored sample is not readable ({' '.join(str(exc).split())[:200]})",
                             path=self.path, fix="restore the run store from a copy, or grade into a new --run "
                                                 "folder") from None

    def put_sample(self, key: str, parent: str, transcript_id: str, sample: SampleGrade) -> None:
        """Store one sample under its own key; `parent` is the key its criterion's grade will have."""
        u = sample.usage
        if sample.reason:
            sample = sample.model_copy(update={"reason": scrub(sample.reason)})
        with self.connection() as db:
            db.execute("INSERT OR REPLACE INTO sample_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (key, parent, transcript_id, sample.judge, sample.sample, sample.status.value, sample.level,
                        sample.model, u.prompt_tokens, u.cached_prompt_tokens, u.completion_tokens, sample.seconds,
                        sample.attempts, sample.model_dump_json(), _now()))

    def sample_totals(self) -> dict[str, int]:
        """Sample calls stored, and how many of them failed (a run without samples has none)."""
        with self.connection() as db:
            row = db.execute("SELECT COUNT(*), COALESCE(SUM(status = 'unscored'), 0) FROM sample_calls").fetchone()
        return {"samples": row[0], "samples_unscored": row[1]}

    # -- the run manifest (grader.runs.manifest): written once, never replaced ----------------------------
    def manifest_json(self) -> str | None:
        with self.connection() as db:
            row = db.execute("SELECT body FROM manifest WHERE id = 1").fetchone()
        return row[0] if row else None

    def write_manifest(self, body: str) -> bool:
        """Store the manifest unless the run has one; True when this call wrote it."""
        with self.connection() as db:
            cursor = db.execute("INSERT OR IGNORE INTO manifest VALUES (1, ?, ?)", (body, _now()))
        return cursor.rowcount == 1

    def has_calls(self) -> bool:
        with self.connection() as db:
            return db.execute("SELECT 1 FROM calls LIMIT 1").fetchone() is not None

    # -- transcripts --------------------------------------------------------------------------------
    def set_meta(self, values: dict[str, Any]) -> None:
        with self.connection() as db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                 [(k, json.dumps(v)) for k, v in values.items()])

    def meta(self) -> dict[str, Any]:
        with self.connection() as db:
            return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}

    def mark_transcript(self, transcript_id: str, source: str, status: str, *, transcript_hash: str | None = None,
                        error: str | None = None, sheet: str | None = None) -> None:
        with self.connection() as db:
            db.execute("INSERT OR REPLACE INTO transcripts VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (transcript_id, source, status, transcript_hash, error and scrub(error), sheet, _now()))

    def transcript_status(self, transcript_id: str) -> str | None:
        return (self.transcript_state(transcript_id) or (None, None))[0]

    def transcript_state(self, transcript_id: str) -> tuple[str, str | None] | None:
        """(status, content hash of the text graded) of a transcript, or None when the run has not seen it."""
        with self.connection() as db:
            row = db.execute("SELECT status, transcript_hash FROM transcripts WHERE transcript_id = ?",
                             (transcript_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def unscored_calls(self, transcript_id: str) -> int:
        """How many calls filed under the transcript are unscored (what --retry-failed would send again)."""
        with self.connection() as db:
            row = db.execute("SELECT COUNT(*) FROM transcript_calls tc JOIN calls c ON c.key = tc.key "
                             "WHERE tc.transcript_id = ? AND c.status = 'unscored'", (transcript_id,)).fetchone()
            samples = db.execute("SELECT COUNT(*) FROM transcript_calls tc JOIN sample_calls s ON "
                                 "s.parent_key = tc.key WHERE tc.transcript_id = ? AND s.status = 'unscored'",
                                 (transcript_id,)).fetchone()
        return int(row[0]) + int(samples[0])  # a failed sample of a grade counts too (--samples, --judge)

    def finish_transcript(self, transcript_id: str, source: str, transcript_hash: str, sheet: str,
                          keys: set[str]) -> None:
        """Mark a transcript done with its sheet, and file under it only the calls of that sheet.

        One transaction: a transcript graded again after its file changed keeps no rows of the
        old text in exports (the old calls stay in the store under their own keys).
        """
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO transcripts VALUES (?, ?, 'done', ?, NULL, ?, ?)",
                       (transcript_id, source, transcript_hash, sheet, _now()))
            linked = [r[0] for r in db.execute("SELECT key FROM transcript_calls WHERE transcript_id = ?",
                                               (transcript_id,))]
            db.executemany("DELETE FROM transcript_calls WHERE transcript_id = ? AND key = ?",
                           [(transcript_id, k) for k in linked if k not in keys])

    def dead_letters(self) -> list[tuple[str, str, str]]:
        """(transcript or call, where, reason) of everything that failed for good."""
        with self.connection() as db:
            bad = [("transcript", src, err or "") for src, err in db.execute(
                "SELECT source, error FROM transcripts WHERE status = 'failed' ORDER BY source")]
            calls = [("call", f"{tid} / {cid}", json.loads(grade)["reason"] or "") for tid, cid, grade in
                     db.execute("SELECT tc.transcript_id, c.criterion_id, c.grade FROM transcript_calls tc "
                                      "JOIN calls c ON c.key = tc.key WHERE c.status = 'unscored' "
                                      "ORDER BY tc.transcript_id, c.criterion_id")]
            # a sample that failed where its criterion still got a grade (a failed grade is listed above)
            samples = [("sample", f"{tid} / {cid} / judge {judge} sample {n}", json.loads(grade)["reason"] or "")
                       for tid, cid, judge, n, grade in db.execute(
                           "SELECT tc.transcript_id, c.criterion_id, s.judge, s.sample, s.grade FROM transcript_calls "
                           "tc JOIN calls c ON c.key = tc.key JOIN sample_calls s ON s.parent_key = c.key "
                           "WHERE s.status = 'unscored' AND c.status != 'unscored' "
                           "ORDER BY tc.transcript_id, c.criterion_id, s.judge, s.sample")]
        return bad + calls + samples

    def sheet_ids(self) -> list[str]:
        """The ids of the finished transcripts, in order."""
        with self.connection() as db:
            return [r[0] for r in db.execute(
                "SELECT transcript_id FROM transcripts WHERE status = 'done' ORDER BY transcript_id")]

    def sheet_json(self, transcript_id: str) -> tuple[str, str] | None:
        """(sheet JSON, when it was stored) of a finished transcript, or None."""
        with self.connection() as db:
            row = db.execute("SELECT sheet, updated_at FROM transcripts WHERE transcript_id = ? AND status = 'done'",
                             (transcript_id,)).fetchone()
        return (row[0], row[1]) if row else None

    def sheets(self) -> Iterator[str]:
        """The JSON of every finished score sheet, one at a time (memory stays flat)."""
        for transcript_id in self.sheet_ids():
            found = self.sheet_json(transcript_id)
            if found is not None:
                yield found[0]

    def totals(self) -> dict[str, int | float]:
        with self.connection() as db:
            row = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(status = 'unscored'), 0), COALESCE(SUM(prompt_tokens), 0), "
                "COALESCE(SUM(cached_prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
                "COALESCE(SUM(seconds), 0) FROM calls").fetchone()
            transcripts = dict(db.execute("SELECT status, COUNT(*) FROM transcripts GROUP BY status").fetchall())
        return {"calls": row[0], "unscored": row[1], "prompt_tokens": row[2], "cached_prompt_tokens": row[3],
                "completion_tokens": row[4], "call_seconds": row[5], "transcripts_done": transcripts.get("done", 0),
                "transcripts_failed": transcripts.get("failed", 0)}

    def grades(self) -> Iterator[tuple[dict[str, Any], CriterionGrade]]:
        """Every stored call: its row and its grade."""
        for row in self.call_rows():
            yield row, self._grade(row["grade"])

    def call_rows(self) -> Iterator[dict[str, Any]]:
        """One row per transcript and stored call, for exports: a call shared by two ids with the same text
        gives each of them its row."""
        with self.connection() as db:
            columns = ", ".join("tc.transcript_id" if c == "transcript_id" else f"c.{c}"
                                for c in CALL_COLUMNS.split(", "))
            cursor = db.execute(f"SELECT {columns} FROM transcript_calls tc JOIN calls c ON c.key = tc.key "
                                      "ORDER BY tc.transcript_id, c.competency_id, c.criterion_id")
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        for row in rows:
            yield dict(zip(names, row, strict=True))
