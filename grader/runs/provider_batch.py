"""Provider batch mode: the run's requests as an OpenAI Batch API JSONL file, submitted, polled and
ingested into the same run store (at the Batch API's discount).

Each line is one criterion x chunk call with exactly the body a live call sends (same messages,
same tool with the chunk's unit-id enum, same sampling). Batch mode cannot re-ask: a reply whose
cited ids are not the candidate's units is kept, marked needs-review, with the ids listed as
rejected, as after a failed re-ask live.
Calls already in the run store are not sent again. A manifest beside the JSONL maps each
`custom_id` to its transcript, criterion and chunk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import instructor
import openai
from pydantic import BaseModel, ValidationError

from grader.errors import GraderError
from grader.grading.grade import call_key, transcript_budget
from grader.grading.grades import CriterionGrade, GradeStatus, Settings, Usage
from grader.grading.prompts import PromptTemplate
from grader.grading.reply import REPLY_MODELS, parse_arguments
from grader.grading.scoring import CallSpec, call_spec
from grader.grading.verify import combine_chunk_grades, grade_from_reply
from grader.ingest.chunking import Chunk, TokenCounter, chunk_transcript
from grader.ingest.inputs import TranscriptSource
from grader.ingest.rubric import Rubric
from grader.ingest.transcript import Transcript
from grader.runs.store import RunStore

ENDPOINT = "/v1/chat/completions"
FINAL_STATES = {"completed", "failed", "expired", "cancelled"}


class ManifestEntry(BaseModel):
    custom_id: str
    key: str
    transcript_id: str
    criterion_id: str
    chunk: int
    chunks: int


def request_body(spec: CallSpec, settings: Settings) -> dict[str, Any]:
    """The chat-completions body of one call, as instructor's TOOLS mode sends it live."""
    messages, transcript = spec.messages.as_openai(), spec.transcript
    tool = instructor.openai_schema(spec.reply_model).openai_schema
    body: dict[str, Any] = {
        "model": settings.model, "messages": messages, "temperature": settings.temperature, "seed": settings.seed,
        "max_tokens": settings.max_tokens, "tools": [{"type": "function", "function": tool}],
        "tool_choice": {"type": "function", "function": {"name": tool["name"]}},
    }
    if settings.prompt_cache_key:
        body["prompt_cache_key"] = transcript.content_hash()
    return body


def write_requests(sources: Iterable[TranscriptSource], rubric: Rubric, prompt: PromptTemplate, settings: Settings,
                   counter: TokenCounter, context_tokens: int, store: RunStore, jsonl: Path) -> int:
    """Write the JSONL of every call not yet in the store, and its manifest; returns the number of lines."""
    manifest = jsonl.with_suffix(".manifest.jsonl")
    count = 0
    with jsonl.open("w", encoding="utf-8") as out, manifest.open("w", encoding="utf-8") as index:
        for source, transcript in _loaded(sources, store):
            chunks = chunk_transcript(transcript, transcript_budget(context_tokens, settings), counter)
            for line, entry in _lines(transcript, chunks, rubric, prompt, settings, store):
                out.write(json.dumps(line) + "\n")
                index.write(entry.model_dump_json() + "\n")
                count += 1
            store.mark_transcript(transcript.id, source.where, "submitted", transcript_hash=transcript.content_hash())
    return count


def _loaded(sources: Iterable[TranscriptSource], store: RunStore) -> Iterator[tuple[TranscriptSource, Transcript]]:
    for source in sources:
        try:
            yield source, source.load()
        except GraderError as exc:
            store.mark_transcript(source.id, source.where, "failed", error=str(exc))


def _lines(transcript: Transcript, chunks: list[Chunk], rubric: Rubric, prompt: PromptTemplate, settings: Settings,
           store: RunStore) -> Iterator[tuple[dict[str, Any], ManifestEntry]]:
    for competency, criterion in rubric.criteria():
        key = call_key(transcript, rubric, criterion, prompt, settings, chunks)
        if store.get(key) is not None:
            continue
        for chunk in chunks:
            messages = prompt.render(rubric, competency, criterion, chunk, len(chunks))
            spec = call_spec(messages, rubric, competency, transcript, chunk, settings)
            custom_id = f"{key}-{chunk.index}"
            yield ({"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": request_body(spec, settings)},
                   ManifestEntry(custom_id=custom_id, key=key, transcript_id=transcript.id, criterion_id=criterion.id,
                                 chunk=chunk.index, chunks=len(chunks)))


