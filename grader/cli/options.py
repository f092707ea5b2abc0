"""Options shared by several commands, declared once, and what they turn into.

The server options (`--base-url`, `--model`, `--api-key`, `--config`) and the grading options
(rubric, prompt, sampling, reply, redaction, roles, format) are two groups: a command takes a group
with `@server_options` or `@grading_options`, which add the group's flags to its signature and hand
the command one object (`server: ServerFlags` / `grading: GradingFlags`). A flag not given is None,
so `GraderConfig` (flag > environment > config file > default) fills it in.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from grader.api import FORMATS, GraderConfig, GraderError, Role

P = ParamSpec("P")
R = TypeVar("R")


def finite(value: float | None) -> float | None:
    """A number option must be a real number: `nan` and `inf` pass typer's range checks, so they are refused here."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number; give an ordinary number")
    return value


def positive(value: float | None) -> float | None:
    """A limit or an interval: finite and above 0 (None: not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"{value} is not a number above 0; give e.g. 60")
    return value


def known_format(value: str | None) -> str | None:
    if value is not None and value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not a format; use one of {', '.join(FORMATS)} (or leave it out)")
    return value


class ReplyChoice(StrEnum):
    full = "full"
    compact = "compact"


class PanelRuleChoice(StrEnum):
    median = "median"
    majority = "majority"
    weighted = "weighted"
    unanimous = "unanimous"


_SETTING = "; default: {}, or GRADER_{} or grader.toml"


def _setting(name: str, help_text: str, **option: Any) -> Any:
    """A typer option for a `GraderConfig` setting: None when not given, its default and sources in the help."""
    default = GraderConfig.model_fields[name].default
    shown = "none" if default is None else str(default).lower() if isinstance(default, bool) else default
    return typer.Option(help=help_text + _SETTING.format(shown, name.upper()), show_default=False, **option)


# the server
BaseUrl = Annotated[str | None, typer.Option(help="OpenAI-compatible server, e.g. http://localhost:8000/v1 "
                                             "(default: GRADER_BASE_URL, OPENAI_BASE_URL or grader.toml, else the "
                                             "embedded model)", show_default=False)]
Model = Annotated[str | None, typer.Option(help="model name the server serves (or GRADER_MODEL, grader.toml)",
                                           show_default=False)]
ApiKey = Annotated[str | None, typer.Option(help="API key (default: $OPENAI_API_KEY; never read from a file)",
                                            show_default=False)]
ConfigFile = Annotated[Path | None, typer.Option("--config", dir_okay=False, show_default=False,
                                                 help="settings file (TOML; default: $GRADER_CONFIG, else "
                                                      "./grader.toml when there is one)")]

# what grades (the run's own rubric for commands that read a run)
RunRubric = Annotated[str | None, typer.Option("--rubric", help="default: the rubric the run was graded with; a "
                                                                "name or file given here must be that same rubric")]

# run folders
RunDir = Annotated[Path, typer.Option("--run", file_okay=False, help="run folder of a batch")]
RunArg = Annotated[Path, typer.Argument(help="run folder of a batch")]
Concurrency = Annotated[int | None, _setting("concurrency", "transcripts graded at once", min=1, max=256)]
Rpm = Annotated[float | None, _setting("rpm", "requests-per-minute limit", callback=positive)]
Tpm = Annotated[float | None, _setting("tpm", "tokens-per-minute limit", callback=positive)]


@dataclass(frozen=True)
class ServerFlags:
    """The server options as given (None: not given)."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    config: Path | None = None


@dataclass(frozen=True)
class GradingFlags(ServerFlags):
    """The server and grading options as given; `settings()` fills in what was not given."""

    rubric: str | None = None
    prompt: str | None = None
    seed: int | None = None
    temperature: float | None = None
    reasks: int | None = None
    max_tokens: int | None = None
    level_probs: bool | None = None
    reply: ReplyChoice | None = None
    redact: bool | None = None
    redact_orgs: bool | None = None
    datamark: bool | None = None
    fmt: str | None = None
    candidate: list[str] = field(default_factory=list)
    interviewer: list[str] = field(default_factory=list)
    samples: int | None = None
    judge: list[str] = field(default_factory=list)
    panel: str | None = None
    panel_rule: PanelRuleChoice | None = None
    max_spread: int | None = None
    exemplars: str | None = None
    exemplars_k: int | None = None
    exemplars_group_pattern: str | None = None

    def roles(self) -> dict[str, Role]:
        """Speaker names given on the command line; a name given as both is the candidate."""
        return {**{n: Role.interviewer for n in self.interviewer}, **{n: Role.candidate for n in self.candidate}}


