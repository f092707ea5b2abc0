"""The public testing kit: a fake OpenAI-compatible server for your own tests and for the docs.

One fake with two faces, answering a grading request the same way (`completion`):

- **On loopback**, a real HTTP server in a thread: `fake_server()` (a context manager that gives
  its base URL), `FakeOpenAI` (the server itself) or `python -m grader.testing --port N` (in a
  process of its own). Point `--base-url` or `$OPENAI_BASE_URL` at it and every command of
  grader runs as against a real server, fast. Besides chat completions it lists its models and
  keeps a small OpenAI Batch API (files, batches) for `grader batch --provider-batch`.
- **In process**, `FakeServer`: httpx's `MockTransport` answering from a script (replies, HTTP
  statuses, exceptions), one item per request, recording every request body. Unit tests use it.

A grading reply is a function of the request: it cites the first sentence id of a candidate turn
found in the prompt (so citations resolve) and picks a level from a hash of the criterion asked.
The loopback server can log every request and inject faults (429, 500, slow replies, malformed
bodies) on a chosen share of calls, decided by a hash of the request and its attempt, so a run
repeats. With `refuse=401` (or 403) it lists its model but refuses every completion, echoing the
key it was sent, in full and masked, as OpenAI does ("Incorrect API key provided: sk-...").
With `echo_key=True` it grades as usual but writes the key it was sent into each reply's
rationale and the cited unit's note: a server that echoes a secret in a normal 200.

    with fake_server() as url:
        sheet = grader.grade("short-screen.txt", base_url=url)

    python -m grader.testing --port 8765 [--delay 0.01] [--faults 0.3] [--log requests.log]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import openai

__all__ = [
    "FAULTS",
    "MODEL",
    "FakeOpenAI",
    "FakeServer",
    "FaultPlan",
    "completion",
    "fake_server",
    "grade_arguments",
    "refusal",
    "request_id",
    "tool_completion",
    "tool_reply",
]

MODEL = "fake-grader"
"""The model the loopback server lists (unless told other names)."""
FAULTS = ("429", "500", "timeout", "malformed")
"""The faults `FaultPlan` injects, in turn by hash."""
_CANDIDATE_UNIT = re.compile(r"^Candidate \([^)]*\): \[(\d+\.\d+)\]", re.MULTILINE)


# ---- the reply logic both faces share ------------------------------------------------------------------------------

def request_id(body: dict[str, Any]) -> str:
    """Identifies a grading request: the system prompt (transcript) and the criterion asked."""
    messages = body.get("messages", [])
    text = json.dumps([messages[0], messages[1]] if len(messages) > 1 else messages, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def grade_arguments(body: dict[str, Any], echo: str | None = None) -> dict[str, Any]:
    """A grade citing the first candidate unit; `echo` (the key sent) is written into the rationale and note."""
    system = body["messages"][0]["content"]
    user = body["messages"][1]["content"]
    found = _CANDIDATE_UNIT.search(system)
    level = 1 + int(hashlib.sha256(user.encode()).hexdigest(), 16) % 5
    if not found:
        return {"evidence": [], "red_flags": {}, "rationale": "No candidate turn.", "level": "insufficient_evidence"}
    if echo:
        return {"evidence": [{"unit": found.group(1), "note": echo}], "red_flags": {}, "level": level,
                "rationale": f"Deterministic fake grade {level}. Key {echo}, shown as {echo[:8]}****{echo[-4:]}."}
    return {"evidence": [{"unit": found.group(1)}], "red_flags": {},
            "rationale": f"Deterministic fake grade {level}.", "level": level}


def completion(body: dict[str, Any], echo: str | None = None) -> dict[str, Any]:
    """The deterministic reply to a chat-completions request body (a forced tool call carrying a grade)."""
    args = json.dumps(grade_arguments(body, echo))
    prompt_tokens = sum(len(str(m.get("content", ""))) // 4 for m in body.get("messages", []))
    return tool_completion(args, name=body["tool_choice"]["function"]["name"], model=body.get("model", MODEL),
                           prompt_tokens=prompt_tokens, completion_tokens=len(args) // 4,
                           cached_tokens=prompt_tokens // 2)


def tool_completion(arguments: str, *, name: str = "GradeReply", model: str = MODEL, prompt_tokens: int = 100,
                    completion_tokens: int = 40, cached_tokens: int = 0,
                    finish_reason: str = "tool_calls") -> dict[str, Any]:
    """A chat completion whose single tool call carries `arguments` (the shape llama.cpp and OpenAI return)."""
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": finish_reason, "message": {
                "role": "assistant", "content": None, "tool_calls": [{
                    "id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}]}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "prompt_tokens_details": {"cached_tokens": cached_tokens}}}


def tool_reply(arguments: dict[str, Any] | str, *, finish_reason: str = "tool_calls", prompt_tokens: int = 100,
               completion_tokens: int = 40) -> dict[str, Any]:
    """`tool_completion` of `arguments` (a dict is JSON-encoded) from the model "fake": a `FakeServer` script item."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return tool_completion(args, model="fake", prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                           finish_reason=finish_reason)


