"""`grader doctor` and `grader --version`: what grader runs on, for a bug report or a first check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from grader.cli.app import app, out, reports_errors
from grader.cli.options import ApiKey, BaseUrl, Model
from grader.doctor import Status, diagnose, version_of

STYLES = {Status.ok: "green", Status.warning: "yellow", Status.failed: "bold red", Status.info: "dim"}


def show_version(value: bool) -> None:
    if value:
        out.print(f"grader {version_of('grader') or '0+unknown'}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True,
                                               help="print grader's version and exit")] = False) -> None:
    """Grade interview transcripts against a competency rubric with an LLM, citing the candidate's own sentences
    as evidence."""


@app.command()
@reports_errors
def doctor(
    base_url: BaseUrl = None, model: Model = None, api_key: ApiKey = None,
    run: Annotated[Path | None, typer.Option(file_okay=False, help="a run folder: its lock and manifest")] = None,
    embedded: Annotated[bool, typer.Option(help="check the embedded model (a smoke run of a few seconds)")] = True,
) -> None:
    """Check Python, the CPU, the embedded model (runtime, model file and hash, a smoke run with tokens/s), the
    server of --base-url / $OPENAI_BASE_URL, and a run folder."""
    import os

    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    failed = False
    for check in diagnose(base_url=base_url, model=model, api_key=api_key or os.environ.get("OPENAI_API_KEY"),
                          run=run, embedded=embedded):  # one line each, as it comes: pasteable into an issue
        failed |= check.status is Status.failed
        out.print(Text.assemble(f"{check.name:<13}", (f"{check.status.value:<8}", STYLES[check.status]),
                                check.detail), highlight=False)
    if failed:
        raise typer.Exit(1)
