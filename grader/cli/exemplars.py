"""`grader exemplars`: reviewed grades of a run (or its grades with a gold file's levels), picked as examples of the
levels for `--exemplars`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from grader.api import DEFAULT_PER_LEVEL, GoldSpec, GraderError, select_exemplars
from grader.cli.app import app, err, out, reports_errors
from grader.cli.options import Binning, CutPoints, GoldIdColumn, RunArg, RunRubric, Scale


@app.command(name="exemplars")
@reports_errors
def exemplars_command(
    run: RunArg,
    to: Annotated[Path, typer.Option("--out", dir_okay=False, help="exemplars file to write: .yaml (or .yml) or "
                                                                   ".json")],
    per_level: Annotated[int, typer.Option(min=1, max=20, help="at most this many per criterion and level")]
    = DEFAULT_PER_LEVEL,
    group_pattern: Annotated[str | None, typer.Option(help="regex for the candidate in a transcript id, e.g. '\\d+' "
                                                           "(as grader eval --group-pattern), stored in the file: "
                                                           "a transcript is never shown its candidate's own "
                                                           "exemplars (default: each transcript is its own)")] = None,
    rubric: RunRubric = None,
    gold: Annotated[Path | None, typer.Option(help="take the levels from this gold CSV (read as grader eval --gold "
                                                   "reads it) instead of the run's reviews")] = None,
    gold_id_column: GoldIdColumn = "transcript_id", binning: Binning = "auto", cut_points: CutPoints = None,
    scale: Scale = None,
) -> None:
    """Pick exemplars from a run's reviews (confirmed or overridden grades and the sentences they cite), or
    from its grades with a gold file's levels (--gold), for grade and batch --exemplars FILE.

    Per criterion and level at most --per-level, in a fixed order, one per candidate before a second.
    """
    if gold is None and (gold_id_column, binning, cut_points, scale) != ("transcript_id", "auto", None, None):
        raise GraderError("--gold-id-column, --binning, --cut-points and --scale say how to read a gold file, and "
                          "no --gold is given", where="--gold", fix="give --gold FILE, or leave those options out "
                                                                   "to pick from the run's reviews")
    spec = GoldSpec(gold, gold_id_column, binning, cut_points, group_pattern, scale) if gold else None
    picked = select_exemplars(run, to, per_level=per_level, group_pattern=group_pattern, rubric=rubric, gold=spec)
    counts = picked.counts()
    source = f"{run} with the levels of {gold}" if gold else str(run)
    table = Table(title=f"exemplars of {source} (set {picked.sha256()})", show_lines=False)
    table.add_column("criterion")
    for level in range(1, 6):
        table.add_column(f"level {level}", justify="right")
    for criterion, by_level in counts.items():
        table.add_row(criterion, *(str(by_level.get(level, 0)) for level in range(1, 6)))
    out.print(table)
    candidates = len({e.group for e in picked.exemplars})
    err.print(f"wrote {to}: {len(picked.exemplars)} exemplars from {candidates} candidates (at most {per_level} per "
              "criterion and level)", highlight=False)
    for reason, n in picked.left_out.items():
        err.print(f"left out: {reason}: {n}", highlight=False)
