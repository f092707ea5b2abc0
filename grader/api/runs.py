"""What comes out of a run folder: exports, gold labels from its reviews, the audit, and the review server.

    export_table("runs/june", "june.csv")            # one row per transcript × criterion, reviews beside
    export_sheets("runs/june", "sheets/")            # every score sheet as JSON and Markdown
    export_html("runs/june", "html/")                # self-contained read-only HTML sheets and an index
    export_gold("runs/june", "gold.csv")             # each reviewer's current level (long gold CSV)
    result = audit_run("runs/june", "demographics.csv")  # adverse impact per group; .write("runs/june/audit")
    server = review_server("runs/june")              # a FastAPI app; serve server.app with uvicorn

A folder that may only be read is opened read-only; none of these takes the writer's lock.
"""

from __future__ import annotations

import getpass
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from grader.errors import GraderError
from grader.llm.loopback import is_loopback_host
from grader.runs.folder import RunFolder, as_folder

if TYPE_CHECKING:
    from fastapi import FastAPI

    from grader.audit import AuditResult
    from grader.review.gold import GoldFrame

RunPath = str | Path | RunFolder


def export_table(run: RunPath, to: str | Path, *, rubric: str | Path | None = None) -> int:
    """Write a .csv or .parquet file: one row per transcript × criterion, with the current review beside the
    model's level; returns the number of rows. `rubric`, when given, must be the run's own (it is checked)."""
    from grader.review.gold import with_reviews
    from grader.runs.export import run_dataframe, write_table

    folder = as_folder(run)
    with folder.read() as record:
        if rubric is not None:
            record.rubric(rubric)
        frame = run_dataframe(record.store)
    return write_table(with_reviews(frame, folder), Path(to))


def export_sheets(run: RunPath, out_dir: str | Path, *, rubric: str | Path | None = None) -> int:
    """Write every finished score sheet as JSON and Markdown into `out_dir`; returns how many.

    The run's own rubric is used; `rubric` is only a check, or names the rubric of a run graded before manifests.
    """
    from grader.runs.export import write_sheets

    with as_folder(run).read() as record:
        return write_sheets(record.store, record.rubric(rubric), Path(out_dir))


def export_html(run: RunPath, out_dir: str | Path, *, rubric: str | Path | None = None) -> int:
    """Write one self-contained, read-only HTML sheet per transcript and an index.html; returns how many sheets."""
    from grader.review.static_export import write_html_sheets

    return write_html_sheets(as_folder(run), Path(out_dir), rubric)


def export_gold(run: RunPath, out: str | Path) -> GoldFrame:
    """Write the run's reviews as a long gold CSV (transcript_id, criterion_id, rater_id, score): each reviewer's
    current level. Labels of "insufficient evidence" have no level: left out and counted (`left_out`)."""
    from grader.review.gold import export_gold as write_gold

    return write_gold(as_folder(run), Path(out))


@dataclass(frozen=True)
class Audit:
    """An audit's result (`result`: every table and count) and how to write its report."""

    result: AuditResult

    def write(self, out_dir: str | Path) -> list[Path]:
        """report.md, report.html and the tables as CSV into `out_dir`; the paths written."""
        from grader.audit import write_report

        return write_report(self.result, Path(out_dir))


def audit_run(run: RunPath, demographics: str | Path, *, demographics_id_column: str = "transcript_id",
          source: Literal["model", "reviewed"] = "model", rubric: str | Path | None = None,
          gold: str | Path | None = None, gold_id_column: str = "transcript_id", attributes: list[str] | None = None,
          n_boot: int = 2000) -> Audit:
    """Selection and scoring rates, impact ratios, four-fifths flags and Fisher tests per demographic group.

    `source="reviewed"` audits the decisions after review (the reviewers' levels where there are
    any); `gold` adds agreement with human labels per group.
    """
    from grader.audit import AuditOptions, GoldInput
    from grader.audit import audit_run as audit_folder

    return Audit(audit_folder(as_folder(run), Path(demographics), id_column=demographics_id_column, source=source,
                           rubric=rubric, gold=GoldInput(Path(gold), id_column=gold_id_column) if gold else None,
                           attributes=attributes or None, options=AuditOptions(n_boot=n_boot)))


