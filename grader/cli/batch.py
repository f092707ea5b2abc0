"""`grader batch` and `grader export`: many transcripts into one resumable run, and what comes out of it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from grader.api import Grader
from grader.cli.app import EXIT_USAGE, app, err, fail, on_interrupt, out, reports_errors
from grader.cli.options import (
    DEFAULT_PROMPT,
    DEFAULT_RUBRIC,
    ApiKey,
    BaseUrl,
    Candidate,
    Format,
    Interviewer,
    LevelProbs,
    Model,
    PromptName,
    Reasks,
    Redact,
    Reply,
    ReplyChoice,
    RubricName,
    RunRubric,
    Seed,
    Temperature,
    grading_options,
    positive,
    roles,
)
from grader.errors import FatalBackendError, GraderError
from grader.runs.batch import BatchStats
from grader.runs.folder import hold_run, read_run
from grader.runs.runner import BatchResult, RunOptions


@app.command()
@reports_errors
def batch(
    inputs: Annotated[list[str], typer.Argument(help="files, folders, globs ('data/*.vtt') or dataset CSVs")],
    run: Annotated[Path, typer.Option(file_okay=False, help="run folder (created; an existing one is resumed)")],
    rubric: RubricName = DEFAULT_RUBRIC,
    new_run: Annotated[bool, typer.Option(help="if --run holds a run graded with another rubric, prompt or "
                                               "settings, start a new folder beside it (RUN-2, ...) instead of "
                                               "refusing")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="transcripts graded at once")] = 1,
    rpm: Annotated[float | None, typer.Option(callback=positive, help="requests-per-minute limit")] = None,
    tpm: Annotated[float | None, typer.Option(callback=positive, help="tokens-per-minute limit")] = None,
    retry_failed: Annotated[bool, typer.Option(help="retry only the failed transcripts and unscored calls")] = False,
    prices: Annotated[Path | None, typer.Option(help="price table YAML (USD per million tokens)")] = None,
    fmt: Format = None,
    id_column: Annotated[str, typer.Option(help="id column of a dataset CSV")] = "interview_id",
    text_column: Annotated[str, typer.Option(help="transcript column of a dataset CSV")] = "transcript",
    candidate: Candidate = [], interviewer: Interviewer = [],  # noqa: B006
    limit: Annotated[int | None, typer.Option(min=1, help="grade only the first N transcripts")] = None,
    prompt: PromptName = DEFAULT_PROMPT,
    base_url: BaseUrl = None, model: Model = None, api_key: ApiKey = None,
    seed: Seed = 7, temperature: Temperature = 0.0, reasks: Reasks = 1, level_probs: LevelProbs = False,
    reply: Reply = ReplyChoice.full, redact: Redact = None,
    provider_batch: Annotated[bool, typer.Option(help="send the calls through the OpenAI Batch API "
                                                      "(half price, up to 24 h; no re-asks)")] = False,
    poll_seconds: Annotated[float, typer.Option(callback=positive, help="how often to poll a provider batch")] = 60.0,
    follow_links: Annotated[bool, typer.Option(help="read files that links in a FOLDER or glob point to outside "
                                                    "it (by default such links are recorded as failed, "
                                                    "not read)")] = False,
) -> None:
    """Grade many transcripts into a run folder (SQLite run store + score sheets); rerun to resume."""
    options = RunOptions(concurrency=concurrency, requests_per_minute=rpm, tokens_per_minute=tpm,
                         retry_failed=retry_failed, new_run=new_run, provider_batch=provider_batch,
                         poll_seconds=poll_seconds)
    sampling = grading_options(seed, temperature, reasks, level_probs, reply, redact)
    with _resumable(run), _held(run, new_run), Grader(rubric, base_url=base_url, model=model, api_key=api_key,
                                                      prompt=prompt, options=sampling) as grader, _Bar() as bar:
        result = grader.batch(inputs, run, options=options, limit=limit, prices=prices, fmt=fmt,
                              roles=roles(candidate, interviewer), id_column=id_column, text_column=text_column,
                              on_update=bar.update, say=lambda text: err.print(text, highlight=False, markup=False),
                              follow_links=follow_links)
    _print_summary(result)
    if result.stats.transcripts_failed or result.stats.calls_failed:
        raise typer.Exit(1)


@contextlib.contextmanager
def _resumable(run: Path) -> Iterator[None]:
    try:
        with on_interrupt(f"every finished call is kept in {run}; run the same command to resume (nothing is "
                          "graded twice)"):
            yield
    except FatalBackendError as exc:
        fail(exc)
        err.print(f"every finished call is kept in {run}; the same command resumes the rest", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def _held(run: Path, new_run: bool) -> contextlib.AbstractContextManager[None]:
    """Lock the run folder before a server starts, so that a second batch on it is refused at once.

    With --new-run the folder written may be another one, which the batch then locks itself.
    """
    return contextlib.nullcontext() if new_run else hold_run(run)


class _Bar:
    """The progress bar, shown from the run's first update on: a refused batch prints only its error."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[status]}"), console=err)
        self.task: TaskID | None = None
        self.lock = threading.Lock()  # updates come from the worker threads

    def update(self, stats: BatchStats) -> None:
        with self.lock:
            if self.task is None:
                self.progress.start()
                self.task = self.progress.add_task("transcripts", total=stats.sources, status="")
            self.progress.update(self.task, completed=_finished(stats), status=_status(stats))

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _finished(stats: BatchStats) -> int:
    return stats.transcripts + stats.transcripts_failed + stats.transcripts_skipped


