"""How large an enum of unit ids llama.cpp's native server takes, what it costs, and the pattern fallback.

The reply schema gives the chunk's unit ids as an enum (`grader/grading/reply.py`), and past
`MAX_ENUM_IDS` (500, OpenAI's documented limit for structured outputs) a pattern. This measures,
on the embedded model as grader runs it (llama.cpp's native server from the `xllamacpp` wheel, in
the supervised child process of `grader.llm.embedded.EmbeddedServer`, over HTTP), one criterion of
`transcripts/strong-candidate.vtt` answered under `response_format` `json_schema` (what grader sends
to the embedded server, `Settings.structured`), with the enum padded to N ids:
- the schema's cost before generation: wall time of a one-token request with the schema, less the
  same request without one (the prompt is cached, so this is mostly converting the schema to a
  grammar, parsing it and constraining the first token);
- generation time per token, from the server's own `timings` (`predicted_ms / predicted_n`, so HTTP
  and prompt time are left out), against the same reply with the real ids measured in the same run;
- whether every id written is in the enum (and which are not the transcript's: padding chosen).
Then the reply schema with the pattern instead of the enum, and the pattern alone written with
`[.]` and with `\\.` (llama-cpp-python turned `\\.` into a grammar its own parser rejected, and
its process died: this checks the native server; a crash takes down the child process only, and
is reported).

Figures are for this machine's load at the time (printed); compare the ratios within one run.

    python -m evals.enum_limit --threads 1           # about 2.5 min (measured at load average 4 on 2 cores)
    python -m evals.enum_limit --sizes 500 --repeats 1 --threads 1   # quickest (about 1 min)

On a busy machine use `--threads 1`: with the default two threads on two cores shared with other
work (another llama.cpp server and a test run, load average 2.8), a run of this script measured
819 ms per generated token, against 37-51 ms with one thread (llama.cpp's threads synchronise on
every token, so one that is descheduled holds up the other).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from typing import Any

import openai

from grader.errors import FatalBackendError
from grader.grading import reply
from grader.grading.prompts import load_prompt
from grader.ingest.chunking import ServerTokens, chunk_transcript
from grader.ingest.formats import load_transcript
from grader.ingest.rubric import load_rubric
from grader.llm.backend import make_openai_client
from grader.llm.embedded import MODEL_ALIAS, EmbeddedServer
from grader.resources import resolve

SIZES = (500, 1000, 2000, 5000, 10000)
MAX_TOKENS = 300
TIMEOUT = 600.0


def _schema(ids: tuple[str, ...], flags: tuple[str, ...], pattern: bool) -> dict[str, Any]:
    model = reply.reply_model("full", ids, flags, max_enum_ids=-1 if pattern else len(ids))
    return model.model_json_schema()


def _response_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """What instructor's JSON_SCHEMA mode sends (grader's `structured="json_schema"`)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


def _padded(real: list[str], n: int) -> tuple[str, ...]:
    extra = (f"{t}.{k}" for t in range(1000, 100000) for k in range(1, 6))
    ids = list(real)
    while len(ids) < n:
        ids.append(next(extra))
    return tuple(ids)


def _written_ids(text: str) -> list[str]:
    try:
        data = json.loads(text, strict=False)
    except ValueError:
        return ["<not JSON>"]
    flags = data.get("red_flags") or {}
    return [e["unit"] for e in data.get("evidence", [])] + [u for units in flags.values() for u in units]


class Chat:
    """Chat completions on the embedded server, read as the JSON it sends (with llama.cpp's `timings`)."""

    def __init__(self, client: openai.OpenAI, messages: list[dict[str, str]]) -> None:
        self.client, self.messages = client, messages

    def ask(self, max_tokens: int, response_format: dict[str, Any] | None = None,
            messages: list[dict[str, str]] | None = None) -> tuple[float, dict[str, Any]]:
        body: dict[str, Any] = {"model": MODEL_ALIAS, "messages": messages or self.messages, "temperature": 0,
                                "seed": 7, "max_tokens": max_tokens}
        if response_format is not None:
            body["response_format"] = response_format
        started = time.perf_counter()
        out = self.client.post("/chat/completions", body=body, cast_to=object)
        assert isinstance(out, dict)
        return time.perf_counter() - started, out

    def overhead(self, response_format: dict[str, Any], base: float, repeats: int) -> float:
        """Median wall seconds of a one-token request with the schema, less `base` (the same without one)."""
        return statistics.median(self.ask(1, response_format)[0] for _ in range(repeats)) - base


def _content(out: dict[str, Any]) -> str:
    return out["choices"][0]["message"].get("content") or ""


