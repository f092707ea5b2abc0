"""The `grader` Typer app and its edge: the consoles, and the one place a `GraderError` becomes a message.

Command modules (`grade`, `batch`, `eval`, `rubric`, `sheet`, ...) import this module and
`grader.cli.options`, never each other; `grader/cli/__init__.py` imports them all.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from grader.errors import GraderError

app = typer.Typer(help="Grade interview transcripts against a competency rubric with an LLM, citing "
                       "the candidate's own sentences as evidence.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
rubric_app = typer.Typer(help="List, check, import and describe rubric files.", no_args_is_help=True)
sheet_app = typer.Typer(help="Describe the score sheet format.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")
app.add_typer(sheet_app, name="sheet")
# no console markup: paths, ids and rubric text are printed as they are (a file named `[/x].txt` is no markup error)
out = Console(soft_wrap=True, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

P = ParamSpec("P")
R = TypeVar("R")
EXIT_USAGE = 2  # a GraderError: nothing (or not everything asked) could be done
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM, raised in the main thread once the embedded server is stopped."""


def fail(exc: GraderError) -> None:
    """Print one error as one paragraph (file, place, fix) on stderr, without a traceback."""
    err.print(Text.assemble(("error:", "bold red"), f" {exc}"), highlight=False, soft_wrap=True)


def warn(exc: GraderError) -> None:
    """Print a problem that does not fail the command, as `fail` prints an error."""
    err.print(Text.assemble(("warning:", "bold yellow"), f" {exc}"), highlight=False, soft_wrap=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    from grader.llm.embedded import stop_all

    stop_all()  # a call in flight fails at once (and is not recorded) instead of running to its end
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM handled like Ctrl-C: the embedded server is stopped first, then the command unwinds."""
    if threading.current_thread() is not threading.main_thread():  # signals can be caught in the main thread only
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def on_interrupt(kept: str) -> Iterator[None]:
    """On Ctrl-C or SIGTERM, say what was kept (and how to go on) before the command stops."""
    try:
        yield
    except KeyboardInterrupt:
        err.print(f"interrupted: {kept}", highlight=False)
        raise


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a `GraderError` raised by a command into its one-paragraph message and exit code 2, and Ctrl-C or
    SIGTERM into a line saying the command stopped (exit code 130); a command says what it kept itself."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with interruptible():
                return command(*args, **kwargs)
        except GraderError as exc:
            fail(exc)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt as exc:
            err.print(f"stopped ({exc or 'SIGINT'}).", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return run
