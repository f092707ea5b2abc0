"""The public Python API (re-exported by `grader/__init__.py`); the command line is built on it.

    with Grader("senior-data-scientist", base_url="http://localhost:8000/v1", model="m") as g:
        sheet = g.grade("interview.vtt")
        result = g.batch(["interviews/"], "runs/june")
    figures = evaluate("runs/june", gold="ratings.csv")

A `Grader` owns what every grade of it shares: the rubric, the prompt, the settings, an open
server (the embedded model when no server is given, stopped on `close()`), and a token counter.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.errors import GraderError
from grader.grading.grade import Progress, grade_transcript
from grader.grading.grades import Settings
from grader.grading.prompts import DEFAULT_PROMPT, PromptTemplate, load_prompt
from grader.grading.sheet import ScoreSheet
from grader.ingest.chunking import EstimatedTokens, ServerTokens, TokenCounter
from grader.ingest.formats import load_transcript
from grader.ingest.inputs import TranscriptSource, iter_sources, unique_ids
from grader.ingest.rubric import Rubric, load_rubric
from grader.ingest.transcript import Role, Transcript
from grader.llm.backend import Backend, BackendInfo, is_loopback, open_backend
from grader.runs.batch import BatchStats
from grader.runs.cost import DEFAULT_PRICES, PriceTable, load_prices
from grader.runs.runner import BatchResult, GradingSetup, RunOptions, run_batch

if TYPE_CHECKING:  # pandas and scikit-learn load only when an evaluation or calibration is asked for
    import pandas as pd

    from grader.agreement.calibration import Calibration
    from grader.agreement.load import GoldSpec, LoadedRun

DEFAULT_RUBRIC = "senior-data-scientist"
Source = str | Path | TranscriptSource


class GradingOptions(BaseModel):
    """What a user chooses about sampling and replies; `settings()` adds what follows from the server.

    This is the one place `Settings` are built from options (the CLI's `grade` and `batch` both use it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    seed: int = 7
    temperature: float = Field(0.0, ge=0, le=2)
    reasks: int = Field(1, ge=0, le=5, description="re-asks after a reply that fails validation")
    max_tokens: int = Field(400, ge=16)
    level_probs: bool = Field(False, description="record each level's probability (token log-probabilities)")
    reply: Literal["full", "compact"] = "full"
    redact: bool | None = Field(None, description="redact names and personal data before a request leaves the "
                                                  "machine; None: on unless the server is on loopback")

    def settings(self, backend: BackendInfo) -> Settings:
        """The settings of every call: the server's model, OpenAI's prompt cache key for hosted servers, and
        redaction on by default for any server that is not on this machine."""
        redact = self.redact if self.redact is not None else not is_loopback(backend.server)
        return Settings(model=backend.model, seed=self.seed, temperature=self.temperature, reasks=self.reasks,
                        max_tokens=self.max_tokens, level_probs=self.level_probs, reply=self.reply,
                        prompt_cache_key=not backend.embedded, redact=redact,
                        structured="json_schema" if backend.embedded else "tools")


def token_counter(backend: Backend) -> TokenCounter:
    """Exact counts with the embedded model's own vocabulary, a conservative estimate for other servers."""
    return ServerTokens(backend.client) if backend.info.embedded else EstimatedTokens()


class Grader:
    """Grades transcripts against one rubric with one prompt, settings and server; a context manager.

    With no `base_url` (and no `$OPENAI_BASE_URL`) it starts the embedded model, which `close()`
    (or leaving the `with` block) stops. `backend` takes a server already open (it is not closed).
    """

    def __init__(self, rubric: Rubric | str | Path = DEFAULT_RUBRIC, *, base_url: str | None = None,
                 model: str | None = None, api_key: str | None = None,
                 prompt: PromptTemplate | str | Path = DEFAULT_PROMPT, options: GradingOptions | None = None,
                 calibration: Calibration | str | Path | None = None, backend: Backend | None = None,
                 settings: Settings | None = None, timeout: float = 300.0) -> None:
        self.rubric = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
        self.prompt = prompt if isinstance(prompt, PromptTemplate) else load_prompt(prompt)
        self.options = options or GradingOptions()
        self.calibration = _calibration(calibration)
        with contextlib.ExitStack() as stack:  # closed here only if what follows fails
            if backend is None:
                backend = stack.enter_context(open_backend(base_url, model, api_key, timeout=timeout))
            self.backend = backend
            self.settings = settings or self.options.settings(backend.info)
            self.counter = token_counter(backend)
            self._stack = stack.pop_all()

    @property
    def setup(self) -> GradingSetup:
        return GradingSetup(rubric=self.rubric, prompt=self.prompt, settings=self.settings, backend=self.backend,
                            counter=self.counter)

    def grade(self, transcript: Transcript | str | Path, *, fmt: str | None = None,
              roles: dict[str, Role] | None = None, progress: Progress | None = None) -> ScoreSheet:
        """Grade one transcript (a `Transcript`, or a file in any supported format) into a score sheet."""
        if not isinstance(transcript, Transcript):
            transcript = load_transcript(transcript, fmt=fmt, roles=roles)
        return grade_transcript(transcript, self.rubric, self.backend, self.prompt, self.settings, self.counter,
                                progress, calibration=self.calibration)

    def batch(self, sources: Iterable[Source], run_dir: str | Path, *, options: RunOptions | None = None,
              limit: int | None = None, prices: PriceTable | str | Path | None = None, fmt: str | None = None,
              roles: dict[str, Role] | None = None, id_column: str = "interview_id",
              text_column: str = "transcript", on_update: Callable[[BatchStats], None] | None = None,
              say: Callable[[str], None] = lambda _: None, follow_links: bool = False) -> BatchResult:
        """Grade many transcripts (files, folders, globs, dataset CSVs) into a resumable run folder.

        In a folder or glob, a link to a file outside it is recorded as failed, not read, unless
        `follow_links`; dangling or looping links, FIFOs, sockets and devices are recorded as failed.

        The folder is locked while the batch writes; a run graded with another rubric, prompt or
        settings is refused (or, with `RunOptions(new_run=True)`, a new folder is started beside it).
        """
        found = unique_ids(_sources(sources, fmt=fmt, roles=roles or {}, id_column=id_column,
                                    text_column=text_column, follow_links=follow_links))
        table = prices if isinstance(prices, PriceTable) else (load_prices(Path(prices)) if prices else DEFAULT_PRICES)
        listed = list(itertools.islice(found, limit))  # every input is named (two with one id refused) before the run
        return run_batch(self.setup, listed, Path(run_dir), options or RunOptions(), table, on_update=on_update,
                         say=say)

    def close(self) -> None:
        """Stop what this grader started (the embedded server); a backend passed in is left open."""
        self._stack.close()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _calibration(value: Calibration | str | Path | None) -> Calibration | None:
    if value is None or not isinstance(value, str | Path):
        return value
    from grader.agreement.calibration import Calibration

    return Calibration.load(Path(value))


def _sources(items: Iterable[Source], **how: object) -> Iterator[TranscriptSource]:
    for item in items:
        if isinstance(item, TranscriptSource):
            yield item
        else:
            yield from iter_sources([str(item)], **how)  # type: ignore[arg-type]


def grade(path: str | Path, *, rubric: Rubric | str | Path = DEFAULT_RUBRIC, base_url: str | None = None,
          model: str | None = None, api_key: str | None = None, prompt: PromptTemplate | str | Path = DEFAULT_PROMPT,
          options: GradingOptions | None = None, fmt: str | None = None,
          roles: dict[str, Role] | None = None) -> ScoreSheet:
    """Grade one transcript file in one call: open the server (or the embedded model), grade, close."""
    with Grader(rubric, base_url=base_url, model=model, api_key=api_key, prompt=prompt, options=options) as grader:
        return grader.grade(path, fmt=fmt, roles=roles)


def evaluate(run: str | Path, gold: str | Path, *, rubric: str | Path | None = None,
             id_column: str = "transcript_id", binning: str = "auto", cut_points: list[float] | str | None = None,
             group_pattern: str | None = None, scale: tuple[float, float] | str | None = None,
             transcripts: list[str] | None = None, dataset_id_column: str = "interview_id",
             text_column: str = "transcript", n_boot: int = 1000, interval: str | None = None) -> pd.DataFrame:
    """Agreement of a run with human gold labels: the figures table of `grader eval` (its figures.csv).

    One row per source of levels (model, stated, expected, calibrated, baseline) and scope (each
    criterion, competency and overall). The rubric is the run's own; `rubric` is a checked override.
    `transcripts` (files, folders or a dataset CSV) fit the TF-IDF baseline.
    """
    from grader.agreement.load import GoldSpec

    spec = GoldSpec(Path(gold), id_column, binning, cut_points, group_pattern, scale)
    return evaluation(run, spec, rubric=rubric, transcripts=transcripts, dataset_id_column=dataset_id_column,
                      text_column=text_column, n_boot=n_boot, interval=interval).table


@dataclass(frozen=True)
class Evaluation:
    """Everything `grader eval` reports: the run and its gold, the sources of levels, figures, decisions."""

    loaded: LoadedRun
    sources: dict[str, pd.DataFrame]
    table: pd.DataFrame
    decisions: pd.DataFrame | None
    notes: list[str]
    interval: str | None = None

    def write_report(self, out_dir: str | Path, *, html: bool = True) -> Path:
        """report.md, figures.csv, decisions.csv (and report.html with plots) into `out_dir`; the Markdown's path."""
        from grader.agreement.report import write_report

        loaded, extra = self.loaded, _interval_option(self.interval)
        path = write_report(self.table, loaded.gold, loaded.run.store, Path(out_dir), loaded.rubric.title, self.notes,
                            self.decisions, **extra)
        if html:
            from grader.agreement.report_html import write_html

            write_html(self.table, loaded.gold, loaded.run.store, self.sources, loaded.model, Path(out_dir),
                       loaded.rubric.title, self.notes, self.decisions, **extra)
        return path


def evaluation(run: str | Path, gold: GoldSpec, *, rubric: str | Path | None = None,
               transcripts: list[str] | None = None, dataset_id_column: str = "interview_id",
               text_column: str = "transcript", n_boot: int = 1000, interval: str | None = None,
               decisions: bool = False, on_error: Callable[[GraderError], None] | None = None) -> Evaluation:
    """`evaluate` with what a report needs besides the table: the decisions, the notes, the loaded run."""
    from grader.agreement.evaluate import decision_table, evaluation_tables, prediction_sets
    from grader.agreement.load import candidate_texts, load_run, run_notes

    loaded = load_run(Path(run), gold, rubric)
    texts = candidate_texts(transcripts, dataset_id_column, text_column, on_error) if transcripts else None
    sources = prediction_sets(loaded.model, loaded.gold, texts)
    extra = _interval_option(interval)
    table = evaluation_tables(sources, loaded.gold, loaded.rubric, n_boot=n_boot, **extra)
    decided = decision_table(sources, loaded.gold, loaded.rubric, n_boot=n_boot, **extra) if decisions else None
    notes = run_notes(loaded) + ([] if texts else ["Baseline: not fitted (give --transcripts)."])
    return Evaluation(loaded, sources, table, decided, notes, interval)


def _interval_option(interval: str | None) -> dict[str, str]:
    """The interval kind as a keyword for the agreement functions; a clear error for an unknown one."""
    if interval is None:
        return {}
    from grader.agreement.figures import INTERVALS

    if interval not in INTERVALS:
        raise GraderError(f"unknown interval {interval!r}", where="--interval",
                          fix=f"use one of {', '.join(INTERVALS)}")
    return {"interval": interval}
