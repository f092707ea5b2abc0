"""`grader doctor` and `grader --version`: what grader runs on, for a bug report or a first check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from grader.api import Status, diagnose, version
from grader.cli.app import EXIT_INCOMPLETE, app, out, reports_errors
from grader.cli.options import ServerFlags, server_options, settings

STYLES = {Status.ok: "green", Status.warning: "yellow", Status.failed: "bold red", Status.info: "dim"}


def show_version(value: bool) -> None:
    if value:
        out.print(f"grader {version()}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True,
                                               help="print grader's version and exit")] = False) -> None:
    """Grade interview transcripts against a competency rubric with an LLM, citing the candidate's own sentences
    as evidence."""


@app.command()
@reports_errors
@server_options
def doctor(
    run: Annotated[Path | None, typer.Option(file_okay=False, help="a run folder: its lock and manifest")] = None,
    embedded: Annotated[bool, typer.Option(help="check the embedded model (a smoke run of a few seconds)")] = True,
    *, server: ServerFlags,
) -> None:
    """Check Python, the CPU, the embedded model (runtime, model file and hash, a smoke run with tokens/s), the
    server of --base-url / $OPENAI_BASE_URL, and a run folder."""
    import os

    config = settings(server)
    failed = False
    for check in diagnose(base_url=config.base_url, model=config.model,
                          api_key=server.api_key or os.environ.get("OPENAI_API_KEY"), run=run,
                          embedded=embedded):  # one line each, as it comes: pasteable into an issue
        failed |= check.status is Status.failed
        out.print(Text.assemble(f"{check.name:<13}", (f"{check.status.value:<8}", STYLES[check.status]),
                                check.detail), highlight=False)
    if failed:
        raise typer.Exit(EXIT_INCOMPLETE)