def refusal(authorization: str) -> bytes:
    """OpenAI's 401 body, which echoes the key it was given, in full here and masked as OpenAI shows it."""
    key = authorization.removeprefix("Bearer ")
    message = (f"Incorrect API key provided: {key} (shown as {key[:8]}****{key[-4:]}). You can find your API key "
               "at https://platform.openai.com/account/api-keys.")
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}}
                      ).encode()


class FaultPlan:
    """Which attempt of which request fails, and how: a hash, so the same run fails the same way."""

    def __init__(self, share: float, seed: int = 0) -> None:
        self.share, self.seed = share, seed
        self.attempts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def fault_for(self, rid: str) -> str | None:
        """The fault of this attempt of request `rid` (one of `FAULTS`), or None."""
        with self.lock:
            self.attempts[rid] += 1
            attempt = self.attempts[rid]
        digest = int(hashlib.sha256(f"{self.seed}:{rid}:{attempt}".encode()).hexdigest(), 16)
        if (digest % 10_000) / 10_000 >= self.share:
            return None
        return FAULTS[digest // 10_000 % len(FAULTS)]


# ---- face 1: a real HTTP server on loopback ------------------------------------------------------------------------

class FakeOpenAI(ThreadingHTTPServer):
    """The loopback server: `FakeOpenAI(...).start()` serves in a daemon thread; `close()` stops it.

    `delay` seconds before each reply; `faults` the share of attempts that fail (see `FaultPlan`), a
    timeout fault answering 504 after `timeout_seconds`; `log` a file with one line per completion
    (request id, fault or ok); `refuse` 401 or 403 to every completion; `echo_key` writes the key sent
    into each reply; `models` the names it lists.
    """

    daemon_threads = True

    def __init__(self, port: int = 0, delay: float = 0.0, faults: float = 0.0, log: Path | None = None,
                 timeout_seconds: float = 2.0, refuse: int | None = None, echo_key: bool = False,
                 models: Sequence[str] = (MODEL,)) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.delay, self.log, self.timeout_seconds, self.refuse = delay, log, timeout_seconds, refuse
        self.echo_key, self.models = echo_key, tuple(models)
        self.posts = 0  # completions asked for (refused ones included)
        self.plan = FaultPlan(faults)
        self.log_lock = threading.Lock()
        self.batches = _BatchAPI()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, what `--base-url` takes."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (an injected timeout) closed the socket: nothing to report."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def record(self, line: str) -> None:
        """Append a line to the request log, if there is one."""
        if self.log:
            with self.log_lock, self.log.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def start(self) -> FakeOpenAI:
        """Serve in a daemon thread; returns the server."""
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        self.shutdown()
        self.server_close()


@contextlib.contextmanager
def fake_server(**options: Any) -> Iterator[str]:
    """A loopback `FakeOpenAI` serving while inside; gives its base URL (options as `FakeOpenAI` takes them).

        with fake_server(faults=0.2) as url:
            subprocess.run(["grader", "batch", "transcripts/", "--run", "runs/x", "--base-url", url])
    """
    server = FakeOpenAI(**options).start()
    try:
        yield server.base_url
    finally:
        server.close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode())

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/models"):
            return self._json({"object": "list", "data": [{"id": m, "object": "model"} for m in self.server.models]})
        found = self.server.batches.get(path)
        if found is None:
            return self._json({"error": {"message": f"no such path: {path}"}}, 404)
        if isinstance(found, bytes):
            return self._send(200, found, {"Content-Type": "application/jsonl"})
        return self._json(found)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/files"):
            return self._json(self.server.batches.upload(self.headers.get("Content-Type", ""), raw))
        if path.endswith("/batches"):
            return self._json(self.server.batches.create(json.loads(raw)))
        self._complete(json.loads(raw))

    def _complete(self, body: dict[str, Any]) -> None:
        with self.server.log_lock:
            self.server.posts += 1
        if self.server.refuse:
            return self._send(self.server.refuse, refusal(self.headers.get("Authorization", "")))
        rid = request_id(body)
        fault = self.server.plan.fault_for(rid) if self.server.plan.share else None
        self.server.record(f"{rid}\t{fault or 'ok'}")
        time.sleep(self.server.delay)
        if fault == "429":
            return self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "0.01"})
        if fault == "500":
            return self._send(500, b'{"error": {"message": "injected"}}')
        if fault == "timeout":
            time.sleep(self.server.timeout_seconds)
            return self._send(504, b'{"error": {"message": "timeout"}}')
        if fault == "malformed":
            return self._send(200, b'{"id": "chatcmpl-fake", "choices": [')
        echo = self.headers.get("Authorization", "").removeprefix("Bearer ") if self.server.echo_key else None
        self._json(completion(body, echo))


