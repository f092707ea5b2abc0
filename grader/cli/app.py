"""The `grader` Typer app and its edge: the consoles, and the one place a `GraderError` becomes a message.

Command modules (`grade`, `batch`, `eval`, `rubric`, `sheet`, ...) import this module and
`grader.cli.options`, never each other; `grader/cli/__init__.py` imports them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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


def fail(exc: GraderError) -> None:
    """Print one error as one paragraph (file, place, fix) on stderr, without a traceback."""
    err.print(Text.assemble(("error:", "bold red"), f" {exc}"), highlight=False, soft_wrap=True)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a `GraderError` raised by a command into its one-paragraph message and exit code 2."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except GraderError as exc:
            fail(exc)
            raise typer.Exit(EXIT_USAGE) from None

    return run
