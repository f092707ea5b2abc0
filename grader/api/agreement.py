"""Agreement with human gold labels: `evaluate` / `evaluation` (grader eval), `calibrate` and `compare`.

    figures = evaluate("runs/june", gold="ratings.csv")          # the figures table (figures.csv)
    result = evaluation("runs/june", GoldSpec(Path("ratings.csv")))
    result.write_report("runs/june/eval")
    fitted = calibrate("runs/june", GoldSpec(Path("ratings.csv")), out="calibration.json")
    change = compare("runs/a", "runs/b", GoldSpec(Path("ratings.csv")))

A gold given as a run folder stands for that run's reviews (`grader review`). pandas and
scikit-learn load only when one of these is called. Each takes `on_progress(done, total, what)`,
called as the bootstrap figures of each scope are done.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from grader.agreement.spec import GoldSpec
from grader.errors import GraderError
from grader.grading.panel import DEFAULT_JUDGE
from grader.runs.folder import RunFolder

if TYPE_CHECKING:  # pandas and scikit-learn load only when an evaluation or calibration is asked for
    import pandas as pd

    from grader.agreement.calibration import Calibration
    from grader.agreement.coverage import CoverageCurve
    from grader.agreement.evaluate import Step
    from grader.agreement.figures import IntervalKind
    from grader.agreement.gold import GoldLabels
    from grader.agreement.load import LoadedRun
    from grader.grading.exemplar_block import ExemplarsInfo
    from grader.runs.store import RunStore

OnProgress = Callable[[int, int, str], None]  # (done, total, what was just done)
RunPath = str | Path | RunFolder


def evaluate(run: RunPath, gold: str | Path, *, rubric: str | Path | None = None,
             id_column: str = "transcript_id", binning: str = "auto", cut_points: list[float] | str | None = None,
             group_pattern: str | None = None, scale: tuple[float, float] | str | None = None,
             transcripts: list[str] | None = None, dataset_id_column: str = "interview_id",
             text_column: str = "transcript", n_boot: int = 1000, interval: str | None = None,
             retest: RunPath | None = None) -> pd.DataFrame:
    """Agreement of a run with human gold labels: the figures table of `grader eval` (its figures.csv).

    One row per source of levels (model, stated, expected, calibrated, baseline) and scope (each
    criterion, competency and overall). The rubric is the run's own; `rubric` is a checked override.
    `transcripts` (files, folders or a dataset CSV) fit the TF-IDF baseline. `retest` (run B, the
    same transcripts graded again) adds the test-retest figures to the report (see `evaluation`).
    """
    spec = GoldSpec(Path(gold), id_column, binning, cut_points, group_pattern, scale)
    return evaluation(run, spec, rubric=rubric, transcripts=transcripts, dataset_id_column=dataset_id_column,
                      text_column=text_column, n_boot=n_boot, interval=interval, retest=retest).table


@dataclass(frozen=True)
class Evaluation:
    """Everything `grader eval` reports: the run and its gold, the sources of levels, figures, decisions.

    `reliability` is the test-retest table (`reliability.reliability_table`: run A against its retest B,
    per scope) when a retest run was given, else None. `panel` is the agreement of the run's samples
    with each other and of its judges with each other (a `reliability_table` per set of raters, with a
    `rater_set` column and the mean pairwise quadratic kappa) when the run has samples or judges, else None.
    `coverage` is the coverage curve (`grader.agreement.coverage`): agreement with the gold as the most
    uncertain grades are sent to people, against sending at random.
    """

    loaded: LoadedRun
    sources: dict[str, pd.DataFrame]
    table: pd.DataFrame
    decisions: pd.DataFrame | None
    notes: list[str]
    interval: str | None = None
    reliability: pd.DataFrame | None = None
    panel: pd.DataFrame | None = None
    coverage: CoverageCurve | None = None

    def write_report(self, out_dir: str | Path, *, html: bool = True) -> Path:
        """report.md, figures.csv, decisions.csv, coverage.csv, reliability.csv with a retest (and report.html
        with plots and the same sections) into `out_dir`; the Markdown's path."""
        from grader.agreement.report import write_report

        loaded, extra = self.loaded, interval_option(self.interval)
        path = write_report(self.table, loaded.gold, loaded.run.store, Path(out_dir), loaded.rubric.title, self.notes,
                            self.decisions, reliability=self.reliability, panel=self.panel, coverage=self.coverage,
                            **extra)
        if html:
            from grader.agreement.report_html import write_html

            write_html(self.table, loaded.gold, loaded.run.store, self.sources, loaded.model, Path(out_dir),
                       loaded.rubric.title, self.notes, self.decisions, reliability=self.reliability,
                       panel=self.panel, coverage=self.coverage, **extra)
        return path

    @property
    def split_raters_note(self) -> str | None:
        """Said when the raters split the work (no item rated twice: no human ceiling)."""
        from grader.agreement.evaluate import split_raters_note

        return split_raters_note(self.loaded.gold)