class _BatchAPI:
    """OpenAI's Batch API in memory: an uploaded JSONL of requests is answered in full when first polled."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()

    def upload(self, content_type: str, raw: bytes) -> dict[str, Any]:
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        parts = list(message.iter_parts()) if message.is_multipart() else []
        data = next((p.get_payload(decode=True) for p in parts if p.get_param("name", header="content-disposition")
                     == "file"), raw)
        with self.lock:
            file_id = f"file-{next(self.ids)}"
            self.files[file_id] = data
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0, "filename": "requests.jsonl",
                "purpose": "batch", "status": "processed"}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            batch_id = f"batch_{next(self.ids)}"
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body.get("endpoint", "/v1/chat/completions"),
                "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window", "24h"),
                "status": "validating", "created_at": int(time.time()), "output_file_id": None, "error_file_id": None}
            return dict(self.batches[batch_id])

    def get(self, path: str) -> dict[str, Any] | bytes | None:
        """A batch (answered in full on its first poll) or a file's content, by URL path; None if unknown."""
        with self.lock:
            if "/batches/" in path:
                batch = self.batches.get(path.rsplit("/", 1)[1])
                if batch is not None and batch["status"] != "completed":
                    self._answer(batch)
                return None if batch is None else dict(batch)
            if path.endswith("/content") and "/files/" in path:
                return self.files.get(path.split("/files/", 1)[1].removesuffix("/content"))
        return None

    def _answer(self, batch: dict[str, Any]) -> None:
        lines = []
        for line in self.files[batch["input_file_id"]].decode().splitlines():
            if line.strip():
                item = json.loads(line)
                response = {"status_code": 200, "request_id": item["custom_id"], "body": completion(item["body"])}
                lines.append(json.dumps({"id": f"resp-{item['custom_id']}", "custom_id": item["custom_id"],
                                         "response": response, "error": None}))
        output_id = f"file-{next(self.ids)}"
        self.files[output_id] = ("\n".join(lines) + "\n").encode()
        batch.update(status="completed", output_file_id=output_id,
                     request_counts={"total": len(lines), "completed": len(lines), "failed": 0})


# ---- face 2: in process, scripted per request -----------------------------------------------------------------------

Script = Sequence[Any] | Callable[[dict[str, Any]], Any]


class FakeServer:
    """Answers /chat/completions in process from a script: dicts are replies, ints are HTTP error statuses,
    `(status, headers)` tuples are errors with headers, exceptions are raised as transport faults.

    The script is a list (one item per request, in order) or a function of the request body; without one,
    every request gets `completion(body)`, the loopback server's deterministic grade. Every request body
    is recorded in `requests`. It lists the model `model` ("fake").

        server = FakeServer([500, tool_reply({...})])   # a transient fault, then a reply
        client = server.client()                         # an openai.OpenAI on the MockTransport
    """

    def __init__(self, script: Script | None = None, *, model: str = "fake") -> None:
        self.script: Script = script if script is not None else completion
        self.model = model
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: Any) -> Any:
        """The MockTransport handler: one httpx request in, one httpx response out."""
        httpx = _httpx()
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": self.model, "object": "model"}]})
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
        """An OpenAI client (no retries of its own) whose every request this fake answers."""
        import openai

        httpx = _httpx()
        return openai.OpenAI(base_url="http://fake.test/v1", api_key="sk-test", max_retries=0,
                             http_client=httpx.Client(transport=httpx.MockTransport(self.handler)))


def _httpx() -> Any:
    """The httpx the OpenAI client talks through: httpx2 for openai >= 3, else httpx."""
    try:
        import httpx2

        return httpx2
    except ImportError:  # pragma: no cover
        import httpx

        return httpx


# ---- python -m grader.testing ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    """Serve the loopback fake until Ctrl-C; prints its base URL first."""
    parser = argparse.ArgumentParser(prog="python -m grader.testing",
                                     description="a fake OpenAI-compatible server on loopback, for tests and docs")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--faults", type=float, default=0.0, help="share of attempts that fail (0..1)")
    parser.add_argument("--log", type=Path, help="append a line per completion to this file")
    parser.add_argument("--refuse", type=int, choices=(401, 403), help="refuse every completion with this status")
    parser.add_argument("--echo-key", action="store_true", help="write the key sent into every reply")
    parser.add_argument("--model", action="append", help="a model name to list (repeat; default: fake-grader)")
    args = parser.parse_args(argv)
    server = FakeOpenAI(args.port, args.delay, args.faults, args.log, refuse=args.refuse, echo_key=args.echo_key,
                        models=args.model or (MODEL,))
    print(server.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
