"""`grader review` (the review workbench over a run) and `grader gold export` (its reviews as gold labels)."""

from __future__ import annotations

import getpass
import os
import secrets
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from grader.cli.app import app, err, reports_errors
from grader.cli.options import RunRubric
from grader.errors import GraderError

gold_app = typer.Typer(help="Gold labels from a run's reviews.", no_args_is_help=True)
app.add_typer(gold_app, name="gold")

RunArg = Annotated[Path, typer.Argument(help="run folder of a batch")]


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"


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

    from grader.review.app import app_for
    from grader.review.security import MIN_TOKEN, Guard, is_loopback

    loopback = is_loopback(host)
    if not loopback and not allow_remote:
        raise GraderError(f"{host} is not a loopback address", where="--host",
                          fix="review on 127.0.0.1, or add --allow-remote (every request then needs a token)")
    if not loopback and token is not None and len(token) < MIN_TOKEN:
        raise GraderError(f"the access token is too short to keep a remote review server safe ({len(token)} "
                          f"characters; at least {MIN_TOKEN} are needed)", where="--token (or GRADER_REVIEW_TOKEN)",
                          fix='leave --token out for a random one, or make one with: python -c "import secrets; '
                              'print(secrets.token_urlsafe(24))"')
    guard = Guard() if loopback else Guard(access_token=token or secrets.token_urlsafe(24), allowed_hosts=None)
    server = app_for(run, reviewer=reviewer or _default_reviewer(), rubric=rubric, guard=guard)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={guard.access_token}" if guard.access_token else "")
    err.print(f"reviewing {run} as {server.state.review.reviewer} at {url} (Ctrl-C stops)", highlight=False)
    if open_browser:
        webbrowser.open(url)
    uvicorn.run(server, host=host, port=port, log_level=os.environ.get("GRADER_REVIEW_LOG", "warning"))


@gold_app.command("export")
@reports_errors
def gold_export(
    run: RunArg,
    out: Annotated[Path, typer.Option("--out", help="gold CSV to write (long: transcript_id, criterion_id, "
                                                    "rater_id, score)")],
) -> None:
    """Write a run's reviews as gold labels: each reviewer's current level per criterion (rater = reviewer)."""
    from grader.review.gold import export_gold
    from grader.runs.folder import open_store

    open_store(run).close()  # a clear error when RUN is not a run folder
    gold = export_gold(run, out)
    skipped = f"; {gold.left_out} labels of 'insufficient evidence' have no level and are left out" \
        if gold.left_out else ""
    err.print(f"wrote {len(gold.frame)} gold rows from {gold.frame['rater_id'].nunique()} reviewers to {out}"
              f"{skipped}", highlight=False)