def settings(flags: ServerFlags, **more: Any) -> GraderConfig:
    """The command's settings: the flags given (and `more` of the command's own), then environment, file, default."""
    given = {k: v for k, v in vars(flags).items()
             if k not in ("api_key", "config", "fmt", "candidate", "interviewer", "judge")}
    for name in ("reply", "panel_rule"):
        if isinstance(given.get(name), StrEnum):
            given[name] = given[name].value
    if getattr(flags, "judge", None):  # none given: the environment's or the config file's judges
        given["judges"] = list(flags.judge)  # type: ignore[attr-defined]
    return GraderConfig.load(flags.config, **given, **more)


def one_server(flags: ServerFlags, config: GraderConfig) -> tuple[str | None, str | None]:
    """The server and model to grade with: the ones set, or (None, None) when judges are named (each names its
    own server and model); `--base-url` or `--model` given besides judges is an error."""
    if not config.has_judges:
        return config.base_url, config.model
    if flags.base_url or flags.model:
        raise GraderError("--base-url and --model name one server, and judges are named too (each names its own)",
                          where="--judge", fix="leave out --base-url and --model, or the judges (--judge, --panel)")
    return None, None


_SERVER = {
    "base_url": BaseUrl, "model": Model, "api_key": ApiKey, "config": ConfigFile,
}
_GRADING = {
    **_SERVER,
    "rubric": Annotated[str | None, _setting("rubric", "built-in rubric name (grader rubric list) or a rubric YAML "
                                                       "file")],
    "prompt": Annotated[str | None, _setting("prompt", "built-in prompt name or a prompt template file")],
    "seed": Annotated[int | None, _setting("seed", "sampling seed", min=0, max=2**31 - 1)],
    "temperature": Annotated[float | None, _setting("temperature", "sampling temperature", min=0, max=2,
                                                    callback=finite)],
    "reasks": Annotated[int | None, _setting("reasks", "re-asks after a reply that fails validation", min=0, max=5)],
    "max_tokens": Annotated[int | None, _setting("max_tokens", "completion tokens per call", min=16)],
    "level_probs": Annotated[bool | None, _setting("level_probs", "record each level's probability from token "
                                                                  "log-probabilities (G-Eval); the embedded server "
                                                                  "then keeps all logits (slower)")],
    "reply": Annotated[ReplyChoice | None, _setting("reply", "reply schema: full (up to 3 cited sentences) or "
                                                             "compact (one, short rationale: faster)")],
    "redact": Annotated[bool | None, typer.Option("--redact/--no-redact", show_default=False,
                                                  help="replace names, emails, phones, URLs, id numbers and "
                                                       "addresses before a request leaves the machine [default: on "
                                                       "unless the server is on loopback; or GRADER_REDACT]")],
    "redact_orgs": Annotated[bool | None, _setting("redact_orgs", "with redaction, also replace organisations "
                                                                  "(employers, universities)")],
    "datamark": Annotated[bool | None, _setting("datamark", "mark every word of the transcript as data in the "
                                                            "prompt (spotlighting: 40-65% more prompt tokens)")],
    "fmt": Annotated[str | None, typer.Option("--format", callback=known_format, show_default=False,
                                              help=f"one of {', '.join(FORMATS)} (default: detected)")],
    "candidate": Annotated[list[str] | None, typer.Option(help="speaker name of the candidate", show_default=False)],
    "interviewer": Annotated[list[str] | None, typer.Option(help="speaker name of an interviewer",
                                                            show_default=False)],
    # samples and judge panels (grader.grading.panel)
    "samples": Annotated[int | None, typer.Option(min=1, max=20, show_default=False, help=(
        "independent samples per criterion (seeds SEED, SEED+1, ...; vary only with --temperature above 0 or a "
        "server whose seed changes its output); the level is their median, the lower middle on a tie; "
        "default: 1, or GRADER_SAMPLES, grader.toml or the panel file"))],
    "judge": Annotated[list[str] | None, typer.Option("--judge", show_default=False, help=(
        "a judge of a panel: NAME=URL,MODEL (an OpenAI-compatible server and model; repeat for each judge; key: "
        "--api-key or OPENAI_API_KEY); replaces --base-url and --model"))],
    "panel": Annotated[str | None, typer.Option(show_default=False, help=(
        "panel file (YAML): judges (name, base_url, model, weight, api_key_env) and optionally rule, max_spread, "
        "samples; instead of --judge; default: GRADER_PANEL or grader.toml"))],
    "panel_rule": Annotated[PanelRuleChoice | None, typer.Option(show_default=False, help=(
        "how the judges' levels combine: median (lower middle on a tie), majority (lowest of the tied), weighted "
        "(weighted median; weights from the panel file) or unanimous (else no level, to review); default: median, "
        "or GRADER_PANEL_RULE, grader.toml or the panel file"))],
    "max_spread": Annotated[int | None, typer.Option(min=0, max=4, show_default=False, help=(
        "a spread of the levels (max - min over samples and judges) above this needs review; default: 1, or "
        "GRADER_MAX_SPREAD, grader.toml or the panel file"))],
    # exemplars from reviewed gold (grader.grading.exemplars)
    "exemplars": Annotated[str | None, _setting("exemplars", "exemplars file (YAML or JSON, written by `grader "
                                                             "exemplars RUN --out FILE`): reviewed grades shown in "
                                                             "every prompt, before the transcript, as examples of the "
                                                             "levels; never the graded candidate's own")],
    "exemplars_k": Annotated[int | None, typer.Option(min=1, max=10, show_default=False, help=(
        "exemplars shown per criterion and level; default: 1, or GRADER_EXEMPLARS_K or grader.toml"))],
    "exemplars_group_pattern": Annotated[str | None, _setting(
        "exemplars_group_pattern", "regex for the candidate in a transcript id (as grader eval --group-pattern), "
                                   "whose own exemplars are never shown to them (none: the exemplars file's)")],
}


