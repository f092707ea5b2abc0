"""How grader talks to llama.cpp's native server on the wire: reply schemas as compact llguidance grammars.

`CompactJsonTransport` is the HTTP transport of the OpenAI client for the embedded server; with a
supervisor (the `EmbeddedServer`), a request that fails because the server's process ended raises
the supervisor's error instead. Replayed tests use the same transport without a server, so the
requests they replay are the ones that were recorded.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import httpx2
import openai


class Supervisor(Protocol):
    def check(self, when: str = ..., wait: float = ...) -> None:
        """Raise if the server's process has ended (waiting up to `wait` s for it to)."""


def compact_json_grammar(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request whose `response_format` is a JSON schema, with that schema as an llguidance grammar instead.

    llama.cpp's native server turns `response_format` into a grammar that also allows a ```json fence and
    pretty-printing (newlines and up to 20 spaces between any two tokens), and drops llguidance's own
    options: SmolLM2 then spent more than half of its reply on whitespace (2,767 completion tokens for
    the 15 criteria of tests/cassettes/short-screen.yaml). The same schema sent as an llguidance grammar
    with fixed separators keeps the reply on one line. Objects without `additionalProperties` get it
    false here: llguidance, unlike llama.cpp's own schema converter, lets the model add keys of its own,
    and SmolLM2 filled a reply with invented keys until `max_tokens` cut it off.
    """
    response_format = body.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return body
    schema = {**closed(response_format["json_schema"]["schema"]), "x-guidance": COMPACT_JSON}
    rest = {key: value for key, value in body.items() if key != "response_format"}
    return {**rest, "grammar": "%llguidance {}\nstart: %json " + json.dumps(schema, separators=(",", ":"))}


COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def closed(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists its properties and says nothing
    of others (a map given as `additionalProperties: {...}` is left as it is)."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


class CompactJsonTransport(httpx2.BaseTransport):
    """The embedded server's transport: reply schemas as compact grammars (`compact_json_grammar`); with a
    supervisor, a request that fails because the server's process ended raises `ServerCrashed` instead
    (the OpenAI client wraps it as a connection error whose cause it is)."""

    def __init__(self, inner: httpx2.BaseTransport, supervisor: Supervisor | None = None) -> None:
        self.inner, self.supervisor = inner, supervisor

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.supervisor:
            self.supervisor.check()
        try:
            return self.inner.handle_request(_compact(request))
        except httpx2.TransportError:
            if self.supervisor:
                self.supervisor.check(wait=1.0)  # a reset socket can come a moment before the exit is reported
            raise

    def close(self) -> None:
        self.inner.close()


def _compact(request: httpx2.Request) -> httpx2.Request:
    if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
        return request
    body = json.loads(request.read() or b"{}")
    rewritten = compact_json_grammar(body)
    if rewritten is body:
        return request
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx2.Request(request.method, request.url, headers=headers, json=rewritten, extensions=request.extensions)


def llama_cpp_http_client(timeout: float, supervisor: Supervisor | None = None) -> httpx2.Client:
    """An HTTP client for the OpenAI client that talks to llama.cpp's native server as grader does (replayed
    tests use it without a supervisor, so the recorded requests are the ones sent)."""
    inner = httpx2.HTTPTransport(limits=openai.DEFAULT_CONNECTION_LIMITS)
    return openai.DefaultHttpxClient(transport=CompactJsonTransport(inner, supervisor), timeout=timeout)

