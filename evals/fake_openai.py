"""A fast, deterministic OpenAI-compatible fake server for batch tests and benchmarks (loopback only).

Its reply to a grading request is a function of the request: it cites the first sentence id of a
candidate turn found in the prompt (so citations resolve) and picks a level from a hash of the
criterion. It can log every request and inject faults (429, 500, slow replies, malformed bodies)
on a chosen share of calls, decided by a hash of the request and the attempt, so runs repeat.
With `refuse=401` (or 403) it lists its model but refuses every completion, echoing the key it was
sent in the message, in full and masked, as OpenAI does ("Incorrect API key provided: sk-...").
With `echo_key=True` it grades as usual but writes the key it was sent into each reply's rationale
(in full and masked) and the cited unit's note: a server that echoes a secret in a normal 200.

    python -m evals.fake_openai --port 8765 [--delay 0.01] [--faults 0.3] [--log requests.log]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODEL = "fake-grader"
_CANDIDATE_UNIT = re.compile(r"^Candidate \([^)]*\): \[(\d+\.\d+)\]", re.MULTILINE)
FAULTS = ("429", "500", "timeout", "malformed")


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


class FaultPlan:
    """Which attempt of which request fails, and how: a hash, so the same run fails the same way."""

    def __init__(self, share: float, seed: int = 0) -> None:
        self.share, self.seed = share, seed
        self.attempts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def fault_for(self, rid: str) -> str | None:
        with self.lock:
            self.attempts[rid] += 1
            attempt = self.attempts[rid]
        digest = int(hashlib.sha256(f"{self.seed}:{rid}:{attempt}".encode()).hexdigest(), 16)
        if (digest % 10_000) / 10_000 >= self.share:
            return None
        return FAULTS[digest // 10_000 % len(FAULTS)]


class FakeOpenAI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0, delay: float = 0.0, faults: float = 0.0, log: Path | None = None,
                 timeout_seconds: float = 2.0, refuse: int | None = None, echo_key: bool = False) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.delay, self.log, self.timeout_seconds, self.refuse = delay, log, timeout_seconds, refuse
        self.echo_key = echo_key
        self.posts = 0  # completions asked for (refused ones included)
        self.plan = FaultPlan(faults)
        self.log_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (an injected timeout) closed the socket: nothing to report."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def record(self, line: str) -> None:
        if self.log:
            with self.log_lock, self.log.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def start(self) -> FakeOpenAI:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


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

    def do_GET(self) -> None:
        self._send(200, json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode())

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
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
        self._send(200, json.dumps(completion(body, echo)).encode())


def refusal(authorization: str) -> bytes:
    """OpenAI's 401 body, which echoes the key it was given, in full here and masked as OpenAI shows it."""
    key = authorization.removeprefix("Bearer ")
    message = (f"Incorrect API key provided: {key} (shown as {key[:8]}****{key[-4:]}). You can find your API key "
               "at https://platform.openai.com/account/api-keys.")
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}}
                      ).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--faults", type=float, default=0.0)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--refuse", type=int, choices=(401, 403), help="refuse every completion with this status")
    args = parser.parse_args()
    server = FakeOpenAI(args.port, args.delay, args.faults, args.log, refuse=args.refuse)
    print(server.base_url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
