"""Calibration run on the MIT interview development data: grade, then measure agreement with humans.

Grades ../shared/data/mit-interview/transcripts.csv with rubrics/mit-interview.yaml (Overall,
RecommendHiring, StructuredAnswers, Engaged, Friendly) on the embedded model, compares with the
averaged human ratings in ratings.csv (binned to 1..5 by gold quantiles, the rule printed in the
report), and writes the report: raw levels, level probabilities (G-Eval), held-out calibration and
the TF-IDF baseline, all with 95% bootstrap intervals over candidates (p<n> and pp<n> together).

    python -m evals.mit_interview --limit 4          # a quick look (about 3 min)
    python -m evals.mit_interview                    # all 96 interviews (see README for the time)
    python -m evals.mit_interview --no-level-probs   # without G-Eval, about 40% faster

Settings chosen for a 2-core machine: compact replies (one quote, short rationale), no re-asks,
and level probabilities from one short probe call per criterion. The run folder resumes: run the
same command again after an interruption and finished calls are not repeated.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from grader.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mit-interview"
RUBRIC = ROOT / "rubrics" / "mit-interview.yaml"


def batch_args(data: Path, run: Path, limit: int | None, base_url: str | None, level_probs: bool = True) -> list[str]:
    args = ["batch", str(data / "transcripts.csv"), "--run", str(run), "--rubric", str(RUBRIC),
            "--reply", "compact", "--reasks", "0", "--level-probs" if level_probs else "--no-level-probs"]
    args += ["--limit", str(limit)] if limit else []
    return args + (["--base-url", base_url] if base_url else [])


def eval_args(data: Path, run: Path) -> list[str]:
    return ["eval", "--run", str(run), "--gold", str(data / "ratings.csv"), "--rubric", str(RUBRIC),
            "--id-column", "interview_id", "--group-pattern", r"\d+", "--scale", "1,7",
            "--transcripts", str(data / "transcripts.csv")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="folder with transcripts.csv and ratings.csv")
    parser.add_argument("--run", type=Path, default=None,
                        help="run folder (default runs/mit-interview, or runs/mit-interview-no-probs)")
    parser.add_argument("--limit", type=int, default=None, help="grade only the first N interviews")
    parser.add_argument("--base-url", default=None, help="grade with this server instead of the embedded model")
    parser.add_argument("--no-level-probs", action="store_true",
                        help="skip the level probabilities (G-Eval): about 40%% faster on the embedded model")
    opts = parser.parse_args(argv)
    opts.run = opts.run or ROOT / "runs" / ("mit-interview-no-probs" if opts.no_level_probs else "mit-interview")
    started = time.perf_counter()
    _run(batch_args(opts.data, opts.run, opts.limit, opts.base_url, not opts.no_level_probs))
    graded = time.perf_counter() - started
    _run(eval_args(opts.data, opts.run))
    print(f"grading wall time {graded / 60:.1f} min; whole run {(time.perf_counter() - started) / 60:.1f} min",
          file=sys.stderr)
    return 0


def _run(args: list[str]) -> None:
    """One grader command; a batch with some failed calls (exit 1) still goes on to the evaluation."""
    code = app(args, prog_name="grader", standalone_mode=False)
    if code not in (0, 1, None):
        raise SystemExit(code)


if __name__ == "__main__":
    sys.exit(main())
