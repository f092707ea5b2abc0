"""`grader grade` and `grader demo`: score sheets for a few transcripts, written into a folder."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grader.api import (
    Competency,
    Criterion,
    CriterionGrade,
    FatalBackendError,
    Grader,
    GraderError,
    GradeStatus,
    Role,
    ScoreSheet,
    Transcript,
    read_transcript,
    sample_transcript,
)
from grader.cli.app import EXIT_INCOMPLETE, app, err, fail, on_interrupt, out, reports_errors, warn
from grader.cli.options import GradingFlags, ServerFlags, grading_options, one_server, server_options, settings

DEMO_TRANSCRIPT = "strong-candidate.vtt"


@app.command()
@reports_errors
@grading_options
def grade(
    transcripts: Annotated[list[Path], typer.Argument(help="transcript files (plain, mit, vtt, srt, json)")],
    out_dir: Annotated[Path, typer.Option("--out", file_okay=False, help="folder for the score sheets")] = Path("out"),
    show: Annotated[bool, typer.Option(help="print each Markdown score sheet")] = False,
    calibration: Annotated[Path | None, typer.Option(help="calibration file fitted for this rubric and model")] = None,
    *, grading: GradingFlags,
) -> None:
    """Grade transcripts; write a JSON and a Markdown score sheet for each into --out."""
    config = settings(grading)
    base_url, model = one_server(grading, config)
    loaded = _load_all(transcripts, grading.fmt, grading.roles())
    graded = 0
    if loaded:
        with _kept_on_interrupt(out_dir), Grader(
                config.rubric, base_url=base_url, model=model, api_key=grading.api_key,
                prompt=config.prompt, calibration=calibration, options=config.grading_options()) as grader:
            graded = sum(_grade_one(grader, transcript, out_dir, show) for transcript in loaded)
    if graded < len(transcripts):
        raise typer.Exit(EXIT_INCOMPLETE)


def _kept_on_interrupt(out_dir: Path) -> contextlib.AbstractContextManager[None]:
    return on_interrupt(f"the sheets already written in {out_dir} are kept; the transcript being graded was not "
                        "finished (grade it again)")


def _load_all(paths: list[Path], fmt: str | None, given: dict[str, Role]) -> list[Transcript]:
    """Every transcript that reads; each one that does not is reported, and the others still graded.

    Two files with one id (`a/x.txt`, `b/x.vtt`) would write one sheet: the second is reported instead.
    """
    loaded: dict[str, Transcript] = {}
    for path in paths:
        try:
            transcript = read_transcript(path, fmt=fmt, roles=given)
        except GraderError as exc:
            fail(exc)
            continue
        first = loaded.get(transcript.id)
        if first is not None:
            fail(GraderError(f"has the id {transcript.id!r} of {first.source} given before it, so its sheet would "
                             "replace that one's", path=path, fix="rename one of the two files"))
            continue
        loaded[transcript.id] = transcript
    return list(loaded.values())


def _grade_one(grader: Grader, transcript: Transcript, out_dir: Path, show: bool) -> bool:
    """Grade and write one transcript's sheet; a failure of this one is reported and the next is graded.

    A refused key (HTTP 401/403) or a crashed server stops everything: no other transcript could be graded either.
    """
    try:
        sheet = write_sheet(grader, transcript, out_dir, show)
    except FatalBackendError:
        raise
    except GraderError as exc:
        fail(exc)
        return False
    except Exception as exc:  # not foreseen: this transcript fails, the next is still graded
        fail(GraderError(f"could not be graded ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})",
                         path=transcript.source, fix="check the file, and report it if it is a valid transcript"))
        return False
    return sheet.counts.unscored == 0


def write_sheet(grader: Grader, transcript: Transcript, out_dir: Path, show: bool, strict: bool = True) -> ScoreSheet:
    """Grade one transcript with a progress bar, write its JSON and Markdown sheet, say where; criteria that could
    not be scored are an error (`strict`) or a warning, with their reasons."""
    sheet = _grade_with_progress(grader, transcript)
    json_path, md_path = sheet.write(out_dir, grader.rubric)
    err.print(f"{transcript.id}: {_summary(sheet)} → {md_path} and {json_path.name}", highlight=False)
    if show:
        out.print(Markdown(md_path.read_text(encoding="utf-8")))
    if sheet.counts.unscored:
        problem = GraderError(f"{sheet.counts.unscored} of {len(sheet.grades)} criteria could not be scored: "
                              f"{unscored_reasons(sheet)}", path=transcript.source,
                              fix="see each one's reason on the sheet; `grader doctor` checks the server")
        report = fail if strict or sheet.counts.unscored == len(sheet.grades) else warn
        report(problem)
    return sheet


def unscored_reasons(sheet: ScoreSheet) -> str:
    """The reasons of a sheet's unscored grades, most frequent first (`reason (×3); other`)."""
    reasons = Counter(g.reason or "no reason recorded" for g in sheet.grades if g.status is GradeStatus.unscored)
    return "; ".join(f"{reason}{f' (×{n})' if n > 1 else ''}" for reason, n in reasons.most_common(3))


def _grade_with_progress(grader: Grader, transcript: Transcript) -> ScoreSheet:
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(transcript.id, total=len(grader.rubric.criteria()))

        def tick(competency: Competency, criterion: Criterion, grade: CriterionGrade | None) -> None:
            if grade is None:
                progress.update(task, description=f"{transcript.id}: {criterion.name[:40]}")
            else:
                progress.advance(task)

        return grader.grade(transcript, progress=tick)


def _summary(sheet: ScoreSheet) -> str:
    decisions = ", ".join(f"{c.name}: {c.decision.value}" for c in sheet.competencies)
    c = sheet.counts
    return (f"{decisions}; citations {c.evidence_cited}, citations rejected {c.citations_rejected}, "
            f"re-asks {c.reasks}, unscored {c.unscored}, {sheet.run.seconds:.0f} s")


@app.command()
@reports_errors
@server_options
def demo(
    transcript: Annotated[str, typer.Option(help="built-in sample transcript or a transcript file")] = DEMO_TRANSCRIPT,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the score sheet")] = Path("out/demo"),
    *, server: ServerFlags,
) -> None:
    """Grade a sample transcript against the seed rubric (embedded model by default) and print the sheet."""
    config = settings(server)
    loaded = sample_transcript(transcript)
    with _kept_on_interrupt(out_dir), Grader(config.rubric, base_url=config.base_url, model=config.model,
                                             api_key=server.api_key, options=config.grading_options()) as grader:
        sheet = write_sheet(grader, loaded, out_dir, show=True, strict=False)
    if sheet.counts.unscored == len(sheet.grades):  # the demo fails when nothing could be scored
        raise typer.Exit(EXIT_INCOMPLETE)
