"""Provider batch mode against a fake OpenAI Batch API (files, batches, polling, output/error files)."""

from __future__ import annotations

import json

import openai

from grader.grading.grades import Settings
from grader.grading.prompts import load_prompt
from grader.grading.scoring import make_client
from grader.ingest.chunking import EstimatedTokens
from grader.ingest.inputs import iter_sources
from grader.ingest.rubric import load_rubric
from grader.runs.provider_batch import ingest, submit, wait, write_requests
from grader.runs.store import RunStore
from grader.testing import completion

from .conftest import RUBRIC, TRANSCRIPTS

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

SETTINGS = Settings(model="gpt-4.1-mini", prompt_cache_key=True)


class FakeBatchAPI:
    def __init__(self, fail_custom_id: str | None = None) -> None:
        self.uploaded = ""
        self.polls = 0
        self.fail = fail_custom_id
        self.calls: list[str] = []

    def handler(self, request):
        path, method = request.url.path, request.method
        self.calls.append(f"{method} {path}")
        if path.endswith("/files") and method == "POST":
            content = request.content.decode()
            self.uploaded = "\n".join(ln for ln in content.splitlines() if ln.startswith('{"custom_id"'))
            return httpx.Response(200, json={"id": "file-in", "object": "file", "bytes": len(content), "created_at": 0,
                                             "filename": "requests.jsonl", "purpose": "batch", "status": "processed"})
        if path.endswith("/batches") and method == "POST":
            body = json.loads(request.content)
            assert body == {"input_file_id": "file-in", "endpoint": "/v1/chat/completions", "completion_window": "24h"}
            return httpx.Response(200, json=self._batch("validating"))
        if "/batches/" in path:
            self.polls += 1
            return httpx.Response(200, json=self._batch("completed" if self.polls > 1 else "in_progress"))
        if path.endswith("/file-out/content"):
            return httpx.Response(200, text=self._output())
        return httpx.Response(404, json={"error": {"message": path}})

    def _batch(self, status):
        done = status == "completed"
        return {"id": "batch_1", "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": "file-in",
                "completion_window": "24h", "status": status, "created_at": 0,
                "output_file_id": "file-out" if done else None, "error_file_id": None}

    def _output(self):
        lines = []
        for line in self.uploaded.splitlines():
            item = json.loads(line)
            if item["custom_id"] == self.fail:
                response = {"status_code": 500, "request_id": "r", "body": {"error": {"message": "server error"}}}
            else:
                response = {"status_code": 200, "request_id": "r", "body": completion(item["body"])}
            lines.append(json.dumps({"id": "b", "custom_id": item["custom_id"], "response": response, "error": None}))
        return "\n".join(lines) + "\n"

    def client(self):
        return openai.OpenAI(base_url="http://fake.test/v1", api_key="sk-test", max_retries=0,
                             http_client=httpx.Client(transport=httpx.MockTransport(self.handler)))


def test_jsonl_request_format_matches_a_live_call(tmp_path, fake_server):
    rubric, prompt = load_rubric(RUBRIC), load_prompt()
    sources = list(iter_sources([str(TRANSCRIPTS / "short-screen.txt")]))
    store = RunStore(tmp_path / "run.sqlite")
    n = write_requests(sources, rubric, prompt, SETTINGS, EstimatedTokens(), 8192, store, tmp_path / "req.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "req.jsonl").read_text().splitlines()]
    assert n == len(lines) == 15 and len({x["custom_id"] for x in lines}) == 15
    assert all(x["method"] == "POST" and x["url"] == "/v1/chat/completions" for x in lines)
    # the body is what instructor sends live for the same criterion
    live = fake_server(lambda body: completion(body))
    from grader.grading.scoring import grade_criterion
    from grader.ingest.chunking import chunk_transcript
    from grader.ingest.formats import load_transcript

    transcript = load_transcript(TRANSCRIPTS / "short-screen.txt")
    comp, crit = rubric.criteria()[0]
    grade_criterion(make_client(live.client()), prompt, rubric, comp, crit, transcript,
                    chunk_transcript(transcript, 5000, EstimatedTokens()), SETTINGS)
    sent = live.requests[0]
    body = lines[0]["body"]
    for field in ("messages", "tools", "tool_choice", "temperature", "seed", "max_tokens", "model"):
        assert body[field] == sent[field], field
    assert body["prompt_cache_key"] == sent["prompt_cache_key"] == transcript.content_hash()


def test_submit_poll_ingest_into_the_run_store(tmp_path):
    rubric, prompt = load_rubric(RUBRIC), load_prompt()
    sources = list(iter_sources([str(TRANSCRIPTS / "short-screen.txt"), str(TRANSCRIPTS / "mixed-candidate.srt")]))
    store = RunStore(tmp_path / "run.sqlite")
    jsonl = tmp_path / "req.jsonl"
    assert write_requests(sources, rubric, prompt, SETTINGS, EstimatedTokens(), 8192, store, jsonl) == 30
    failing = json.loads(jsonl.read_text().splitlines()[3])["custom_id"]
    api = FakeBatchAPI(fail_custom_id=failing)
    client = api.client()
    batch = wait(client, submit(client, jsonl), poll_seconds=0)
    assert batch.status == "completed" and api.polls == 2
    stored = ingest(client, batch, jsonl.with_suffix(".manifest.jsonl"), {s.id: s for s in sources}, rubric, prompt,
                    SETTINGS, store, EstimatedTokens(), 8192)
    assert len(stored) == 30
    rows = list(store.call_rows())
    failed = [r for r in rows if r["status"] == "unscored"]
    assert len(rows) == 30 and len(failed) == 1 and failed[0]["level"] is None
    assert "batch call failed (HTTP 500)" in json.loads(failed[0]["grade"])["reason"]
    assert all(r["level"] in range(1, 6) for r in rows if r["status"] == "scored")
    # a second submission sends nothing already stored
    assert write_requests(sources, rubric, prompt, SETTINGS, EstimatedTokens(), 8192, store, jsonl) == 0
