"""Batch grading: many transcripts into one run, with bounded concurrency, resumable and observable.

Transcripts are graded concurrently (`concurrency` at once, each in a worker thread); the criteria
of one transcript run back to back on its thread, so a llama.cpp server reuses the transcript's
prefix and a hosted API sees a stable prefix. Only `concurrency` sources are held at a time, so
memory stays flat in the number of transcripts. Every finished call is committed to the run store
at once; running the same batch again resumes from it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiolimiter import AsyncLimiter

from grader.errors import FatalBackendError, GraderError
from grader.grading.grade import grade_transcript
from grader.grading.grades import CriterionGrade, GradeStatus, SampleGrade, Settings, Usage
from grader.grading.panel import Panel
from grader.grading.prompts import PromptTemplate
from grader.grading.sheet import ScoreSheet
from grader.ingest.chunking import TokenCounter
from grader.ingest.inputs import TranscriptSource
from grader.ingest.rubric import Rubric
from grader.llm.backend import Backend
from grader.runs.cost import PriceTable
from grader.runs.store import RunStore, StoreError


@dataclass
class BatchStats:
    """Running totals, updated from worker threads (under a lock) and shown by the progress bar."""

    sources: int = 0  # transcripts asked for in this batch
    transcripts: int = 0
    transcripts_failed: int = 0
    transcripts_skipped: int = 0
    calls: int = 0
    calls_cached: int = 0
    calls_failed: int = 0
    usage: Usage = field(default_factory=Usage)
    # USD of the calls sent in this batch: 0.0 before the first for a model with a price (a resumed batch that
    # sends nothing costs $0), None for a model without one, whether or not calls were sent (set by BatchJob)
    cost: float | None = None
    # a call of this batch reported cached prompt tokens; until one does, the hit rate is unknown (a server that
    # does not report them, e.g. one without prompt caching), never a made-up 0%
    cache_reported: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_call(self, grade: CriterionGrade | SampleGrade, cost: float | None) -> None:
        with self.lock:
            self.calls += 1
            self.calls_failed += grade.status is GradeStatus.unscored
            self.usage += grade.usage
            self.cost = None if cost is None or self.cost is None else self.cost + cost
            self.cache_reported = self.cache_reported or grade.usage.cached_prompt_tokens > 0

    @property
    def cache_hit_rate(self) -> float | None:
        if not self.cache_reported or not self.usage.prompt_tokens:
            return None
        return self.usage.cached_prompt_tokens / self.usage.prompt_tokens


@dataclass(frozen=True)
class RunOptions:
    """How a batch runs (none of it changes a grade, so none of it is in the manifest)."""

    concurrency: int = 1
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    retry_failed: bool = False
    write_sheets: bool = True  # every finished sheet also as RUN/sheets/<id>.json and .md
    new_run: bool = False  # when the folder holds a run graded differently, start RUN-2 (RUN-3, ...) beside it
    provider_batch: bool = False
    poll_seconds: float = 60.0


class _StoreCache:
    """The run store as grade cache, counting calls and cost as they finish."""

    def __init__(self, store: RunStore, stats: BatchStats, prices: PriceTable, on_update: Callable[[], None]) -> None:
        self.store, self.stats, self.prices, self.on_update = store, stats, prices, on_update
        self.keys: set[str] = set()  # every call this transcript's sheet rests on

    def get(self, key: str) -> CriterionGrade | None:
        self.keys.add(key)
        return self.store.get(key)

    def reuse(self, key: str, transcript_id: str) -> None:
        """Served from the store (not sent): counted as such, and filed under this transcript too."""
        self.store.link(key, transcript_id)
        with self.stats.lock:
            self.stats.calls_cached += 1

    def put(self, key: str, transcript_id: str, grade: CriterionGrade) -> None:
        self.store.put(key, transcript_id, grade)
        if not grade.samples:  # a grade made of samples: each sample was counted as it was sent
            self.stats.add_call(grade, self.prices.cost(grade.model, grade.usage))
        self.on_update()

    def get_sample(self, key: str) -> SampleGrade | None:
        return self.store.get_sample(key)

    def reuse_sample(self, key: str, transcript_id: str) -> None:
        with self.stats.lock:
            self.stats.calls_cached += 1

    def put_sample(self, key: str, parent: str, transcript_id: str, sample: SampleGrade) -> None:
        self.store.put_sample(key, parent, transcript_id, sample)
        self.stats.add_call(sample, self.prices.cost(sample.model, sample.usage))
        self.on_update()


class RateLimits:
    """Requests-per-minute and tokens-per-minute limits (aiolimiter), usable from worker threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rpm: float | None, tpm: float | None) -> None:
        self.loop = loop
        self.rpm = AsyncLimiter(rpm, 60) if rpm else None
        self.tpm = AsyncLimiter(tpm, 60) if tpm else None
        self.tpm_max = tpm or 0

    async def _acquire(self, tokens: int) -> None:
        if self.rpm:
            await self.rpm.acquire()
        if self.tpm:
            await self.tpm.acquire(min(tokens, self.tpm_max))

    def wait(self, tokens: int) -> None:
        if self.rpm or self.tpm:
            asyncio.run_coroutine_threadsafe(self._acquire(tokens), self.loop).result()


