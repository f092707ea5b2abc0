r"""Grading: `Grader` (one rubric, prompt, settings and server), `grade` and `batch` in one call.

    with Grader("senior-data-scientist", base_url="http://localhost:8000/v1", model="m") as g:
        sheet = g.grade("interview.vtt")
        result = g.batch(["interviews/"], "runs/june")

A `Grader` owns what every grade of it shares: the rubric, the prompt, the settings, an open
server (the embedded model when no server is given, stopped on `close()`), and a token counter.

Exemplars from reviewed gold (`grader.grading.exemplars`, picked by `grader.api.exemplars.select_exemplars`):

    with Grader("mit-interview", options=GradingOptions(exemplars="exemplars.yaml", exemplars_k=1)) as g: ...
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.errors import BackendError, GraderError
from grader.grading.exemplar_block import MAX_K, ExemplarChoice, with_exemplars
from grader.grading.exemplars import ExemplarSet, check_group_pattern, load_exemplars
from grader.grading.grade import MIN_TRANSCRIPT_TOKENS, Progress, grade_transcript, transcript_budget
from grader.grading.grades import Settings
from grader.grading.panel import DEFAULT_JUDGE, MAX_SAMPLES, Judge, Panel, PanelRule, check_judges
from grader.grading.panel_file import JudgeSpec
from grader.grading.prompts import DATAMARK, DATAMARKED_PROMPT, DEFAULT_PROMPT, PromptTemplate, load_prompt
from grader.grading.sheet import ScoreSheet
from grader.ingest.chunking import EstimatedTokens, ServerTokens, TokenCounter
from grader.ingest.formats import load_transcript
from grader.ingest.inputs import TranscriptSource, iter_sources, unique_ids
from grader.ingest.rubric import Rubric, load_rubric
from grader.ingest.transcript import Role, Transcript
from grader.llm.backend import Backend, BackendInfo, open_backend
from grader.llm.loopback import is_loopback_url
from grader.runs.batch import BatchStats, RunOptions
from grader.runs.cost import DEFAULT_PRICES, PriceTable, load_prices
from grader.runs.folder import RunFolder, as_folder
from grader.runs.runner import BatchResult, GradingSetup, run_batch

if TYPE_CHECKING:  # scikit-learn loads only when a calibration is used
    from grader.agreement.calibration import Calibration

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
    redact_orgs: bool = Field(False, description="with redaction, also replace organisations (employers, "
                                                 "universities)")
    datamark: bool = Field(False, description="mark every word of the transcript as data in the prompt "
                                              "(spotlighting; costs 40-65% more prompt tokens)")
    samples: int = Field(1, ge=1, le=MAX_SAMPLES, description="independent samples per criterion (seeds seed, "
                                                              "seed + 1, ...); the level is their median")
    judges: tuple[JudgeSpec, ...] = Field((), description="a panel: each judge a server and a model (none: the "
                                                          "one server given)")
    panel_rule: PanelRule | None = Field(None, description="how the judges' levels combine (None: median)")
    max_spread: int = Field(1, ge=0, le=4, description="a spread of the levels (samples, judges) above this needs "
                                                       "review")
    exemplars: Path | ExemplarSet | None = Field(None, description="exemplars from reviewed gold to show in every "
                                                                   "prompt (a file `grader exemplars` wrote, or the "
                                                                   "set); None: none")
    exemplars_k: int | None = Field(None, ge=1, le=MAX_K, description="exemplars shown per criterion and level "
                                                                      "(None: 1)")
    exemplars_group_pattern: str | None = Field(None, description="regex for the candidate in a transcript id, whose "
                                                                  "own exemplars are never shown to them (None: the "
                                                                  "exemplars file's)")

    @model_validator(mode="after")
    def _panel_checks(self) -> GradingOptions:
        if self.judges:
            check_judges([j.name for j in self.judges], [j.weight for j in self.judges])
        if self.panel_rule not in (None, "median") and not self.judges:
            raise GraderError(f"--panel-rule {self.panel_rule} combines the levels of a panel's judges, and no judge "
                              "is given", where="--panel-rule",
                              fix="give the judges (--judge NAME=URL,MODEL, repeated, or --panel FILE), or leave "
                                  "--panel-rule out")
        if self.panel_rule == "weighted" and all(j.weight == 1 for j in self.judges):
            raise GraderError("--panel-rule weighted needs the judges' weights, and every judge weighs 1 (the "
                              "median)", where="--panel-rule",
                              fix="give the weights in a panel file (--panel FILE, `weight:` per judge), or use "
                                  "--panel-rule median")
        if self.exemplars is None and (self.exemplars_k is not None or self.exemplars_group_pattern is not None):
            where = "--exemplars-k" if self.exemplars_k is not None else "--exemplars-group-pattern"
            raise GraderError(f"{where} says how exemplars are shown, and no exemplars are given", where=where,
                              fix="give the exemplars file (--exemplars FILE, written by `grader exemplars`), or "
                                  f"leave {where} out")
        check_group_pattern(self.exemplars_group_pattern)
        return self

    def exemplar_choice(self) -> ExemplarChoice | None:
        """The exemplars to show (the file read, k and the group pattern), or None."""
        if self.exemplars is None:
            return None
        loaded = self.exemplars if isinstance(self.exemplars, ExemplarSet) else load_exemplars(self.exemplars)
        return ExemplarChoice(loaded, k=self.exemplars_k or 1, group_pattern=self.exemplars_group_pattern,
                              source="" if isinstance(self.exemplars, ExemplarSet) else str(self.exemplars))

    def settings(self, backend: BackendInfo) -> Settings:
        """The settings of every call: the server's model, OpenAI's prompt cache key for hosted servers, and
        redaction on by default for any server that is not on this machine."""
        redact = self.redact if self.redact is not None else not is_loopback_url(backend.server)
        return Settings(model=backend.model, seed=self.seed, temperature=self.temperature, reasks=self.reasks,
                        max_tokens=self.max_tokens, level_probs=self.level_probs, reply=self.reply,
                        prompt_cache_key=not backend.embedded, redact=redact, redact_orgs=self.redact_orgs,
                        structured="json_schema" if backend.embedded else "tools")


def token_counter(backend: Backend) -> TokenCounter:
    """Exact counts with the embedded model's own vocabulary, a conservative estimate for other servers."""
    return ServerTokens(backend.client) if backend.info.embedded else EstimatedTokens()


