"""`grader eval`, `grader calibrate` and `grader compare`: a run against human gold labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from grader.cli import DEFAULT_RUBRIC, app, err, fail, out
from grader.cli_batch import RUN_DB
from grader.errors import GraderError
from grader.rubric import Rubric, load_rubric
from grader.store import RunStore

if TYPE_CHECKING:  # pandas-heavy modules load only when a command runs
    from grader.gold import GoldLabels

Run = Annotated[Path, typer.Option(help="run folder of a batch")]
Gold = Annotated[Path, typer.Option(help="gold CSV (long or wide; see README)")]
RubricPath = Annotated[Path, typer.Option(help="rubric YAML file the run was graded with")]
IdColumn = Annotated[str, typer.Option(help="transcript id column of the gold CSV")]
Binning = Annotated[str, typer.Option(help="auto | levels | cut_points | quantiles")]
CutPoints = Annotated[str | None, typer.Option(help="4 ascending cut points, e.g. 2.5,3.5,4.5,5.5")]
GroupPattern = Annotated[str | None, typer.Option(help="regex for the candidate in an id, e.g. '\\d+'")]
Boot = Annotated[int, typer.Option(help="bootstrap resamples")]
Scale = Annotated[str | None, typer.Option(help="the raters' scale, e.g. 1,7; scores outside it are reported "
                                                "(default: 1,5 when every score is a whole number)")]


@dataclass
class GoldSpec:
    """How to read the gold CSV."""

    path: Path
    id_column: str = "transcript_id"
    binning: str = "auto"
    cut_points: str | None = None
    group_pattern: str | None = None
    scale: str | None = None


@dataclass
class Loaded:
    store: RunStore
    rubric: Rubric
    model: pd.DataFrame
    gold: GoldLabels


def load_run(run: Path, rubric_path: Path, spec: GoldSpec) -> Loaded:
    """A run's grades and the gold labels for its transcripts; a clear error when either is missing."""
    from grader.evaluate import model_levels
    from grader.gold import read_gold

    if not (run / RUN_DB).is_file():
        raise GraderError("no run store here", path=run / RUN_DB, fix="give the --run folder of a batch")
    store, rubric = RunStore(run / RUN_DB), load_rubric(rubric_path)
    model = model_levels(store)
    cuts = [float(c) for c in spec.cut_points.split(",")] if spec.cut_points else None
    scale = _scale(spec.scale)
    gold = read_gold(spec.path, criteria=[c.id for _, c in rubric.criteria()], transcripts=set(model["transcript_id"]),
                     binning=spec.binning, cut_points=cuts, group_pattern=spec.group_pattern, id_column=spec.id_column,
                     scale=scale)
    return Loaded(store=store, rubric=rubric, model=model, gold=gold)


def _scale(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise GraderError(f"not a scale: {text!r}", where="--scale", fix="give the lowest and highest score, "
                          "e.g. --scale 1,7") from None
    return low, high


def candidate_texts(inputs: list[str], id_column: str, text_column: str) -> dict[str, str]:
    """transcript id -> the candidate's words, for the baseline; unreadable transcripts are skipped."""
    from grader.baseline import candidate_text
    from grader.inputs import iter_sources

    texts = {}
    for source in iter_sources(inputs, id_column=id_column, text_column=text_column):
        try:
            texts[source.id] = candidate_text(source.load())
        except GraderError as exc:
            fail(exc)
    return texts


def run_notes(loaded: Loaded) -> list[str]:
    """What a reader must know about the run: its settings and whether level probabilities exist."""
    meta = loaded.store.meta()
    notes = [f"Run: model {meta.get('model', '?')}, prompt {meta.get('prompt_version', '?')}, "
             f"rubric {meta.get('rubric_hash', '?')}."]
    with_probs = int(loaded.model["expected"].notna().sum())
    if with_probs:
        notes.append(f"Level probabilities (G-Eval): {with_probs} of {len(loaded.model)} grades have them.")
    else:
        reasons = loaded.model["level_probs_note"].dropna().unique()
        notes.append("Level probabilities (G-Eval): NOT AVAILABLE in this run ("
                     + ("; ".join(reasons) or "no grades") + ").")
    return notes


@app.command(name="eval")
def evaluate(
    run: Run, gold: Gold, rubric: RubricPath = DEFAULT_RUBRIC,
    out_dir: Annotated[Path | None, typer.Option("--out", help="report folder (default: RUN/eval)")] = None,
    id_column: IdColumn = "transcript_id", binning: Binning = "auto", cut_points: CutPoints = None,
    group_pattern: GroupPattern = None, n_boot: Boot = 1000, scale: Scale = None,
    transcripts: Annotated[list[str], typer.Option(help="the graded transcripts (files, folders, dataset CSV), "
                                                       "to fit the TF-IDF baseline")] = [],  # noqa: B006
    text_column: Annotated[str, typer.Option(help="transcript column of a dataset CSV")] = "transcript",
    dataset_id_column: Annotated[str, typer.Option(help="id column of a dataset CSV")] = "interview_id",
    html: Annotated[bool, typer.Option(help="also write report.html with plots")] = True,
) -> None:
    """Agreement of a run with human gold labels: report.md, report.html and figures.csv."""
    from grader.evaluate import decision_table, evaluation_tables, prediction_sets
    from grader.report import write_report

    try:
        loaded = load_run(run, rubric, GoldSpec(gold, id_column, binning, cut_points, group_pattern, scale))
        texts = candidate_texts(transcripts, dataset_id_column, text_column) if transcripts else None
        sources = prediction_sets(loaded.model, loaded.gold, texts)
        table = evaluation_tables(sources, loaded.gold, loaded.rubric, n_boot=n_boot)
        notes = run_notes(loaded) + ([] if texts else ["Baseline: not fitted (give --transcripts)."])
        target = out_dir or run / "eval"
        decisions = decision_table(sources, loaded.gold, loaded.rubric, n_boot=n_boot)
        path = write_report(table, loaded.gold, loaded.store, target, loaded.rubric.title, notes, decisions)
        if html:
            from grader.report_html import write_html

            write_html(table, loaded.gold, loaded.store, sources, loaded.model, target, loaded.rubric.title, notes,
                       decisions)
    except GraderError as exc:
        fail(exc)
        raise typer.Exit(2) from None
    err.print(f"wrote {path}, {path.parent / 'figures.csv'}" + (f" and {path.parent / 'report.html'}" if html else ""))
    out.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)