@dataclass
class BatchJob:
    rubric: Rubric
    backend: Backend
    prompt: PromptTemplate
    settings: Settings
    counter: TokenCounter
    store: RunStore
    prices: PriceTable
    options: RunOptions
    sheets_dir: Path | None = None  # where finished sheets are also written (None: only the store)
    panel: Panel | None = None  # k samples of each judge per criterion (None: one call to `backend`)
    stats: BatchStats = field(default_factory=BatchStats)
    on_update: Callable[[], None] = lambda: None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)  # set by a fatal backend error

    def __post_init__(self) -> None:
        if not self.stats.calls:  # nothing sent yet: $0 for a model with a price, unknown (None) for one without
            self.stats.cost = 0.0 if self.prices.has_price(self.settings.model) else None

    def grade_source(self, source: TranscriptSource, limits: RateLimits) -> None:
        """Grade one transcript into the store; a bad transcript becomes a dead letter, not a crash.

        Anything that goes wrong with this one transcript (its file, or an unexpected error while
        grading it) is recorded as its failure and the batch goes on; a refused key stops the batch.
        """
        if self._stop.is_set():
            return None
        earlier = self._earlier_outcome(source)
        if earlier:  # a failure of an earlier run still counts as this run's failure (exit status, summary)
            with self.stats.lock:
                if earlier == "failed":
                    self.stats.transcripts_failed += 1
                else:
                    self.stats.transcripts_skipped += 1
            return self.on_update()
        try:
            self._grade(source, limits)
        except FatalBackendError:  # a refused key or a crashed server: no other transcript can be graded either
            self._stop.set()
            raise
        except (_Stopped, StoreError):
            raise
        except GraderError as exc:
            self._fail(source, str(exc))
        except Exception as exc:  # a bug or a file no parser foresaw: this transcript fails, the batch goes on
            self._fail(source, f"{source.where}: could not be graded ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:300]}); check the file, and report it if it is valid")
        self.on_update()

    def _earlier_outcome(self, source: TranscriptSource) -> str | None:
        """What a resumed run keeps of this transcript: "done", "failed", or None (grade it now).

        Kept: a finished sheet of the same text with nothing unscored (also with --retry-failed, so
        its sheet is not rewritten), and a failure unless --retry-failed. A transcript whose text
        changed since it was graded is graded again; one whose file can no longer be read keeps its
        finished sheet.
        """
        state = self.store.transcript_state(source.id)
        if state is None:
            return None
        status, graded_hash = state
        if status == "failed":
            return None if self.options.retry_failed else status
        if status != "done" or (self.options.retry_failed and self.store.unscored_calls(source.id)):
            return None
        try:
            same = source.load().content_hash() == graded_hash
        except Exception:  # reading it again is only a check; the finished sheet stands
            same = True
        return "done" if same else None

    def _grade(self, source: TranscriptSource, limits: RateLimits) -> None:
        transcript = source.load()
        cache = _StoreCache(self.store, self.stats, self.prices, self.on_update)
        sheet = grade_transcript(transcript, self.rubric, self.backend, self.prompt, self.settings, self.counter,
                                 cache=cache, retry_failed=self.options.retry_failed,
                                 throttle=lambda tokens: self._before_call(tokens, limits), panel=self.panel)
        self._save(sheet, source, cache.keys)
        with self.stats.lock:
            self.stats.transcripts += 1

    def _before_call(self, tokens: int, limits: RateLimits) -> None:
        if self._stop.is_set():  # another transcript's call was refused (HTTP 401/403): send nothing more
            raise _Stopped
        limits.wait(tokens)

    def _fail(self, source: TranscriptSource, error: str) -> None:
        self.store.mark_transcript(source.id, source.where, "failed", error=error)
        with self.stats.lock:
            self.stats.transcripts_failed += 1

    def _save(self, sheet: ScoreSheet, source: TranscriptSource, keys: set[str]) -> None:
        if self.sheets_dir:
            sheet.write(self.sheets_dir, self.rubric)
        self.store.finish_transcript(source.id, source.where, sheet.run.transcript_hash, sheet.model_dump_json(), keys)

    async def run(self, sources: Iterable[TranscriptSource]) -> BatchStats:
        loop = asyncio.get_running_loop()
        limits = RateLimits(loop, self.options.requests_per_minute, self.options.tokens_per_minute)
        in_flight: set[asyncio.Future[None]] = set()
        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=self.options.concurrency, thread_name_prefix="grade") as pool:
            for source in sources:
                if len(in_flight) >= self.options.concurrency:
                    done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    errors += _raised(done)
                if errors or self._stop.is_set():
                    break
                in_flight.add(loop.run_in_executor(pool, self.grade_source, source, limits))
            if in_flight:
                done, _ = await asyncio.wait(in_flight)
                errors += _raised(done)
        first = next((e for e in errors if not isinstance(e, _Stopped)), None)
        if first is not None:
            raise first
        return self.stats


class _Stopped(Exception):
    """Raised before a call when the batch is stopping (a refused key): the transcript is left as it was."""


def _raised(done: set[asyncio.Future[None]]) -> list[BaseException]:
    """The exceptions of finished futures, every one retrieved (none is left "never retrieved")."""
    return [exc for future in done if (exc := future.exception()) is not None]
