"""Checks on the real MIT interview data (../shared/data/mit-interview/), kept out of the tests.

The tests read nothing outside the repository; these checks need the data beside it and stop with
a clear message when it is absent.

    python -m evals.mit_data_checks [--data FOLDER]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from evals.data import MIT_DATA, require
from grader import load_rubric
from grader.agreement.gold import read_gold
from grader.errors import GraderError
from grader.ingest.inputs import iter_sources


def ratings_load_with_participant_groups(data: Path) -> str:
    gold = read_gold(data / "ratings.csv", criteria=["Overall", "RecommendHiring"], id_column="interview_id",
                     group_pattern=r"\d+")
    ids = pd.read_csv(data / "ratings.csv")["interview_id"]
    assert len(gold.frame) == 2 * len(ids) and gold.problems == [], gold.problems
    assert gold.rule.kind == "quantiles" and gold.frame["level"].between(1, 5).all()
    groups = dict(zip(gold.frame["transcript_id"], gold.frame["group"], strict=False))
    assert groups["p1"] == groups["pp1"] == "1", "both interviews of participant 1 must resample together"
    return f"{len(ids)} interviews, {gold.frame['group'].nunique()} participants"


def ratings_match_the_mit_rubric(data: Path) -> str:
    rubric = load_rubric("mit-interview")
    criteria = [c.id for _, c in rubric.criteria()]
    gold = read_gold(data / "ratings.csv", criteria=criteria, id_column="interview_id", group_pattern=r"\d+")
    assert sorted(gold.frame["criterion_id"].unique()) == sorted(criteria)  # RecommendHiring -> recommend-hiring
    assert len(gold.frame) == 5 * 96 and gold.rule.kind == "quantiles"
    return f"{len(criteria)} criteria x 96 interviews"


def every_transcript_parses(data: Path) -> str:
    failed = []
    count = 0
    for source in iter_sources([str(data / "transcripts.csv")]):
        count += 1
        try:
            transcript = source.load()
            assert transcript.candidate_turns(), f"{source.id}: no candidate turn"
        except (GraderError, AssertionError) as exc:
            failed.append(str(exc))
    assert not failed, "; ".join(failed[:5])
    return f"{count} transcripts"


CHECKS: list[Callable[[Path], str]] = [ratings_load_with_participant_groups, ratings_match_the_mit_rubric,
                                       every_transcript_parses]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=MIT_DATA, help="folder with transcripts.csv and ratings.csv")
    data = require(parser.parse_args(argv).data)
    failures = 0
    for check in CHECKS:
        try:
            print(f"ok    {check.__name__}: {check(data)}")
        except AssertionError as exc:
            failures += 1
            print(f"FAIL  {check.__name__}: {exc}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
