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

from grader.api import (
    BatchResult,
    BatchStats,
    FatalBackendError,
    GraderError,
    batch,
    export_html,
    export_sheets,
    export_table,
)
from grader.cli.app import EXIT_INCOMPLETE, EXIT_USAGE, app, err, fail, on_interrupt, out, renamed, reports_errors
from grader.cli.options import (
    Concurrency,
    GradingFlags,
    Rpm,
    RunRubric,
    Tpm,
    grading_options,
    one_server,
    positive,
    settings,
)


@app.command(name="batch")
@reports_errors
@grading_options
def batch_command(
    inputs: Annotated[list[str], typer.Argument(help="files, folders, globs ('data/*.vtt') or dataset CSVs")],
    run: Annotated[Path, typer.Option(file_okay=False, help="run folder (created; an existing one is resumed)")],
    new_run: Annotated[bool, typer.Option(help="if --run holds a run graded with another rubric, prompt or "
                                               "settings, start a new folder beside it (RUN-2, ...) instead of "
                                               "refusing")] = False,
    concurrency: Concurrency = None, rpm: Rpm = None, tpm: Tpm = None,
    retry_failed: Annotated[bool, typer.Option(help="retry only the failed transcripts and unscored calls")] = False,
    prices: Annotated[Path | None, typer.Option(help="price table YAML (USD per million tokens)")] = None,
    dataset_id_column: Annotated[str, typer.Option(help="id column of a dataset CSV")] = "interview_id",
    id_column: Annotated[str | None, typer.Option("--id-column", hidden=True,
                                                  help="old name of --dataset-id-column")] = None,
    text_column: Annotated[str, typer.Option(help="transcript column of a dataset CSV")] = "transcript",
    limit: Annotated[int | None, typer.Option(min=1, help="grade only the first N transcripts")] = None,
    provider_batch: Annotated[bool, typer.Option(help="send the calls through the OpenAI Batch API "
                                                      "(half price, up to 24 h; no re-asks)")] = False,
    poll_seconds: Annotated[float, typer.Option(callback=positive, help="how often to poll a provider batch")] = 60.0,
    follow_links: Annotated[bool, typer.Option(help="read files that links in a FOLDER or glob point to outside "
                                                    "it (by default such links are recorded as failed, "
                                                    "not read)")] = False,
    *, grading: GradingFlags,
) -> None:
    """Grade many transcripts into a run folder (SQLite run store + score sheets); rerun to resume."""
    config = settings(grading, concurrency=concurrency, rpm=rpm, tpm=tpm)
    options = config.run_options(retry_failed=retry_failed, new_run=new_run, provider_batch=provider_batch,
                                 poll_seconds=poll_seconds)
    base_url, model = one_server(grading, config)
    with _resumable(run), _Bar() as bar:
        result = batch(inputs, run, rubric=config.rubric, base_url=base_url, model=model,
                       api_key=grading.api_key, prompt=config.prompt, options=config.grading_options(),
                       run_options=options, limit=limit, prices=prices, fmt=grading.fmt, roles=grading.roles(),
                       id_column=renamed(id_column, dataset_id_column, "--id-column", "--dataset-id-column"),
                       text_column=text_column, on_update=bar.update,
                       say=lambda text: err.print(text, highlight=False, markup=False), follow_links=follow_links)
    _print_summary(result)
    if result.stats.transcripts_failed or result.stats.calls_failed:
        raise typer.Exit(EXIT_INCOMPLETE)


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
           else "n/a (this server does not report cached prompt tokens)")
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
    if not (to or sheets or html):
        raise GraderError("nothing to export", where="grader export",
                          fix="add --to FILE.csv|.parquet, --sheets FOLDER or --html FOLDER")
    if to:
        err.print(f"wrote {export_table(run, to, rubric=rubric)} rows to {to}")
    if sheets:
        err.print(f"wrote {export_sheets(run, sheets, rubric=rubric)} score sheets to {sheets}")
    if html:
        err.print(f"wrote {export_html(run, html, rubric=rubric)} HTML sheets and index.html to {html}")
