"""The effect of exemplars on agreement with the human gold: the embedded model on the MIT interview data.

Grades the first N interviews of ../shared/data/mit-interview without exemplars (run A: temperature 0,
seed 7, as `evals.retest`), picks exemplars from run A's grades with the human ratings as their levels
(`grader exemplars A --gold ratings.csv`: per criterion and level at most `--per-level`, one per candidate
before a second), grades the same interviews again showing `--k` exemplars per criterion and level (run B),
and prints `grader compare A B`: each figure's difference B − A with a paired bootstrap interval over
candidates.

Cross-fitted by candidate: p1 and pp1 are one candidate (`--group-pattern '\\d+'`), and a transcript is
never shown an exemplar of its own candidate, so every interview is graded with examples (and their gold
levels) from other candidates only: leave-one-candidate-out. `--per-level` is one more than `--k` so that a
candidate whose exemplar is left out still sees k. Wall time, load average and tokens of each run are
printed. Run folders resume (runs/exemplars-*).

    python -m evals.exemplars_effect --limit 24 --k 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grader
from evals.data import MIT_DATA, ROOT, require
from evals.retest import grade, options

RUBRIC = "mit-interview"
GROUPS = r"\d+"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=MIT_DATA)
    parser.add_argument("--limit", type=int, default=24, help="the first N interviews")
    parser.add_argument("--k", type=int, default=3, help="exemplars shown per criterion and level")
    parser.add_argument("--per-level", type=int, default=0, help="picked per criterion and level (default: k + 1)")
    parser.add_argument("--n-boot", type=int, default=2000)
    opts = parser.parse_args(argv)
    data = require(opts.data)
    gold = grader.GoldSpec(data / "ratings.csv", id_column="interview_id", group_pattern=GROUPS, scale="1,7")
    base = ROOT / "runs" / "exemplars-base"
    plain = options(temperature=0.0, seed=7)
    print(grade(data, base, opts.limit, plain), file=sys.stderr)
    picked_file = ROOT / "runs" / f"exemplars-{opts.limit}.yaml"
    picked = grader.select_exemplars(base, picked_file, per_level=opts.per_level or opts.k + 1, gold=gold)
    print(f"exemplars {picked.sha256()}: {len(picked.exemplars)} from "
          f"{len({e.group for e in picked.exemplars})} candidates; per criterion and level {picked.counts()}")
    shown = ROOT / "runs" / f"exemplars-k{opts.k}"
    with_them = plain.model_copy(update={"exemplars": picked_file, "exemplars_k": opts.k})
    print(grade(data, shown, opts.limit, with_them), file=sys.stderr)
    result = grader.compare(base, shown, gold, n_boot=opts.n_boot)
    print("\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
