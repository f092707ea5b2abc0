"""`grader audit`: selection rates and impact ratios of a run's decisions per demographic group."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from grader.api import audit_run
from grader.cli.app import app, out, progress_bar, renamed, reports_errors
from grader.cli.options import RunArg, RunRubric


class SourceChoice(StrEnum):
    model = "model"
    reviewed = "reviewed"


@app.command()
@reports_errors
def audit(
    run: RunArg,
    demographics: Annotated[Path, typer.Option(help="CSV: an id column and one or more category columns "
                                                    "(e.g. sex, race_ethnicity)")],
    demographics_id_column: Annotated[str, typer.Option(help="id column of the demographics CSV (transcript ids)")] \
        = "transcript_id",
    id_column: Annotated[str | None, typer.Option("--id-column", hidden=True,
                                                  help="old name of --demographics-id-column")] = None,
    source: Annotated[SourceChoice, typer.Option(help="decisions as graded (model) or after review (reviewed)")] =
        SourceChoice.model,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder for the report (default: RUN/audit)")] = None,
    attribute: Annotated[list[str], typer.Option(help="category column to audit (default: every column)")] = [],  # noqa: B006
    gold: Annotated[Path | None, typer.Option(help="gold CSV: adds agreement with humans per group (its id column: "
                                                   "--gold-id-column)")] = None,
    gold_id_column: Annotated[str, typer.Option(help="transcript id column of the gold CSV")] = "transcript_id",
    rubric: RunRubric = None,
    n_boot: Annotated[int, typer.Option(min=100, help="bootstrap resamples of each impact ratio")] = 2000,
    boot: Annotated[int | None, typer.Option("--boot", hidden=True, min=100, help="old name of --n-boot")] = None,
) -> None:
    """Selection and scoring rates, impact ratios, four-fifths flags and Fisher tests per group (Local Law 144)."""
    with progress_bar("audit"):
        done = audit_run(run, demographics, source=source.value, rubric=rubric, gold=gold,
                         demographics_id_column=renamed(id_column, demographics_id_column, "--id-column",
                                                        "--demographics-id-column"),
                         gold_id_column=gold_id_column, attributes=attribute or None,
                         n_boot=renamed(boot, n_boot, "--boot", "--n-boot"))
        paths = done.write(out_dir or run / "audit")
    result = done.result
    flagged = result.impact[(result.impact["outcome"] == "overall") & (result.impact["rate_kind"] == "selection")
                            & result.impact["four_fifths_flag"]]
    named = ", ".join(f"{a} = {g}" for a, g in zip(flagged["attribute"], flagged["group"], strict=True))
    out.print(f"{result.counts['audited']} transcripts audited; overall pass rate below four fifths of the highest "
              f"group's for {len(flagged)} group(s): {named or 'none'}", highlight=False)
    for path in paths:
        out.print(f"wrote {path}", highlight=False)
