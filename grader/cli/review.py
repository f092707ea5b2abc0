"""`grader review` (the review workbench over a run) and `grader gold export` (its reviews as gold labels)."""

from __future__ import annotations

import os
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from grader.api import export_gold, review_server
from grader.cli.app import app, err, reports_errors
from grader.cli.options import RunArg, RunRubric

gold_app = typer.Typer(help="Gold labels from a run's reviews.", no_args_is_help=True)
app.add_typer(gold_app, name="gold")


@app.command()
@reports_errors
def review(
    run: RunArg,
    host: Annotated[str, typer.Option(help="address to listen on (loopback unless --allow-remote)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8321,
    reviewer: Annotated[str | None, typer.Option(help="your name on every decision (default: your user name)")] = None,
    rubric: RunRubric = None,
    open_browser: Annotated[bool, typer.Option("--open", help="open the run page in a browser")] = False,
    allow_remote: Annotated[bool, typer.Option(help="listen on an address other than loopback; every request "
                                                    "then needs the access token")] = False,
    token: Annotated[str | None, typer.Option(envvar="GRADER_REVIEW_TOKEN", show_default=False,
                                              help="access token with --allow-remote (default: a random one)")] = None,
) -> None:
    """Serve a web page to review a run: check every score against the transcript, confirm or override it."""
    import uvicorn

    server = review_server(run, reviewer=reviewer, rubric=rubric, host=host, port=port, allow_remote=allow_remote,
                           token=token)
    err.print(f"reviewing {run} as {server.reviewer} at {server.url} (Ctrl-C stops)", highlight=False)
    if open_browser:
        webbrowser.open(server.url)
    uvicorn.run(server.app, host=host, port=port, log_level=os.environ.get("GRADER_REVIEW_LOG", "warning"))


@gold_app.command("export")
@reports_errors
def gold_export(
    run: RunArg,
    out: Annotated[Path, typer.Option("--out", help="gold CSV to write (long: transcript_id, criterion_id, "
                                                    "rater_id, score)")],
) -> None:
    """Write a run's reviews as gold labels: each reviewer's current level per criterion (rater = reviewer)."""
    gold = export_gold(run, out)
    skipped = f"; {gold.left_out} labels of 'insufficient evidence' have no level and are left out" \
        if gold.left_out else ""
    err.print(f"wrote {len(gold.frame)} gold rows from {gold.frame['rater_id'].nunique()} reviewers to {out}"
              f"{skipped}", highlight=False)
