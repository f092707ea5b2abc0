"""A run folder: `run.sqlite` (the run store with its manifest), `sheets/`, and a lock for its one writer.

A batch holds the folder's lock (`run.lock`, the maintained `filelock` package: an OS lock that
dies with its process, so a killed batch leaves nothing to clean up) for as long as it writes; a
second batch on the same folder is refused at once, naming the process that holds it. Readers
(eval, export) need no lock: SQLite in WAL mode lets them read while a batch writes.
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
from grader.runs.store import RunStore

RUN_DB = "run.sqlite"
LOCK_FILE = "run.lock"
HOLDER_FILE = "run.lock.json"  # who holds the lock: for the message to a second writer
_HELD: dict[Path, int] = {}  # run folders this process holds, with a count (the lock is re-entrant here)


class RunBusyError(GraderError):
    """Another process is writing to this run folder."""


@contextlib.contextmanager
def hold_run(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's writer lock, or fail at once with who holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    key = run_dir.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    lock = FileLock(run_dir / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunBusyError(f"another grader batch is writing to this run folder ({_holder(run_dir)})", path=run_dir,
                           fix="wait for it to finish, or grade into another --run folder") from None
    _HELD[key] = 1
    try:
        _write_holder(run_dir)
        yield
    finally:
        del _HELD[key]
        (run_dir / HOLDER_FILE).unlink(missing_ok=True)
        lock.release()


def lock_holder(run_dir: Path) -> str | None:
    """Who holds the folder's writer lock (`process N on HOST, since ...`), or None when it is free."""
    if run_dir.resolve() in _HELD:
        return f"this process ({os.getpid()})"
    if not (run_dir / LOCK_FILE).exists():
        return None
    lock = FileLock(run_dir / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return _holder(run_dir)
    lock.release()
    return None


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


_WROTE = "the folder `grader batch --run` wrote"


def open_store(run_dir: Path, *, create: bool = False) -> RunStore:
    """The run store of a folder; a clear error when there is none or it is not one."""
    path = run_dir / RUN_DB
    if not create and not path.is_file():
        raise GraderError("no run store here", path=path, fix=f"give the run folder of a batch ({_WROTE})")
    if not create and path.stat().st_size == 0:  # SQLite would take it for a new, empty run
        raise GraderError("the run store is an empty file (0 bytes), not a run", path=path,
                          fix=f"give the run folder of a batch ({_WROTE}); restore the file from a copy if it was "
                              "emptied")
    try:
        return RunStore(path)
    except sqlite3.DatabaseError as exc:
        raise GraderError(f"not a readable run store ({exc})", path=path,
                          fix="give the folder of a batch; regrade if the file was damaged") from None


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


def next_free(run_dir: Path) -> Path:
    """`runs/june-2`, `runs/june-3`, ...: the first sibling folder without a run store."""
    for n in range(2, 10_000):
        candidate = run_dir.with_name(f"{run_dir.name}-{n}")
        if not (candidate / RUN_DB).exists():
            return candidate
    raise GraderError("no free run folder name", path=run_dir, fix="give another --run folder")


@dataclass(frozen=True)
class RunRecord:
    """A run as readers see it: its store and its manifest (None for a run graded before manifests)."""

    path: Path
    store: RunStore
    manifest: RunManifest | None

    def rubric(self, override: str | Path | None = None) -> Rubric:
        """The run's rubric; `override` (a name or file) is accepted only when it is the same rubric."""
        if self.manifest is None:
            return self._legacy_rubric(override)
        rubric = self.manifest.rubric()
        if override is not None:
            given = load_rubric(override)
            if given.content_hash() != rubric.content_hash():
                raise RubricError(f"the run was graded with rubric {rubric.id} (hash {rubric.content_hash()}), "
                                  f"not this one ({given.id}, hash {given.content_hash()})", path=str(override),
                                  where="--rubric", fix="leave --rubric out: the run's own rubric is used")
            return given
        return rubric

    def _legacy_rubric(self, override: str | Path | None) -> Rubric:
        if override is None:
            raise RubricError("this run has no manifest (it was graded by an older grader), so its rubric is unknown",
                              path=self.path, fix="name the rubric it was graded with: --rubric NAME_OR_FILE")
        rubric = load_rubric(override)
        recorded = self.store.meta().get("rubric_hash")
        if recorded and recorded != rubric.content_hash():
            raise RubricError(f"the run was graded with rubric hash {recorded}, not {rubric.content_hash()}",
                              path=str(override), where="--rubric", fix="give the rubric the run was graded with")
        return rubric


def read_run(run_dir: Path) -> RunRecord:
    store = open_store(run_dir)
    try:
        manifest = read_manifest(store)
        if manifest is None and not store.meta() and not store.has_calls() and not store.totals()["transcripts_done"]:
            raise GraderError("no batch has graded anything into this run store", path=store.path,
                              fix="give the run folder of a batch that has run")
    except GraderError:
        store.close()
        raise
    return RunRecord(path=run_dir, store=store, manifest=manifest)
