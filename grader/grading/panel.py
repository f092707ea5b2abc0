"""Repeated samples and judge panels: several grades of one criterion, and the rule that makes them one.

A judge is a server and a model; a sample is one of k independent grades of a criterion by one judge,
asked with the seed + its index (so it varies wherever sampling does: at a temperature above 0, or on a
server whose seed changes its output). Every sample is graded and verified as a single grade is
(`grade_criterion`: an invented citation is re-asked, then marked); a sample that fails is `unscored`
for that sample and never a level. The rules, printed on every sheet that uses them:

- A judge's level is the **median** of its samples whose level counts (scored, citing a sentence of
  the candidate); an even count takes the **lower** of the two middle levels. A tie never raises a grade.
- The panel's level combines the judges that have a level (`RULES`): `median` (the lower median of the
  judges' levels), `majority` (the most frequent level; a tie takes the lowest of the tied levels),
  `weighted` (the lower weighted median: the lowest level at which the weights of the judges at or
  below it reach half the weight of the judges that scored; equal weights give the median) or
  `unanimous` (every judge asked gives the same level; a judge that failed, found no evidence or
  disagreed leaves the grade without a level: undetermined, shown as unscored, to review).
- With no judge giving a level that counts, the grade is `insufficient_evidence` when at least as many
  samples said so as gave a level citing no sentence, else that uncounted level (the lower median of
  them); with every sample failed it is `unscored`.
- The grade's evidence, rationale and red flags are those of the first sample (in judge, then sample
  order) whose level is the grade's level; usage, attempts and seconds are summed over all samples.
- It needs review when the spread of the levels that count (max − min over every sample of every
  judge) is above `max_spread`, when a sample or judge failed, when some found no evidence (or cited
  none) while others gave a level, when the panel is undetermined, or when that first sample does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from grader.errors import GraderError
from grader.grading.grades import (
    Aggregation,
    CriterionGrade,
    GradeStatus,
    JudgeGrade,
    JudgeStatus,
    SampleGrade,
    Settings,
    Usage,
)
from grader.llm.backend import Backend

PanelRule = Literal["median", "majority", "weighted", "unanimous"]
PANEL_RULES: tuple[str, ...] = get_args(PanelRule)
RULES: dict[str, str] = {
    "median": "the median of the judges' levels; an even count takes the lower of the two middle levels",
    "majority": "the most frequent of the judges' levels; a tie takes the lowest of the tied levels",
    "weighted": "the weighted median: the lowest level at which the weights of the judges at or below it reach "
                "half the weight of the judges that scored (equal weights: the median, lower middle on a tie)",
    "unanimous": "the judges' level when every judge asked gives the same one; otherwise no level "
                 "(undetermined, to review)",
}
SAMPLES_RULE = ("each judge's level is the median of its samples whose level counts; an even count takes the lower "
                "of the two middle levels")
DEFAULT_JUDGE = "default"  # the one judge of a run with samples but no panel: the server given
MAX_SAMPLES = 20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


# ---- the rules, on levels alone -------------------------------------------------------------------------------------

def lower_median(levels: Sequence[int]) -> int:
    """The median of levels; an even count takes the lower of the two middle ones (`statistics.median_low`)."""
    if not levels:
        raise ValueError("no levels")
    ordered = sorted(levels)
    return ordered[(len(ordered) - 1) // 2]


def weighted_median(levels: Sequence[int], weights: Sequence[float]) -> int:
    """The lowest level at which the weights of the levels at or below it reach half the total weight."""
    if not levels or len(levels) != len(weights) or any(w <= 0 for w in weights):
        raise ValueError("needs one positive weight per level")
    total, running = sum(weights), 0.0
    for level, weight in sorted(zip(levels, weights, strict=True)):
        running += weight
        if running >= total / 2 - 1e-9 * total:
            return level
    return max(levels)  # pragma: no cover (rounding)


def majority_level(levels: Sequence[int]) -> int:
    """The most frequent level; a tie takes the lowest of the tied levels."""
    if not levels:
        raise ValueError("no levels")
    counts = Counter(levels)
    top = max(counts.values())
    return min(level for level, n in counts.items() if n == top)


def combine(rule: str, levels: Sequence[int | None], weights: Sequence[float] | None = None) -> int | None:
    """The panel's level from each judge's level in judge order (None: that judge has no level that counts).

    Only the judges with a level take part; None when none has one, and for `unanimous` also when any
    judge has none or two disagree. A judge without a level never adds a level.
    """
    weights = list(weights) if weights is not None else [1.0] * len(levels)
    given = [(level, w) for level, w in zip(levels, weights, strict=True) if level is not None]
    if not given:
        return None
    values = [level for level, _ in given]
    if rule == "median":
        return lower_median(values)
    if rule == "majority":
        return majority_level(values)
    if rule == "weighted":
        return weighted_median(values, [w for _, w in given])
    if rule == "unanimous":
        return values[0] if len(given) == len(levels) and len(set(values)) == 1 else None
    raise ValueError(f"unknown panel rule {rule!r}")


# ---- what a panel is: recorded (manifest, sheet) and at work ---------------------------------------------------------

class JudgeInfo(BaseModel):
    """A judge as the run manifest and the score sheet record it: name, server, model, weight; never a key."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    server: str = Field(description="scheme://host:port")
    model: str
    weight: float = 1.0


