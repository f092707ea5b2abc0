"""A batch into a run folder: lock it, check or write its manifest, grade what it lacks.

`grader.Grader.batch` and `grader batch` both come here. The folder is held by one writer at a
time (`grader.runs.folder.RunFolder.hold`), and a run never mixes rubrics, prompts or settings: the
manifest written when the run was created is checked before any call is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import GraderError
from grader.grading.grades import Settings
from grader.grading.panel import Panel
from grader.grading.prompts import PromptTemplate
from grader.ingest.chunking import TokenCounter
from grader.ingest.inputs import TranscriptSource
from grader.ingest.rubric import Rubric
from grader.llm.backend import Backend
from grader.runs.batch import BatchJob, BatchStats, RunOptions
from grader.runs.cost import PriceTable
from grader.runs.folder import RunFolder, adopt_or_check
from grader.runs.manifest import RunManifest, build_manifest
from grader.runs.provider_batch import ingest, submit, wait, write_requests
from grader.runs.store import RunStore

Say = Callable[[str], None]


@dataclass(frozen=True)
class GradingSetup:
    """What grades every transcript of a run the same way: rubric, prompt, settings, server, token counter."""

    rubric: Rubric
    prompt: PromptTemplate
    settings: Settings
    backend: Backend
    counter: TokenCounter
    panel: Panel | None = None  # k samples of each judge (None: one call to `backend` per criterion)

    def manifest(self) -> RunManifest:
        return build_manifest(self.rubric, self.prompt, self.settings, self.backend.info,
                              self.panel.info if self.panel else None)


@dataclass
class BatchResult:
    """What a batch did: its counts, the run folder it wrote (another one with `new_run`), what failed."""

    stats: BatchStats
    run_dir: Path
    manifest: RunManifest
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)


def run_batch(setup: GradingSetup, sources: Iterable[TranscriptSource], folder: RunFolder, options: RunOptions,
              prices: PriceTable, *, on_update: Callable[[BatchStats], None] | None = None,
              say: Say = lambda _: None) -> BatchResult:
    """Grade the sources into the run folder; resumes what is there, refuses a run graded differently.

    The folder is held while the batch writes (a folder already held through this `RunFolder` stays held).
    """
    if options.provider_batch and setup.panel is not None:
        raise GraderError("--provider-batch sends one sample of one server per criterion", where="--provider-batch",
                          fix="leave out --samples and --judge, or --provider-batch")
    folder = _target(setup, folder, options, say)
    with folder.hold():
        store = folder.open_store(create=True)
        try:
            manifest = adopt_or_check(store, setup.manifest())
            stats = _grade(setup, list(sources), folder, store, options, prices, on_update, say)
            return BatchResult(stats=stats, run_dir=folder.path, manifest=manifest, dead_letters=store.dead_letters())
        finally:
            store.close()


def _target(setup: GradingSetup, folder: RunFolder, options: RunOptions, say: Say) -> RunFolder:
    """The folder to write: the one asked, or with `new_run` a fresh one when it holds a different run."""
    if not options.new_run or not folder.is_run():
        return folder
    with folder.read() as record:
        existing = record.manifest
    if existing is None or not existing.differences(setup.manifest()):
        return folder
    target = folder.next_free()
    say(f"{folder.path} holds a run graded differently; starting a new run in {target.path}")
    return target


def _grade(setup: GradingSetup, sources: list[TranscriptSource], folder: RunFolder, store: RunStore,
           options: RunOptions, prices: PriceTable, on_update: Callable[[BatchStats], None] | None,
           say: Say) -> BatchStats:
    if options.provider_batch:
        _provider_batch(setup, sources, folder, store, prices, options.poll_seconds, say)
    job = BatchJob(rubric=setup.rubric, backend=setup.backend, prompt=setup.prompt, settings=setup.settings,
                   counter=setup.counter, store=store, prices=prices, options=options,
                   sheets_dir=folder.sheets_dir if options.write_sheets else None, panel=setup.panel)
    job.stats.sources = len(sources)
    if on_update:
        job.on_update = lambda: on_update(job.stats)
        on_update(job.stats)  # the run is checked and about to start
    return asyncio.run(job.run(sources))


def _provider_batch(setup: GradingSetup, sources: list[TranscriptSource], folder: RunFolder, store: RunStore,
                    prices: PriceTable, poll_seconds: float, say: Say) -> None:
    """Submit what the store lacks as one provider batch (or resume the one submitted), wait, ingest."""
    backend, context = setup.backend, setup.backend.info.context_tokens
    if backend.info.embedded:
        raise GraderError("--provider-batch needs a provider's Batch API", where="--provider-batch",
                          fix="give --base-url of a server with the OpenAI Batch API (e.g. https://api.openai.com/v1)")
    jsonl = folder.provider_requests
    state = store.meta().get("provider_batch") or {}
    if not state or state.get("ingested"):
        count = write_requests(sources, setup.rubric, setup.prompt, setup.settings, setup.counter, context, store,
                               jsonl)
        if not count:
            return
        state = {"id": submit(backend.client, jsonl), "requests": count, "ingested": False}
        store.set_meta({"provider_batch": state})
        say(f"submitted provider batch {state['id']} ({count} requests); waiting for it (rerun resumes it)")
    batch = wait(backend.client, state["id"], poll_seconds, on_poll=lambda b: say(f"provider batch {b.id}: {b.status}"))
    stored = ingest(backend.client, batch, jsonl.with_suffix(".manifest.jsonl"), {s.id: s for s in sources},
                    setup.rubric, setup.prompt, setup.settings, store, setup.counter, context)
    costs = [prices.cost(g.model, g.usage, batch=True) for g in stored]
    cost = None if None in costs else sum(c for c in costs if c is not None)
    store.set_meta({"provider_batch": {**state, "ingested": True, "status": batch.status, "cost": cost}})
    say(f"provider batch {batch.id} {batch.status}: {len(stored)} calls stored, cost "
        f"{f'${cost:.4f}' if cost is not None else 'n/a (no price for this model)'} at the Batch API price")
