"""How long the review workbench's transcript page takes for a ~1,700-word interview.

`python -m evals.review_page_load [--words 1700] [--repeat 10]` builds a run with one long
transcript (strong-candidate.vtt repeated turn by turn, graded by hand-made grades, no LLM), then
prints the median time (a) to render the page on the server (FastAPI's TestClient, no network) and
(b) for Debian's Chromium to load it from a loopback server (navigation start to the load event,
htmx and the page's script included), over `--repeat` loads.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from grader.review.app import create_app
from grader.review.run import open_run
from grader.review.security import Guard
from tests.review_browser import chromium, serve
from tests.review_fixtures import long_transcript, make_run


def server_render(run_dir: Path, path: str, repeat: int) -> list[float]:
    run = open_run(run_dir)
    client = TestClient(create_app(run, reviewer="bench", guard=Guard(allowed_hosts=("testserver",))))
    client.get(path)  # warm: templates compiled, sheet parsed once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        assert client.get(path).status_code == 200
        times.append(time.perf_counter() - started)
    run.close()
    return times


def browser_load(run_dir: Path, path: str, repeat: int) -> tuple[list[float], list[float]]:
    loads, ready = [], []
    with serve(run_dir) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(base + path)  # warm
        for _ in range(repeat):
            page.goto(base + path, wait_until="load")
            timing = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
            loads.append(timing["loadEventEnd"] / 1000 or timing["duration"] / 1000)
            ready.append(timing["domContentLoadedEventEnd"] / 1000)
    return loads, ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1700)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    transcript = long_transcript(args.words)
    words = sum(len(t.text.split()) for t in transcript.turns)
    units = sum(len(t.units) for t in transcript.turns)
    with tempfile.TemporaryDirectory() as folder:
        run_dir = make_run(Path(folder) / "run", extra=[transcript], samples=False)
        path = f"/transcripts/{transcript.id}"
        render = server_render(run_dir, path, args.repeat)
        loads, ready = browser_load(run_dir, path, args.repeat)
    print(f"transcript: {words} words, {len(transcript.turns)} turns, {units} units; 15 criteria")
    print(f"server render (median of {args.repeat}): {statistics.median(render) * 1000:.0f} ms")
    print(f"browser, DOMContentLoaded (median): {statistics.median(ready) * 1000:.0f} ms")
    print(f"browser, load event (median): {statistics.median(loads) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
