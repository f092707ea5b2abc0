"""One base exception for everything the user can fix, with a few subclasses.

Messages are written for the person at the keyboard: they name the file, the place and the fix.
The CLI turns them into one paragraph without a traceback (see `grader.cli`). No secret survives
into a message (`grader.scrub`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from grader.scrub import scrub


class GraderError(Exception):
    """Base class of every error `grader` reports to its user."""

    def __init__(self, message: str, *, path: Path | str | None = None, where: str | None = None,
                 fix: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.where = where
        self.fix = fix
        self.detail = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        parts = []
        if self.path:
            parts.append(f"{self.path}{f' ({self.where})' if self.where else ''}: ")
        elif self.where:
            parts.append(f"{self.where}: ")
        parts.append(self.detail.rstrip("."))
        text = "".join(parts) + "."
        if self.fix:
            text += f" Fix: {self.fix.rstrip('.')}."
        return scrub(text)


class RubricError(GraderError):
    """A rubric file is missing, malformed or inconsistent."""


class TranscriptError(GraderError):
    """A transcript file cannot be read or makes no sense as an interview."""


class PromptError(GraderError):
    """A prompt template file is missing or malformed."""


class BackendError(GraderError):
    """The LLM server cannot be reached, started, or does not serve the model asked for."""


class FatalBackendError(BackendError):
    """No further call can succeed (a refused key, a crashed or stopped embedded server): grading stops at
    once, and what was not graded is left for the same command to resume."""


def fatal_in(exc: BaseException | None) -> FatalBackendError | None:
    """The `FatalBackendError` an error was caused by, anywhere in its cause or context chain, else None.

    The OpenAI client wraps what its transport raises in a connection error; this finds it again.
    """
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        if isinstance(exc, FatalBackendError):
            return exc
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return None


def cause_chain(exc: BaseException | None) -> list[BaseException]:
    """The error and what caused it (`__cause__`, not `__context__`), outermost first."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__
    return chain


def one_line(text: str, limit: int = 300) -> str:
    """Text on one line, whitespace collapsed, cut to `limit` characters (an ellipsis marks the cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validation_problems(errors: Iterable[Mapping[str, Any]], *, top: str = "the top level", limit: int = 5,
                        skip: Collection[object] = ()) -> list[str]:
    """Pydantic's errors (`exc.errors()`) as "field.path: message", the first `limit`; `top` names an error of
    the whole document, and parts of the path in `skip` (FastAPI's "body") are left out."""
    return [f"{'.'.join(str(p) for p in e['loc'] if p not in skip) or top}: "
            f"{str(e['msg']).removeprefix('Value error, ')}" for e in list(errors)[:limit]]
