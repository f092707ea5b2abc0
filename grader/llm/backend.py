"""Which LLM server to talk to: any OpenAI-compatible one, or the embedded default."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx2
import openai
from pydantic import BaseModel, ConfigDict

from grader.errors import BackendError
from grader.llm.embedded import CONTEXT_TOKENS, MODEL_ALIAS, EmbeddedServer
from grader.scrub import register


class BackendInfo(BaseModel):
    """What the score sheet records about the server: never the key."""

    model_config = ConfigDict(frozen=True)
    model: str
    server: str  # scheme://host:port, without path, user or key
    embedded: bool
    context_tokens: int


class Backend(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    client: openai.OpenAI
    info: BackendInfo


def server_host(base_url: str) -> str:
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


def make_openai_client(base_url: str, api_key: str | None, timeout: float,
                       http_client: httpx2.Client | None = None) -> openai.OpenAI:
    # retries are ours (tenacity, in grader.llm.retry): the client's own are off
    register(api_key)  # scrubbed from every error text from now on, should a server echo it
    return openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", max_retries=0, timeout=timeout,
                         http_client=http_client)


@contextlib.contextmanager
def open_backend(base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 *, timeout: float = 300.0, context_tokens: int | None = None,
                 threads: int | None = None) -> Iterator[Backend]:
    """A ready client: the server given (flag or OPENAI_BASE_URL), else the embedded model (with `threads`,
    default half the CPUs)."""
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    if base_url:
        check_base_url(base_url)
        client = make_openai_client(base_url, api_key, timeout)
        served = check_model(client, model, base_url)
        yield Backend(client=client, info=BackendInfo(model=served, server=server_host(base_url), embedded=False,
                                                      context_tokens=context_tokens or 128_000))
        return
    with EmbeddedServer(threads=threads) as server:  # log-probabilities cost nothing extra on llama.cpp's native server
        client = make_openai_client(server.base_url, None, timeout, http_client=server.http_client(timeout))
        info = BackendInfo(model=model or MODEL_ALIAS, server=server_host(server.base_url), embedded=True,
                           context_tokens=server.n_ctx or CONTEXT_TOKENS)
        yield Backend(client=client, info=info)


def check_base_url(base_url: str) -> None:
    """An http(s) URL with a host (it is not echoed: it may carry a user and password)."""
    try:
        parts = urlsplit(base_url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:
        valid = False
    if not valid:
        raise BackendError("not an http(s) URL with a host and a valid port", where="--base-url",
                           fix="give the server's URL, e.g. http://localhost:8000/v1 (or set $OPENAI_BASE_URL)")


def check_model(client: openai.OpenAI, model: str | None, base_url: str) -> str:
    """The model to use, checked against what the server lists; a clear error when it is not served."""
    host = server_host(base_url)
    try:
        served = [m.id for m in client.models.list()]
    except openai.AuthenticationError:
        raise BackendError(f"the server at {host} refused the API key",
                           fix="check --api-key / OPENAI_API_KEY") from None
    except (openai.APIConnectionError, openai.APITimeoutError):
        raise BackendError(f"the server at {host} is not reachable", fix="check --base-url and that the server "
                           "is running, or leave --base-url out to use the embedded model") from None
    except openai.APIStatusError as exc:
        if model:  # some servers do not list models; go on with the name given
            return model
        raise BackendError(f"the server at {host} did not list its models (HTTP {exc.status_code})",
                           fix="name the model with --model") from None
    if model is None:
        if len(served) == 1:
            return served[0]
        raise BackendError(f"the server at {host} serves several models: {', '.join(served[:10])}",
                           fix="name one with --model")
    if served and model not in served:
        raise BackendError(f"the server at {host} does not serve the model {model!r} (it serves: "
                           f"{', '.join(served[:10])})", fix="use --model with one of those names")
    return model