def run(sizes: tuple[int, ...], repeats: int, threads: int | None) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with EmbeddedServer(threads=threads) as server:
        client = make_openai_client(server.base_url, None, TIMEOUT, http_client=server.http_client(TIMEOUT))
        transcript = load_transcript(resolve("transcripts", "strong-candidate.vtt"))
        rubric = load_rubric(resolve("rubrics", "senior-data-scientist"))
        chunk = chunk_transcript(transcript, 6000, ServerTokens(client))[0]
        competency, criterion = rubric.criteria()[0]
        chat = Chat(client, load_prompt().render(rubric, competency, criterion, chunk).as_openai())
        real, flags = chunk.citable_ids(), tuple(rubric.red_flag_ids())
        _, warm = chat.ask(1)  # the prompt is cached from here on
        base = statistics.median(chat.ask(1)[0] for _ in range(repeats))
        print(f"{len(real)} real candidate unit ids; one criterion ({warm['usage']['prompt_tokens']} prompt tokens, "
              f"cached after the first request), SmolLM2-135M on llama.cpp's native server (xllamacpp, "
              f"{server.threads} thread{'s' if server.threads > 1 else ''}), response_format json_schema, "
              f"max_tokens {MAX_TOKENS}; "
              f"a one-token request without a schema takes {base * 1000:.0f} ms (median of {repeats})\n")
        print("| ids in the schema | schema cost on a 1-token request | generation | tokens | ms/token | x real ids "
              "| prompt tokens cached | ids written outside the enum | ids written outside the transcript |")
        print("|---|---|---|---|---|---|---|---|---|")
        base_per_token = None
        cases = [(f"enum {len(real)} (real)", tuple(real), False)]
        cases += [(f"enum {n}", _padded(real, n), False) for n in sizes]
        cases += [("pattern `[0-9]+[.][0-9]+`", tuple(real), True)]
        for label, ids, pattern in cases:
            response_format = _response_format("GradeReply", _schema(ids, flags, pattern))
            extra = chat.overhead(response_format, base, repeats)
            wall, out = chat.ask(MAX_TOKENS, response_format)
            timings, usage = out.get("timings") or {}, out.get("usage") or {}
            tokens = timings.get("predicted_n") or usage.get("completion_tokens") or 0
            per_token = (timings.get("predicted_ms") or wall * 1000) / max(tokens, 1)
            base_per_token = base_per_token or per_token
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            written = _written_ids(_content(out))
            enum = set(ids)
            outside_enum = [u for u in written if u not in enum] if not pattern else ["n/a (pattern)"]
            outside = [u for u in written if u not in real]
            cut = " (cut)" if out["choices"][0].get("finish_reason") == "length" else ""
            print(f"| {label} | {extra * 1000:+.0f} ms | {wall:.2f} s | {tokens}{cut} | {per_token:.1f} | "
                  f"{per_token / base_per_token:.2f} | {cached}/{usage.get('prompt_tokens')} | "
                  f"{', '.join(outside_enum) or 'none'} | {', '.join(outside) or 'none'} |", flush=True)
        print()
        prompt = [{"role": "user", "content": "Write the id of one sentence, such as 8.2."}]
        for pattern in (reply.UNIT_PATTERN, r"^[0-9]+\.[0-9]+$"):  # the escape last: it may take the server down
            print(f"pattern {pattern!r} alone: {_pattern_alone(chat, server, pattern, prompt)}", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _pattern_alone(chat: Chat, server: EmbeddedServer, pattern: str, prompt: list[dict[str, str]]) -> str:
    response_format = _response_format("UnitId", {"type": "string", "pattern": pattern})
    try:
        _, out = chat.ask(24, response_format, messages=prompt)
    except (openai.APIConnectionError, FatalBackendError) as exc:
        try:
            server.check(wait=2.0)
        except FatalBackendError as crashed:
            return f"the server process died: {crashed}"
        return f"no answer ({type(exc).__name__}: {exc})"
    except openai.APIStatusError as exc:
        return f"refused with HTTP {exc.status_code}: {str(exc)[:200]}"
    text, finish = _content(out), out["choices"][0].get("finish_reason")
    try:
        value = json.loads(text)
    except ValueError:
        if finish != "length":
            return f"ran, wrote {text!r} (not JSON; finish_reason {finish})"
        allowed = re.fullmatch(r'"[0-9]*([.][0-9]*)?', text) is not None
        return f"ran, wrote {text!r} (cut at max_tokens, {'' if allowed else 'NOT '}a start the pattern allows)"
    matches = isinstance(value, str) and re.fullmatch(pattern.strip("^$"), value) is not None
    return f"ran, wrote {text} ({'matches' if matches else 'does NOT match'} the pattern)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="padded enum sizes")
    parser.add_argument("--repeats", type=int, default=3, help="one-token requests per median (schema cost)")
    parser.add_argument("--threads", type=int, help="server threads (default: all cores)")
    args = parser.parse_args()
    run(tuple(args.sizes), max(args.repeats, 1), args.threads)


if __name__ == "__main__":
    main()
