"""The agreement panel: how far the reviewers agree with each other and with the model, per criterion and overall.

Every figure comes from the code `grader eval` runs, on the same data it would read:

- the reviewers' labels are written as the gold CSV `grader gold export` writes (`gold.gold_frame`) and read
  back by `grader.agreement.gold.read_gold`, exactly as `grader eval --gold RUN` reads them;
- the model's levels are `grader.agreement.evaluate.model_levels` (a level only where it counts);
- the model against the team's gold (their consensus) and the human ceiling (each reviewer against the
  consensus of the others; Krippendorff's alpha, ordinal) are `evaluate.evaluation_table`, the function
  that makes `grader eval`'s figures.csv, with no bootstrap (the point values are the same);
- reviewer × reviewer and model × reviewer are `figures.figures` on the items both gave a level.

A figure that is not defined for the data (too few pairs, one level only, raters who share no item)
is given as undefined with the reason, never as a number. The disagreements list only what the viewer
may see (a blind reviewer sees a criterion's levels once they have submitted their own).
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from grader.errors import GraderError
from grader.review.gold import gold_frame
from grader.review.run import ReviewRun
from grader.review.views import Viewer, label, sight
from grader.runs.reviews import Review, adjudications, current_by_reviewer
from grader.spreadsheet import write_csv

KEYS = ["transcript_id", "criterion_id"]
PAIR_FIGURES = ("quadratic_kappa_score", "exact_agreement_score", "adjacent_agreement_score")
CEILING = ("human_quadratic_kappa_mean", "krippendorff_alpha")


def figure_names() -> dict[str, str]:
    from grader.agreement.figures import FIGURE_NAMES  # scikit-learn loads only when the panel is asked for

    return {name: FIGURE_NAMES[name].short for name in (*PAIR_FIGURES, *CEILING)}


def _figure(fig: Any = None, value: Any = None, undefined: Any = None,
            otherwise: str = "no pairs") -> dict[str, Any]:
    """A figure as JSON: its value, or None and the reason it is undefined."""
    if fig is not None:
        return {"value": fig.value, "undefined": fig.undefined}
    value = None if value is None or pd.isna(value) else float(value)
    reason = undefined if isinstance(undefined, str) and undefined else otherwise
    return {"value": value, "undefined": None if value is not None else reason}


@dataclass(frozen=True)
class Scope:
    id: str
    kind: str  # criterion | overall
    name: str
    criteria: list[str]


def panel_scopes(run: ReviewRun) -> list[Scope]:
    scopes = [Scope(crit.id, "criterion", crit.name, [crit.id]) for _, crit in run.rubric.criteria()]
    return [*scopes, Scope("overall", "overall", "Overall", [c.id for _, c in run.rubric.criteria()])]


def eval_table(run: ReviewRun, reviews: list[Review]) -> pd.DataFrame | None:
    """`grader eval --gold RUN`'s figures for the model (no bootstrap), from these reviews; None without labels."""
    from grader.agreement.evaluate import evaluation_table
    from grader.agreement.gold import read_gold

    gold = gold_frame(reviews)
    if gold.frame.empty:
        return None
    model = run.model_levels()
    with tempfile.TemporaryDirectory(prefix="grader-panel-") as folder:
        path = Path(folder) / "reviews-gold.csv"
        write_csv(gold.frame, path)  # the very file `grader eval --gold RUN` reads
        try:
            labels = read_gold(path, criteria=[c.id for _, c in run.rubric.criteria()],
                               transcripts=set(model["transcript_id"]))
        except GraderError:
            return None
    return evaluation_table(model[[*KEYS, "status", "level"]], labels, run.rubric, n_boot=0)


