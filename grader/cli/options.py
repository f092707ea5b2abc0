"""Options shared by several commands, declared once, and what they turn into."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from grader.api import DEFAULT_RUBRIC, GradingOptions
from grader.grading.prompts import DEFAULT_PROMPT
from grader.ingest.formats import FORMATS
from grader.ingest.transcript import Role

__all__ = ["DEFAULT_PROMPT", "DEFAULT_RUBRIC"]


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


# the server
BaseUrl = Annotated[str | None, typer.Option(help="OpenAI-compatible server, e.g. http://localhost:8000/v1 "
                                             "(default: $OPENAI_BASE_URL, else the embedded model)")]
Model = Annotated[str | None, typer.Option(help="model name the server serves")]
ApiKey = Annotated[str | None, typer.Option(help="API key (default: $OPENAI_API_KEY)", show_default=False)]

# what grades
RubricName = Annotated[str, typer.Option("--rubric", help="built-in rubric name (grader rubric list) or a rubric "
                                                          "YAML file")]
RunRubric = Annotated[str | None, typer.Option("--rubric", help="default: the rubric the run was graded with; a "
                                                                "name or file given here must be that same rubric")]
PromptName = Annotated[str, typer.Option("--prompt", help="built-in prompt name or a prompt template file")]

# how it samples (together: GradingOptions)
Seed = Annotated[int, typer.Option(min=0, max=2**31 - 1, help="sampling seed")]
Temperature = Annotated[float, typer.Option(min=0, max=2, callback=finite, help="sampling temperature")]
Reasks = Annotated[int, typer.Option(min=0, max=5, help="re-asks after a reply that fails validation")]
LevelProbs = Annotated[bool, typer.Option(help="record each level's probability from token log-probabilities "
                                              "(G-Eval); the embedded server then keeps all logits (slower)")]
Reply = Annotated[ReplyChoice, typer.Option("--reply", help="reply schema: full (up to 3 cited sentences) or "
                                                            "compact (one, short rationale: faster)")]

# reading transcripts
Format = Annotated[str | None, typer.Option("--format", callback=known_format,
                                           help=f"one of {', '.join(FORMATS)} (default: detected)")]
Redact = Annotated[bool | None, typer.Option("--redact/--no-redact", show_default=False,
                                             help="replace names, emails, phones, URLs, id numbers and addresses "
                                                  "before a request leaves the machine [default: on unless the "
                                                  "server is on loopback]")]
Candidate = Annotated[list[str], typer.Option(help="speaker name of the candidate")]
Interviewer = Annotated[list[str], typer.Option(help="speaker name of an interviewer")]

# run folders
RunDir = Annotated[Path, typer.Option("--run", file_okay=False, help="run folder of a batch")]


def grading_options(seed: int, temperature: float, reasks: int, level_probs: bool,
                    reply: ReplyChoice, redact: bool | None = None) -> GradingOptions:
    return GradingOptions(seed=seed, temperature=temperature, reasks=reasks, level_probs=level_probs,
                          reply=reply.value, redact=redact)


def roles(candidate: list[str], interviewer: list[str]) -> dict[str, Role]:
    """Speaker names given on the command line; a name given as both is the candidate."""
    return {**{n: Role.interviewer for n in interviewer}, **{n: Role.candidate for n in candidate}}