@app.command()
def calibrate(
    run: Run, gold: Gold, to: Annotated[Path, typer.Option("--out", help="calibration file to write (JSON)")],
    rubric: RubricPath = DEFAULT_RUBRIC, id_column: IdColumn = "transcript_id", binning: Binning = "auto",
    cut_points: CutPoints = None, group_pattern: GroupPattern = None, n_boot: Boot = 1000, scale: Scale = None,
    input_kind: Annotated[str, typer.Option("--input", help="stated (the model's level) or expected "
                                                            "(expected level from --level-probs)")] = "stated",
) -> None:
    """Fit a per-criterion isotonic mapping to the human scale; print held-out agreement before and after."""
    from grader.calibration import fit_calibration
    from grader.evaluate import consensus, evaluation_tables, prediction_sets
    from grader.report import figures_table

    try:
        if input_kind not in ("stated", "expected"):
            raise GraderError(f"unknown input {input_kind!r}", where="--input", fix="use stated or expected")
        loaded = load_run(run, rubric, GoldSpec(gold, id_column, binning, cut_points, group_pattern, scale))
        pairs = consensus(loaded.gold).merge(loaded.model, on=["transcript_id", "criterion_id"])
        meta = loaded.store.meta()
        calibration = fit_calibration(pairs.assign(x=pairs[input_kind]), rubric_id=loaded.rubric.id,
                                      rubric_hash=loaded.rubric.content_hash(), model=meta.get("model", ""),
                                      prompt_version=meta.get("prompt_version", ""), input_kind=input_kind)
        calibration.save(to)
        sets = prediction_sets(loaded.model, loaded.gold)
        after = "calibrated" if input_kind == "stated" else "calibrated_expected"
        table = evaluation_tables({k: v for k, v in sets.items() if k in (input_kind, after)}, loaded.gold,
                                  loaded.rubric, n_boot=n_boot)
    except GraderError as exc:
        fail(exc)
        raise typer.Exit(2) from None
    err.print(f"wrote {to}: {len(calibration.mappings)} criteria mapped from the {input_kind} level")
    for source, part in table.groupby("source", sort=False):
        label = "before" if source == input_kind else "after (held-out folds grouped by candidate)"
        out.print(f"\n{label}: {source}\n" + "\n".join(figures_table(part)), markup=False, highlight=False)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Option("--run-a", help="run folder A (the reference)")],
    run_b: Annotated[Path, typer.Option("--run-b", help="run folder B (the change)")],
    gold: Gold, rubric: RubricPath = DEFAULT_RUBRIC, id_column: IdColumn = "transcript_id",
    binning: Binning = "auto", cut_points: CutPoints = None, group_pattern: GroupPattern = None, n_boot: Boot = 1000,
    scale: Scale = None,
    source: Annotated[str, typer.Option(help="levels compared: model (counted), stated or expected")] = "model",
    to: Annotated[Path | None, typer.Option("--out", help="CSV of every difference")] = None,
) -> None:
    """Two runs on the same gold: each figure's difference B − A with a paired bootstrap interval."""
    from grader.evaluate import comparison_table, prediction_sets

    try:
        spec = GoldSpec(gold, id_column, binning, cut_points, group_pattern, scale)
        a, b = load_run(run_a, rubric, spec), load_run(run_b, rubric, spec)
        sets_a, sets_b = prediction_sets(a.model, a.gold), prediction_sets(b.model, a.gold)
        if source not in sets_a or source not in sets_b:
            raise GraderError(f"no {source!r} levels in both runs", where="--source",
                              fix="use model, stated, or expected (needs --level-probs in both runs)")
        table = comparison_table(sets_a[source], sets_b[source], a.gold, a.rubric, n_boot=n_boot)
    except GraderError as exc:
        fail(exc)
        raise typer.Exit(2) from None
    if to:
        table.to_csv(to, index=False)
    out.print("\n".join(comparison_lines(table)), markup=False, highlight=False)


def comparison_lines(table: pd.DataFrame) -> list[str]:
    lines = ["| scope | pairs | figure | A | B | B − A [95% paired CI] | verdict |", "|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        diff = (f"{r['difference']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}]" if pd.notna(r["low"])
                else (f"{r['difference']:+.2f}" if pd.notna(r["difference"]) else f"undefined ({r['undefined']})"))
        a, b = (f"{v:.2f}" if pd.notna(v) else "–" for v in (r["a"], r["b"]))
        lines.append(f"| {r['scope']} ({r['kind']}) | {r['pairs']} | {r['figure']} | {a} | {b} | {diff} | "
                     f"{r['verdict']} |")
    return lines
