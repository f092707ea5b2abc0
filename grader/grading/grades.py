"""What grading produces per criterion: Evidence, RedFlagHeard, CriterionGrade (DESIGN vocabulary),
and the Settings it was produced with. Records only: no transport here."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal[1, 2, 3, 4, 5]


class GradeStatus(StrEnum):
    """What became of one criterion's grade: a level, not enough evidence in the transcript, or no grade."""

    scored = "scored"
    insufficient_evidence = "insufficient_evidence"  # the transcript does not speak to it
    unscored = "unscored"  # the grader failed: never turned into a number


class Evidence(BaseModel):
    """A unit the model cited, resolved against the transcript: the quote is the unit's own text."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    unit: str = Field(description="the unit's id, `<turn>.<n>`")
    turn: int
    speaker: str
    text: str = Field(description="the unit's exact text in the transcript")
    start: float | None = Field(None, description="seconds from the start of the recording, when known")
    note: str | None = Field(None, description="the model's note on what the unit shows")


class RejectedCitation(BaseModel):
    """Something the model cited that is not a citable unit of the candidate (or a red flag not asked)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    unit: str | None = Field(None, description="the id as the model wrote it")
    flag_id: str | None = Field(None, description="the red flag it was cited for")
    reason: str


class RedFlagHeard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    flag_id: str
    flag: str
    evidence: list[Evidence] = Field(description="the candidate's units where it was heard")


class Settings(BaseModel):
    """Sampling and retry settings; all of them are stored with the score sheet."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    model: str
    temperature: float = 0.0
    seed: int = 7
    max_tokens: int = 400
    reasks: int = 1
    prompt_cache_key: bool = Field(False, description="send the transcript hash as OpenAI's prompt_cache_key")
    transient_attempts: int = 4
    transient_max_seconds: float = 120.0
    backoff_max_seconds: float = 20.0
    level_probs: bool = Field(False, description="ask for token log-probabilities and record each level's probability")
    top_logprobs: int = 10
    reply: Literal["full", "compact"] = Field("full", description="reply schema: full, or compact (one unit)")
    redact: bool = Field(False, description="replace names and personal data before a request leaves the machine")
    redact_orgs: bool = Field(False, exclude_if=lambda on: not on,  # absent when off: keys and sheets as before
                              description="with redact, also replace organisations (employers, universities)")
    structured: Literal["tools", "json_schema"] = Field(
        "tools", description="how the reply is held to its schema: a forced tool call (OpenAI, vLLM, Ollama), or "
                             "a JSON schema in response_format (llama.cpp's native server, which ignores tools for "
                             "models whose chat template has none)")

    def key_fields(self) -> dict[str, Any]:
        """The settings as they enter a call's idempotency key: `structured` only when it is not the default,
        so calls stored before it existed keep their keys (`redact_orgs` is left out of every dump when off)."""
        return self.model_dump(mode="json", exclude=set() if self.structured != "tools" else {"structured"})


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0

    @classmethod
    def from_openai(cls, usage: dict | None) -> Usage:
        """From a chat completion's `usage` (as a dict); cached tokens where the server reports them."""
        usage = usage or {}
        details = usage.get("prompt_tokens_details") or {}
        return cls(prompt_tokens=usage.get("prompt_tokens") or 0, completion_tokens=usage.get("completion_tokens") or 0,
                   cached_prompt_tokens=details.get("cached_tokens") or 0)

    @classmethod
    def of_response(cls, response: object) -> Usage:
        """From a chat completion object (its `usage`, when there is one)."""
        usage = getattr(response, "usage", None)
        return cls.from_openai(usage.model_dump() if usage is not None else None)

    def __add__(self, other: Usage) -> Usage:
        return Usage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                     completion_tokens=self.completion_tokens + other.completion_tokens,
                     cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens)


class LevelProbabilities(BaseModel):
    """The model's probability of each level where it wrote the level, and the expected level (see levelprobs)."""

    model_config = ConfigDict(frozen=True)
    level: str | None = Field(None, description="the level the probe call wrote")
    probs: dict[str, float] = Field(description="'1'..'5' and 'insufficient_evidence', summing to 1")
    expected: float | None = Field(description="sum of level x probability over 1..5, renormalised; None if no mass")
    mass: float = Field(description="the model's total probability on tokens that can start a level (0..1)")
    top_logprobs: int = Field(description="how many alternatives the server returned per token")


def _empty(value: Any) -> bool:
    """A field left out of the JSON when it holds nothing (a grade of one sample by one judge writes none of
    the sample and panel fields, so its JSON is what it was before they existed)."""
    return value is None or value == []


