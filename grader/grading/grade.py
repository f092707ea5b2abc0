"""Grading one transcript end to end: chunks, one call per criterion, aggregation, the score sheet."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any, Protocol

from grader.grading.aggregate import aggregate_competency
from grader.grading.grades import CriterionGrade, GradeStatus, SampleGrade, Settings, Usage
from grader.grading.guard import hold_passes, integrity_findings, redact_chunk, restore_words, transcript_redactor
from grader.grading.panel import Judge, Panel, PanelInfo, aggregate
from grader.grading.prompts import PromptTemplate
from grader.grading.reply import reply_schema_sha256
from grader.grading.scoring import grade_criterion, make_client
from grader.grading.sheet import RunInfo, ScoreSheet, count_sheet
from grader.ingest.chunking import Chunk, TokenCounter, chunk_transcript
from grader.ingest.rubric import Competency, Criterion, Rubric
from grader.ingest.transcript import Transcript
from grader.ingest.units import SPLITTER_VERSION
from grader.llm.backend import Backend

Progress = Callable[[Competency, Criterion, CriterionGrade | None], None]
PROMPT_RESERVE_TOKENS = 1500  # instructions, the criterion's anchors and the tool schema
MIN_TRANSCRIPT_TOKENS = 500  # the least a transcript chunk is given


class GradeCache(Protocol):
    """Where finished calls are kept (the run store): a key that was graded is never asked again."""

    def get(self, key: str) -> CriterionGrade | None: ...

    def put(self, key: str, transcript_id: str, grade: CriterionGrade) -> None: ...

    def reuse(self, key: str, transcript_id: str) -> None:
        """The grade stored under `key` is used for this transcript too (same text, another id)."""

    # one sample of one judge, with --samples or a panel (its grade's key is `parent`)
    def get_sample(self, key: str) -> SampleGrade | None: ...

    def put_sample(self, key: str, parent: str, transcript_id: str, sample: SampleGrade) -> None: ...

    def reuse_sample(self, key: str, transcript_id: str) -> None:
        """A stored sample is used again (counted as served from the store)."""


class Calibration(Protocol):
    """A mapping of the model's levels to the human scale (`grader calibrate` fits one), for one rubric and
    model. Grading names no implementation of it: scikit-learn is loaded only when a calibration is used."""

    def check(self, rubric_hash: str, model: str, level_probs: bool = False) -> None:
        """Raise a `GraderError` when it was not fitted for this rubric and model, or needs level probabilities."""

    def calibrate(self, grade: CriterionGrade) -> CriterionGrade:
        """The grade with its level mapped (the model's own kept as `raw_level`), or unchanged."""

    def fitted_for(self) -> dict[str, str]:
        """What the score sheet records of it: the rubric hash, model and prompt version it was fitted for."""


def transcript_budget(context_tokens: int, settings: Settings) -> int:
    """Tokens left for the transcript in one prompt."""
    return max(context_tokens - PROMPT_RESERVE_TOKENS - settings.max_tokens, MIN_TRANSCRIPT_TOKENS)


def call_key(transcript: Transcript, rubric: Rubric, criterion: Criterion, prompt: PromptTemplate,
             settings: Settings, chunks: list[Chunk], *, sample: int | None = None, judge: Judge | None = None,
             panel: PanelInfo | None = None) -> str:
    """Idempotency key of one criterion call: everything that can change its answer.

    With samples or a panel, each sample's key also holds its index and its judge (name, and a panel
    judge's server; the model and seed are in its settings), and the key of the grade made of them holds
    the panel. With exemplars (`prompt.exemplars`), the key holds the exemplar set's hash and the hash of
    the block shown to this transcript (which leaves out the candidate's own).
    Without them the key is what it always was.
    """
    parts: dict[str, object] = {
        "transcript": transcript.content_hash(), "rubric": rubric.content_hash(), "criterion": criterion.id,
        "prompt": prompt.sha256, "settings": settings.key_fields(), "reply_schema": reply_schema_sha256(settings.reply),
        "units": SPLITTER_VERSION, "chunks": [[c.first_turn, c.last_turn, c.tokens] for c in chunks]}
    if sample is not None:
        parts["sample"] = sample
    if judge is not None:
        parts["judge"] = judge.key_fields()
    if panel is not None:
        parts["panel"] = panel.key_fields()
    if prompt.exemplars is not None:
        parts["exemplars"] = {"set": prompt.exemplars.sha256,
                              "shown": hashlib.sha256(prompt.exemplar_block.encode()).hexdigest()[:16]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def grade_transcript(transcript: Transcript, rubric: Rubric, backend: Backend, prompt: PromptTemplate,
                     settings: Settings, counter: TokenCounter, progress: Progress | None = None,
                     cache: GradeCache | None = None, retry_failed: bool = False,
                     throttle: Callable[[int], None] | None = None,
                     calibration: Calibration | None = None, panel: Panel | None = None) -> ScoreSheet:
    """Grade every criterion of the rubric, back to back so the server reuses the transcript prefix.

    With a `panel` (`grader.grading.panel`: k samples of each of its judges), each criterion is asked k
    times of each judge, back to back with the same prompt (so each server reuses the prefix), and the
    samples become one grade by the panel's rule; `backend` and `settings` are then the first judge's.

    With a cache, a criterion already graded is taken from it; an `unscored` one is asked again
    only when `retry_failed` is set. `throttle(tokens)` is called before every call sent (rate limits).
    A calibration maps each counted level to the human scale (the model's own level is kept as
    `raw_level`); the store always holds the uncalibrated grade. With `settings.redact`, what is sent
    is redacted (`grader.grading.guard`); the sheet shows the original words. With exemplars
    (`prompt.exemplars`, `grader.grading.exemplar_block`), the prompt shows the block this transcript may be
    shown (never its candidate's own exemplars), redacted as the transcript is, and the transcript's
    token budget is smaller by the block's tokens.
    """
    if calibration:
        calibration.check(rubric.content_hash(), settings.model, settings.level_probs)
    started_at, started = datetime.now(UTC), time.perf_counter()
    context = min([backend.info.context_tokens, *(j.backend.info.context_tokens for j in panel.judges)] if panel
                  else [backend.info.context_tokens])
    shown = 0
    if prompt.exemplars is not None:
        prompt = prompt.exemplars.prompt_for(prompt, transcript, rubric, redact=settings.redact)
        shown = counter.count(prompt.exemplar_block) if prompt.exemplar_block else 0
    chunks = chunk_transcript(transcript, max(transcript_budget(context, settings) - shown, MIN_TRANSCRIPT_TOKENS),
                              counter)
    redactor = transcript_redactor(transcript, redact_orgs=settings.redact_orgs) if settings.redact else None
    sent = [redact_chunk(c, redactor) for c in chunks] if redactor else chunks
    job = _Job(transcript, rubric, prompt, settings, make_client(backend.client, settings.structured), chunks, sent,
               panel, extra_tokens=shown)
    grades = []
    for competency, criterion in rubric.criteria():
        if progress:
            progress(competency, criterion, None)
        grade = job.grade(competency, criterion, cache, retry_failed, throttle)
        grade = restore_words(grade, redactor) if redactor else grade
        grades.append(calibration.calibrate(grade) if calibration else grade)
        if progress:
            progress(competency, criterion, grades[-1])
    run = RunInfo(grader_version=version("grader"), backend=backend.info, settings=settings,
                  prompt_version=prompt.version, prompt_sha256=prompt.sha256, rubric_id=rubric.id,
                  rubric_hash=rubric.content_hash(), transcript_hash=transcript.content_hash(),
                  token_counter=counter.name, chunks=len(chunks), started_at=started_at,
                  seconds=round(time.perf_counter() - started, 2), usage=sum((g.usage for g in grades), Usage()),
                  calibration=calibration.fitted_for() if calibration else None,
                  panel=panel.info if panel else None)
    return build_sheet(transcript, rubric, run, grades)


class _Job:
    """One transcript's criterion calls: the cache key from the original chunks, the prompt from those sent."""

    def __init__(self, transcript: Transcript, rubric: Rubric, prompt: PromptTemplate, settings: Settings,
                 client: Any, chunks: list[Chunk], sent: list[Chunk], panel: Panel | None = None, *,
                 extra_tokens: int = 0) -> None:
        self.transcript, self.rubric, self.prompt, self.settings = transcript, rubric, prompt, settings
        self.client, self.chunks, self.sent, self.panel = client, chunks, sent, panel
        self.extra_tokens = extra_tokens  # the exemplar block's
        # one instructor client per judge, made once per transcript as the single server's is
        self.clients = [make_client(j.backend.client, j.settings.structured) for j in panel.judges] if panel else []

    def grade(self, competency: Competency, criterion: Criterion, cache: GradeCache | None, retry_failed: bool,
              throttle: Callable[[int], None] | None) -> CriterionGrade:
        if self.panel is not None:
            return self._grade_samples(competency, criterion, self.panel, cache, retry_failed, throttle)
        key = call_key(self.transcript, self.rubric, criterion, self.prompt, self.settings, self.chunks)
        grade = cache.get(key) if cache else None
        if grade is None or (retry_failed and grade.status is GradeStatus.unscored):
            self._throttle(throttle, self.settings)
            grade = grade_criterion(self.client, self.prompt, self.rubric, competency, criterion, self.transcript,
                                    self.sent, self.settings)
            if cache:
                cache.put(key, self.transcript.id, grade)
        elif cache:
            cache.reuse(key, self.transcript.id)
        return grade

    def _throttle(self, throttle: Callable[[int], None] | None, settings: Settings) -> None:
        if throttle:
            throttle(sum(c.tokens for c in self.chunks) + PROMPT_RESERVE_TOKENS + settings.max_tokens
                     + self.extra_tokens)

    def _grade_samples(self, competency: Competency, criterion: Criterion, panel: Panel, cache: GradeCache | None,
                       retry_failed: bool, throttle: Callable[[int], None] | None) -> CriterionGrade:
        """k samples of each judge, each stored on its own as it finishes, then one grade by the panel's rule.

        A judge's samples are asked back to back with the same prompt (only the seed differs), so its
        server reuses the cached prefix. With `retry_failed`, only the samples that failed are asked again.
        """
        info = panel.info
        key = call_key(self.transcript, self.rubric, criterion, self.prompt, self.settings, self.chunks, panel=info)
        stored = cache.get(key) if cache else None
        if stored is not None and not (retry_failed and _has_failure(stored)):
            if cache:
                cache.reuse(key, self.transcript.id)
            return stored
        samples = []
        for judge, client in zip(panel.judges, self.clients, strict=True):
            for index in range(panel.samples):
                settings = judge.sample_settings(index)
                sample_key = call_key(self.transcript, self.rubric, criterion, self.prompt, settings, self.chunks,
                                      sample=index, judge=judge)
                sample = cache.get_sample(sample_key) if cache else None
                if sample is None or (retry_failed and sample.status is GradeStatus.unscored):
                    self._throttle(throttle, settings)
                    grade = grade_criterion(client, self.prompt, self.rubric, competency, criterion, self.transcript,
                                            self.sent, settings)
                    sample = SampleGrade.of(grade, judge.name, index, settings.seed)
                    if cache:
                        cache.put_sample(sample_key, key, self.transcript.id, sample)
                elif cache:
                    cache.reuse_sample(sample_key, self.transcript.id)
                samples.append(sample)
        base = CriterionGrade(competency_id=competency.id, criterion_id=criterion.id, status=GradeStatus.unscored,
                              chunks=[c.index for c in self.chunks], model=self.settings.model,
                              prompt_version=self.prompt.version,
                              request_user=self.prompt.render(self.rubric, competency, criterion, self.sent[0],
                                                              len(self.sent)).user)
        grade = aggregate(base, samples, info)
        if cache:
            cache.put(key, self.transcript.id, grade)
        return grade


def _has_failure(grade: CriterionGrade) -> bool:
    """Unscored, or resting on a sample that failed (what --retry-failed asks again)."""
    return grade.status is GradeStatus.unscored or any(s.status is GradeStatus.unscored for s in grade.samples)


def build_sheet(transcript: Transcript, rubric: Rubric, run: RunInfo, grades: list[CriterionGrade]) -> ScoreSheet:
    """Aggregate the grades, scan the transcript for text addressed to the grader, and hold passes if found."""
    findings = integrity_findings(transcript)
    results = hold_passes([aggregate_competency(comp, [g for g in grades if g.competency_id == comp.id])
                           for comp in rubric.competencies], findings)
    return ScoreSheet(transcript_id=transcript.id, source=transcript.source, roles_by=transcript.roles_by,
                      run=run, competencies=results, grades=grades, counts=count_sheet(grades), transcript=transcript,
                      integrity=findings)
