"""Calibration run on the MIT interview development data: grade, then measure agreement with humans.

Grades ../shared/data/mit-interview/transcripts.csv with rubrics/mit-interview.yaml (Overall,
RecommendHiring, StructuredAnswers, Engaged, Friendly) on the embedded model, compares with the
averaged human ratings in ratings.csv (binned to 1..5 by gold quantiles, the rule printed in the
report), and writes the report: raw levels, level probabilities (G-Eval), held-out calibration and
the TF-IDF baseline, all with 95% bootstrap intervals over candidates (p<n> and pp<n> together).

    python -m evals.mit_interview --limit 4          # a quick look (about 3 min)
    python -m evals.mit_interview                    # all 96 interviews (see README for the time)
    python -m evals.mit_interview --no-level-probs   # without G-Eval, about 40% faster

Settings chosen for a 2-core machine: compact replies (one cited sentence, short rationale), no re-asks,
and level probabilities from one short probe call per criterion. The run folder resumes: run the
same command again after an interruption and finished calls are not repeated.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from evals.data import MIT_DATA, ROOT, require
from grader import Grader, GradingOptions, RunOptions
from grader.agreement.load import GoldSpec
from grader.api import evaluation

RUBRIC = "mit-interview"
# the settings chosen for a 2-core machine: compact replies, no re-asks, level probabilities from one probe


def grade(data: Path, run: Path, limit: int | None, base_url: str | None, level_probs: bool = True) -> None:
    """Grade the dataset into the run folder (resumes); failed calls are listed, the evaluation still runs."""
    options = GradingOptions(reply="compact", reasks=0, level_probs=level_probs)
    with Grader(RUBRIC, base_url=base_url, options=options) as grader:
        result = grader.batch([str(data / "transcripts.csv")], run, limit=limit, options=RunOptions(),
                              say=lambda text: print(text, file=sys.stderr))
    stats = result.stats
    print(f"graded {stats.transcripts}, skipped (done) {stats.transcripts_skipped}, failed {stats.transcripts_failed};"
          f" calls sent {stats.calls}, unscored {stats.calls_failed}", file=sys.stderr)
    for kind, where, reason in result.dead_letters:
        print(f"failed {kind} {where}: {reason}", file=sys.stderr)


def evaluate(data: Path, run: Path) -> Path:
    """The report of `grader eval`: the run's own rubric, the MIT raters' 1..7 scale, the TF-IDF baseline."""
    gold = GoldSpec(data / "ratings.csv", id_column="interview_id", group_pattern=r"\d+", scale="1,7")
    result = evaluation(run, gold, transcripts=[str(data / "transcripts.csv")], decisions=True,
                        on_error=lambda exc: print(f"error: {exc}", file=sys.stderr))
    return result.write_report(run / "eval")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=MIT_DATA, help="folder with transcripts.csv and ratings.csv")
    parser.add_argument("--run", type=Path, default=None,
                        help="run folder (default runs/mit-interview, or runs/mit-interview-no-probs)")
    parser.add_argument("--limit", type=int, default=None, help="grade only the first N interviews")
    parser.add_argument("--base-url", default=None, help="grade with this server instead of the embedded model")
    parser.add_argument("--no-level-probs", action="store_true",
                        help="skip the level probabilities (G-Eval): about 40%% faster on the embedded model")
    opts = parser.parse_args(argv)
    data = require(opts.data)
    run = opts.run or ROOT / "runs" / ("mit-interview-no-probs" if opts.no_level_probs else "mit-interview")
    started = time.perf_counter()
    grade(data, run, opts.limit, opts.base_url, not opts.no_level_probs)
    graded = time.perf_counter() - started
    report = evaluate(data, run)
    print(report.read_text(encoding="utf-8"))
    print(f"wrote {report}; grading wall time {graded / 60:.1f} min; whole run "
          f"{(time.perf_counter() - started) / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
