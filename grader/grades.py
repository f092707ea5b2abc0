"""What grading produces per criterion: Evidence, RedFlagHeard, CriterionGrade (DESIGN vocabulary)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal[1, 2, 3, 4, 5]


class GradeStatus(StrEnum):
    scored = "scored"
    insufficient_evidence = "insufficient_evidence"  # the transcript does not speak to it
    unscored = "unscored"  # the grader failed: never turned into a number


class MatchKind(StrEnum):
    exact = "exact"  # equal after normalising case, punctuation, whitespace and fillers
    near = "near"  # a close fuzzy match (transcription noise), above the threshold
    none = "none"


class Evidence(BaseModel):
    """A quote the grader gave, the turn it cited, and what checking it against the transcript found."""

    model_config = ConfigDict(frozen=True)
    quote: str
    cited_turn: int
    turn: int | None = Field(None, description="the candidate turn where the quote was found")
    match: MatchKind = MatchKind.none
    similarity: float = Field(0.0, description="0..100, fuzzy similarity to the best turn")
    verified: bool = False
    note: str | None = Field(None, description="why it was rejected, or that the cited turn was corrected")
    start: float | None = None
    end: float | None = None


class RedFlagHeard(BaseModel):
    model_config = ConfigDict(frozen=True)
    flag_id: str
    flag: str
    evidence: Evidence


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


class CriterionGrade(BaseModel):
    """One criterion's grade. `level` is None unless status is `scored`."""

    competency_id: str
    criterion_id: str
    status: GradeStatus
    level: Level | None = None
    raw_level: Level | None = Field(None, description="the model's level before calibration, when calibrated")
    rationale: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    rejected: list[Evidence] = Field(default_factory=list, description="quotes that failed verification")
    red_flags: list[RedFlagHeard] = Field(default_factory=list)
    needs_review: bool = Field(False, description="a quote was rejected after the re-ask")
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

    @property
    def counts(self) -> bool:
        """Whether the level counts towards the competency score (see `grader.aggregate`)."""
        return self.status is GradeStatus.scored and self.level is not None and bool(self.evidence)
