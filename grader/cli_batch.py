"""`grader batch` and `grader export`: many transcripts into one resumable run, and what comes out of it."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from grader.backend import Backend, open_backend
from grader.batch import BatchJob, BatchOptions, BatchStats
from grader.cli import (
    DEFAULT_RUBRIC,
    ApiKey,
    BaseUrl,
    LevelProbs,
    Model,
    ReplyChoice,
    ReplyKind,
    _counter,
    _roles,
    app,
    err,
    fail,
    out,
)
from grader.cost import PriceTable, load_prices
from grader.errors import GraderError
from grader.formats import FORMATS
from grader.inputs import TranscriptSource, iter_sources
from grader.prompts import DEFAULT_PROMPT, PromptTemplate, load_prompt
from grader.provider_batch import ingest, submit, wait, write_requests
from grader.rubric import Rubric, load_rubric
from grader.scoring import Settings
from grader.store import RunStore
from grader.transcript import Role

RUN_DB = "run.sqlite"


@app.command()
def batch(
    inputs: Annotated[list[str], typer.Argument(help="files, folders, globs ('data/*.vtt') or dataset CSVs")],
    run: Annotated[Path, typer.Option(help="run folder (created; an existing one is resumed)")],
    rubric: Annotated[Path, typer.Option(help="rubric YAML file")] = DEFAULT_RUBRIC,
    concurrency: Annotated[int, typer.Option(min=1, help="transcripts graded at once")] = 1,
    rpm: Annotated[float | None, typer.Option(help="requests-per-minute limit")] = None,
    tpm: Annotated[float | None, typer.Option(help="tokens-per-minute limit")] = None,
    retry_failed: Annotated[bool, typer.Option(help="retry only the failed transcripts and unscored calls")] = False,
    prices: Annotated[Path | None, typer.Option(help="price table YAML (USD per million tokens)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help=f"one of {', '.join(FORMATS)}")] = None,
    id_column: Annotated[str, typer.Option(help="id column of a dataset CSV")] = "interview_id",
    text_column: Annotated[str, typer.Option(help="transcript column of a dataset CSV")] = "transcript",
    candidate: Annotated[list[str], typer.Option(help="speaker name of the candidate")] = [],  # noqa: B006
    interviewer: Annotated[list[str], typer.Option(help="speaker name of an interviewer")] = [],  # noqa: B006
    limit: Annotated[int | None, typer.Option(help="grade only the first N transcripts")] = None,
    prompt: Annotated[Path, typer.Option(help="prompt template file")] = DEFAULT_PROMPT,
    base_url: BaseUrl = None, model: Model = None, api_key: ApiKey = None,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 7,
    reasks: Annotated[int, typer.Option(help="re-asks after a reply that fails validation")] = 1,
    provider_batch: Annotated[bool, typer.Option(help="send the calls through the OpenAI Batch API "
                                                      "(half price, up to 24 h; no re-asks)")] = False,
    poll_seconds: Annotated[float, typer.Option(help="how often to poll a provider batch")] = 60.0,
    level_probs: LevelProbs = False,
    reply: ReplyKind = ReplyChoice.full,
) -> None:
    """Grade many transcripts into a run folder (SQLite run store + score sheets); rerun to resume."""
    request = BatchRequest(inputs=inputs, run=run, rubric=rubric, prompt=prompt, prices=prices, fmt=fmt,
                           id_column=id_column, text_column=text_column, roles=_roles(candidate, interviewer),
                           limit=limit, base_url=base_url, model=model, api_key=api_key, seed=seed, reasks=reasks,
                           provider_batch=provider_batch, poll_seconds=poll_seconds,
                           level_probs=level_probs, reply=reply.value,
                           options=BatchOptions(concurrency=concurrency, requests_per_minute=rpm,
                                                tokens_per_minute=tpm, retry_failed=retry_failed,
                                                sheets_dir=run / "sheets"))
    try:
        stats, store = run_batch(request)
    except GraderError as exc:
        fail(exc)
        raise typer.Exit(2) from None
    _print_summary(stats, store)
    if stats.transcripts_failed or stats.calls_failed:
        raise typer.Exit(1)


@dataclass
class BatchRequest:
    """Everything `grader batch` was asked to do."""

    inputs: list[str]
    run: Path
    rubric: Path
    prompt: Path
    prices: Path | None
    fmt: str | None
    id_column: str
    text_column: str
    roles: dict[str, Role]
    limit: int | None
    base_url: str | None
    model: str | None
    api_key: str | None
    seed: int
    reasks: int
    options: BatchOptions
    provider_batch: bool = False
    poll_seconds: float = 60.0
    level_probs: bool = False
    reply: str = "full"


def run_batch(req: BatchRequest) -> tuple[BatchStats, RunStore]:
    rubric, prompt, prices = load_rubric(req.rubric), load_prompt(req.prompt), load_prices(req.prices)
    sources = list(itertools.islice(iter_sources(req.inputs, fmt=req.fmt, roles=req.roles, id_column=req.id_column,
                                                 text_column=req.text_column), req.limit))
    store = RunStore(req.run / RUN_DB)
    with open_backend(req.base_url, req.model, req.api_key, logprobs=req.level_probs) as backend:
        settings = Settings(model=backend.info.model, seed=req.seed, reasks=req.reasks,
                            prompt_cache_key=not backend.info.embedded, level_probs=req.level_probs,
                            reply=req.reply)
        store.set_meta({"rubric": str(req.rubric), "rubric_hash": rubric.content_hash(), "model": settings.model,
                        "server": backend.info.server, "prompt_version": prompt.version, "inputs": req.inputs})
        if req.provider_batch:
            _provider_batch(req, sources, rubric, prompt, settings, backend, store, prices)
        job = BatchJob(rubric=rubric, backend=backend, prompt=prompt, settings=settings, counter=_counter(backend),
                       store=store, prices=prices, options=req.options)
        with _progress() as progress:
            task = progress.add_task("transcripts", total=len(sources), status="")
            job.on_update = lambda: progress.update(task, completed=_finished(job.stats), status=_status(job.stats))
            asyncio.run(job.run(sources))
    return job.stats, store


def _provider_batch(req: BatchRequest, sources: list[TranscriptSource], rubric: Rubric, prompt: PromptTemplate,
                    settings: Settings, backend: Backend, store: RunStore, prices: PriceTable) -> None:
    """Submit what the store lacks as one provider batch (or resume the one submitted), wait, ingest."""
    if backend.info.embedded:
        raise GraderError("--provider-batch needs a provider's Batch API", where="--provider-batch",
                          fix="give --base-url of a server with the OpenAI Batch API (e.g. https://api.openai.com/v1)")
    jsonl = req.run / "batch-requests.jsonl"
    state = store.meta().get("provider_batch") or {}
    if not state or state.get("ingested"):
        count = write_requests(sources, rubric, prompt, settings, _counter(backend), backend.info.context_tokens,
                               store, jsonl)
        if not count:
            return
        state = {"id": submit(backend.client, jsonl), "requests": count, "ingested": False}
        store.set_meta({"provider_batch": state})
        err.print(f"submitted provider batch {state['id']} ({count} requests); waiting for it (rerun resumes it)")
    batch = wait(backend.client, state["id"], req.poll_seconds,
                 on_poll=lambda b: err.print(f"provider batch {b.id}: {b.status}", highlight=False))
    stored = ingest(backend.client, batch, jsonl.with_suffix(".manifest.jsonl"), {s.id: s for s in sources}, rubric,
                    prompt, settings, store)
    costs = [prices.cost(g.model, g.usage, batch=True) for g in stored]
    cost = None if None in costs else sum(c for c in costs if c is not None)
    store.set_meta({"provider_batch": {**state, "ingested": True, "status": batch.status, "cost": cost}})
    err.print(f"provider batch {batch.id} {batch.status}: {len(stored)} calls stored, cost {_usd(cost)} "
              "at the Batch API price")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[status]}"), console=err)


def _finished(stats: BatchStats) -> int:
    return stats.transcripts + stats.transcripts_failed + stats.transcripts_skipped


def _status(stats: BatchStats) -> str:
    cost = f"${stats.cost:.4f}" if stats.cost is not None else "cost n/a"
    failed = stats.calls_failed + stats.transcripts_failed
    return (f"calls {stats.calls} (cached {stats.calls_cached}) · failed {failed}"
            f" · tokens {stats.usage.prompt_tokens + stats.usage.completion_tokens:,} · {cost}")


def _print_summary(stats: BatchStats, store: RunStore) -> None:
    table = Table(title=f"run {store.path.parent}", show_header=False)
    hit = (f"{stats.cache_hit_rate:.1%}" if stats.cache_hit_rate is not None
           else "n/a (the server does not report cached tokens; evals/bench_batch.py measures llama.cpp's)")
    per = stats.cost / stats.transcripts if stats.cost is not None and stats.transcripts else None
    for name, value in [
        ("transcripts graded / skipped (done) / failed",
         f"{stats.transcripts} / {stats.transcripts_skipped} / {stats.transcripts_failed}"),
        ("calls sent / served from the run store / unscored",
         f"{stats.calls} / {stats.calls_cached} / {stats.calls_failed}"),
        ("prompt tokens (cached) / completion tokens",
         f"{stats.usage.prompt_tokens:,} ({stats.usage.cached_prompt_tokens:,}) / {stats.usage.completion_tokens:,}"),
        ("prompt cache hit rate", hit),
        ("cost this run / per transcript", f"{_usd(stats.cost)} / {_usd(per)}"),
    ]:
        table.add_row(name, value)
    out.print(table)
    for kind, where, reason in store.dead_letters():
        err.print(f"[yellow]failed {kind}[/] {where}: {reason}", highlight=False, soft_wrap=True)


def _usd(value: float | None) -> str:
    return f"${value:.4f}" if value is not None else "n/a (no price for this model)"


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="run folder")],
    to: Annotated[Path | None, typer.Option(help="a .csv or .parquet file: one row per transcript x criterion")] = None,
    sheets: Annotated[Path | None, typer.Option(help="folder to write every score sheet (JSON and Markdown)")] = None,
    rubric: Annotated[Path, typer.Option(help="rubric YAML file (for the Markdown sheets)")] = DEFAULT_RUBRIC,
) -> None:
    """Export a run's grades as a table, or its score sheets."""
    from grader.export import export_run, write_sheets  # pandas only when exporting

    try:
        if not (run / RUN_DB).is_file():
            raise GraderError("no run store here", path=run / RUN_DB, fix="give the --run folder of a batch")
        store = RunStore(run / RUN_DB)
        if to:
            err.print(f"wrote {export_run(store, to)} rows to {to}")
        if sheets:
            err.print(f"wrote {write_sheets(store, load_rubric(rubric), sheets)} score sheets to {sheets}")
    except GraderError as exc:
        fail(exc)
        raise typer.Exit(2) from None
