"""A stand-in for the embedded model server's process (`grader.llm.serve`), for supervision tests.

Run as `python fake_llama_server.py CONFIG_JSON` with the config `EmbeddedServer` passes; how it
misbehaves comes from `$FAKE_LLAMA` (JSON): `crash_on` (kill itself with `signal`, SIGSEGV by
default, on the Nth chat request, 1-based), `delay` (seconds before each chat reply), `reply`
("valid", or "garbage" for a reply that is not JSON), `garbage_from` (garbage from the Nth chat on).
It logs one line per request, so a test can check the log tail the crash message quotes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from grader.llm.serve import die_with_parent, exit_when_stdin_closes

CONFIG: dict[str, Any] = json.loads(sys.argv[1])
FAKE: dict[str, Any] = json.loads(os.environ.get("FAKE_LLAMA") or "{}")
VALID = json.dumps({"evidence": [], "red_flags": {}, "rationale": "The transcript does not speak to it.",
                    "level": "insufficient_evidence"})
chats = 0


def completion(content: str) -> dict[str, Any]:
    return {"id": "fake", "object": "chat.completion", "created": 0, "model": CONFIG["alias"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


class Handler(BaseHTTPRequestHandler):
    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send({"object": "list", "data": [{"id": CONFIG["alias"], "object": "model"}]})

    def do_POST(self) -> None:
        global chats
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.endswith("/tokenize"):
            return self._send({"tokens": list(range(len(body.get("content", "").split())))})
        chats += 1
        print(f"fake: chat request {chats}", flush=True)
        if FAKE.get("crash_on") == chats:
            print("fake: general protection fault in libggml-cpu.so (simulated)", flush=True)
            os.kill(os.getpid(), int(FAKE.get("signal", signal.SIGSEGV)))
        time.sleep(float(FAKE.get("delay", 0)))
        garbage = FAKE.get("reply") == "garbage" or chats >= FAKE.get("garbage_from", float("inf"))
        return self._send(completion("not json at all" if garbage else VALID))

    def log_message(self, *args: Any) -> None:  # quiet: only the lines above go to the log
        pass


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(int(CONFIG["parent"]))  # the real server's own watch on grader, as in grader.llm.serve
    exit_when_stdin_closes()
    ThreadingHTTPServer(("127.0.0.1", int(CONFIG["port"])), Handler).serve_forever()
