"""`grader audit`: selection rates and impact ratios of a run's decisions per demographic group."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.app import app, out, reports_errors
from grader.cli.options import RunRubric

if TYPE_CHECKING:
    from grader.ingest.rubric import Rubric


class SourceChoice(StrEnum):
    model = "model"
    reviewed = "reviewed"


@app.command()
@reports_errors
def audit(
    run: Annotated[Path, typer.Argument(help="run folder of a batch")],
    demographics: Annotated[Path, typer.Option(help="CSV: an id column and one or more category columns "
                                                    "(e.g. sex, race_ethnicity)")],
    id_column: Annotated[str, typer.Option(help="id column of the demographics CSV (transcript ids)")] = \
        "transcript_id",
    source: Annotated[SourceChoice, typer.Option(help="decisions as graded (model) or after review (reviewed)")] =
        SourceChoice.model,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for the report (default: RUN/audit)")] = None,
    attribute: Annotated[list[str], typer.Option(help="category column to audit (default: every column)")] = [],  # noqa: B006
    gold: Annotated[Path | None, typer.Option(help="gold CSV: adds agreement with humans per group")] = None,
    gold_id_column: Annotated[str, typer.Option(help="transcript id column of the gold CSV")] = "transcript_id",
    rubric: RunRubric = None,
    boot: Annotated[int, typer.Option(min=100, help="bootstrap resamples of each impact ratio")] = 2000,
) -> None:
    """Selection and scoring rates, impact ratios, four-fifths flags and Fisher tests per group (Local Law 144)."""
    from grader.audit import AuditOptions, GoldInput, audit_run, write_report

    result = audit_run(run, demographics, id_column=id_column, source=source.value,
                       rubric=_rubric(run, rubric) if source is SourceChoice.reviewed else None,
                       gold=GoldInput(gold, id_column=gold_id_column) if gold else None,
                       attributes=attribute or None, options=AuditOptions(n_boot=boot))
    paths = write_report(result, out_dir or run / "audit")
    flagged = result.impact[(result.impact["outcome"] == "overall") & (result.impact["rate_kind"] == "selection")
                            & result.impact["four_fifths_flag"]]
    named = ", ".join(f"{a} = {g}" for a, g in zip(flagged["attribute"], flagged["group"], strict=True))
    out.print(f"{result.counts['audited']} transcripts audited; overall pass rate below four fifths of the highest "
              f"group's for {len(flagged)} group(s): {named or 'none'}", highlight=False)
    for path in paths:
        out.print(f"wrote {path}", highlight=False)


def _rubric(run: Path, name: str | None) -> Rubric:
    """The run's own rubric (from its manifest); `--rubric` is only a check, or names it for an older run."""
    from grader.runs.folder import read_run

    record = read_run(run)
    try:
        return record.rubric(name)
    finally:
        record.store.close()
