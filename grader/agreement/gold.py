"""Gold labels: human scores per (transcript, criterion, rater), from a long or a wide CSV.

Long: `transcript_id, criterion_id, rater_id, score` (rater_id optional). Wide: `transcript_id`
(and optionally `rater_id`) then one column per criterion id. A file with both layouts' columns is
refused (which scores count would not be clear). Scores are integer levels 1..5 or
continuous ratings; continuous ones are binned to levels by a written-down rule (`BinningRule`),
printed with every result. Bad rows (unknown ids, out-of-range or missing scores, duplicates) are
reported one by one and left out; the rest is evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from grader.errors import GraderError
from grader.spreadsheet import unescape_cell

LONG_COLUMNS = {"transcript_id", "criterion_id", "score"}
BINNINGS = ("auto", "levels", "cut_points", "quantiles")


class BinningRule(BaseModel):
    """How continuous ratings become levels 1..5: fixed cut points, or quantiles of each criterion's gold."""

    kind: Literal["levels", "cut_points", "quantiles"]
    cut_points: dict[str, list[float]] = Field(
        default_factory=dict, description="per criterion, 4 ascending thresholds; level = 1 + #(x >= t)")

    def describe(self) -> str:
        if self.kind == "levels":
            return "gold scores are integer levels 1..5 (no binning)"
        cuts = "; ".join(f"{crit}: {', '.join(f'{c:g}' for c in cuts)}" for crit, cuts in self.cut_points.items())
        origin = ("quantiles 20/40/60/80% of each criterion's gold ratings" if self.kind == "quantiles"
                  else "fixed cut points")
        return f"continuous gold binned to 1..5 at ({cuts}) ({origin}; a rating equal to a cut goes up)"

    def apply(self, frame: pd.DataFrame) -> pd.Series:
        if self.kind == "levels":
            return frame["raw"].astype(int)
        levels = pd.Series(0, index=frame.index)
        for criterion, part in frame.groupby("criterion_id"):
            levels[part.index] = 1 + np.searchsorted(self.cut_points[str(criterion)], part["raw"].to_numpy(),
                                                     side="right")
        return levels


class GoldProblem(BaseModel):
    where: str
    problem: str


class GoldLabels(BaseModel):
    """Clean gold levels (one row per transcript, criterion, rater) and what was left out, and why."""

    model_config = {"arbitrary_types_allowed": True}
    frame: pd.DataFrame  # transcript_id, criterion_id, rater_id, raw, level, group
    rule: BinningRule
    problems: list[GoldProblem]


def read_gold(path: Path, *, criteria: Iterable[str], transcripts: Iterable[str] | None = None,
              binning: str = "auto", cut_points: list[float] | None = None,
              group_pattern: str | None = None, id_column: str = "transcript_id",
              scale: tuple[float, float] | None = None) -> GoldLabels:
    """Read, check and bin a gold CSV. `binning`: auto | levels | cut_points | quantiles.

    `scale` is the raters' scale (e.g. 1..7); a score outside it is reported and left out. Without
    it, gold that is all whole numbers is taken as levels 1..5, so a stray 0 or 7 is reported rather
    than silently turning the whole file into continuous ratings.
    """
    if binning not in BINNINGS:
        raise GraderError(f"unknown binning {binning!r}", where="--binning", fix=f"use one of {', '.join(BINNINGS)}")
    try:
        raw = pd.read_csv(path).rename(columns={id_column: "transcript_id"})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise GraderError(f"cannot read the gold CSV: {' '.join(str(exc).split())[:200]}", path=path,
                          fix="give a UTF-8 CSV file with a header row (long or wide gold, see README)") from None
    compile_group_pattern(group_pattern)
    frame = _long(raw, path, set(criteria))
    scale = scale or _default_scale(frame["raw"], binning, cut_points)
    frame, problems = _check(frame, set(criteria), scale)
    rule = _rule(frame, binning, cut_points, path)  # quantiles of the whole gold, not only the run's part
    if transcripts is not None:
        outside = ~frame["transcript_id"].isin(set(transcripts))
        problems += [GoldProblem(where=f"row {r.row}", problem=f"transcript {r.transcript_id!r} is not in the run")
                     for r in frame[outside].itertuples()]
        frame = frame[~outside].copy()
    if frame.empty:
        raise GraderError(_nothing_left(problems), path=path, fix="check the ids and criterion ids match the run's "
                          "(--gold-id-column names the id column) and that the scores are numbers on the --scale given")
    frame["level"] = rule.apply(frame)
    if "given_gold" in frame:  # an adjudicated item's gold is the adjudicator's level, not the raters' median
        given = frame[frame["given_gold"].notna()]
        frame["item_level"] = pd.Series(rule.apply(given.assign(raw=given["given_gold"])), index=given.index)
    frame["group"] = frame["transcript_id"].map(lambda t: _group(t, group_pattern))
    return GoldLabels(frame=frame.reset_index(drop=True), rule=rule, problems=problems)