def agreement(run: ReviewRun, viewer: Viewer) -> dict[str, Any]:
    """The panel's figures and disagreements as JSON (`GET /api/agreement`)."""
    reviews = run.store.reviews()
    labels = current_by_reviewer(reviews)
    levels = pd.DataFrame([(t, c, who, r.level_after) for (t, c, who), r in labels.items()
                           if r.level_after is not None], columns=[*KEYS, "reviewer", "level"])
    model = run.model_levels()
    model_level = {(t, c): lvl for t, c, lvl in model[[*KEYS, "level"]].itertuples(index=False) if pd.notna(lvl)}
    table = eval_table(run, reviews)
    by_scope = {row["scope"]: row for _, row in table.iterrows()} if table is not None else {}
    reviewers = sorted(levels["reviewer"].unique())
    scopes = []
    for scope in panel_scopes(run):
        part = levels[levels["criterion_id"].isin(scope.criteria)]
        row = by_scope.get(scope.id)
        scopes.append({
            "scope": scope.id, "kind": scope.kind, "name": scope.name,
            "labels": len(part), "items": int(part.groupby(KEYS).ngroups) if len(part) else 0,
            "items_rated_twice": int((part.groupby(KEYS)["reviewer"].nunique() >= 2).sum()) if len(part) else 0,
            "model_vs_gold": _eval_figures(row, PAIR_FIGURES, "pairs"),
            "human_ceiling": _eval_figures(row, CEILING, None),
            "reviewer_pairs": [_pair(part, a, b) for a, b in itertools.combinations(reviewers, 2)],
            "model_reviewer": [_model_pair(part, who, model_level) for who in reviewers],
        })
    return {"reviewers": reviewers, "figures": figure_names(), "scopes": scopes,
            "disagreements": disagreements(run, reviews, viewer),
            "consensus_rule": "each item's gold is the median of its reviewers' levels, rounded half up, or the "
                              "adjudicator's level where a disagreement was resolved (grader eval's rule)"}


def _eval_figures(row: pd.Series | None, names: tuple[str, ...], count: str | None) -> dict[str, Any]:
    if row is None:
        return {"n": 0, **{n: _figure(undefined="no reviews with a level yet") for n in names}}
    out: dict[str, Any] = {"n": int(row[count]) if count else int(row["gold_items"])}
    for name in names:
        out[name] = _figure(value=row.get(name), undefined=row.get(f"{name}_undefined"),
                            otherwise="needs two or more reviewers" if name in CEILING else "no pairs")
    return out


def _pair(part: pd.DataFrame, a: str, b: str) -> dict[str, Any]:
    from grader.agreement.figures import figures

    wide = part[part["reviewer"].isin([a, b])].pivot_table(index=KEYS, columns="reviewer", values="level")
    both = wide.dropna() if {a, b} <= set(wide.columns) else wide.iloc[0:0]
    figs = figures(both[a].to_numpy(float), both[b].to_numpy(float), n_boot=0, only=PAIR_FIGURES) if len(both) \
        else {}
    return {"a": a, "b": b, "n": len(both),
            **{n: _figure(figs[n]) if n in figs else _figure(undefined="they share no item") for n in PAIR_FIGURES}}


def _model_pair(part: pd.DataFrame, who: str, model_level: dict[tuple[str, str], float]) -> dict[str, Any]:
    from grader.agreement.figures import figures

    mine = part[part["reviewer"] == who]
    pairs = [(model_level[(t, c)], lvl) for t, c, lvl in mine[[*KEYS, "level"]].itertuples(index=False)
             if (t, c) in model_level]
    figs = figures([m for m, _ in pairs], [g for _, g in pairs], n_boot=0, only=PAIR_FIGURES) if pairs else {}
    return {"reviewer": who, "n": len(pairs),
            **{n: _figure(figs[n]) if n in figs else _figure(undefined="no item with a level from both")
               for n in PAIR_FIGURES}}


def disagreements(run: ReviewRun, reviews: list[Review], viewer: Viewer) -> list[dict[str, Any]]:
    """Every criterion whose reviewers' labels differ, as far as the viewer may see them, with its resolution."""
    by_item: dict[tuple[str, str], dict[str, Review]] = {}
    for (t, c, who), r in current_by_reviewer(reviews).items():
        by_item.setdefault((t, c), {})[who] = r
    resolved = adjudications(reviews)
    names = {c.id: c.name for _, c in run.rubric.criteria()}
    sights: dict[str, Any] = {}
    out = []
    for (t, c), labels in sorted(by_item.items()):
        if len({(r.status_after, r.level_after) for r in labels.values()}) < 2:
            continue
        if t not in sights:
            sights[t] = sight(viewer, t, [r for r in reviews if r.transcript_id == t])
        if not sights[t].sees_others(c):
            continue
        adjudicated = resolved.get((t, c))
        out.append({"transcript_id": t, "criterion_id": c, "criterion": names.get(c, c),
                    "labels": {who: label(r.status_after, r.level_after) for who, r in sorted(labels.items())},
                    "adjudicated": None if adjudicated is None else {
                        "level": label(adjudicated.status_after, adjudicated.level_after),
                        "by": adjudicated.reviewer, "review_id": adjudicated.id},
                    "url": f"/transcripts/{_quote(t)}?c={_quote(c)}#c-{c}"})
    return out


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")

