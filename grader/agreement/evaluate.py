"""Evaluation: a run's grades against gold labels, per criterion, per competency and overall.

The model is compared with the consensus of the raters (the median of their levels, rounded half
up). Model grades that are `unscored`, `insufficient_evidence` or carry no verified evidence have
no level: they are counted and reported in every row, never dropped silently and never turned into
a number. With two or more raters the table also gives each rater against the consensus of the
others (the human-human ceiling) and Krippendorff's alpha among the raters; raters who split the
work (no item rated twice) have no ceiling, and every figure of it says so (`split_raters_note`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

from grader.agreement.figures import (
    DEFAULT_INTERVAL,
    SPLIT_RATERS,
    Figure,
    IntervalKind,
    figures,
    krippendorff_alpha,
    paired_differences,
    verdict,
)
from grader.agreement.gold import GoldLabels
from grader.grading.aggregate import decide, score_range
from grader.ingest.rubric import Rubric
from grader.runs.store import RunStore

KEYS = ["transcript_id", "criterion_id"]
SOURCES = {
    "model": "the model's level as counted (backed by verified evidence)",
    "stated": "the model's level as stated, verified evidence not required (diagnostic, never a score)",
    "expected": "expected level from the level probabilities (G-Eval), rounded to a level; correlations use the "
                "unrounded value; given wherever the probe answered, also where the grade said insufficient evidence",
    "calibrated": "stated level through an isotonic mapping fitted on the other candidates (held-out folds)",
    "calibrated_expected": "expected level through an isotonic mapping fitted on the other candidates (held-out)",
    "baseline": "TF-IDF of the candidate's words + ridge regression, fitted on the other candidates (held-out); "
                "rounded to a level, correlations use the unrounded prediction",
}
MIN_TO_FIT = 10  # pairs per criterion below which no held-out mapping or baseline is fitted
Step = Callable[[str], None] | None  # told each scope's name when its figures are done (progress)
T = TypeVar("T")


def model_levels(store: RunStore) -> pd.DataFrame:
    """One row per graded call: status, level (None unless it counts), stated level, expected level."""
    rows = []
    for row, grade in store.grades():
        status = "no_verified_evidence" if grade.status == "scored" and not grade.counts else grade.status.value
        probs = grade.level_probs
        rows.append({"transcript_id": row["transcript_id"], "criterion_id": row["criterion_id"], "status": status,
                     "level": grade.level if grade.counts else None,
                     "stated": grade.raw_level or grade.level if grade.status == "scored" else None,
                     "expected": probs.expected if probs and grade.status != "unscored" else None,
                     "level_probs_note": grade.level_probs_note})
    return pd.DataFrame(rows, columns=[*KEYS, "status", "level", "stated", "expected", "level_probs_note"])


def prediction_sets(model: pd.DataFrame, gold: GoldLabels, texts: dict[str, str] | None = None
                    ) -> dict[str, pd.DataFrame]:
    """Every source of levels to compare with the gold (see SOURCES); sources with no level are left out."""
    from grader.agreement.baseline import baseline_predictions
    from grader.agreement.calibration import held_out_predictions

    joined = consensus(gold).merge(model, on=KEYS, how="left")
    sets = {"model": model[[*KEYS, "status", "level"]],
            "stated": _as_source(model, "stated", "no_stated_level"),
            "expected": _as_source(model, "expected", "no_level_probs", rounded=True).assign(score=model["expected"]),
            "calibrated": _held_out(joined, joined["stated"], held_out_predictions),
            "calibrated_expected": _held_out(joined, joined["expected"], held_out_predictions)}
    if texts:
        baseline = _held_out(joined, joined["transcript_id"].map(texts), baseline_predictions, object)
        sets["baseline"] = baseline.assign(score=baseline["level"], level=baseline["level"].round())
    return {name: frame for name, frame in sets.items() if frame["level"].notna().any() or name == "model"}


def _as_source(model: pd.DataFrame, column: str, missing: str, rounded: bool = False) -> pd.DataFrame:
    frame = model[KEYS].copy()
    values = model[column].astype(float)
    frame["level"] = values.round().clip(1, 5) if rounded else values
    status = model["status"].copy()
    status[values.notna() & (status != "unscored")] = "scored"
    status[values.isna() & (status == "scored")] = missing
    frame["status"] = status
    return frame


def _held_out(joined: pd.DataFrame, inputs: pd.Series, predict: Callable[..., np.ndarray],
              dtype: type = float) -> pd.DataFrame:
    """Held-out predictions per criterion (folds grouped by candidate) from `inputs` to the gold level."""
    frame = joined[KEYS].copy()
    frame["status"], frame["level"] = "too_few_to_fit", np.nan
    for _, part in joined.assign(x=inputs).groupby("criterion_id"):
        have = part[part["x"].notna()]
        if len(have) < MIN_TO_FIT or have["group"].nunique() < 2:
            continue
        x = have["x"].to_numpy(dtype=dtype)
        frame.loc[have.index, "level"] = predict(x, have["gold"].to_numpy(float), have["group"].to_numpy())
        frame.loc[have.index, "status"] = "scored"
    frame.loc[inputs.isna() & (frame["status"] == "too_few_to_fit"), "status"] = "no_input"
    return frame


def consensus(gold: GoldLabels) -> pd.DataFrame:
    """Each item's gold: the median of its raters (rounded half up), or the level a gold file gives for the item
    (`grader gold export`'s `gold` column: an adjudicator's level where the team disagreed)."""
    grouped = gold.frame.groupby(KEYS)
    table = grouped.agg(gold=("level", lambda s: round_half_up(float(np.median(s)))), group=("group", "first"),
                        raters=("rater_id", "nunique")).reset_index()
    if "item_level" not in gold.frame:
        return table
    given = gold.frame.dropna(subset=["item_level"]).groupby(KEYS)["item_level"].first().rename("given")
    table = table.merge(given, on=KEYS, how="left")
    table["gold"] = table["given"].where(table["given"].notna(), table["gold"]).astype(float)
    return table.drop(columns="given")


def round_half_up(value: float) -> float:
    """The consensus rule for a median between two levels (NaN stays NaN)."""
    return value if math.isnan(value) else math.floor(value + 0.5)


def evaluation_tables(sources: dict[str, pd.DataFrame], gold: GoldLabels, rubric: Rubric, *,
                      n_boot: int = 1000, interval: IntervalKind = DEFAULT_INTERVAL, step: Step = None
                      ) -> pd.DataFrame:
    """`evaluation_table` for every source of levels, one above the other, with a `source` column."""
    tables = [evaluation_table(frame, gold, rubric, n_boot=n_boot, interval=interval, step=step).assign(source=name)
              for name, frame in sources.items()]
    table = pd.concat(tables, ignore_index=True)
    return table[["source", *[c for c in table.columns if c != "source"]]]


def evaluation_table(model: pd.DataFrame, gold: GoldLabels, rubric: Rubric, *, n_boot: int = 1000,
                     interval: IntervalKind = DEFAULT_INTERVAL, step: Step = None) -> pd.DataFrame:
    """One row per scope (each criterion, each competency, overall) with every figure and its interval.

    `step` is called with each scope's name once its figures are done (a progress bar's tick).
    """
    joined = consensus(gold).merge(model, on=KEYS, how="left")
    joined["status"] = joined["status"].fillna("not_graded")
    rows = [_ticked(step, name, _scope_row(name, kind, joined[joined["criterion_id"].isin(ids)], gold, ids, n_boot,
                                           interval))
            for name, kind, ids in scopes(rubric)]
    return pd.DataFrame([r for r in rows if r["gold_items"]])


def _scope_row(name: str, kind: str, part: pd.DataFrame, gold: GoldLabels, ids: list[str], n_boot: int,
               interval: IntervalKind) -> dict:
    paired = part[part["level"].notna()]
    row: dict = {"scope": name, "kind": kind, "gold_items": len(part), "pairs": len(paired)}
    row.update({f"n_{status}": int((part["status"] == status).sum())
                for status in ("unscored", "insufficient_evidence", "no_verified_evidence", "not_graded")})
    scores = paired["score"].astype(float) if "score" in paired else None
    for metric, fig in figures(paired["level"].astype(float), paired["gold"].astype(float), list(paired["group"]),
                               n_boot=n_boot, scores=scores, interval=interval).items():
        row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = fig.value, fig.low, fig.high
        row[f"{metric}_undefined"], row[f"{metric}_fallback"] = fig.undefined, fig.fallback
    raters = gold.frame[gold.frame["criterion_id"].isin(ids)]
    if raters["rater_id"].nunique() >= 2:
        row.update(_human_ceiling(raters))
    return row


def _human_ceiling(raters: pd.DataFrame) -> dict:
    """Each rater against the consensus of the others (quadratic kappa, mean over raters) and alpha."""
    matrix = raters.pivot_table(index="rater_id", columns=["transcript_id", "criterion_id"], values="level")
    kappas = {rater: _rater_against_others(matrix, rater) for rater in matrix.index}
    defined = [fig.value for fig in kappas.values() if fig.value is not None]
    alpha = krippendorff_alpha(matrix.to_numpy())
    return {"human_quadratic_kappa_mean": float(np.mean(defined)) if defined else None,
            "human_quadratic_kappa_mean_undefined": None if defined else _no_ceiling_reason(matrix, kappas),
            "krippendorff_alpha": alpha.value, "krippendorff_alpha_undefined": alpha.undefined}


def _rater_against_others(matrix: pd.DataFrame, rater: str) -> Figure:
    others = matrix.drop(index=rater).median().apply(round_half_up)
    mine = matrix.loc[rater]
    keep = mine.notna() & others.notna()
    return figures(mine[keep].to_numpy(), others[keep].to_numpy(), n_boot=0,
                   only=("quadratic_kappa_score",))["quadratic_kappa_score"]


def _no_ceiling_reason(matrix: pd.DataFrame, kappas: dict[str, Figure]) -> str:
    if not (matrix.notna().sum() >= 2).any():
        return SPLIT_RATERS
    return "no rater's kappa against the others is defined (" + "; ".join(
        f"{rater}: {fig.undefined}" for rater, fig in kappas.items()) + ")"


def split_raters_note(gold: GoldLabels) -> str | None:
    """What a report must say when several raters split the work: no human ceiling, and why."""
    frame = gold.frame
    if frame["rater_id"].nunique() < 2 or (frame.groupby(KEYS)["rater_id"].nunique() >= 2).any():
        return None
    return (f"No human ceiling can be computed: {frame['rater_id'].nunique()} raters scored these transcripts, but "
            "no transcript × criterion was scored by two of them (the raters split the work), so there is no "
            "rater-against-rater agreement to measure; the human–human kappa and Krippendorff's alpha are "
            "undefined. The model-against-gold figures are unaffected: each item's gold is the level of the one "
            "rater who scored it.")


def comparison_table(run_a: pd.DataFrame, run_b: pd.DataFrame, gold: GoldLabels, rubric: Rubric, *,
                     n_boot: int = 1000, interval: IntervalKind = DEFAULT_INTERVAL, step: Step = None
                     ) -> pd.DataFrame:
    """Per scope and figure: run A, run B, B − A with a paired bootstrap interval, and a verdict.

    Only items both runs gave a level are paired, so the two runs are judged on the same ground.
    """
    both = consensus(gold).merge(run_a[[*KEYS, "level"]], on=KEYS).merge(run_b[[*KEYS, "level"]], on=KEYS,
                                                                         suffixes=("_a", "_b"))
    both = both.dropna(subset=["level_a", "level_b"])
    rows = []
    for name, kind, ids in scopes(rubric):
        part = both[both["criterion_id"].isin(ids)]
        a_figs = figures(part["level_a"], part["gold"], n_boot=0)
        b_figs = figures(part["level_b"], part["gold"], n_boot=0)
        diffs = paired_differences(part["level_a"], part["level_b"], part["gold"],
                                   list(part["group"]), n_boot=n_boot, interval=interval)
        for metric, diff in diffs.items():
            rows.append({"scope": name, "kind": kind, "pairs": len(part), "figure": metric,
                         "a": a_figs[metric].value, "b": b_figs[metric].value, "difference": diff.value,
                         "low": diff.low, "high": diff.high, "verdict": verdict(metric, diff),
                         "undefined": diff.undefined, "fallback": diff.fallback})
        _ticked(step, name, None)
    return pd.DataFrame(rows)


def _ticked(step: Step, name: str, value: T) -> T:
    if step is not None:
        step(name)
    return value


def scopes(rubric: Rubric) -> list[tuple[str, str, list[str]]]:
    """(name, kind, criterion ids) of every scope a figure is computed for: each criterion, competency, overall."""
    scopes = [(crit.id, "criterion", [crit.id]) for _, crit in rubric.criteria()]
    scopes += [(comp.id, "competency", [c.id for c in comp.criteria]) for comp in rubric.competencies]
    return [*scopes, ("overall", "overall", [c.id for _, c in rubric.criteria()])]


def decisions(levels: pd.DataFrame, rubric: Rubric, column: str = "level") -> pd.DataFrame:
    """Pass / fail / undetermined per transcript and competency from a frame of levels (the sheet's rule)."""
    rows = []
    for tid, part in levels.groupby("transcript_id"):
        given = {c: (None if pd.isna(v) else float(v)) for c, v in zip(part["criterion_id"], part[column], strict=True)}
        for comp in rubric.competencies:
            _, low, high, _ = score_range(comp, given)
            rows.append({"transcript_id": tid, "competency_id": comp.id,
                         "decision": decide(low, high, comp.min_passing_score).value})
    return pd.DataFrame(rows, columns=["transcript_id", "competency_id", "decision"])


def decision_table(sources: dict[str, pd.DataFrame], gold: GoldLabels, rubric: Rubric, *,
                   n_boot: int = 1000, interval: IntervalKind = DEFAULT_INTERVAL, step: Step = None) -> pd.DataFrame:
    """Agreement of the pass/fail decision per competency: each source's decisions against the gold's.

    The gold decision applies the rubric's weights and minimum to the consensus gold levels. A model
    decision left undetermined (missing criteria could take it either way) is counted, not paired.
    """
    truth = consensus(gold)
    gold_decisions = decisions(truth, rubric, "gold").rename(columns={"decision": "gold"})
    groups = truth.groupby("transcript_id")["group"].first()
    rows = []
    for name, frame in sources.items():
        joined = gold_decisions.merge(decisions(frame, rubric), on=["transcript_id", "competency_id"], how="left")
        joined["decision"] = joined["decision"].fillna("not_graded")
        for comp_id, part in joined[joined["gold"] != "undetermined"].groupby("competency_id"):
            decided = part[part["decision"].isin(["pass", "fail"])]
            as_level = {"fail": 1.0, "pass": 2.0}  # two classes on the level scale the figures take
            figs = figures(decided["decision"].map(as_level), decided["gold"].map(as_level),
                           list(decided["transcript_id"].map(groups)), n_boot=n_boot, interval=interval,
                           only=("cohen_kappa_score", "exact_agreement_score"))
            kappa, exact = figs["cohen_kappa_score"], figs["exact_agreement_score"]
            rows.append({"source": name, "competency": comp_id, "transcripts": len(part), "decided": len(decided),
                         "undetermined": int((part["decision"] == "undetermined").sum()),
                         "gold_pass": int((part["gold"] == "pass").sum()),
                         "model_pass": int((decided["decision"] == "pass").sum()),
                         "agreement": exact.value, "agreement_low": exact.low, "agreement_high": exact.high,
                         "agreement_undefined": exact.undefined, "agreement_fallback": exact.fallback,
                         "kappa": kappa.value, "kappa_low": kappa.low, "kappa_high": kappa.high,
                         "kappa_undefined": kappa.undefined, "kappa_fallback": kappa.fallback})
            _ticked(step, f"{name} decisions: {comp_id}", None)
    return pd.DataFrame(rows)
