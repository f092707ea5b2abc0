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
    reviewer: Annotated[str | None, typer.Option(help="your name on every decision (default: your user name); "
                                                      "alone on your machine, without --reviewers")] = None,
    rubric: RunRubric = None,
    open_browser: Annotated[bool, typer.Option("--open", help="open the run page in a browser")] = False,
    allow_remote: Annotated[bool, typer.Option(help="listen on an address other than loopback; every request "
                                                    "then needs the access token (or, with --reviewers, a "
                                                    "signed-in reviewer)")] = False,
    token: Annotated[str | None, typer.Option(envvar="GRADER_REVIEW_TOKEN", show_default=False,
                                              help="access token with --allow-remote (default: a random one)")] = None,
    reviewers: Annotated[Path | None, typer.Option(
        "--reviewers", show_default=False,
        help="YAML file of the team, one `name: secret` line per reviewer (`name: {secret: ..., adjudicator: "
             "true}` for an adjudicator): each signs in, and a decision is always theirs")] = None,
    overlap: Annotated[int | None, typer.Option(
        min=1, show_default=False, help="give each transcript to K reviewers (balanced, stored in the run); each "
                                        "has a queue, key n for the next")] = None,
    blind: Annotated[bool, typer.Option(
        "--blind/--no-blind", help="with --reviewers: a reviewer sees the others' decisions on a criterion only "
                                   "after submitting their own")] = True,
    hide_model: Annotated[bool, typer.Option(
        "--hide-model", help="hide the model's level on a criterion until the reviewer has given theirs")] = False,
    adjudicator: Annotated[list[str] | None, typer.Option(
        "--adjudicator", show_default=False, help="a reviewer who resolves disagreements (repeatable; or mark them "
                                                  "in the reviewers file)")] = None,
) -> None:
    """Serve a web page to review a run: check every score against the transcript, confirm or override it."""
    import uvicorn

    server = review_server(run, reviewer=reviewer, rubric=rubric, host=host, port=port, allow_remote=allow_remote,
                           token=token, reviewers=reviewers, overlap=overlap, hide_model=hide_model, blind=blind,
                           adjudicators=adjudicator)
    if server.reviewers:
        judges = f"; adjudicator: {', '.join(server.adjudicators)}" if server.adjudicators else ""
        shared = f", each transcript to {server.overlap} of them" if server.overlap else ""
        err.print(f"reviewing {run} with {len(server.reviewers)} reviewers ({', '.join(server.reviewers)}{shared}"
                  f"{judges}) at {server.url} (each signs in; Ctrl-C stops)", highlight=False)
    else:
        err.print(f"reviewing {run} as {server.reviewer} at {server.url} (Ctrl-C stops)", highlight=False)
    if open_browser:
        webbrowser.open(server.url)
    uvicorn.run(server.app, host=host, port=port, log_level=os.environ.get("GRADER_REVIEW_LOG", "warning"))


@gold_app.command("export")
@reports_errors
def gold_export(
    run: RunArg,
    out: Annotated[Path, typer.Option("--out", help="gold CSV to write (long: transcript_id, criterion_id, "
                                                    "rater_id, score, source, gold)")],
) -> None:
    """Write a run's reviews as gold labels: each reviewer's current level per criterion (rater = reviewer), with
    each item's `source` (single, consensus, adjudicated) and `gold` level."""
    gold = export_gold(run, out)
    skipped = f"; {gold.left_out} labels of 'insufficient evidence' have no level and are left out" \
        if gold.left_out else ""
    sources = ", ".join(f"{n} {s}" for s, n in gold.sources().items() if n)
    err.print(f"wrote {len(gold.frame)} gold rows from {gold.frame['rater_id'].nunique()} reviewers to {out}"
              f"{f' (items: {sources})' if sources else ''}{skipped}", highlight=False)