def evaluation(run: RunPath, gold: GoldSpec, *, rubric: str | Path | None = None,
               transcripts: list[str] | None = None, dataset_id_column: str = "interview_id",
               text_column: str = "transcript", n_boot: int = 1000, interval: str | None = None,
               decisions: bool = False, on_error: Callable[[GraderError], None] | None = None,
               on_progress: OnProgress | None = None, retest: RunPath | None = None) -> Evaluation:
    """`evaluate` with what a report needs besides the table: the decisions, the notes, the loaded run.

    `retest` is run B: the same transcripts graded again (with the same rubric). Its levels are
    loaded as run A's are, and `Evaluation.reliability` gets the test-retest figures of B against A
    (quadratic kappa, ICC(2,1), Krippendorff's alpha, the share of changed levels; per scope). A run
    graded with samples or judges also gets `Evaluation.panel`: the same figures with one rater per
    sample (of each judge) and one per judge, and the mean pairwise quadratic kappa.
    """
    from grader.agreement.coverage import coverage_curve
    from grader.agreement.evaluate import decision_table, evaluation_tables, prediction_sets, scopes
    from grader.agreement.load import candidate_texts, load_run, run_notes

    loaded = load_run(run, gold_spec(gold), rubric)
    texts = candidate_texts(transcripts, dataset_id_column, text_column, on_error) if transcripts else None
    sources = prediction_sets(loaded.model, loaded.gold, texts)
    extra = interval_option(interval)
    sets = _rater_sets(loaded.run.store)
    total = len(sources) * (len(scopes(loaded.rubric)) + (len(loaded.rubric.competencies) if decisions else 0)) \
        + len(scopes(loaded.rubric)) * ((retest is not None) + len(sets))
    step = _counter(on_progress, total)
    table = evaluation_tables(sources, loaded.gold, loaded.rubric, n_boot=n_boot, step=step, **extra)
    decided = decision_table(sources, loaded.gold, loaded.rubric, n_boot=n_boot, step=step, **extra) \
        if decisions else None
    notes = run_notes(loaded) + ([] if texts else ["Baseline: not fitted (give --transcripts)."])
    reliability = None
    if retest is not None:
        reliability, note = _retest(loaded, retest, rubric, n_boot, step, extra)
        notes.append(note)
    panel = _samples_and_judges(loaded, sets, n_boot, step, extra) if sets else None
    coverage = coverage_curve(loaded.run.store, loaded.model, loaded.gold)
    return Evaluation(loaded, sources, table, decided, notes, interval, reliability, panel, coverage)


def _rater_sets(store: RunStore) -> dict[str, pd.DataFrame]:
    """The run's samples and judges as long frames (`reliability.COLUMNS`), one per set of raters that can agree:
    `samples of judge NAME` (a rater per sample index, k > 1) and `judges` (a rater per judge, two or more).

    A level is the one that counts (scored, citing a candidate's sentence); any other grade is a NaN level.
    """
    import pandas as pd

    samples, judges = [], []
    for row, grade in store.grades():
        keys = {"transcript_id": row["transcript_id"], "criterion_id": row["criterion_id"]}
        samples += [{**keys, "judge": s.judge, "rater": f"sample {s.sample}", "level": s.level if s.counts else None}
                    for s in grade.samples]
        judges += [{**keys, "rater": j.judge, "level": j.level} for j in (grade.aggregation.judges
                                                                          if grade.aggregation else [])]
    sets: dict[str, pd.DataFrame] = {}
    frame = pd.DataFrame(samples, columns=["transcript_id", "criterion_id", "judge", "rater", "level"])
    for judge, part in frame.groupby("judge", sort=False):
        if part["rater"].nunique() > 1:
            name = "samples" if judge == DEFAULT_JUDGE else f"samples of judge {judge}"
            sets[name] = part.drop(columns="judge").astype({"level": float})
    frame = pd.DataFrame(judges, columns=["transcript_id", "criterion_id", "rater", "level"])
    if frame["rater"].nunique() > 1:
        sets["judges"] = frame.astype({"level": float})
    return sets


