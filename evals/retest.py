"""Test-retest reliability of the embedded model on the MIT interview data: the same interviews graded twice.

For each temperature asked, grades the first N interviews of ../shared/data/mit-interview twice into
two run folders (seeds 7 and 8: at temperature 0 the seed changes nothing, at 0.7 it is a new draw)
and, with `--samples K`, once more with K samples per criterion. Then `grader.evaluation(run A,
gold, retest=run B)` gives quadratic kappa, ICC(2,1) and Krippendorff's alpha between the two runs
with 95% intervals over candidates, and the share of grades that changed; the K-sample run's
agreement with the human gold is printed beside the single sample's. Wall time and tokens of each run
are printed with the load average. Run folders resume (runs/retest-*).

    python -m evals.retest --limit 10 --temperature 0 --temperature 0.7 [--samples 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import grader
from evals.data import MIT_DATA, ROOT, require

RUBRIC = "mit-interview"


def options(temperature: float, seed: int, samples: int = 1) -> grader.GradingOptions:
    """The settings of every run of these evals: compact replies, no re-asks."""
    return grader.GradingOptions(reply="compact", reasks=0, temperature=temperature, seed=seed, samples=samples)


def grade(data: Path, run: Path, limit: int, options: grader.GradingOptions) -> str:
    """Grade (or resume) the first `limit` interviews into `run`; its calls, tokens and wall time as a line."""
    started, load = time.perf_counter(), os.getloadavg()[0]
    result = grader.batch([str(data / "transcripts.csv")], run, rubric=RUBRIC, options=options, limit=limit)
    s = result.stats
    return (f"{run.name}: {s.transcripts} graded ({s.transcripts_skipped} resumed), {s.calls} calls, "
            f"{s.usage.prompt_tokens:,} prompt tokens ({s.usage.cached_prompt_tokens:,} cached), "
            f"{s.usage.completion_tokens:,} completion, {time.perf_counter() - started:.0f} s at load {load:.2f}")


def figures(table: object, columns: list[str]) -> str:
    row = table[table["scope"] == "overall"].iloc[-1]  # type: ignore[index]
    return ", ".join(f"{c} {row[c]:.2f} [{row.get(c + '_low', float('nan')):.2f}, "
                     f"{row.get(c + '_high', float('nan')):.2f}]" for c in columns if c in row)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=MIT_DATA)
    parser.add_argument("--limit", type=int, default=10, help="the first N interviews")
    parser.add_argument("--temperature", type=float, action="append", help="repeatable (default: 0 and 0.7)")
    parser.add_argument("--samples", type=int, default=0, help="also a run with K samples at the last temperature")
    opts = parser.parse_args(argv)
    data = require(opts.data)
    gold = grader.GoldSpec(data / "ratings.csv", id_column="interview_id", group_pattern=r"\d+", scale="1,7")
    for temperature in opts.temperature or [0.0, 0.7]:
        a, b = (ROOT / "runs" / f"retest-t{temperature:g}-seed{seed}" for seed in (7, 8))
        for run, seed in ((a, 7), (b, 8)):
            print(grade(data, run, opts.limit, options(temperature, seed)), file=sys.stderr)
        result = grader.evaluation(a, gold, retest=b, n_boot=1000)
        print(f"temperature {temperature:g}, {opts.limit} interviews: retest "
              f"{figures(result.reliability, ['quadratic_kappa_score', 'icc', 'krippendorff_alpha', 'changed_share'])}")
        model = result.table[result.table["source"] == "model"]
        print(f"  run A against gold: {figures(model, ['quadratic_kappa_score'])}")
    if opts.samples > 1:
        temperature = (opts.temperature or [0.7])[-1]
        run = ROOT / "runs" / f"retest-t{temperature:g}-k{opts.samples}"
        print(grade(data, run, opts.limit, options(temperature, 7, opts.samples)), file=sys.stderr)
        result = grader.evaluation(run, gold, n_boot=1000)
        print(f"temperature {temperature:g}, k={opts.samples} samples against gold: "
              f"{figures(result.table[result.table['source'] == 'model'], ['quadratic_kappa_score'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
