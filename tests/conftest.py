"""Shared fixtures: paths, a scripted fake OpenAI-compatible server, and vcrpy replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

try:  # openai >= 3 talks through httpx2; older versions through httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent  # tests read nothing outside the repository
# the seed rubric's text export, the input `grader rubric import` exists for
SEED_RUBRIC = ROOT / "rubrics" / "source" / "interview-rubric-senior-data-scientist.txt"
RUBRIC = ROOT / "rubrics" / "senior-data-scientist.yaml"
TRANSCRIPTS = ROOT / "transcripts"
CASSETTES = Path(__file__).parent / "cassettes"


def tool_reply(arguments: dict[str, Any] | str, *, finish_reason: str = "tool_calls",
               prompt_tokens: int = 100, completion_tokens: int = 40) -> dict[str, Any]:
    """A chat completion whose single tool call carries `arguments` (what llama.cpp returns)."""
    from evals.fake_openai import tool_completion

    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return tool_completion(args, model="fake", prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                           finish_reason=finish_reason)


class FakeServer:
    """Answers /chat/completions from a script: dicts are replies, ints are HTTP error statuses,
    exceptions are raised as transport faults. Records every request body."""

    def __init__(self, script: list[Any] | Callable[[dict[str, Any]], Any]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: Any) -> Any:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": "fake", "object": "model"}]})
        body = json.loads(request.content)
        self.requests.append(body)
        item = self.script(body) if callable(self.script) else self.script[len(self.requests) - 1]
        if isinstance(item, Exception):
            raise item
        if isinstance(item, int):
            return httpx.Response(item, json={"error": {"message": f"injected {item}"}})
        if isinstance(item, tuple):  # (status, headers)
            return httpx.Response(item[0], headers=item[1], json={"error": {"message": f"injected {item[0]}"}})
        return httpx.Response(200, json=item)

    def client(self) -> openai.OpenAI:
        transport = httpx.MockTransport(self.handler)
        return openai.OpenAI(base_url="http://fake.test/v1", api_key="sk-test", max_retries=0,
                             http_client=httpx.Client(transport=transport))


@pytest.fixture
def fake_server() -> Callable[[Any], FakeServer]:
    return FakeServer


RECORDING = bool(__import__("os").environ.get("GRADER_RECORD"))


def cassette_vcr() -> Any:
    """vcrpy set up to replay (or, with GRADER_RECORD=1, re-record) the embedded model's HTTP.

    Requests match on method, path, query and body, not on host and port: the embedded server
    listens on a new free port each run. Auth headers are filtered out of the cassettes.
    """
    import vcr

    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "path", "query", "body"],
        filter_headers=["authorization", "x-api-key", "openai-organization", "cookie", "set-cookie"],
        decode_compressed_response=True,
    )