def _samples_and_judges(loaded: LoadedRun, sets: dict[str, pd.DataFrame], n_boot: int, step: Step,
                        extra: dict[str, IntervalKind]) -> pd.DataFrame:
    """Per set of raters and scope: ICC(2,1) and Krippendorff's alpha across all of them (with intervals), and the
    mean over every pair of raters of the quadratic kappa on the items both gave a level (point values)."""
    from itertools import combinations

    import pandas as pd

    from grader.agreement.reliability import reliability_table

    groups = loaded.gold.frame.drop_duplicates("transcript_id").set_index("transcript_id")["group"].to_dict()
    tables = []
    for name, levels in sets.items():
        raters = list(dict.fromkeys(levels["rater"]))
        table = reliability_table(levels, loaded.rubric, groups, pair=(raters[0], raters[1]), n_boot=n_boot,
                                  step=step, **extra)
        pairs = [reliability_table(levels[levels["rater"].isin(pair)], loaded.rubric, groups, pair=pair, n_boot=0)
                 .set_index(["scope", "kind"])["quadratic_kappa_score"] for pair in combinations(raters, 2)]
        kappas = pd.concat(pairs, axis=1).reindex(pd.MultiIndex.from_frame(table[["scope", "kind"]]))
        table["mean_pairwise_kappa"] = kappas.mean(axis=1, skipna=True).to_numpy()
        table["pairs_defined"] = kappas.notna().sum(axis=1).to_numpy()
        table["rater_pairs"] = len(pairs)
        tables.append(table.assign(rater_set=name)[["rater_set", *table.columns]])
    return pd.concat(tables, ignore_index=True)


def _retest(loaded: LoadedRun, retest: RunPath, rubric: str | Path | None, n_boot: int, step: Step,
            extra: dict[str, IntervalKind]) -> tuple[pd.DataFrame, str]:
    """Run B's levels (read as run A's are) against run A's: the reliability table and a note naming run B."""
    from grader.agreement.evaluate import model_levels
    from grader.agreement.reliability import long_levels, reliability_table
    from grader.runs.folder import as_folder

    with as_folder(retest).read() as record:
        checked = record.rubric(rubric)
        levels = model_levels(record.store)
        model = record.manifest.settings.model if record.manifest else record.store.meta().get("model", "")
    if checked.content_hash() != loaded.rubric.content_hash():
        raise GraderError(f"run A was graded with rubric {loaded.rubric.id} ({loaded.rubric.content_hash()}), the "
                          f"retest with {checked.id} ({checked.content_hash()})", where="--retest",
                          fix="give a retest run graded with the same rubric")
    # the candidates as the gold groups them (--group-pattern); a transcript without gold is its own candidate
    groups = loaded.gold.frame.drop_duplicates("transcript_id").set_index("transcript_id")["group"].to_dict()
    table = reliability_table(long_levels({"A": loaded.model, "B": levels}), loaded.rubric, groups, n_boot=n_boot,
                              step=step, **extra)
    return table, f"Test-retest: run B is {as_folder(retest).path} (model {model or '?'}), {len(levels)} grades."


@dataclass(frozen=True)
class Calibrated:
    """A fitted calibration and held-out agreement before and after it (`table`, with a `source` column)."""

    calibration: Calibration
    table: pd.DataFrame
    gold: GoldLabels
    input_kind: str
    interval: str

    @property
    def split_raters_note(self) -> str | None:
        from grader.agreement.evaluate import split_raters_note

        return split_raters_note(self.gold)

    def lines(self) -> list[str]:
        """The intervals' note, then held-out agreement before and after, each as a Markdown table."""
        from grader.agreement.report import figures_table, intervals_note

        lines = [intervals_note(self.interval)]  # type: ignore[arg-type]
        for source, part in self.table.groupby("source", sort=False):
            label = "before" if source == self.input_kind else "after (held-out folds grouped by candidate)"
            lines += ["", f"{label}: {source}", *figures_table(part)]
        return lines


def calibrate(run: RunPath, gold: GoldSpec, out: str | Path | None = None, *, rubric: str | Path | None = None,
              input_kind: Literal["stated", "expected"] = "stated", n_boot: int = 1000, interval: str = "bca",
              on_progress: OnProgress | None = None) -> Calibrated:
    """Fit a per-criterion isotonic mapping of the model's level to the human scale (saved to `out` if given).

    `input_kind` "expected" maps the expected level from level probabilities (`--level-probs`). The
    table gives held-out agreement before and after (folds grouped by candidate).
    """
    from grader.agreement.calibration import fit_calibration
    from grader.agreement.evaluate import consensus, evaluation_tables, prediction_sets, scopes
    from grader.agreement.load import load_run

    if input_kind not in ("stated", "expected"):
        raise GraderError(f"unknown input {input_kind!r}", where="--input", fix="use stated or expected")
    kind = interval_kind(interval)
    loaded = load_run(run, gold_spec(gold), rubric)
    pairs = consensus(loaded.gold).merge(loaded.model, on=["transcript_id", "criterion_id"])
    calibration = fit_calibration(pairs.assign(x=pairs[input_kind]), rubric_id=loaded.rubric.id,
                                  rubric_hash=loaded.rubric.content_hash(), model=loaded.model_name,
                                  prompt_version=loaded.prompt_version, input_kind=input_kind)
    if out is not None:
        calibration.save(Path(out))
    after = "calibrated" if input_kind == "stated" else "calibrated_expected"
    sets = {k: v for k, v in prediction_sets(loaded.model, loaded.gold).items() if k in (input_kind, after)}
    step = _counter(on_progress, len(sets) * len(scopes(loaded.rubric)))
    table = evaluation_tables(sets, loaded.gold, loaded.rubric, n_boot=n_boot, interval=kind, step=step)
    return Calibrated(calibration, table, loaded.gold, input_kind, kind)