class Grader:
    """Grades transcripts against one rubric with one prompt, settings and server; a context manager.

    With no `base_url` (and no `$OPENAI_BASE_URL`) it starts the embedded model, which `close()`
    (or leaving the `with` block) stops. `backend` takes a server already open (it is not closed).

    With `options.judges` (a panel) each judge's server is opened instead (its key from the variable
    its `api_key_env` names, else `api_key` / `$OPENAI_API_KEY`), and `base_url`, `model` and `backend`
    must not be given; with `options.samples` above 1 every criterion is asked that many times of each
    judge (or of the one server). `settings`, when given, is the template of every judge's settings
    (each with its judge's model). `panel` is then what grades (`grader.grading.panel.Panel`), else None.
    """

    def __init__(self, rubric: Rubric | str | Path = DEFAULT_RUBRIC, *, base_url: str | None = None,
                 model: str | None = None, api_key: str | None = None,
                 prompt: PromptTemplate | str | Path = DEFAULT_PROMPT, options: GradingOptions | None = None,
                 calibration: Calibration | str | Path | None = None, backend: Backend | None = None,
                 settings: Settings | None = None, timeout: float = 300.0) -> None:
        self.rubric = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
        self.options = options or GradingOptions()
        self.prompt = prompt if isinstance(prompt, PromptTemplate) else _prompt(prompt, self.options.datamark)
        choice = self.options.exemplar_choice()
        if choice is not None:  # refused before any server starts when it is for another rubric
            choice.check(self.rubric)
            self.prompt = with_exemplars(self.prompt, choice)
        self.calibration = _calibration(calibration)
        with contextlib.ExitStack() as stack:  # closed here only if what follows fails
            opened = [(spec, stack.enter_context(_open_judge(spec, api_key, timeout)))
                      for spec in _judges(self.options, base_url, model, backend)]
            if opened:
                backend = opened[0][1]
            elif backend is None:
                backend = stack.enter_context(open_backend(base_url, model, api_key, timeout=timeout))
            self.backend = backend
            self.panel = _panel(self.options, backend, opened, settings)
            self.settings = self.panel.judges[0].settings if self.panel else settings or self.options.settings(
                backend.info)
            if self.calibration:  # refused once, before anything is graded, not once per transcript
                self.calibration.check(self.rubric.content_hash(), self.settings.model, self.settings.level_probs)
            self.counter = token_counter(backend)
            if choice is not None:
                _check_exemplar_room(self.prompt, self.rubric, self.settings, self.counter,
                                     min(b.info.context_tokens for b in [backend, *(b for _, b in opened)]))
            self._stack = stack.pop_all()

    @property
    def setup(self) -> GradingSetup:
        return GradingSetup(rubric=self.rubric, prompt=self.prompt, settings=self.settings, backend=self.backend,
                            counter=self.counter, panel=self.panel)

    def grade(self, transcript: Transcript | str | Path, *, fmt: str | None = None,
              roles: dict[str, Role] | None = None, progress: Progress | None = None) -> ScoreSheet:
        """Grade one transcript (a `Transcript`, or a file in any supported format) into a score sheet."""
        if not isinstance(transcript, Transcript):
            transcript = load_transcript(transcript, fmt=fmt, roles=roles)
        return grade_transcript(transcript, self.rubric, self.backend, self.prompt, self.settings, self.counter,
                                progress, calibration=self.calibration, panel=self.panel)

    def batch(self, sources: Iterable[Source], run: str | Path | RunFolder, *, options: RunOptions | None = None,
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
        if options is not None and options.provider_batch and self.prompt.exemplars is not None:
            raise GraderError("--provider-batch sends requests prepared before the batch, without the exemplars each "
                              "transcript is shown", where="--provider-batch",
                              fix="leave out --exemplars, or --provider-batch")
        found = unique_ids(_sources(sources, fmt=fmt, roles=roles or {}, id_column=id_column,
                                    text_column=text_column, follow_links=follow_links))
        table = prices if isinstance(prices, PriceTable) else (load_prices(Path(prices)) if prices else DEFAULT_PRICES)
        listed = list(itertools.islice(found, limit))  # every input is named (two with one id refused) before the run
        return run_batch(self.setup, listed, as_folder(run), options or RunOptions(), table, on_update=on_update,
                         say=say)

    def close(self) -> None:
        """Stop what this grader started (the embedded server); a backend passed in is left open."""
        self._stack.close()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _judges(options: GradingOptions, base_url: str | None, model: str | None,
            backend: Backend | None) -> tuple[JudgeSpec, ...]:
    """The judges to open; a panel and one server named besides it is an error (which would grade?)."""
    if options.judges and (base_url or model or backend is not None):
        raise GraderError("a panel's judges each name their server and model, and one server was given besides "
                          "them", where="--judge", fix="leave out --base-url, --model (and backend), or the judges")
    return options.judges


@contextlib.contextmanager
def _open_judge(spec: JudgeSpec, api_key: str | None, timeout: float) -> Iterator[Backend]:
    """A judge's server, opened as `--base-url` would be; an error names the judge."""
    try:
        opening = open_backend(spec.base_url, spec.model, _judge_key(spec, api_key), timeout=timeout)
        backend = opening.__enter__()
    except BackendError as exc:
        raise BackendError(f"judge {spec.name}: {exc.detail}", where="--judge",
                           fix=f"check judge {spec.name}'s URL, model and key (--judge NAME=URL,MODEL, or the panel "
                               "file) and that its server is running") from None
    with contextlib.ExitStack() as stack:
        stack.push(opening)
        yield backend


def _judge_key(spec: JudgeSpec, api_key: str | None) -> str | None:
    """A judge's key: from the environment variable it names, else the one key given (or $OPENAI_API_KEY)."""
    if spec.api_key_env is None:
        return api_key
    key = os.environ.get(spec.api_key_env)
    if not key:
        raise GraderError(f"judge {spec.name}'s key variable ${spec.api_key_env} is not set", where="--panel",
                          fix=f"export {spec.api_key_env}=... before grading, or remove api_key_env from the judge")
    return key


def _panel(options: GradingOptions, backend: Backend, opened: list[tuple[JudgeSpec, Backend]],
           template: Settings | None) -> Panel | None:
    """The panel that grades: the judges opened, or k samples of the one server; None for one sample of it.

    Every judge's calls are redacted alike: as asked, else unless every judge's server is on loopback.
    """
    if not opened and options.samples == 1:
        return None
    found = opened or [(JudgeSpec(name=DEFAULT_JUDGE, base_url=backend.info.server), backend)]
    redact = options.redact if options.redact is not None else \
        not all(is_loopback_url(b.info.server) for _, b in found)

    def settings(info: BackendInfo) -> Settings:
        if template is not None:
            return template.model_copy(update={"model": info.model}) if opened else template
        return options.settings(info).model_copy(update={"redact": redact})

    judges = tuple(Judge(name=spec.name, backend=b, settings=settings(b.info), weight=spec.weight) for spec, b in found)
    return Panel(judges=judges, samples=options.samples, rule=options.panel_rule or "median",
                 max_spread=options.max_spread)


def _check_exemplar_room(prompt: PromptTemplate, rubric: Rubric, settings: Settings, counter: TokenCounter,
                         context: int) -> None:
    """Refuse exemplars that leave a transcript too little of the model's context (checked once, on the longest
    block any transcript can be shown)."""
    block = prompt.exemplars.largest_block(rubric, redact=settings.redact, datamark=prompt.datamark)
    tokens = counter.count(block) if block else 0
    left = transcript_budget(context, settings) - tokens
    if left < 2 * MIN_TRANSCRIPT_TOKENS:
        raise GraderError(f"the exemplars take up to {tokens:,} tokens of the model's {context:,}-token context, "
                          f"leaving {max(left, 0):,} for the transcript (at least {2 * MIN_TRANSCRIPT_TOKENS:,} "
                          "are needed)", where="--exemplars",
                          fix="show fewer per level (--exemplars-k), pick fewer (grader exemplars --per-level), or "
                              "grade with a model whose context is longer")


def _prompt(name: str | Path, datamark: bool) -> PromptTemplate:
    """The prompt template; with datamarking, the default prompt becomes the one that explains the marker."""
    if not datamark:
        return load_prompt(name)
    return load_prompt(DATAMARKED_PROMPT if str(name) == DEFAULT_PROMPT else name, datamark=DATAMARK)


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


def batch(sources: Iterable[Source], run: str | Path | RunFolder, *, rubric: Rubric | str | Path = DEFAULT_RUBRIC,
          base_url: str | None = None, model: str | None = None, api_key: str | None = None,
          prompt: PromptTemplate | str | Path = DEFAULT_PROMPT, options: GradingOptions | None = None,
          run_options: RunOptions | None = None, **how: Any) -> BatchResult:
    """Grade many transcripts into a run folder in one call: hold the folder, open the server, grade, close.

    The folder is held before the server starts, so a second batch on it is refused at once (with
    `RunOptions(new_run=True)` the folder written may be another one, held when the batch starts).
    `how` takes the keywords of `Grader.batch` (limit, prices, fmt, roles, on_update, say, ...).
    """
    run_options = run_options or RunOptions()
    folder = as_folder(run)
    with contextlib.ExitStack() as stack:
        if not run_options.new_run:
            stack.enter_context(folder.hold())
        grader = stack.enter_context(Grader(rubric, base_url=base_url, model=model, api_key=api_key, prompt=prompt,
                                            options=options))
        return grader.batch(sources, folder, options=run_options, **how)
