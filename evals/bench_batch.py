"""Batch benchmark: what prefix reuse saves, what grader itself costs, and whether memory stays flat.

Part 1 grades N real MIT transcripts with the seed rubric on the embedded model (llama.cpp's
native server, `xllamacpp`, replies held to a JSON schema as grader sends them to it), three
ways, each on a fresh server (cold cache): (a) naive, a call per criterion with the criterion
before the transcript, so nothing is reused; (b) shared prefix, the default layout, criteria back
to back so llama.cpp reuses the transcript; (c) one call per competency. It prints prompt tokens
sent, those the server took from its cache (`usage.prompt_tokens_details.cached_tokens`) and those
it actually computed (`timings.prompt_n`), both as each response reports them; the server's
generation ms per token; wall time per transcript, ratios to (a), and grader's own (non-LLM) share
of the wall time (exact token counts come from the server's `/tokenize`: their HTTP time is in
grader's share, and shown apart).

Part 2 times parsing + chunking of 1,000 transcripts and measures the peak memory of batches of
1,000 and 10,000 transcripts against the fast fake server on loopback (one criterion each).

    python -m evals.bench_batch --n 2            # both parts (about 15 min on 2 quiet cores)
    python -m evals.bench_batch --skip-llm       # part 2 only (about 2 min)
    python -m evals.bench_batch --n 1 --competencies 1 --threads 1 --skip-memory   # quickest (~2 min)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai

from evals.data import MIT_DATA, require
from grader.grading.grade import grade_transcript, transcript_budget
from grader.grading.grades import Settings
from grader.grading.prompts import load_prompt
from grader.grading.scoring import make_client
from grader.ingest.chunking import EstimatedTokens, ServerTokens, TokenCounter, chunk_transcript
from grader.ingest.inputs import iter_sources
from grader.ingest.rubric import Rubric, load_rubric
from grader.ingest.transcript import Transcript
from grader.llm.backend import Backend, BackendInfo, make_openai_client
from grader.llm.embedded import MODEL_ALIAS, EmbeddedServer
from grader.runs.batch import BatchJob, BatchOptions
from grader.runs.cost import DEFAULT_PRICES
from grader.runs.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
DATA = MIT_DATA / "transcripts.csv"
RUBRIC = ROOT / "rubrics" / "senior-data-scientist.yaml"
TIMEOUT = 900.0
_STARTED = "bench_started"


@dataclass
class Wire:
    """What the server's responses report, read from the HTTP client's event hooks: time on the wire,
    prompt tokens sent, cached and computed, and generation, per chat completion; `/tokenize` apart."""

    seconds: float = 0.0
    requests: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    computed_tokens: int = 0
    predicted_ms: float = 0.0
    predicted_tokens: int = 0
    tokenize_seconds: float = 0.0
    tokenize_requests: int = 0

    def attach(self, client: httpx2.Client) -> httpx2.Client:
        client.event_hooks = {"request": [self.on_request], "response": [self.on_response]}
        return client

    def on_request(self, request: httpx2.Request) -> None:
        request.extensions[_STARTED] = time.perf_counter()

    def on_response(self, response: httpx2.Response) -> None:
        body = response.read()
        seconds = time.perf_counter() - response.request.extensions.get(_STARTED, time.perf_counter())
        path = response.request.url.path
        if path.endswith("/tokenize"):
            self.tokenize_seconds += seconds
            self.tokenize_requests += 1
            return
        if not path.endswith("/chat/completions"):
            return
        self.seconds += seconds
        self.requests += 1
        try:
            reply: dict[str, Any] = json.loads(body)
        except ValueError:
            return
        usage, timings = reply.get("usage") or {}, reply.get("timings") or {}
        self.prompt_tokens += usage.get("prompt_tokens") or 0
        self.cached_tokens += (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        self.computed_tokens += timings.get("prompt_n") or 0
        self.predicted_ms += timings.get("predicted_ms") or 0.0
        self.predicted_tokens += timings.get("predicted_n") or 0


@dataclass
class ModeResult:
    name: str
    wire: Wire = field(default_factory=Wire)
    walls: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return sum(self.walls) / len(self.walls)

    @property
    def overhead(self) -> float:
        return max(sum(self.walls) - self.wire.seconds, 0.0) / sum(self.walls)

    @property
    def tokenize_share(self) -> float:
        return self.wire.tokenize_seconds / sum(self.walls)

    @property
    def ms_per_token(self) -> float:
        return self.wire.predicted_ms / max(self.wire.predicted_tokens, 1)


def mit_transcripts(n: int) -> list[Transcript]:
    return [s.load() for s in itertools.islice(iter_sources([str(DATA)]), n)]


def first_competencies(rubric: Rubric, k: int | None) -> Rubric:
    """The rubric with its first k competencies only (all of them for None)."""
    return rubric if not k else rubric.model_copy(update={"competencies": rubric.competencies[:k]})


def run_mode(name: str, transcripts: list[Transcript], rubric: Rubric, settings: Settings,
             threads: int | None) -> ModeResult:
    result = ModeResult(name)
    with EmbeddedServer(threads=threads) as server:
        http = result.wire.attach(server.http_client(TIMEOUT))
        client = make_openai_client(server.base_url, None, TIMEOUT, http_client=http)
        backend = Backend(client=client, info=BackendInfo(model=MODEL_ALIAS, server="local", embedded=True,
                                                          context_tokens=server.n_ctx))
        counter = ServerTokens(client)
        for transcript in transcripts:
            started = time.perf_counter()
            _grade(name, transcript, rubric, backend, settings, counter)
            result.walls.append(time.perf_counter() - started)
    return result


def _grade(name: str, transcript: Transcript, rubric: Rubric, backend: Backend, settings: Settings,
           counter: TokenCounter) -> None:
    if name == "c: per competency":
        from evals.competency_mode import grade_competency

        chunk = chunk_transcript(transcript, transcript_budget(backend.info.context_tokens, settings), counter)[0]
        client = make_client(backend.client, settings.structured)
        for competency in rubric.competencies:
            try:
                grade_competency(client, load_prompt(), rubric, competency, transcript, chunk, settings)
            except Exception as exc:
                print(f"  ({name}: {competency.id} failed: {type(exc).__name__})", file=sys.stderr)
        return
    template = "grade-criterion-naive.yaml" if name.startswith("a") else "grade-criterion.yaml"
    grade_transcript(transcript, rubric, backend, load_prompt(template), settings, counter)


def part_one(n: int, reasks: int, competencies: int | None, threads: int | None) -> None:
    rubric = first_competencies(load_rubric(RUBRIC), competencies)
    transcripts = mit_transcripts(n)
    # as grader sets them for the embedded server (`GradingOptions.settings`): replies held to a JSON schema
    settings = Settings(model=MODEL_ALIAS, reasks=reasks, structured="json_schema")
    words = [sum(len(t.text.split()) for t in tr.turns) for tr in transcripts]
    print(f"Part 1: {n} MIT transcripts ({', '.join(map(str, words))} words), {len(rubric.criteria())} criteria "
          f"({len(rubric.competencies)} competencies), embedded {MODEL_ALIAS} on xllamacpp "
          f"({threads or os.cpu_count()} threads), re-asks {reasks}; load average {_load()}", flush=True)
    results = []
    for name in ("a: naive", "b: shared prefix", "c: per competency"):
        results.append(run_mode(name, transcripts, rubric, settings, threads))
        print(f"  {name}: done (load average {_load()})", flush=True)
    base = results[0]
    print(f"{'mode':<20}{'requests':>9}{'sent':>9}{'cached':>9}{'computed':>10}{'ms/gen tok':>11}"
          f"{'s/transcript':>14}{'speed-up':>10}{'computed/a':>12}{'overhead':>10}{'tokenize':>10}")
    for r in results:
        w = r.wire
        print(f"{r.name:<20}{w.requests:>9}{w.prompt_tokens:>9}{w.cached_tokens:>9}{w.computed_tokens:>10}"
              f"{r.ms_per_token:>11.1f}{r.wall:>14.1f}{base.wall / r.wall:>9.2f}x"
              f"{w.computed_tokens / max(base.wire.computed_tokens, 1):>12.2f}{r.overhead:>10.2%}"
              f"{r.tokenize_share:>10.2%}")
    print("(overhead: grader's own share of the wall time, everything but chat completions on the wire; "
          "tokenize: the part of it spent on the server's /tokenize)")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def part_two(memory: bool = True) -> None:
    rows = list(itertools.islice(iter_sources([str(DATA)]), 200))
    started = time.perf_counter()
    counter, settings = EstimatedTokens(), Settings(model="x")
    for source in itertools.islice(itertools.cycle(rows), 1000):
        chunk_transcript(source.load(), transcript_budget(8192, settings), counter)
    elapsed = time.perf_counter() - started
    print(f"\nPart 2: parse + chunk of 1,000 MIT transcripts: {elapsed:.2f} s ({elapsed:.2f} ms per transcript)")
    if not memory:
        return
    peaks = {}
    for n in (1000, 10000):
        out = subprocess.run([sys.executable, "-m", "evals.bench_batch", "--memory-child", str(n)], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        peaks[n] = json.loads(out.strip().splitlines()[-1])
        print(f"batch of {n:>6,} transcripts (1 criterion, fake server): peak RSS {peaks[n]['peak_mb']:.0f} MB, "
              f"{peaks[n]['seconds']:.0f} s, {peaks[n]['calls']} calls")
    print(f"memory ratio 10,000 / 1,000: {peaks[10000]['peak_mb'] / peaks[1000]['peak_mb']:.2f} "
          f"(flat = 1.00; the number of transcripts grew 10x)")


def memory_child(n: int) -> None:
    from grader.testing import MODEL, FakeOpenAI

    seed = load_rubric(RUBRIC)
    first = seed.competencies[0].model_copy(update={"criteria": seed.competencies[0].criteria[:1]})
    rubric = seed.model_copy(update={"competencies": [first]})
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "data.csv"
        texts = [row["transcript"] for row in itertools.islice(_csv_rows(), 200)]
        with dataset.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["interview_id", "transcript"])
            for i in range(n):
                writer.writerow([f"t{i:05d}", texts[i % len(texts)] + f"|Interviewee: variant {i}"])
        server = FakeOpenAI().start()
        backend = Backend(client=openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0),
                          info=BackendInfo(model=MODEL, server="local", embedded=False, context_tokens=8192))
        job = BatchJob(rubric=rubric, backend=backend, prompt=load_prompt(), settings=Settings(model=MODEL),
                       counter=EstimatedTokens(), store=RunStore(Path(tmp) / "run.sqlite"), prices=DEFAULT_PRICES,
                       options=BatchOptions(concurrency=4))
        started = time.perf_counter()
        stats = asyncio.run(job.run(iter_sources([str(dataset)])))
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "peak_mb": peak_mb, "seconds": seconds, "calls": stats.calls}))


def _csv_rows() -> itertools.chain:
    csv.field_size_limit(sys.maxsize)
    with DATA.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2, help="MIT transcripts to grade in part 1")
    parser.add_argument("--reasks", type=int, default=0, help="re-asks per call in part 1")
    parser.add_argument("--competencies", type=int, help="grade only the rubric's first K competencies in part 1")
    parser.add_argument("--threads", type=int, help="threads of the embedded server in part 1 (default: all cores)")
    parser.add_argument("--skip-llm", action="store_true", help="run part 2 only")
    parser.add_argument("--skip-memory", action="store_true", help="part 2 without the 1,000/10,000 memory batches")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child)
    require(DATA)
    if not args.skip_llm:
        part_one(args.n, args.reasks, args.competencies, args.threads)
    part_two(memory=not args.skip_memory)


if __name__ == "__main__":
    main()
