"""A run folder, and `RunFolder`: the only code that knows its files, opens its store and holds its lock.

    run/
      run.sqlite          the run store (grades, transcripts, manifest, reviews; `grader.runs.store`)
      run.lock            the writer's lock; run.lock.json says who holds it
      sheets/             every finished score sheet (JSON and Markdown)
      batch-requests.jsonl   a provider batch's requests (`--provider-batch`)
      reviews-gold.csv    the reviews as gold labels, when the folder is given as --gold
      eval/, audit/       the reports' default folders

A batch holds the folder's lock (`run.lock`, the maintained `filelock` package: an OS lock that
dies with its process, so a killed batch leaves nothing to clean up) for as long as it writes; a
second batch on the same folder is refused at once, naming the process that holds it. Readers
(eval, export, audit, review) need no lock: SQLite in WAL mode lets them read while a batch writes,
and a folder they may not write to is opened read-only. Review, audit and agreement read and
write the run through a `RunFolder`, never by its file names.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from grader.errors import GraderError, RubricError
from grader.ingest.rubric import Rubric, load_rubric
from grader.runs.manifest import RunManifest, check_resume
from grader.runs.reviews import ReviewStore
from grader.runs.store import READ_ONLY_FIX, ReadOnlyRunError, RunStore

RUN_DB = "run.sqlite"
LOCK_FILE = "run.lock"
HOLDER_FILE = "run.lock.json"  # who holds the lock: for the message to a second writer
SHEETS_DIR = "sheets"
REVIEWS_GOLD_FILE = "reviews-gold.csv"
PROVIDER_REQUESTS = "batch-requests.jsonl"
_WROTE = "the folder `grader batch --run` wrote"


class RunBusyError(GraderError):
    """Another process is writing to this run folder."""


class RunFolder:
    """One run folder. `hold()` makes this object its writer; `open_store`, `read` and `reviews` open its store.

    The lock belongs to the object: holding it twice through the same `RunFolder` is a no-op, while
    another `RunFolder` (or process) on the same path is refused.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock: FileLock | None = None

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- its files ---------------------------------------------------------------------------------
    @property
    def db(self) -> Path:
        return self.path / RUN_DB

    @property
    def sheets_dir(self) -> Path:
        return self.path / SHEETS_DIR

    @property
    def provider_requests(self) -> Path:
        return self.path / PROVIDER_REQUESTS

    @property
    def reviews_gold(self) -> Path:
        return self.path / REVIEWS_GOLD_FILE

    def report_dir(self, kind: str) -> Path:
        """The default folder of a report about the run (`eval`, `audit`)."""
        return self.path / kind

    def is_run(self) -> bool:
        """Whether the folder holds a run store (a batch has written here)."""
        return self.path.is_dir() and self.db.is_file()

    # -- the writer's lock ---------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        return self._lock is not None

    @contextlib.contextmanager
    def hold(self) -> Iterator[RunFolder]:
        """Be the folder's one writer, or fail at once with who is; holding it again through this object is a no-op."""
        if self._lock is not None:
            yield self
            return
        lock = self._acquire()
        self._lock = lock
        try:
            _write_holder(self.path)
            yield self
        finally:
            self._lock = None
            (self.path / HOLDER_FILE).unlink(missing_ok=True)
            lock.release()

    def _acquire(self) -> FileLock:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.path / LOCK_FILE)
            lock.acquire(timeout=0)
        except Timeout:
            raise RunBusyError(f"another grader batch is writing to this run folder ({_holder(self.path)})",
                               path=self.path,
                               fix="wait for it to finish, or grade into another --run folder") from None
        except OSError as exc:
            raise ReadOnlyRunError(f"cannot write to the run folder ({exc.strerror or exc})", path=self.path,
                                   fix=f"{READ_ONLY_FIX}; or grade into another --run folder") from None
        return lock

    def holder(self) -> str | None:
        """Who holds the folder's writer lock (`process N on HOST, since ...`), or None when it is free."""
        if self._lock is not None:
            return f"this process ({os.getpid()})"
        if not (self.path / LOCK_FILE).exists():
            return None
        lock = FileLock(self.path / LOCK_FILE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return _holder(self.path)
        except OSError:  # a read-only folder: nobody can be writing to it
            return None
        lock.release()
        return None

    # -- its store -----------------------------------------------------------------------------------
    def open_store(self, *, create: bool = False) -> RunStore:
        """The run store for writing (`create`: a new run), or for reading where the folder is read-only.

        A clear error when there is none or it is not one.
        """
        if create:
            self._make_folder()
        else:
            self._check_store_file()
        try:
            return RunStore(self.db)
        except ReadOnlyRunError:
            raise
        except GraderError as exc:
            if not create and not _can_write(self.db):
                return self._read_only_store()
            if create:
                raise
            raise GraderError(f"not a readable run store ({exc.detail})", path=self.db,
                              fix="give the folder of a batch; regrade if the file was damaged") from None

    def _make_folder(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GraderError(f"cannot make the run folder ({exc.strerror or exc})", path=self.path,
                              fix="give a --run folder you can write to") from None

    def _check_store_file(self) -> None:
        if not self.db.is_file():
            raise GraderError("no run store here", path=self.db, fix=f"give the run folder of a batch ({_WROTE})")
        if self.db.stat().st_size == 0:  # SQLite would take it for a new, empty run
            raise GraderError("the run store is an empty file (0 bytes), not a run", path=self.db,
                              fix=f"give the run folder of a batch ({_WROTE}); restore the file from a copy if it "
                                  "was emptied")

    def _read_only_store(self) -> RunStore:
        try:
            return RunStore(self.db, read_only=True)
        except ReadOnlyRunError:
            raise
        except GraderError as exc:
            raise GraderError(f"not a readable run store ({exc.detail})", path=self.db,
                              fix="give the folder of a batch; regrade if the file was damaged") from None

    def read(self) -> RunRecord:
        """The run as readers see it: its store (read-only where the folder is) and its manifest."""
        store = self.open_store()
        try:
            manifest = read_manifest(store)
            if manifest is None and not store.meta() and not store.has_calls() \
                    and not store.totals()["transcripts_done"]:
                raise GraderError("no batch has graded anything into this run store", path=store.path,
                                  fix="give the run folder of a batch that has run")
        except GraderError:
            store.close()
            raise
        return RunRecord(folder=self, store=store, manifest=manifest)

    def reviews(self) -> ReviewStore:
        """The run's reviews and notes (closing it closes its store)."""
        return ReviewStore(self.open_store())

    def next_free(self) -> RunFolder:
        """`runs/june-2`, `runs/june-3`, ...: the first sibling folder without a run store."""
        for n in range(2, 10_000):
            candidate = RunFolder(self.path.with_name(f"{self.path.name}-{n}"))
            if not candidate.db.exists():
                return candidate
        raise GraderError("no free run folder name", path=self.path, fix="give another --run folder")


def _can_write(path: Path) -> bool:
    """Whether SQLite can open the file for writing (it says "readonly" or "unable to open" when not)."""
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        return "readonly" not in str(exc) and "unable to open" not in str(exc)
    except sqlite3.DatabaseError:
        return True  # damaged, not read-only: the caller reports it


def _write_holder(run_dir: Path) -> None:
    holder = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": datetime.now(UTC).isoformat(timespec="seconds")}
    (run_dir / HOLDER_FILE).write_text(json.dumps(holder), encoding="utf-8")


def _holder(run_dir: Path) -> str:
    try:
        holder = json.loads((run_dir / HOLDER_FILE).read_text(encoding="utf-8"))
        return f"process {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has just started"


def read_manifest(store: RunStore) -> RunManifest | None:
    body = store.manifest_json()
    try:
        return RunManifest.model_validate_json(body) if body else None
    except ValueError as exc:
        raise GraderError(f"the run's manifest is not readable ({' '.join(str(exc).split())[:200]})", path=store.path,
                          fix="restore the run store from a copy, or grade into a new --run folder") from None


def adopt_or_check(store: RunStore, asked: RunManifest) -> RunManifest:
    """The run's manifest: written now when the run is new, else checked against what is asked."""
    existing = read_manifest(store)
    if existing is None:
        _check_legacy(store, asked)
        store.write_manifest(asked.model_dump_json())
        existing = read_manifest(store)
    assert existing is not None
    check_resume(existing, asked, str(store.path.parent))
    return existing


def _check_legacy(store: RunStore, asked: RunManifest) -> None:
    """A run graded before manifests existed: resumable only with the rubric it recorded."""
    meta = store.meta()
    recorded = meta.get("rubric_hash")
    if store.has_calls() and recorded and recorded != asked.rubric_hash:
        raise GraderError(f"this run was graded with rubric hash {recorded}, not {asked.rubric_hash}",
                          path=store.path.parent, fix="grade with the run's rubric, or into another --run folder")


@dataclass(frozen=True)
class RunRecord:
    """A run as readers see it: its folder, its store and its manifest (None for a run graded before manifests).

    A context manager: leaving it closes the store.
    """

    folder: RunFolder
    store: RunStore
    manifest: RunManifest | None

    @property
    def path(self) -> Path:
        return self.folder.path

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> RunRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rubric(self, override: Rubric | str | Path | None = None) -> Rubric:
        """The run's rubric; `override` (a name or file) is accepted only when it is the same rubric.

        A run graded before manifests falls back to the rubric its batch recorded in the store's meta.
        """
        if self.manifest is None:
            return self._legacy_rubric(override if override is not None else self.store.meta().get("rubric"))
        rubric = self.manifest.rubric()
        if override is not None:
            given = _rubric(override)
            if given.content_hash() != rubric.content_hash():
                raise RubricError(f"the run was graded with rubric {rubric.id} (hash {rubric.content_hash()}), "
                                  f"not this one ({given.id}, hash {given.content_hash()})", path=str(override),
                                  where="--rubric", fix="leave --rubric out: the run's own rubric is used")
            return given
        return rubric

    def _legacy_rubric(self, override: Rubric | str | Path | None) -> Rubric:
        if override is None:
            raise RubricError("this run has no manifest (it was graded by an older grader), so its rubric is unknown",
                              path=self.path, fix="name the rubric it was graded with: --rubric NAME_OR_FILE")
        rubric = _rubric(override)
        recorded = self.store.meta().get("rubric_hash")
        if recorded and recorded != rubric.content_hash():
            raise RubricError(f"the run was graded with rubric hash {recorded}, not {rubric.content_hash()}",
                              path=str(override), where="--rubric", fix="give the rubric the run was graded with")
        return rubric


def _rubric(value: Rubric | str | Path) -> Rubric:
    return value if isinstance(value, Rubric) else load_rubric(value)


def as_folder(run: str | Path | RunFolder) -> RunFolder:
    """A run folder given as a path or already as a `RunFolder`."""
    return run if isinstance(run, RunFolder) else RunFolder(run)