def submit(client: openai.OpenAI, jsonl: Path) -> str:
    with jsonl.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h")
    return batch.id


def wait(client: openai.OpenAI, batch_id: str, poll_seconds: float = 30.0,
         on_poll: Callable[[Any], None] | None = None) -> Any:
    while True:
        batch = client.batches.retrieve(batch_id)
        if on_poll:
            on_poll(batch)
        if batch.status in FINAL_STATES:
            return batch
        time.sleep(poll_seconds)


def ingest(client: openai.OpenAI, batch: Any, manifest: Path, sources: dict[str, TranscriptSource], rubric: Rubric,
           prompt: PromptTemplate, settings: Settings, store: RunStore, counter: TokenCounter,
           context_tokens: int) -> list[CriterionGrade]:
    """Turn the batch's output (and error) file into grades in the store; returns the grades stored."""
    results: dict[str, dict[str, Any]] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            for line in client.files.content(file_id).text.splitlines():
                if line.strip():
                    item = json.loads(line)
                    results[item["custom_id"]] = item
    entries = [ManifestEntry.model_validate_json(line) for line in manifest.read_text().splitlines() if line.strip()]
    by_key: dict[str, list[ManifestEntry]] = {}
    for entry in entries:
        by_key.setdefault(entry.key, []).append(entry)
    transcripts: dict[str, Transcript] = {}
    stored = []
    for key, parts in by_key.items():
        first = parts[0]
        transcript = transcripts.get(first.transcript_id) or sources[first.transcript_id].load()
        transcripts = {first.transcript_id: transcript}  # keep one: memory stays flat
        chunks = chunk_transcript(transcript, transcript_budget(context_tokens, settings), counter)
        grades = [_grade_from_result(results.get(p.custom_id), p, transcript, rubric, chunks[p.chunk - 1], prompt,
                                     settings, batch) for p in sorted(parts, key=lambda p: p.chunk)]
        grade = grades[0] if len(grades) == 1 else combine_chunk_grades(grades)
        store.put(key, first.transcript_id, grade)
        stored.append(grade)
    return stored


def _grade_from_result(result: dict[str, Any] | None, entry: ManifestEntry, transcript: Transcript, rubric: Rubric,
                       chunk: Chunk, prompt: PromptTemplate, settings: Settings, batch: Any) -> CriterionGrade:
    competency = rubric.competency_of(entry.criterion_id)
    base = CriterionGrade(competency_id=competency.id, criterion_id=entry.criterion_id, status=GradeStatus.unscored,
                          chunks=[entry.chunk], model=settings.model, prompt_version=prompt.version)
    if result is None:
        return base.model_copy(update={"reason": f"no result in batch {batch.id} (status {batch.status})"})
    response = result.get("response") or {}
    body = response.get("body") or {}
    if result.get("error") or response.get("status_code") != 200:
        error = result.get("error") or body.get("error") or {}
        message = error.get("message", error) if isinstance(error, dict) else error
        return base.model_copy(update={"reason": f"batch call failed (HTTP {response.get('status_code')}): {message}"})
    base = base.model_copy(update={"attempts": 1, "usage": Usage.from_openai(body.get("usage"))})
    try:
        arguments = body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        reply = parse_arguments(arguments, REPLY_MODELS[settings.reply])
        citable = frozenset(chunk.citable_ids())
    except (KeyError, IndexError, TypeError, ValidationError) as exc:
        return base.model_copy(update={"reason": f"no schema-valid reply in the batch result: {str(exc)[:200]}"})
    return grade_from_reply(reply, base.model_copy(update={"replies": [arguments]}), transcript, competency, citable)
