"""How large an enum of unit ids llama.cpp's grammar takes, what it costs, and the pattern fallback.

The reply schema gives the chunk's unit ids as an enum (`grader/grading/reply.py`), and past
`MAX_ENUM_IDS` (500, OpenAI's documented limit for structured outputs) a pattern. This measures,
on the embedded model in-process, one criterion of `transcripts/strong-candidate.vtt` answered
under the grammar llama-cpp-python builds from the schema, with the enum padded to N ids:
grammar build time, generation time per token (against the same reply with the real ids, measured
in the same run), and whether every id written is in the enum. Then the pattern, and the pattern
written with `\\.` (which llama-cpp-python turns into a grammar its own parser rejects: that case
runs in a child process, because it takes the process down).

    python -m evals.enum_limit              # about 2 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from llama_cpp import Llama, LlamaGrammar

from grader.grading import reply
from grader.grading.prompts import load_prompt
from grader.ingest.chunking import GGUFTokens, chunk_transcript
from grader.ingest.formats import load_transcript
from grader.ingest.rubric import load_rubric
from grader.llm.embedded import model_path
from grader.resources import resolve

SIZES = (500, 1000, 2000, 5000, 10000)
_CHILD = """
import json, sys
from llama_cpp import Llama, LlamaGrammar
llm = Llama(sys.argv[1], n_ctx=512, n_threads=2, verbose=False)
g = LlamaGrammar.from_json_schema(json.dumps({"type": "string", "pattern": sys.argv[2]}), verbose=False)
out = llm.create_completion("The id of the sentence:", max_tokens=12, temperature=0, grammar=g)
print(json.dumps(out["choices"][0]["text"]))
"""


def _schema(ids: tuple[str, ...], flags: tuple[str, ...], pattern: bool) -> str:
    model = reply.reply_model("full", ids, flags, max_enum_ids=-1 if pattern else len(ids))
    return json.dumps(model.model_json_schema())


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


def run(sizes: tuple[int, ...]) -> None:
    transcript = load_transcript(resolve("transcripts", "strong-candidate.vtt"))
    rubric = load_rubric(resolve("rubrics", "senior-data-scientist"))
    chunk = chunk_transcript(transcript, 6000, GGUFTokens(model_path()))[0]
    competency, criterion = rubric.criteria()[0]
    messages = load_prompt().render(rubric, competency, criterion, chunk).as_openai()
    real, flags = chunk.citable_ids(), tuple(rubric.red_flag_ids())
    llm = Llama(str(model_path()), n_ctx=8192, n_threads=2, n_threads_batch=2, verbose=False)
    llm.create_chat_completion(messages=messages, max_tokens=1)  # the prompt is cached from here on

    def answer(schema: str) -> tuple[float, float, int, str]:
        started = time.perf_counter()
        grammar = LlamaGrammar.from_json_schema(schema, verbose=False)
        built = time.perf_counter() - started
        started = time.perf_counter()
        out = llm.create_chat_completion(messages=messages, temperature=0, seed=7, max_tokens=300,
                                         repeat_penalty=1.1, grammar=grammar)
        return built, time.perf_counter() - started, out["usage"]["completion_tokens"], \
            out["choices"][0]["message"]["content"] or ""

    print(f"{len(real)} real candidate unit ids; one criterion, prompt cached, SmolLM2-135M on llama-cpp-python")
    print("| ids in the schema | grammar build | generation | tokens | ms/token | x real ids | ids written "
          "outside the transcript |")
    print("|---|---|---|---|---|---|---|")
    base = None
    cases = [(f"enum {len(real)} (real)", tuple(real), False)]
    cases += [(f"enum {n}", _padded(real, n), False) for n in sizes]
    cases += [("pattern `[0-9]+[.][0-9]+`", tuple(real), True)]
    for label, ids, pattern in cases:
        built, seconds, tokens, text = answer(_schema(ids, flags, pattern))
        per_token = 1000 * seconds / max(tokens, 1)
        base = base or per_token
        outside = [u for u in _written_ids(text) if u not in real]
        print(f"| {label} | {built * 1000:.0f} ms | {seconds:.2f} s | {tokens} | {per_token:.1f} | "
              f"{per_token / base:.2f} | {', '.join(outside) or 'none'} |", flush=True)
    for pattern in (reply.UNIT_PATTERN, r"^[0-9]+\.[0-9]+$"):
        child = subprocess.run([sys.executable, "-c", _CHILD, str(model_path()), pattern], capture_output=True,
                               text=True, timeout=300)
        outcome = f"ran, wrote {child.stdout.strip()}" if child.returncode == 0 else \
            f"process died (exit {child.returncode}): {_last_error(child.stderr)}"
        print(f"pattern {pattern!r} alone: {outcome}")


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "error" in line.lower()]
    return lines[0].strip() if lines else (stderr.strip().splitlines() or ["no output"])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    run(tuple(parser.parse_args().sizes))


if __name__ == "__main__":
    main()
