"""`grader eval`, `grader calibrate` and `grader compare`: a run against human gold labels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.api import evaluation
from grader.cli.app import app, err, fail, out, reports_errors
from grader.cli.options import RunDir, RunRubric
from grader.errors import GraderError

if TYPE_CHECKING:  # pandas and the agreement modules load only when one of these commands runs
    import pandas as pd

    from grader.agreement.figures import IntervalKind
    from grader.agreement.gold import GoldLabels


def _reviews_as_gold(path: Path) -> Path:
    """A run folder given as --gold stands for its reviews (`grader review`), written to RUN/reviews-gold.csv."""
    from grader.review.gold import reviews_as_gold

    return reviews_as_gold(path)


Gold = Annotated[Path, typer.Option(help="gold CSV (long or wide; see README), or a run folder: its reviews as gold",
                                    callback=_reviews_as_gold)]
IdColumn = Annotated[str, typer.Option(help="transcript id column of the gold CSV")]
Binning = Annotated[str, typer.Option(help="auto | levels | cut_points | quantiles")]
CutPoints = Annotated[str | None, typer.Option(help="4 ascending cut points, e.g. 2.5,3.5,4.5,5.5")]
GroupPattern = Annotated[str | None, typer.Option(help="regex for the candidate in an id, e.g. '\\d+'")]
Boot = Annotated[int, typer.Option(min=1, max=100_000, help="bootstrap resamples")]
Interval = Annotated[str, typer.Option(help="95% interval: bca (bias-corrected and accelerated, the default) or "
                                            "percentile; both resample candidates")]
Scale = Annotated[str | None, typer.Option(help="the raters' scale, e.g. 1,7; scores outside it are reported "
                                                "(default: 1,5 when every score is a whole number)")]


def _interval(text: str) -> IntervalKind:
    from grader.agreement.figures import INTERVALS

    if text not in INTERVALS:
        raise GraderError(f"unknown interval {text!r}", where="--interval", fix="use bca or percentile")
    return text  # type: ignore[return-value]


def split_raters_warning(gold: GoldLabels) -> None:
    """Say on the terminal when raters split the work (the reports say it too)."""
    from grader.agreement.evaluate import split_raters_note

    note = split_raters_note(gold)
    if note:
        err.print(note, markup=False, highlight=False)


@app.command(name="eval")
@reports_errors
def evaluate(
    run: RunDir, gold: Gold, rubric: RunRubric = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="report folder (default: RUN/eval)")] = None,
    id_column: IdColumn = "transcript_id", binning: Binning = "auto", cut_points: CutPoints = None,
    group_pattern: GroupPattern = None, n_boot: Boot = 1000, scale: Scale = None, interval: Interval = "bca",
    transcripts: Annotated[list[str], typer.Option(help="the graded transcripts (files, folders, dataset CSV), "
                                                       "to fit the TF-IDF baseline")] = [],  # noqa: B006
    text_column: Annotated[str, typer.Option(help="transcript column of a dataset CSV")] = "transcript",
    dataset_id_column: Annotated[str, typer.Option(help="id column of a dataset CSV")] = "interview_id",
    html: Annotated[bool, typer.Option(help="also write report.html with plots")] = True,
) -> None:
    """Agreement of a run with human gold labels: report.md, report.html and figures.csv."""
    from grader.agreement.load import GoldSpec

    result = evaluation(run, GoldSpec(gold, id_column, binning, cut_points, group_pattern, scale), rubric=rubric,
                        transcripts=transcripts or None, dataset_id_column=dataset_id_column, text_column=text_column,
                        n_boot=n_boot, interval=_interval(interval), decisions=True, on_error=fail)
    path = result.write_report(out_dir or run / "eval", html=html)
    err.print(f"wrote {path}, {path.parent / 'figures.csv'}" + (f" and {path.parent / 'report.html'}" if html else ""))
    out.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)


@app.command()
@reports_errors
def calibrate(
    run: RunDir, gold: Gold, to: Annotated[Path, typer.Option("--out", help="calibration file to write (JSON)")],
    rubric: RunRubric = None, id_column: IdColumn = "transcript_id", binning: Binning = "auto",
    cut_points: CutPoints = None, group_pattern: GroupPattern = None, n_boot: Boot = 1000, scale: Scale = None,
    interval: Interval = "bca",
    input_kind: Annotated[str, typer.Option("--input", help="stated (the model's level) or expected "
                                                            "(expected level from --level-probs)")] = "stated",
) -> None:
    """Fit a per-criterion isotonic mapping to the human scale; print held-out agreement before and after."""
    from grader.agreement.calibration import fit_calibration
    from grader.agreement.evaluate import consensus, evaluation_tables, prediction_sets
    from grader.agreement.load import GoldSpec, load_run
    from grader.agreement.report import figures_table, intervals_note

    if input_kind not in ("stated", "expected"):
        raise GraderError(f"unknown input {input_kind!r}", where="--input", fix="use stated or expected")
    kind = _interval(interval)
    loaded = load_run(run, GoldSpec(gold, id_column, binning, cut_points, group_pattern, scale), rubric)
    pairs = consensus(loaded.gold).merge(loaded.model, on=["transcript_id", "criterion_id"])
    calibration = fit_calibration(pairs.assign(x=pairs[input_kind]), rubric_id=loaded.rubric.id,
                                  rubric_hash=loaded.rubric.content_hash(), model=loaded.model_name,
                                  prompt_version=loaded.prompt_version, input_kind=input_kind)
    calibration.save(to)
    sets = prediction_sets(loaded.model, loaded.gold)
    after = "calibrated" if input_kind == "stated" else "calibrated_expected"
    table = evaluation_tables({k: v for k, v in sets.items() if k in (input_kind, after)}, loaded.gold,
                              loaded.rubric, n_boot=n_boot, interval=kind)
    err.print(f"wrote {to}: {len(calibration.mappings)} criteria mapped from the {input_kind} level")
    split_raters_warning(loaded.gold)
    out.print(intervals_note(kind), markup=False, highlight=False)
    for source, part in table.groupby("source", sort=False):
        label = "before" if source == input_kind else "after (held-out folds grouped by candidate)"
        out.print(f"\n{label}: {source}\n" + "\n".join(figures_table(part)), markup=False, highlight=False)


@app.command()
@reports_errors
def compare(
    run_a: Annotated[Path, typer.Option("--run-a", help="run folder A (the reference)")],
    run_b: Annotated[Path, typer.Option("--run-b", help="run folder B (the change)")],
    gold: Gold, rubric: RunRubric = None, id_column: IdColumn = "transcript_id",
    binning: Binning = "auto", cut_points: CutPoints = None, group_pattern: GroupPattern = None, n_boot: Boot = 1000,
    scale: Scale = None, interval: Interval = "bca",
    source: Annotated[str, typer.Option(help="levels compared: model (counted), stated or expected")] = "model",
    to: Annotated[Path | None, typer.Option("--out", help="CSV of every difference")] = None,
) -> None:
    """Two runs on the same gold: each figure's difference B − A with a paired bootstrap interval."""
    from grader.agreement.evaluate import comparison_table, prediction_sets
    from grader.agreement.load import GoldSpec, load_run

    kind = _interval(interval)
    spec = GoldSpec(gold, id_column, binning, cut_points, group_pattern, scale)
    a, b = load_run(run_a, spec, rubric), load_run(run_b, spec, rubric)
    if a.rubric.content_hash() != b.rubric.content_hash():
        raise GraderError(f"run A was graded with rubric {a.rubric.id} ({a.rubric.content_hash()}), run B with "
                          f"{b.rubric.id} ({b.rubric.content_hash()})", where="--run-b",
                          fix="compare two runs graded with the same rubric")
    sets_a, sets_b = prediction_sets(a.model, a.gold), prediction_sets(b.model, a.gold)
    if source not in sets_a or source not in sets_b:
        raise GraderError(f"no {source!r} levels in both runs", where="--source",
                          fix="use model, stated, or expected (needs --level-probs in both runs)")
    table = comparison_table(sets_a[source], sets_b[source], a.gold, a.rubric, n_boot=n_boot, interval=kind)
    if to:
        from grader.spreadsheet import write_csv

        write_csv(table, to)
    out.print("\n".join(comparison_lines(table, kind)), markup=False, highlight=False)


def comparison_lines(table: pd.DataFrame, interval: str = "bca") -> list[str]:
    import pandas as pd
    method = "BCa" if interval == "bca" else interval
    lines = [f"| scope | pairs | figure | A | B | B − A [95% paired {method} CI] | verdict |",
             "|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        fallback = " (percentile)" if isinstance(r.get("fallback"), str) else ""
        diff = (f"{r['difference']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}]{fallback}" if pd.notna(r["low"])
                else (f"{r['difference']:+.2f}" if pd.notna(r["difference"]) else f"undefined ({r['undefined']})"))
        a, b = (f"{v:.2f}" if pd.notna(v) else "–" for v in (r["a"], r["b"]))
        lines.append(f"| {r['scope']} ({r['kind']}) | {r['pairs']} | {r['figure']} | {a} | {b} | {diff} | "
                     f"{r['verdict']} |")
    return lines
