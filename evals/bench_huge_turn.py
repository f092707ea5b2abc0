"""A batch with one huge unpunctuated turn beside a good transcript: graded (or refused) in under a minute.

Issue 21's regression: one line `Candidate: word word ...` of 1,050,000 words (5 MB) once held a batch
for over 15 minutes and the good file beside it was never graded. This grades both through the CLI
against the fake server (`grader.testing`) in a child process and prints the wall time, the child's
peak memory and what became of each transcript, with the load average it ran under.

    python -m evals.bench_huge_turn [--words 1050000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.testing import MODEL, fake_server

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1_050_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fake_server() as url:
        folder = Path(tmp)
        (folder / "huge.txt").write_text("Interviewer: Tell me about yourself?\nCandidate: "
                                         + " ".join(["word"] * args.words) + "\n", encoding="utf-8")
        (folder / "good.txt").write_text((ROOT / "transcripts" / "short-screen.txt").read_text(encoding="utf-8"),
                                         encoding="utf-8")
        load = os.getloadavg()
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder / "huge.txt"),
                               str(folder / "good.txt"), "--run", str(folder / "run"), "--rubric", "mit-interview",
                               "--base-url", url, "--model", MODEL], capture_output=True, text=True)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        sheets = sorted(p.stem for p in (folder / "run" / "sheets").glob("*.json"))
    print(f"{args.words:,} words in one turn + a good transcript: exit {done.returncode}, {seconds:.1f} s, "
          f"peak RSS {peak_mb:.0f} MB; sheets: {', '.join(sheets) or 'none'}")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    if done.returncode not in (0, 1) or "good" not in sheets:
        print(done.stderr[-2000:])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