class SampleGrade(BaseModel):
    """One of k independent grades of a criterion by one judge (seed + sample index), graded and verified as a
    single grade is: an invented citation is re-asked, then marked. A sample that failed is `unscored`, never a
    level."""

    model_config = ConfigDict(extra="forbid")
    judge: str = Field(description="the judge's name (`default`: the one server of a run without a panel)")
    sample: int = Field(description="the sample's index, 0..k-1 (its seed is the run's seed + this index)")
    seed: int
    model: str = ""
    status: GradeStatus
    level: Level | None = None
    rationale: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    rejected: list[RejectedCitation] = Field(default_factory=list)
    red_flags: list[RedFlagHeard] = Field(default_factory=list)
    needs_review: bool = False
    reason: str | None = None
    attempts: int = 0
    reasks: int = 0
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    replies: list[str] = Field(default_factory=list, description="the model's raw reply at each attempt, for audit")
    request_sha256: str = ""
    level_probs: LevelProbabilities | None = Field(None, exclude_if=_empty)

    @property
    def counts(self) -> bool:
        """Whether its level counts (scored, citing at least one candidate sentence), as for a single grade."""
        return self.status is GradeStatus.scored and self.level is not None and bool(self.evidence)

    @classmethod
    def of(cls, grade: CriterionGrade, judge: str, sample: int, seed: int) -> SampleGrade:
        """The sample that a single criterion grade is, as the judge's sample `sample`."""
        fields = grade.model_dump(include=set(cls.model_fields) - {"judge", "sample", "seed"})
        return cls.model_validate({**fields, "judge": judge, "sample": sample, "seed": seed})


JudgeStatus = Literal["scored", "insufficient_evidence", "no_verified_evidence", "unscored"]


class JudgeGrade(BaseModel):
    """One judge's level for a criterion: the median of its samples that count (at k = 1, its one sample)."""

    model_config = ConfigDict(extra="forbid")
    judge: str
    model: str = ""
    weight: float = 1.0
    status: JudgeStatus = Field(description="scored (a level that counts), insufficient_evidence, "
                                            "no_verified_evidence (levels citing no sentence) or unscored (every "
                                            "sample failed)")
    level: Level | None = Field(None, description="None unless scored")
    samples: int = Field(description="samples asked of this judge")
    counted: int = Field(description="its samples whose level counts")
    spread: int | None = Field(None, description="max - min of its samples' levels that count")


class Aggregation(BaseModel):
    """How several samples, or a panel's judges, became the grade's one level (the rule is on the sheet)."""

    model_config = ConfigDict(extra="forbid")
    rule: str = Field(description="median, majority, weighted or unanimous: how the judges' levels combine")
    tie: str = Field(description="the rule in words, with how it breaks a tie")
    samples: int = Field(description="samples asked of each judge (k)")
    judges: list[JudgeGrade]
    scored: int = Field(description="judges with a level that counts; the level rests on these")
    levels: list[int] = Field(default_factory=list, description="every sample level that counts")
    spread: int | None = Field(None, description="max - min of `levels` (None: fewer than one)")
    max_spread: int = Field(description="a spread above this needs review")
    summary: str = Field("", description="how the level was reached, in words")


class CriterionGrade(BaseModel):
    """One criterion's grade. `level` is None unless status is `scored`.

    With repeated samples or a judge panel, `samples` holds every sample's own grade (each with its level,
    evidence and usage) and `aggregation` how they became this grade; the other fields are those of the
    sample the level came from (usage, attempts and seconds summed over all samples). A grade of one
    sample by one server has neither.
    """

    competency_id: str
    criterion_id: str
    status: GradeStatus
    level: Level | None = None
    raw_level: Level | None = Field(None, description="the model's level before calibration, when calibrated")
    rationale: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    rejected: list[RejectedCitation] = Field(default_factory=list,
                                             description="citations that are not the candidate's units")
    red_flags: list[RedFlagHeard] = Field(default_factory=list)
    needs_review: bool = Field(False, description="a citation was rejected after the re-ask, or no evidence")
    reason: str | None = Field(None, description="why it is unscored or needs review")
    attempts: int = 0
    reasks: int = 0
    chunks: list[int] = Field(default_factory=list, description="transcript chunks this grade read")
    model: str = ""
    prompt_version: str = ""
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    replies: list[str] = Field(default_factory=list, description="the model's raw reply at each attempt, for audit")
    request_sha256: str = Field("", description="hash of the exact messages sent (system + user), for audit")
    request_user: str = Field("", description="the user message sent (the criterion asked)")
    level_probs: LevelProbabilities | None = Field(None, description="probability of each level (token log-probs)")
    level_probs_note: str | None = Field(None, description="why there are no level probabilities")
    samples: list[SampleGrade] = Field(default_factory=list, exclude_if=_empty,
                                       description="every sample of every judge, each with its own level (only "
                                                   "with --samples above 1 or a judge panel)")
    aggregation: Aggregation | None = Field(None, exclude_if=_empty,
                                            description="how the samples and judges became the level")

    def judge_levels(self) -> dict[str, int | None]:
        """Each judge's level (None: no level that counts); empty for a grade of one server."""
        return {j.judge: j.level for j in self.aggregation.judges} if self.aggregation else {}

    @property
    def counts(self) -> bool:
        """Whether the level counts towards the competency score (see `grader.grading.aggregate`)."""
        return self.status is GradeStatus.scored and self.level is not None and bool(self.evidence)

    def quotes(self) -> list[Evidence]:
        """Every sentence the grade cites: its evidence, then the sentences of its red flags."""
        return [*self.evidence, *(e for flag in self.red_flags for e in flag.evidence)]
