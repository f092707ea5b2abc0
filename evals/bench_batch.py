"""Batch benchmark: what prefix reuse saves, what grader itself costs, and whether memory stays flat.

Part 1 grades N real MIT transcripts with the seed rubric on the embedded model, three ways, each
on a fresh server (cold cache): (a) naive, a call per criterion with the criterion before the
transcript, so nothing is reused; (b) shared prefix, the default layout, criteria back to back so
llama.cpp reuses the transcript; (c) one call per competency. It prints prompt tokens sent,
prompt tokens the server actually computed (from its log), wall time per transcript, ratios to
(a), and grader's own (non-LLM) share of the wall time.

Part 2 times parsing + chunking of 1,000 transcripts and measures the peak memory of batches of
1,000 and 10,000 transcripts against the fast fake server on loopback (one criterion each).

    python -m evals.bench_batch --n 2            # both parts (about 15 min on 2 cores)
    python -m evals.bench_batch --skip-llm       # part 2 only (about 2 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import openai

from evals.data import MIT_DATA, require
from grader.grading.grade import grade_transcript, transcript_budget
from grader.grading.grades import Settings
from grader.grading.prompts import load_prompt
from grader.grading.scoring import make_client
from grader.ingest.chunking import EstimatedTokens, GGUFTokens, chunk_transcript
from grader.ingest.inputs import iter_sources
from grader.ingest.rubric import Rubric, load_rubric
from grader.ingest.transcript import Transcript
from grader.llm.backend import Backend, BackendInfo
from grader.llm.embedded import MODEL_ALIAS, EmbeddedServer, model_path
from grader.runs.batch import BatchJob, BatchOptions
from grader.runs.cost import DEFAULT_PRICES
from grader.runs.store import RunStore

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
DATA = MIT_DATA / "transcripts.csv"
RUBRIC = ROOT / "rubrics" / "senior-data-scientist.yaml"
_PERF = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")


class TimingTransport(httpx.HTTPTransport):
    """Counts time on the wire and the prompt tokens each response reports."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0
        self.requests = 0
        self.prompt_tokens = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = super().handle_request(request)
        body = response.read()
        self.seconds += time.perf_counter() - started
        self.requests += 1
        with contextlib.suppress(ValueError, AttributeError):
            self.prompt_tokens += json.loads(body).get("usage", {}).get("prompt_tokens", 0)
        return response


@dataclass
class ModeResult:
    name: str
    requests: int = 0
    sent: int = 0
    computed: int = 0
    walls: list[float] = field(default_factory=list)
    http_seconds: float = 0.0

    @property
    def wall(self) -> float:
        return sum(self.walls) / len(self.walls)

    @property
    def overhead(self) -> float:
        return max(sum(self.walls) - self.http_seconds, 0.0) / sum(self.walls)


def mit_transcripts(n: int) -> list[Transcript]:
    return [s.load() for s in itertools.islice(iter_sources([str(DATA)]), n)]


def run_mode(name: str, transcripts: list[Transcript], rubric: Rubric, settings: Settings) -> ModeResult:
    result = ModeResult(name)
    with EmbeddedServer(verbose=True) as server:
        transport = TimingTransport()
        client = openai.OpenAI(base_url=server.base_url, api_key="none", max_retries=0,
                               http_client=httpx.Client(transport=transport, timeout=900))
        backend = Backend(client=client, info=BackendInfo(model=MODEL_ALIAS, server="local", embedded=True,
                                                          context_tokens=server.n_ctx))
        counter = GGUFTokens(model_path())
        log_start = server.log_path.stat().st_size
        for transcript in transcripts:
            started = time.perf_counter()
            _grade(name, transcript, rubric, backend, settings, counter)
            result.walls.append(time.perf_counter() - started)
        log = server.log_path.read_text(errors="replace")[log_start:]
        result.computed = sum(int(n) for n in _PERF.findall(log))
        result.requests, result.sent = transport.requests, transport.prompt_tokens
        result.http_seconds = transport.seconds
    return result


def _grade(name: str, transcript: Transcript, rubric: Rubric, backend: Backend, settings: Settings,
           counter: GGUFTokens) -> None:
    if name == "c: per competency":
        from evals.competency_mode import grade_competency

        chunk = chunk_transcript(transcript, transcript_budget(backend.info.context_tokens, settings), counter)[0]
        client = make_client(backend.client)
        for competency in rubric.competencies:
            try:
                grade_competency(client, load_prompt(), rubric, competency, transcript, chunk, settings)
            except Exception as exc:
                print(f"  ({name}: {competency.id} failed: {type(exc).__name__})", file=sys.stderr)
        return
    template = "grade-criterion-naive.yaml" if name.startswith("a") else "grade-criterion.yaml"
    grade_transcript(transcript, rubric, backend, load_prompt(template), settings, counter)


def part_one(n: int, reasks: int) -> None:
    rubric = load_rubric(RUBRIC)
    transcripts = mit_transcripts(n)
    settings = Settings(model=MODEL_ALIAS, reasks=reasks)
    words = [sum(len(t.text.split()) for t in tr.turns) for tr in transcripts]
    print(f"Part 1: {n} MIT transcripts ({', '.join(map(str, words))} words), {len(rubric.criteria())} criteria, "
          f"embedded {MODEL_ALIAS}, re-asks {reasks}")
    results = [run_mode(name, transcripts, rubric, settings)
               for name in ("a: naive", "b: shared prefix", "c: per competency")]
    base = results[0]
    print(f"{'mode':<20}{'requests':>9}{'sent':>10}{'computed':>10}{'s/transcript':>14}{'speed-up':>10}"
          f"{'computed/a':>12}{'overhead':>10}")
    for r in results:
        print(f"{r.name:<20}{r.requests:>9}{r.sent:>10}{r.computed:>10}{r.wall:>14.1f}{base.wall / r.wall:>9.2f}x"
              f"{r.computed / base.computed:>12.2f}{r.overhead:>10.2%}")


def part_two() -> None:
    rows = list(itertools.islice(iter_sources([str(DATA)]), 200))
    started = time.perf_counter()
    counter, settings = EstimatedTokens(), Settings(model="x")
    for source in itertools.islice(itertools.cycle(rows), 1000):
        chunk_transcript(source.load(), transcript_budget(8192, settings), counter)
    elapsed = time.perf_counter() - started
    print(f"\nPart 2: parse + chunk of 1,000 MIT transcripts: {elapsed:.2f} s ({elapsed:.2f} ms per transcript)")
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
    from evals.fake_openai import MODEL, FakeOpenAI

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
    parser.add_argument("--skip-llm", action="store_true", help="run part 2 only")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child)
    require(DATA)
    if not args.skip_llm:
        part_one(args.n, args.reasks)
    part_two()


if __name__ == "__main__":
    main()
