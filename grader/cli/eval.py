"""`grader eval`, `grader calibrate` and `grader compare`: a run against human gold labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grader.api import GoldSpec, calibrate, compare, evaluation
from grader.cli.app import app, err, fail, out, progress_bar, renamed, reports_errors
from grader.cli.options import (
    Binning,
    Boot,
    CutPoints,
    Gold,
    GoldIdColumn,
    GroupPattern,
    Interval,
    OldIdColumn,
    RunDir,
    RunRubric,
    Scale,
)


def _spec(gold: Path, gold_id_column: str, id_column: str | None, binning: str, cut_points: str | None,
          group_pattern: str | None, scale: str | None) -> GoldSpec:
    column = renamed(id_column, gold_id_column, "--id-column", "--gold-id-column")
    return GoldSpec(gold, column, binning, cut_points, group_pattern, scale)


def _say(note: str | None) -> None:
    if note:
        err.print(note, markup=False, highlight=False)


@app.command(name="eval")
@reports_errors
def evaluate(
    run: RunDir, gold: Gold, rubric: RunRubric = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="report folder (default: RUN/eval)")] = None,
    gold_id_column: GoldIdColumn = "transcript_id", id_column: OldIdColumn = None, binning: Binning = "auto",
    cut_points: CutPoints = None, group_pattern: GroupPattern = None, n_boot: Boot = 1000, scale: Scale = None,
    interval: Interval = "bca",
    transcripts: Annotated[list[str], typer.Option(help="the graded transcripts (files, folders, dataset CSV), "
                                                       "to fit the TF-IDF baseline")] = [],  # noqa: B006
    text_column: Annotated[str, typer.Option(help="transcript column of a dataset CSV")] = "transcript",
    dataset_id_column: Annotated[str, typer.Option(help="id column of a dataset CSV")] = "interview_id",
    html: Annotated[bool, typer.Option(help="also write report.html with plots")] = True,
    retest: Annotated[Path | None, typer.Option(help="run folder B: the same transcripts graded again; adds its "
                                                     "test-retest reliability against RUN (reliability.csv)")] = None,
) -> None:
    """Agreement of a run with human gold labels: report.md, report.html and figures.csv."""
    spec = _spec(gold, gold_id_column, id_column, binning, cut_points, group_pattern, scale)
    with progress_bar("eval") as bar:
        result = evaluation(run, spec, rubric=rubric, transcripts=transcripts or None,
                            dataset_id_column=dataset_id_column, text_column=text_column, n_boot=n_boot,
                            interval=interval, decisions=True, on_error=fail, on_progress=bar, retest=retest)
        path = result.write_report(out_dir or run / "eval", html=html)
    err.print(f"wrote {path}, {path.parent / 'figures.csv'}" + (f" and {path.parent / 'report.html'}" if html else ""))
    out.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)


@app.command(name="calibrate")
@reports_errors
def calibrate_command(
    run: RunDir, gold: Gold, to: Annotated[Path, typer.Option("--out", help="calibration file to write (JSON)")],
    rubric: RunRubric = None, gold_id_column: GoldIdColumn = "transcript_id", id_column: OldIdColumn = None,
    binning: Binning = "auto", cut_points: CutPoints = None, group_pattern: GroupPattern = None, n_boot: Boot = 1000,
    scale: Scale = None, interval: Interval = "bca",
    input_kind: Annotated[str, typer.Option("--input", help="stated (the model's level) or expected "
                                                            "(expected level from --level-probs)")] = "stated",
) -> None:
    """Fit a per-criterion isotonic mapping to the human scale; print held-out agreement before and after."""
    spec = _spec(gold, gold_id_column, id_column, binning, cut_points, group_pattern, scale)
    with progress_bar("calibrate") as bar:
        fitted = calibrate(run, spec, to, rubric=rubric, input_kind=input_kind,  # type: ignore[arg-type]
                           n_boot=n_boot, interval=interval, on_progress=bar)
    err.print(f"wrote {to}: {len(fitted.calibration.mappings)} criteria mapped from the {input_kind} level")
    _say(fitted.split_raters_note)
    out.print("\n".join(fitted.lines()), markup=False, highlight=False)


@app.command(name="compare")
@reports_errors
def compare_command(
    run_a: Annotated[Path, typer.Option("--run-a", help="run folder A (the reference)")],
    run_b: Annotated[Path, typer.Option("--run-b", help="run folder B (the change)")],
    gold: Gold, rubric: RunRubric = None, gold_id_column: GoldIdColumn = "transcript_id",
    id_column: OldIdColumn = None, binning: Binning = "auto", cut_points: CutPoints = None,
    group_pattern: GroupPattern = None, n_boot: Boot = 1000, scale: Scale = None, interval: Interval = "bca",
    source: Annotated[str, typer.Option(help="levels compared: model (counted), stated or expected")] = "model",
    to: Annotated[Path | None, typer.Option("--out", help="CSV of every difference")] = None,
) -> None:
    """Two runs on the same gold: each figure's difference B − A with a paired bootstrap interval."""
    spec = _spec(gold, gold_id_column, id_column, binning, cut_points, group_pattern, scale)
    with progress_bar("compare") as bar:
        comparison = compare(run_a, run_b, spec, rubric=rubric, source=source, n_boot=n_boot, interval=interval,
                             out=to, on_progress=bar)
    out.print("\n".join(comparison.lines()), markup=False, highlight=False)