class PanelInfo(BaseModel):
    """How a run asks each criterion: k samples of each judge, and the rule that combines the judges."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    samples: int = Field(1, ge=1, le=MAX_SAMPLES, description="samples per criterion and judge (k)")
    judges: tuple[JudgeInfo, ...]
    rule: PanelRule = "median"
    max_spread: int = Field(1, ge=0, le=4, description="a spread of the levels above this needs review")

    @property
    def is_panel(self) -> bool:
        """Several judges (or one named with --judge), not only samples of the run's one server."""
        return len(self.judges) > 1 or self.judges[0].name != DEFAULT_JUDGE

    def describe(self) -> str:
        """One line for the sheet: what was asked, the rule and its tie handling, the review threshold."""
        judges = ", ".join(f"{j.name} ({j.model} at {j.server}{f', weight {j.weight:g}' if j.weight != 1 else ''})"
                           for j in self.judges)
        asked = f"{self.samples} sample{'s' if self.samples > 1 else ''} per criterion"
        if not self.is_panel:
            return (f"{asked} (seeds {_seeds(self.samples)}); {SAMPLES_RULE}; a spread of the levels above "
                    f"{self.max_spread} needs review")
        samples = f"{SAMPLES_RULE}; " if self.samples > 1 else ""
        return (f"panel of {len(self.judges)} judge{'s' if len(self.judges) > 1 else ''}: {judges}; {asked} and "
                f"judge; {samples}rule {self.rule}: {RULES[self.rule]}; a spread of the levels above "
                f"{self.max_spread} needs review")

    def key_fields(self) -> dict[str, Any]:
        """What enters the call keys and the resume check: everything, but the server of the one server sampled
        (as for a single sample, where the model counts and the server does not: the embedded model's port
        changes at every start)."""
        fields = self.model_dump(mode="json")
        if not self.is_panel:
            fields["judges"] = [{k: v for k, v in j.items() if k != "server"} for j in fields["judges"]]
        return fields

    def differences(self, other: PanelInfo) -> list[str]:
        """`what: run's vs asked` for each difference (another k, judge, server, model, weight, rule, threshold)."""
        ours, theirs = self.key_fields(), other.key_fields()
        found = [f"{name}: {ours[name]!r} vs {theirs[name]!r}" for name in ("samples", "rule", "max_spread")
                 if ours[name] != theirs[name]]
        return found + ([f"judges: {_judges(self)} vs {_judges(other)}"] if ours["judges"] != theirs["judges"] else [])

    def summary(self) -> str:
        return f"{self.samples} sample(s) of {_judges(self)}, rule {self.rule}"


def _judges(panel: PanelInfo | None) -> str:
    if panel is None:
        return "one server"
    return ", ".join(f"{j.name}={j.model}@{j.server}" + (f"×{j.weight:g}" if j.weight != 1 else "")
                     for j in panel.judges)


def _seeds(k: int) -> str:
    return "seed" if k == 1 else f"seed to seed + {k - 1}"


def panel_differences(run: PanelInfo | None, asked: PanelInfo | None) -> list[str]:
    """What differs between the samples and judges of a run and those asked (empty: none)."""
    if run is None and asked is None:
        return []
    if run is None or asked is None:
        return [f"samples and judges: {run.summary() if run else 'one sample of one server'} vs "
                f"{asked.summary() if asked else 'one sample of one server'}"]
    return run.differences(asked)