@dataclass(frozen=True)
class Comparison:
    """Two runs on the same gold: per scope and figure, A, B and B − A with a paired bootstrap interval."""

    table: pd.DataFrame
    interval: str
    notes: tuple[str, ...] = ()  # what differs in how the runs were graded (their exemplars), when it matters

    def lines(self) -> list[str]:
        """The notes on the runs (if any), then the comparison as a Markdown table with the figures' names."""
        from grader.agreement.report import comparison_lines

        return [*self.notes, *([""] if self.notes else []), *comparison_lines(self.table, self.interval)]


def compare(run_a: RunPath, run_b: RunPath, gold: GoldSpec, *, rubric: str | Path | None = None,
            source: str = "model", n_boot: int = 1000, interval: str = "bca", out: str | Path | None = None,
            on_progress: OnProgress | None = None) -> Comparison:
    """Each figure's difference B − A on the same gold, with a paired bootstrap interval (CSV to `out` if given)."""
    from grader.agreement.evaluate import comparison_table, prediction_sets, scopes
    from grader.agreement.load import load_run

    kind = interval_kind(interval)
    spec = gold_spec(gold)
    a, b = load_run(run_a, spec, rubric), load_run(run_b, spec, rubric)
    if a.rubric.content_hash() != b.rubric.content_hash():
        raise GraderError(f"run A was graded with rubric {a.rubric.id} ({a.rubric.content_hash()}), run B with "
                          f"{b.rubric.id} ({b.rubric.content_hash()})", where="--run-b",
                          fix="compare two runs graded with the same rubric")
    sets_a, sets_b = prediction_sets(a.model, a.gold), prediction_sets(b.model, a.gold)
    if source not in sets_a or source not in sets_b:
        raise GraderError(f"no {source!r} levels in both runs", where="--source",
                          fix="use model, stated, or expected (needs --level-probs in both runs)")
    step = _counter(on_progress, len(scopes(a.rubric)))
    table = comparison_table(sets_a[source], sets_b[source], a.gold, a.rubric, n_boot=n_boot, interval=kind,
                             step=step)
    if out is not None:
        from grader.spreadsheet import write_csv

        write_csv(table, Path(out))
    return Comparison(table, kind, _exemplar_notes(a, b))


def _exemplar_notes(a: LoadedRun, b: LoadedRun) -> tuple[str, ...]:
    """What each run showed of exemplars, when either showed any (so a reader knows what B − A measures)."""
    shown = [run.run.manifest.exemplars if run.run.manifest else None for run in (a, b)]
    if shown == [None, None]:
        return ()

    def said(name: str, info: ExemplarsInfo | None) -> str:
        if info is None:
            return f"Run {name}: no exemplars."
        pattern = f"candidates by {info.group_pattern!r}" if info.group_pattern else "each transcript its own candidate"
        return (f"Run {name}: exemplars {info.sha256} ({info.exemplars} in the set, {info.k} shown per criterion and "
                f"level, never the graded candidate's own; {pattern}).")

    return (said("A", shown[0]), said("B", shown[1]))


def gold_spec(gold: GoldSpec) -> GoldSpec:
    """The spec with a run folder given as gold replaced by its reviews (written to RUN/reviews-gold.csv)."""
    if not RunFolder(gold.path).is_run():
        return gold
    from grader.review.gold import reviews_as_gold

    return dataclasses.replace(gold, path=reviews_as_gold(gold.path))


def interval_kind(interval: str) -> IntervalKind:
    """The interval kind, or a clear error naming the kinds there are."""
    from grader.agreement.figures import INTERVALS

    if interval not in INTERVALS:
        raise GraderError(f"unknown interval {interval!r}", where="--interval",
                          fix=f"use {' or '.join(sorted(INTERVALS))}")
    return interval  # type: ignore[return-value]


def interval_option(interval: str | None) -> dict[str, IntervalKind]:
    """The interval kind as a keyword for the agreement functions (none: their default)."""
    return {} if interval is None else {"interval": interval_kind(interval)}


def _counter(on_progress: OnProgress | None, total: int) -> Step:
    """A `step` for the agreement functions that reports (done, total, what) to `on_progress`."""
    if on_progress is None:
        return None
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        on_progress(done, total, what)

    return step