def _nothing_left(problems: list[GoldProblem]) -> str:
    shown = "; ".join(f"{p.where}: {p.problem}" for p in problems[:3])
    more = f"; … and {len(problems) - 3} more" if len(problems) > 3 else ""
    return (f"no gold label is left to evaluate ({len(problems)} row(s) left out: {shown}{more})" if problems
            else "the gold file has no labels (only a header?)")


def _plain(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _long(raw: pd.DataFrame, path: Path, criteria: set[str]) -> pd.DataFrame:
    # wide columns match criterion ids ignoring case and punctuation: RecommendHiring = recommend-hiring
    by_plain = {_plain(c): c for c in criteria}
    wide = {col: by_plain[_plain(col)] for col in raw.columns
            if _plain(col) in by_plain and col not in LONG_COLUMNS | {"rater_id"}}
    raw = raw.rename(columns=wide)
    columns = set(raw.columns)
    if columns >= LONG_COLUMNS and wide:  # read as long, the wide columns' scores would be dropped unseen
        long = [c for c in ["transcript_id", "criterion_id", "rater_id", "score"] if c in columns]
        raise GraderError(f"the gold file has both the long columns ({', '.join(long)}) and wide columns, one per "
                          f"criterion id ({', '.join(map(str, wide))}): which scores count is not clear", path=path,
                          fix="keep one layout: long (drop the criterion columns) or wide (drop criterion_id and "
                          "score), or split them into two files")
    if columns >= LONG_COLUMNS:
        frame = raw.assign(rater_id=raw["rater_id"] if "rater_id" in columns else "gold")
    elif "transcript_id" in columns and columns & criteria:
        ids = ["transcript_id", *(["rater_id"] if "rater_id" in columns else [])]
        frame = raw.melt(id_vars=ids, value_vars=sorted(columns & criteria), var_name="criterion_id",
                         value_name="score")
        frame = frame.assign(rater_id=frame["rater_id"] if "rater_id" in columns else "gold")
    else:
        raise GraderError(f"neither long ({', '.join(sorted(LONG_COLUMNS))}) nor wide (transcript_id and one column "
                          f"per criterion id) gold; columns: {', '.join(map(str, raw.columns))}", path=path,
                          fix="rename the columns, or map them to the rubric's criterion ids")
    # ids as written: `grader gold export` puts a ' before an id that starts like a formula (grader.spreadsheet)
    frame = frame.assign(row=frame.index + 2,
                         transcript_id=frame["transcript_id"].astype(str).map(unescape_cell, na_action="ignore"),
                         rater_id=frame["rater_id"].astype(str).map(unescape_cell, na_action="ignore"))
    raw_scores = pd.to_numeric(frame["score"], errors="coerce")
    frame["raw"] = raw_scores.where(np.isfinite(raw_scores))  # inf is not a score
    kept = ["row", "transcript_id", "criterion_id", "rater_id", "score", "raw"]
    if "gold" in columns and columns >= LONG_COLUMNS:  # `grader gold export`: the item's gold as the team reached it
        given = pd.to_numeric(frame["gold"], errors="coerce")
        frame["given_gold"] = given.where(np.isfinite(given))
        kept.append("given_gold")
    return frame[kept]


def _whole_numbers(scores: pd.Series) -> bool:
    return bool(len(scores)) and bool(np.all(np.isclose(scores, scores.round())))


def _default_scale(raw: pd.Series, binning: str, cut_points: list[float] | None) -> tuple[float, float] | None:
    return (1, 5) if binning in ("auto", "levels") and not cut_points and _whole_numbers(raw.dropna()) else None


def _check(frame: pd.DataFrame, criteria: set[str],
           scale: tuple[float, float] | None) -> tuple[pd.DataFrame, list[GoldProblem]]:
    bad = pd.Series(False, index=frame.index)
    low, high = scale or (-np.inf, np.inf)
    checks = [
        (frame["raw"].isna(), lambda r: f"score {r.score!r} is not a number"),
        (~frame["raw"].between(low, high) & frame["raw"].notna(),
         lambda r: f"score {r.score!r} is outside the scale {low:g}..{high:g}"),
        (~frame["criterion_id"].isin(criteria), lambda r: f"unknown criterion id {r.criterion_id!r}"),
        (frame.duplicated(["transcript_id", "criterion_id", "rater_id"], keep="first"),
         lambda r: f"duplicate of an earlier row for ({r.transcript_id}, {r.criterion_id}, {r.rater_id})"),
    ]
    found: list[tuple[int, GoldProblem]] = []
    for mask, message in checks:
        for row in frame[mask & ~bad].itertuples():
            found.append((row.row, GoldProblem(where=f"row {row.row}", problem=message(row))))
        bad |= mask
    problems = [problem for _, problem in sorted(found, key=lambda item: item[0])]
    return frame[~bad], problems


def _rule(frame: pd.DataFrame, binning: str, cut_points: list[float] | None, path: Path) -> BinningRule:
    raw = frame["raw"]
    integral = _whole_numbers(raw) and raw.between(1, 5).all()
    if binning == "auto":
        binning = "cut_points" if cut_points else ("levels" if integral else "quantiles")
    if binning == "levels":
        if not integral:
            raise GraderError("gold scores are not all integer levels 1..5", path=path,
                              fix="use --binning quantiles or --cut-points for continuous ratings")
        return BinningRule(kind="levels")
    if binning == "cut_points":
        if not cut_points or len(cut_points) != 4 or sorted(cut_points) != cut_points \
                or not np.all(np.isfinite(cut_points)):
            raise GraderError("cut points must be 4 ascending finite numbers", where="--cut-points",
                              fix="e.g. --cut-points 2.5,3.5,4.5,5.5")
        return BinningRule(kind="cut_points", cut_points={c: cut_points for c in frame["criterion_id"].unique()})
    return BinningRule(kind="quantiles", cut_points={
        str(c): [float(q) for q in np.quantile(part, [0.2, 0.4, 0.6, 0.8])]
        for c, part in frame.groupby("criterion_id")["raw"]})


def compile_group_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """The --group-pattern regex, compiled; a clear error for one that is not a regex."""
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise GraderError(f"not a regular expression: {pattern!r} ({exc})", where="--group-pattern",
                          fix="e.g. --group-pattern '\\d+' finds the candidate number in an id") from None


def _group(transcript_id: str, pattern: str | None) -> str:
    """The candidate a transcript belongs to (bootstrap and folds keep a candidate's interviews together)."""
    if not pattern:
        return transcript_id
    found = re.search(pattern, transcript_id)
    return found.group(0) if found else transcript_id