@dataclass(frozen=True)
class Judge:
    """A judge at work: its name, open server, the settings of its calls (its model), and its weight."""

    name: str
    backend: Backend
    settings: Settings
    weight: float = 1.0

    def info(self) -> JudgeInfo:
        return JudgeInfo(name=self.name, server=self.backend.info.server, model=self.settings.model,
                         weight=self.weight)

    def key_fields(self) -> dict[str, str]:
        """What a sample's call key holds of its judge: the name, and a panel judge's server (see
        `PanelInfo.key_fields`; the model and seed are in the call's settings)."""
        return {"name": self.name} if self.name == DEFAULT_JUDGE else {"name": self.name,
                                                                      "server": self.backend.info.server}

    def sample_settings(self, sample: int) -> Settings:
        """The settings of its sample `sample`: its own seed + the sample's index."""
        return self.settings if sample == 0 else self.settings.model_copy(update={"seed": self.settings.seed + sample})


@dataclass(frozen=True)
class Panel:
    """The judges at work, k samples of each, and the rule: what `grade_transcript` asks per criterion."""

    judges: tuple[Judge, ...]
    samples: int = 1
    rule: PanelRule = "median"
    max_spread: int = 1

    def __post_init__(self) -> None:
        check_judges([j.name for j in self.judges], [j.weight for j in self.judges])
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise GraderError(f"{self.samples} samples", where="--samples", fix=f"give 1 to {MAX_SAMPLES}")
        if self.rule not in PANEL_RULES:
            raise GraderError(f"unknown panel rule {self.rule!r}", where="--panel-rule",
                              fix=f"use one of {', '.join(PANEL_RULES)}")

    @property
    def info(self) -> PanelInfo:
        return PanelInfo(samples=self.samples, judges=tuple(j.info() for j in self.judges), rule=self.rule,
                         max_spread=self.max_spread)


def check_judges(names: Sequence[str], weights: Sequence[float]) -> None:
    """Judge names are short words, each once; weights are positive numbers."""
    if not names:
        raise GraderError("a panel needs at least one judge", where="--judge", fix="give --judge NAME=URL,MODEL")
    for name in names:
        if not _NAME.match(name):
            raise GraderError(f"{name!r} is not a judge name", where="--judge",
                              fix="name each judge with letters, digits, '.', '_' or '-' (up to 40), e.g. a=URL,MODEL")
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise GraderError(f"the judge name {repeated[0]!r} is given twice", where="--judge",
                          fix="give each judge its own name")
    if any(not (w > 0 and w < float("inf")) for w in weights):
        raise GraderError("a judge's weight must be a number above 0", where="--panel", fix="e.g. weight: 2")


# ---- samples into one grade ------------------------------------------------------------------------------------------

def judge_grade(judge: JudgeInfo, samples: Sequence[SampleGrade]) -> JudgeGrade:
    """A judge's level: the lower median of its samples whose level counts; its status when none does."""
    counted = [s.level for s in samples if s.counts and s.level is not None]
    status: JudgeStatus
    if counted:
        status = "scored"
    elif all(s.status is GradeStatus.unscored for s in samples):
        status = "unscored"
    elif any(s.status is GradeStatus.insufficient_evidence for s in samples):
        status = "insufficient_evidence"
    else:
        status = "no_verified_evidence"
    return JudgeGrade(judge=judge.name, model=judge.model, weight=judge.weight, status=status,
                      level=lower_median(counted) if counted else None, samples=len(samples), counted=len(counted),
                      spread=max(counted) - min(counted) if counted else None)


