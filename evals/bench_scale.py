"""The orchestration ceiling: how fast one grader process sends calls, its memory, and the run store's size.

The server is the fake of `grader.testing` in a process of its own (`python -m grader.testing`: loopback,
short replies, no delay), so what is measured is grader's own work per call: rendering the prompt,
the OpenAI client, validating the reply, resolving citations, writing the run store and the sheets.
The transcripts are small and synthetic (six turns, each unique); the rubric is `mit-interview` (one
competency, five criteria: five calls per transcript), as `grader batch` grades them with its defaults.

1. calls per second of one process at each concurrency (transcripts in flight), with the CPU seconds
   grader and the fake server spent per call;
2. for N transcripts graded into one run folder: wall time, peak RSS of the process
   (`resource.getrusage`), `run.sqlite`'s size and the sheets' size; larger N extrapolated by the
   bytes per transcript of the largest N measured (printed as extrapolated).

Each measure runs in a child process, so each peak RSS is its own. The machine's other jobs share its
cores: the load average is printed before and after each measure.

    python -m evals.bench_scale --redact                          # 15-20 minutes on 2 cores
    python -m evals.bench_scale --concurrency 1 8 --calls 500 --store 1000   # a quicker look
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = "mit-interview"
CRITERIA = 5  # of RUBRIC
ANSWERS = [
    "I built a churn model for a subscription business and compared it with last year's baseline.",
    "We tracked precision and recall every week and alerted when recall fell below the target.",
    "The data had gaps, so I imputed them and reported how much that changed the result.",
    "I explained the trade-off to the product team with a small simulation.",
]


def write_dataset(path: Path, n: int) -> None:
    """N unique small transcripts in the MIT dataset layout (one row each, `|`-separated turns)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["interview_id", "transcript"])
        for i in range(n):
            turns = []
            for q, question in enumerate(["Tell me about a project.", "How did you measure it?",
                                          "What would you change?"]):
                turns += [f"Interviewer: {question}", f"Interviewee: {ANSWERS[(i + q) % len(ANSWERS)]} "
                                                      f"That was case {i}, part {q}."]
            out.writerow([f"t{i:07d}", "|".join(turns)])


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU") \
        if Path("/proc/cpuinfo").exists() else platform.processor() or "unknown CPU"
    memory = ""
    if Path("/proc/meminfo").exists():
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 ** 2:.0f} GB RAM"
    return f"{model}, {os.cpu_count()} logical CPUs{memory}, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu_seconds(pid: int) -> float:
    """utime + stime of another process, from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(n: int, concurrency: int, redact: bool) -> dict[str, Any]:
    """Grade N synthetic transcripts into a fresh run folder against a fake server process; the figures."""
    import grader

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        dataset, run = Path(tmp) / "data.csv", Path(tmp) / "run"
        write_dataset(dataset, n)
        server = subprocess.Popen([sys.executable, "-m", "grader.testing"], stdout=subprocess.PIPE, text=True,
                                  cwd=ROOT)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            options = grader.GradingOptions(redact=redact)
            with grader.Grader(RUBRIC, base_url=url, options=options) as g:
                cpu_before, server_before = resource.getrusage(resource.RUSAGE_SELF), _cpu_seconds(server.pid)
                started = time.perf_counter()
                result = g.batch([dataset], run, options=grader.RunOptions(concurrency=concurrency))
                seconds = time.perf_counter() - started
                cpu_after, server_after = resource.getrusage(resource.RUSAGE_SELF), _cpu_seconds(server.pid)
        finally:
            server.terminate()
            server.wait(10)
        store = sum(p.stat().st_size for p in run.glob("run.sqlite*"))
        sheets = sum(p.stat().st_size for p in (run / "sheets").rglob("*") if p.is_file())
        sheet_files = sum(1 for p in (run / "sheets").rglob("*") if p.is_file())
    calls = result.stats.calls
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {"n": n, "concurrency": concurrency, "redact": redact, "calls": calls, "seconds": seconds,
            "failed": result.stats.calls_failed + result.stats.transcripts_failed,
            "cpu_ms_per_call": 1000 * cpu / max(calls, 1),
            "server_cpu_ms_per_call": 1000 * (server_after - server_before) / max(calls, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "store_bytes": store, "sheets_bytes": sheets, "sheet_files": sheet_files}


def measure(n: int, concurrency: int, redact: bool = False) -> dict[str, Any]:
    before = load()
    argv = [sys.executable, "-m", "evals.bench_scale", "--child", str(n), str(concurrency)]
    done = subprocess.run([*argv, *(["--redact"] if redact else [])], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        sys.exit(f"the measure of {n} transcripts at concurrency {concurrency} failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "load_before": before, "load_after": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--calls", type=int, default=1000, help="calls per concurrency measure (5 per transcript)")
    parser.add_argument("--redact", action="store_true", help="also measure concurrency 8 with redaction on")
    parser.add_argument("--store", type=int, nargs="+", default=[1000, 10_000], help="transcripts per run measured")
    parser.add_argument("--extrapolate", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.redact)))
        return
    print(f"date {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine {machine()}")
    print(f"load average (1, 5, 15 min) at the start: {load()}")
    print(f"server: python -m grader.testing (a process of its own); rubric {RUBRIC} ({CRITERIA} calls per "
          "transcript); sheets written\n")

    print("| concurrency | calls | seconds | calls/s | grader CPU ms/call | fake server CPU ms/call | peak RSS MB "
          "| load before → after |")
    print("|---|---|---|---|---|---|---|---|")
    runs = [(c, False) for c in args.concurrency] + ([(8, True)] if args.redact else [])
    for concurrency, redact in runs:
        r = measure(max(1, args.calls // CRITERIA), concurrency, redact)
        label = f"{concurrency}{' (redact on)' if redact else ''}"
        print(f"| {label} | {r['calls']:,} | {r['seconds']:.1f} | {r['calls'] / r['seconds']:.0f} | "
              f"{r['cpu_ms_per_call']:.2f} | {r['server_cpu_ms_per_call']:.2f} | {r['peak_rss_mb']:.0f} | "
              f"{r['load_before'].split()[0]} → {r['load_after'].split()[0]} |", flush=True)

    print("\n| transcripts | calls | seconds | calls/s | peak RSS MB | run.sqlite MB | bytes/transcript "
          "| sheets MB (files) | load before → after |")
    print("|---|---|---|---|---|---|---|---|---|")
    measured = []
    for n in args.store:
        r = measure(n, 8)
        measured.append(r)
        print(f"| {n:,} | {r['calls']:,} | {r['seconds']:.0f} | {r['calls'] / r['seconds']:.0f} | "
              f"{r['peak_rss_mb']:.0f} | {r['store_bytes'] / 1e6:.1f} | {r['store_bytes'] / n:,.0f} | "
              f"{r['sheets_bytes'] / 1e6:.1f} ({r['sheet_files']:,}) | "
              f"{r['load_before'].split()[0]} → {r['load_after'].split()[0]} |", flush=True)
    last = measured[-1]
    per_store, per_sheets = last["store_bytes"] / last["n"], last["sheets_bytes"] / last["n"]
    for n in args.extrapolate:
        hours = n * CRITERIA / (last["calls"] / last["seconds"]) / 3600
        print(f"| {n:,} (extrapolated) | {n * CRITERIA:,} | {hours:.1f} h | | | {per_store * n / 1e6:,.0f} | "
              f"{per_store:,.0f} | {per_sheets * n / 1e6:,.0f} ({2 * n:,}) | |")
    print(f"\nextrapolated from {last['n']:,} transcripts: {per_store:,.0f} bytes of run.sqlite and "
          f"{per_sheets:,.0f} bytes of sheets per transcript ({per_store / CRITERIA:,.0f} bytes per call)")
    print(f"load average (1, 5, 15 min) at the end: {load()}")


if __name__ == "__main__":
    main()
