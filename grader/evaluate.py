"""Evaluation: a run's grades against gold labels, per criterion, per competency and overall.

The model is compared with the consensus of the raters (the median of their levels, rounded half
up). Model grades that are `unscored`, `insufficient_evidence` or carry no verified evidence have
no level: they are counted and reported in every row, never dropped silently and never turned into
a number. With two or more raters the table also gives each rater against the consensus of the
others (the human-human ceiling) and Krippendorff's alpha among the raters.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from grader.agreement import figures, krippendorff_alpha
from grader.gold import GoldLabels
from grader.rubric import Rubric
from grader.store import RunStore


def model_levels(store: RunStore) -> pd.DataFrame:
    """transcript_id, criterion_id, status, level (None unless the grade counts)."""
    rows = []
    for row, grade in store.grades():
        status = "no_verified_evidence" if grade.status == "scored" and not grade.counts else grade.status.value
        rows.append({"transcript_id": row["transcript_id"], "criterion_id": row["criterion_id"], "status": status,
                     "level": grade.level if grade.counts else None})
    return pd.DataFrame(rows, columns=["transcript_id", "criterion_id", "status", "level"])


def consensus(gold: GoldLabels) -> pd.DataFrame:
    grouped = gold.frame.groupby(["transcript_id", "criterion_id"])
    return grouped.agg(gold=("level", lambda s: math.floor(float(np.median(s)) + 0.5)), group=("group", "first"),
                       raters=("rater_id", "nunique")).reset_index()


def evaluation_table(model: pd.DataFrame, gold: GoldLabels, rubric: Rubric, *, n_boot: int = 1000) -> pd.DataFrame:
    """One row per scope (each criterion, each competency, overall) with every figure and its interval."""
    joined = consensus(gold).merge(model, on=["transcript_id", "criterion_id"], how="left")
    joined["status"] = joined["status"].fillna("not_graded")
    scopes = [(crit.id, "criterion", [crit.id]) for _, crit in rubric.criteria()]
    scopes += [(comp.id, "competency", [c.id for c in comp.criteria]) for comp in rubric.competencies]
    scopes.append(("overall", "overall", [c.id for _, c in rubric.criteria()]))
    rows = [_scope_row(name, kind, joined[joined["criterion_id"].isin(ids)], gold, ids, n_boot)
            for name, kind, ids in scopes]
    return pd.DataFrame([r for r in rows if r["gold_items"]])


def _scope_row(name: str, kind: str, part: pd.DataFrame, gold: GoldLabels, ids: list[str], n_boot: int) -> dict:
    paired = part[part["level"].notna()]
    row: dict = {"scope": name, "kind": kind, "gold_items": len(part), "pairs": len(paired)}
    row.update({f"n_{status}": int((part["status"] == status).sum())
                for status in ("unscored", "insufficient_evidence", "no_verified_evidence", "not_graded")})
    for metric, fig in figures(paired["level"].astype(float), paired["gold"].astype(float), list(paired["group"]),
                               n_boot=n_boot).items():
        row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = fig.value, fig.low, fig.high
        row[f"{metric}_undefined"] = fig.undefined
    raters = gold.frame[gold.frame["criterion_id"].isin(ids)]
    if raters["rater_id"].nunique() >= 2:
        row.update(_human_ceiling(raters, n_boot))
    return row


def _human_ceiling(raters: pd.DataFrame, n_boot: int) -> dict:
    matrix = raters.pivot_table(index="rater_id", columns=["transcript_id", "criterion_id"], values="level")
    ceiling = []
    for rater in matrix.index:
        others = matrix.drop(index=rater).median().apply(lambda v: math.floor(v + 0.5) if not math.isnan(v) else v)
        mine = matrix.loc[rater]
        keep = mine.notna() & others.notna()
        fig = figures(mine[keep].to_numpy(), others[keep].to_numpy(), n_boot=min(n_boot, 200))["quadratic_kappa_score"]
        if fig.value is not None:
            ceiling.append(fig.value)
    alpha = krippendorff_alpha(matrix.to_numpy())
    return {"human_quadratic_kappa_mean": float(np.mean(ceiling)) if ceiling else None,
            "krippendorff_alpha": alpha.value, "krippendorff_alpha_undefined": alpha.undefined}