def _with_group(group: dict[str, Any], into: str, build: Callable[..., Any]) -> Callable[[Callable[P, R]],
                                                                                       Callable[..., R]]:
    """Add `group`'s options to a command's signature; the command gets them as one object in parameter `into`."""

    def decorate(command: Callable[P, R]) -> Callable[..., R]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != into]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
                 for name, annotation in group.items()]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> R:
            values = {name: kwargs.pop(name, None) for name in group}
            values = {k: v for k, v in values.items() if v is not None}
            return command(*args, **kwargs, **{into: build(**values)})

        run.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        return run

    return decorate


server_options = _with_group(_SERVER, "server", ServerFlags)
grading_options = _with_group(_GRADING, "grading", GradingFlags)


# ---- gold labels: how grader eval, calibrate, compare and exemplars --gold read a gold file -----------------------

Gold = Annotated[Path, typer.Option(help="gold CSV (long or wide; see docs/agreement.md), or a run folder: its "
                                         "reviews as gold")]
GoldIdColumn = Annotated[str, typer.Option(help="transcript id column of the gold CSV")]
OldIdColumn = Annotated[str | None, typer.Option("--id-column", hidden=True, help="old name of --gold-id-column")]
Binning = Annotated[str, typer.Option(help="auto | levels | cut_points | quantiles")]
CutPoints = Annotated[str | None, typer.Option(help="4 ascending cut points, e.g. 2.5,3.5,4.5,5.5")]
GroupPattern = Annotated[str | None, typer.Option(help="regex for the candidate in an id, e.g. '\\d+'")]
Boot = Annotated[int, typer.Option(min=1, max=100_000, help="bootstrap resamples")]
Interval = Annotated[str, typer.Option(help="95% interval: bca (bias-corrected and accelerated, the default) or "
                                            "percentile; both resample candidates")]
Scale = Annotated[str | None, typer.Option(help="the raters' scale, e.g. 1,7; scores outside it are reported "
                                                "(default: 1,5 when every score is a whole number)")]