@dataclass(frozen=True)
class ReviewServer:
    """The review workbench over one run: the app to serve, who reviews, and the address to open.

    `reviewers`: the names of a team's reviewers (empty alone on one machine, where `reviewer` is the one).
    """

    app: FastAPI
    reviewer: str
    url: str
    reviewers: tuple[str, ...] = ()
    adjudicators: tuple[str, ...] = ()
    overlap: int | None = None


def review_server(run: RunPath, *, reviewer: str | None = None, rubric: str | Path | None = None,
                  host: str = "127.0.0.1", port: int = 8321, allow_remote: bool = False,
                  token: str | None = None, reviewers: str | Path | None = None, overlap: int | None = None,
                  hide_model: bool = False, blind: bool = True, adjudicators: list[str] | None = None
                  ) -> ReviewServer:
    """The review workbench's app for a run folder (serve `.app` with uvicorn on `host` and `port`).

    On loopback it answers only to this machine's names; another address needs `allow_remote`,
    and every request then needs the access token (`token`, at least 16 characters; default: a random one).

    `reviewers` (a YAML file, one `name: secret` per line; `name: {secret: ..., adjudicator: true}` marks an
    adjudicator, as `adjudicators` does) makes the reviewers people: each signs in (or sends `Authorization:
    Bearer <secret>`), and a decision is always the signed-in reviewer's. Their secrets are kept only as
    scrypt hashes, and they replace the access token on a remote address. `overlap` gives each transcript to
    that many reviewers (stored in the run, balanced); `blind` (the default with reviewers) hides the other
    reviewers' decisions on a criterion until a reviewer has submitted theirs, and `hide_model` the model's
    level too (also alone).
    """
    from grader.review.app import app_for
    from grader.review.security import MIN_TOKEN, Guard
    from grader.review.team import Team, load_reviewers

    loopback = is_loopback_host(host)
    if not loopback and not allow_remote:
        raise GraderError(f"{host} is not a loopback address", where="--host",
                          fix="review on 127.0.0.1, or add --allow-remote (every request then needs a token)")
    if overlap is not None and reviewers is None:
        raise GraderError("--overlap assigns transcripts to the reviewers of a team, and none was given",
                          where="--overlap", fix="give the reviewers file too: --reviewers FILE")
    if adjudicators and reviewers is None:
        raise GraderError("an adjudicator is one of the team's reviewers, and none was given", where="--adjudicator",
                          fix="give the reviewers file too: --reviewers FILE")
    if reviewers is not None and token is not None:
        raise GraderError("with a reviewers file every request already names a signed-in reviewer, so an access "
                          "token would be a second password", where="--token (or GRADER_REVIEW_TOKEN)",
                          fix="leave --token out: the reviewers' secrets guard the server")
    if not loopback and token is not None and len(token) < MIN_TOKEN:
        raise GraderError(f"the access token is too short to keep a remote review server safe ({len(token)} "
                          f"characters; at least {MIN_TOKEN} are needed)", where="--token (or GRADER_REVIEW_TOKEN)",
                          fix='leave --token out for a random one, or make one with: python -c "import secrets; '
                              'print(secrets.token_urlsafe(24))"')
    team = Team(load_reviewers(Path(reviewers), adjudicators or ())) if reviewers is not None else None
    if loopback:
        guard = Guard()
    elif team is not None:  # the reviewers' secrets stand in for the access token
        guard = Guard(allowed_hosts=None)
    else:
        guard = Guard(access_token=token or secrets.token_urlsafe(24), allowed_hosts=None)
    app = app_for(as_folder(run), reviewer=reviewer or _user_name(), rubric=rubric, guard=guard, team=team,
                  overlap=overlap, blind=blind, hide_model=hide_model)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={guard.access_token}" if guard.access_token else "")
    names = tuple(team.names) if team else ()
    judges = tuple(n for n in names if team and team.reviewers[n].adjudicator)
    return ReviewServer(app=app, reviewer=app.state.review.reviewer, url=url, reviewers=names, adjudicators=judges,
                        overlap=overlap)


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"
