"""Grading one transcript end to end: chunks, one call per criterion, aggregation, the score sheet."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version

from grader.aggregate import aggregate_competency
from grader.backend import Backend
from grader.chunking import TokenCounter, chunk_transcript
from grader.grades import CriterionGrade, Usage
from grader.prompts import PromptTemplate
from grader.rubric import Competency, Criterion, Rubric
from grader.scoring import Settings, grade_criterion, make_client
from grader.sheet import RunInfo, ScoreSheet, count_sheet
from grader.transcript import Transcript

Progress = Callable[[Competency, Criterion, CriterionGrade | None], None]
PROMPT_RESERVE_TOKENS = 1500  # instructions, the criterion's anchors and the tool schema


def transcript_budget(context_tokens: int, settings: Settings) -> int:
    """Tokens left for the transcript in one prompt."""
    return max(context_tokens - PROMPT_RESERVE_TOKENS - settings.max_tokens, 500)


def grade_transcript(transcript: Transcript, rubric: Rubric, backend: Backend, prompt: PromptTemplate,
                     settings: Settings, counter: TokenCounter, progress: Progress | None = None) -> ScoreSheet:
    """Grade every criterion of the rubric, back to back so the server reuses the transcript prefix."""
    started_at, started = datetime.now(UTC), time.perf_counter()
    chunks = chunk_transcript(transcript, transcript_budget(backend.info.context_tokens, settings), counter)
    client = make_client(backend.client)
    grades: list[CriterionGrade] = []
    for competency, criterion in rubric.criteria():
        if progress:
            progress(competency, criterion, None)
        grade = grade_criterion(client, prompt, rubric, competency, criterion, transcript, chunks, settings)
        grades.append(grade)
        if progress:
            progress(competency, criterion, grade)
    usage = Usage()
    for g in grades:
        usage += g.usage
    run = RunInfo(grader_version=version("grader"), backend=backend.info, settings=settings,
                  prompt_version=prompt.version, prompt_sha256=prompt.sha256, rubric_id=rubric.id,
                  rubric_hash=rubric.content_hash(), transcript_hash=transcript.content_hash(),
                  token_counter=counter.name, chunks=len(chunks), started_at=started_at,
                  seconds=round(time.perf_counter() - started, 2), usage=usage)
    results = [aggregate_competency(comp, [g for g in grades if g.competency_id == comp.id])
               for comp in rubric.competencies]
    return ScoreSheet(transcript_id=transcript.id, source=transcript.source, roles_by=transcript.roles_by,
                      run=run, competencies=results, grades=grades, counts=count_sheet(grades))
