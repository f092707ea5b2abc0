"""How far to doubt a grade, from what the grade itself carries (issue 20, item 4): its samples' spread, its judges'
disagreement, the entropy of its level probabilities, and whether it failed.

    u = uncertainty(grade)                  # Uncertainty(score=0.5, signals={"samples": 0.5, "entropy": 0.31})
    queue = by_uncertainty(graded)          # [(transcript id, criterion id, grade, Uncertainty)], most uncertain first

Every signal is a number from 0 (nothing to doubt) to 1 (as doubtful as that signal gets); a grade has only
the signals its run recorded:

- `samples` (with `--samples` k > 1): for each judge, the larger of the spread of its samples' levels that
  count, (max − min) / 4, and the share of its samples without a level that counts (failed, insufficient
  evidence, or no cited sentence) when at least one has one; the largest over the judges.
- `judges` (a panel of two or more): the larger of the spread of the judges' levels, (max − min) / 4, and the
  share of judges without a level when at least one has one.
- `entropy` (with `--level-probs`): the Shannon entropy of the level probabilities (levels 1..5 and
  insufficient evidence) divided by the log of the number of outcomes: 0 when one outcome holds all the
  probability, 1 when all are equally likely.
- `failed`: 1 for a grade with no level to stand on: unscored (the grader failed), or a level citing no
  sentence of the candidate. (Insufficient evidence is an answer, not a failure: it gets the other signals.)

**score** = the largest signal (one strong reason to doubt is enough, and a signal a grade lacks never
dilutes those it has); 0 for a grade with no signal (one sample of one judge, no level probabilities).
**mean** = the mean of the signals it has (0 with none).

**Order** (`rank_key`, `by_uncertainty`), most uncertain first: score, higher first; then mean, higher
first (several signals agreeing before one alone); then the number of signals, more first (more ways
of saying the same doubt); then transcript id and criterion id, ascending, so the same grades always
come in the same order. Scores are rounded to 1e-9 before comparing, so float noise never
decides a tie. A run with no signal at all ties every grade: the order is then by id alone and says
nothing about doubt (`grader eval`'s coverage curve then matches the random baseline, as it should).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from grader.grading.grades import CriterionGrade, GradeStatus

SIGNALS = ("samples", "judges", "entropy", "failed")
LEVEL_RANGE = 4  # levels 1..5: the widest spread


@dataclass(frozen=True)
class Uncertainty:
    """A grade's uncertainty: its score (0..1), the mean of its signals, and each signal it has."""

    score: float
    mean: float
    signals: dict[str, float] = field(default_factory=dict)

    @property
    def basis(self) -> str:
        """The signals it rests on, in words ("samples, entropy"; "none")."""
        return ", ".join(name for name in SIGNALS if name in self.signals) or "none"


def uncertainty(grade: CriterionGrade) -> Uncertainty:
    """The grade's uncertainty from its samples, judges, level probabilities and status (see the module's text)."""
    signals: dict[str, float] = {}
    aggregation = grade.aggregation
    if aggregation is not None:
        per_judge = [_share_spread([s.level for s in grade.samples if s.judge == j.judge and s.counts], j.samples)
                     for j in aggregation.judges if j.samples > 1]
        if per_judge:
            signals["samples"] = max(per_judge)
        if len(aggregation.judges) > 1:
            signals["judges"] = _share_spread([j.level for j in aggregation.judges if j.level is not None],
                                              len(aggregation.judges))
    entropy = level_entropy(grade.level_probs.probs) if grade.level_probs is not None else None
    if entropy is not None:
        signals["entropy"] = entropy
    if grade.status is GradeStatus.unscored or (grade.status is GradeStatus.scored and not grade.counts):
        signals["failed"] = 1.0
    if not signals:
        return Uncertainty(0.0, 0.0, {})
    return Uncertainty(score=max(signals.values()), mean=sum(signals.values()) / len(signals), signals=signals)


def _share_spread(levels: list[int], asked: int) -> float:
    """The larger of the levels' spread over the widest one, and the share of `asked` without a level (when some
    have one)."""
    if not levels:
        return 0.0
    spread = (max(levels) - min(levels)) / LEVEL_RANGE
    return max(spread, (asked - len(levels)) / asked if asked else 0.0)


def level_entropy(probs: dict[str, float]) -> float | None:
    """Shannon entropy of a distribution over outcomes, over its maximum (log of their number): 0..1; None when it
    has fewer than two outcomes or no mass."""
    values = [max(float(p), 0.0) for p in probs.values()]
    total = sum(values)
    if len(values) < 2 or total <= 0:
        return None
    entropy = -sum(p / total * math.log(p / total) for p in values if p > 0)
    return min(max(entropy / math.log(len(values)), 0.0), 1.0)


def rank_key(u: Uncertainty, transcript_id: str = "", criterion_id: str = "") -> tuple[float, float, int, str, str]:
    """Sorting by this puts the most uncertain first (see "Order" in the module's text)."""
    return (-round(u.score, 9), -round(u.mean, 9), -len(u.signals), transcript_id, criterion_id)


def by_uncertainty(graded: Iterable[tuple[str, str, CriterionGrade]]
                   ) -> list[tuple[str, str, CriterionGrade, Uncertainty]]:
    """(transcript id, criterion id, grade) in review order: the most uncertain first, ties as documented."""
    scored = [(tid, cid, grade, uncertainty(grade)) for tid, cid, grade in graded]
    return sorted(scored, key=lambda item: rank_key(item[3], item[0], item[1]))
