"""The `grader` Typer app and its edge: the consoles, the exit codes, and where a `GraderError` becomes a message.

Command modules (`grade`, `batch`, `eval`, `rubric`, `sheet`, ...) import this module,
`grader.cli.options` and `grader.api`, never each other or grader's internals (a test checks it);
`grader/cli/__init__.py` imports them all.

Exit codes, the same for every command:

| code | meaning |
|---|---|
| 0 | everything asked was done |
| 1 | done in part: a transcript or criterion could not be graded (each named with its reason), the
      demo scored nothing, or a doctor check failed |
| 2 | not done: a wrong flag, file or setting, a refused key, a crashed server, a busy or read-only
      run folder (the message names the file, the place and the fix) |
| 130 | stopped by Ctrl-C or SIGTERM; what was kept, and how to resume, is said first |
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

from grader.api import GraderError, stop_embedded_servers

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
T = TypeVar("T")
EXIT_INCOMPLETE = 1  # done in part: what could not be done is named
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


def renamed(old: T | None, new: T, old_name: str, new_name: str) -> T:
    """A flag's value under its new name, or under the old one with a warning (accepted for one more release)."""
    if old is None:
        return new
    err.print(Text.assemble(("warning:", "bold yellow"), f" {old_name} is now {new_name}; the old name is accepted "
                            "until the next release."), highlight=False, soft_wrap=True)
    return old


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int, str], None]]:
    """A progress bar on stderr (gone when done) for a step the API reports as (done, total, what)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=f"{label}: {what}"[:70])

        yield update


def _interrupt(signum: int, frame: FrameType | None) -> None:
    stop_embedded_servers()  # a call in flight fails at once (and is not recorded) instead of running to its end
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