def _status(stats: BatchStats) -> str:
    cost = f"${stats.cost:.4f}" if stats.cost is not None else "cost n/a"
    failed = stats.calls_failed + stats.transcripts_failed
    return (f"calls {stats.calls} (cached {stats.calls_cached}) · failed {failed}"
            f" · tokens {stats.usage.prompt_tokens + stats.usage.completion_tokens:,} · {cost}")


def _print_summary(result: BatchResult) -> None:
    stats = result.stats
    table = Table(title=f"run {result.run_dir}", show_header=False)
    hit = (f"{stats.cache_hit_rate:.1%}" if stats.cache_hit_rate is not None
           else "n/a (the server does not report cached tokens; evals/bench_batch.py measures llama.cpp's)")
    per = _usd(stats.cost / stats.transcripts if stats.cost is not None else None) if stats.transcripts \
        else "– (none graded this time)"
    for name, value in [
        ("transcripts graded / skipped (done) / failed",
         f"{stats.transcripts} / {stats.transcripts_skipped} / {stats.transcripts_failed}"),
        ("calls sent / served from the run store / unscored",
         f"{stats.calls} / {stats.calls_cached} / {stats.calls_failed}"),
        ("prompt tokens (cached) / completion tokens",
         f"{stats.usage.prompt_tokens:,} ({stats.usage.cached_prompt_tokens:,}) / {stats.usage.completion_tokens:,}"),
        ("prompt cache hit rate", hit),
        ("cost this run / per transcript", f"{_usd(stats.cost)} / {per}"),
    ]:
        table.add_row(name, value)
    out.print(table)
    for kind, where, reason in result.dead_letters:
        err.print(Text.assemble((f"failed {kind}", "yellow"), f" {where}: {reason}"), highlight=False, soft_wrap=True)


def _usd(value: float | None) -> str:
    return f"${value:.4f}" if value is not None else "n/a (no price for this model)"


@app.command()
@reports_errors
def export(
    run: Annotated[Path, typer.Argument(help="run folder")],
    to: Annotated[Path | None, typer.Option(help="a .csv or .parquet file: one row per transcript x criterion, "
                                                 "with the current review beside the model's level")] = None,
    sheets: Annotated[Path | None, typer.Option(help="folder to write every score sheet (JSON and Markdown)")] = None,
    rubric: RunRubric = None,
    html: Annotated[Path | None, typer.Option(help="folder to write one self-contained HTML sheet per transcript "
                                                   "(read-only, printable, with the reviews)")] = None,
) -> None:
    """Export a run's grades as a table, or its score sheets."""
    from grader.review.gold import with_reviews
    from grader.runs.export import run_dataframe, write_sheets, write_table  # pandas only when exporting

    if not (to or sheets or html):
        raise GraderError("nothing to export", where="grader export",
                          fix="add --to FILE.csv|.parquet, --sheets FOLDER or --html FOLDER")
    record = read_run(run)
    # a --rubric given is refused unless it is the run's (older runs without a manifest need it for sheets)
    rubric_checked = record.rubric(rubric) if rubric is not None or sheets else None
    if to:
        frame = with_reviews(run_dataframe(record.store), record.store.path)
        err.print(f"wrote {write_table(frame, to)} rows to {to}")
    if sheets:
        assert rubric_checked is not None
        err.print(f"wrote {write_sheets(record.store, rubric_checked, sheets)} score sheets to {sheets}")
    if html:
        from grader.review.static_export import write_html_sheets

        err.print(f"wrote {write_html_sheets(run, html, rubric)} HTML sheets and index.html to {html}")
