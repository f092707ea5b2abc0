"""The `grader` command line: one Typer app (`grader.cli.app`), one module per group of commands.

Each command module registers its commands on the app when imported; they import `app` and
`options`, never each other.
"""

# the order of the imports is the order of `grader --help`
from grader.cli import grade  # noqa: F401, I001  (each registers its commands)
from grader.cli import batch  # noqa: F401
from grader.cli import eval  # noqa: F401
from grader.cli import exemplars  # noqa: F401
from grader.cli import review  # noqa: F401
from grader.cli import audit  # noqa: F401
from grader.cli import rubric, sheet  # noqa: F401
from grader.cli import doctor  # noqa: F401
from grader.cli.app import app

__all__ = ["app"]