def aggregate(base: CriterionGrade, samples: Sequence[SampleGrade], panel: PanelInfo) -> CriterionGrade:
    """One criterion's grade from every sample of every judge (the rules of this module's docstring).

    `base` carries what every sample shares (competency, criterion, chunks, prompt version, request).
    """
    judges = [judge_grade(j, [s for s in samples if s.judge == j.name]) for j in panel.judges]
    level = combine(panel.rule, [j.level for j in judges], [j.weight for j in judges])
    counted = [s.level for s in samples if s.counts and s.level is not None]
    spread = max(counted) - min(counted) if counted else None
    usable = [s for s in samples if s.status is not GradeStatus.unscored]
    reasons: list[str] = []
    if level is not None:
        first = next(s for s in samples if s.counts and s.level == level)
        grade = _from_sample(base, first, GradeStatus.scored, level)
    elif counted:  # unanimous, and the judges do not all give one level
        grade = base.model_copy(update={"status": GradeStatus.unscored, "level": None})
        reasons.append(f"the panel is not unanimous ({_votes(judges)}): no level")
    elif not usable:
        grade = base.model_copy(update={"status": GradeStatus.unscored, "level": None,
                                        "replies": [r for s in samples for r in s.replies]})
        reasons.append(f"every sample failed: {samples[0].reason or 'no reason recorded'}" if len(samples) > 1
                       else samples[0].reason or "the call failed")
    else:
        insufficient = [s for s in usable if s.status is GradeStatus.insufficient_evidence]
        stated = [s for s in usable if s.status is GradeStatus.scored and s.level is not None]
        if len(insufficient) >= len(stated):
            grade = _from_sample(base, insufficient[0], GradeStatus.insufficient_evidence, None)
        else:
            low = lower_median([s.level for s in stated if s.level is not None])
            grade = _from_sample(base, next(s for s in stated if s.level == low), GradeStatus.scored, low)
    if spread is not None and spread > panel.max_spread:
        reasons.append(f"the levels spread over {spread} ({min(counted)} to {max(counted)}), above "
                       f"{panel.max_spread}")
    reasons += _failures(judges, samples, panel) if usable else []
    without = [s for s in usable if not s.counts]
    if counted and without:
        reasons.append(f"{len(counted)} of {len(samples)} samples gave a level that counts, "
                       f"{len(without)} {'did' if len(without) > 1 else 'does'} not (no evidence, or no sentence "
                       "cited)")
    note = _summary(panel, judges, level, grade.status)
    aggregation = Aggregation(rule=panel.rule if panel.is_panel else "median",
                              tie=RULES[panel.rule] if panel.is_panel else SAMPLES_RULE, samples=panel.samples,
                              judges=judges, scored=sum(j.level is not None for j in judges), levels=counted,
                              spread=spread, max_spread=panel.max_spread, summary=note)
    own = grade.reason if grade.status is not GradeStatus.unscored or not reasons else None
    return grade.model_copy(update={
        "samples": list(samples), "aggregation": aggregation,
        "needs_review": grade.needs_review or bool(reasons),
        "reason": "; ".join(r for r in (own, *reasons) if r) or None,
        "model": "+".join(dict.fromkeys(j.model for j in panel.judges)),
        "usage": sum((s.usage for s in samples), Usage()), "attempts": sum(s.attempts for s in samples),
        "reasks": sum(s.reasks for s in samples), "seconds": round(sum(s.seconds for s in samples), 6),
    })


def _from_sample(base: CriterionGrade, sample: SampleGrade, status: GradeStatus, level: int | None) -> CriterionGrade:
    return base.model_copy(update={
        "status": status, "level": level, "rationale": sample.rationale, "evidence": sample.evidence,
        "rejected": sample.rejected, "red_flags": sample.red_flags, "needs_review": sample.needs_review,
        "reason": sample.reason, "replies": sample.replies, "request_sha256": sample.request_sha256 or
        base.request_sha256, "level_probs": sample.level_probs})


def _failures(judges: Sequence[JudgeGrade], samples: Sequence[SampleGrade], panel: PanelInfo) -> list[str]:
    """Which samples or judges failed, and why (the first reason of each judge)."""
    found = []
    for judge in judges:
        failed = [s for s in samples if s.judge == judge.judge and s.status is GradeStatus.unscored]
        if not failed:
            continue
        why = failed[0].reason or "no reason recorded"
        who = f"judge {judge.judge}" if panel.is_panel else "the server"
        if len(failed) == judge.samples:
            found.append(f"{who} failed{f' (all {judge.samples} samples)' if judge.samples > 1 else ''}: {why}")
        else:
            found.append(f"{len(failed)} of {judge.samples} samples of {who} failed: {why}")
    return found


def _votes(judges: Sequence[JudgeGrade]) -> str:
    words = {"unscored": "failed", "insufficient_evidence": "insufficient evidence",
             "no_verified_evidence": "no sentence cited"}
    return ", ".join(f"{j.judge} {j.level if j.level is not None else words[j.status]}" for j in judges)


def _summary(panel: PanelInfo, judges: Sequence[JudgeGrade], level: int | None, status: GradeStatus) -> str:
    outcome = f"level {level}" if level is not None else status.value.replace("_", " ")
    if not panel.is_panel:
        judge = judges[0]
        return (f"median of the {judge.counted} of {judge.samples} samples whose level counts → {outcome}"
                if judge.counted else f"no sample gave a level that counts → {outcome}")
    scored = sum(j.level is not None for j in judges)
    return f"{panel.rule} of {scored} of {len(judges)} judges ({_votes(judges)}) → {outcome}"
