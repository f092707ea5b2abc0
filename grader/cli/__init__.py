"""The `grader` command line: one Typer app (`grader.cli.app`), one module per group of commands.

Each command module registers its commands on the app when imported; they import `app` and
`options`, never each other.
"""

from grader.cli import batch, eval, grade, rubric, sheet  # noqa: F401  (each registers its commands)
from grader.cli.app import app

__all__ = ["app"]
