"""Exports of a run: one row per transcript x criterion (DataFrame, CSV, Parquet) and the score sheets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grader.atomic import make_folder, replacing
from grader.errors import GraderError
from grader.grading.panel import DEFAULT_JUDGE
from grader.grading.sheet import ScoreSheet
from grader.ingest.rubric import Rubric
from grader.runs.store import RunStore
from grader.spreadsheet import write_csv

COLUMNS = ["transcript_id", "competency_id", "criterion_id", "status", "level", "needs_review", "evidence_units",
           "citations_rejected", "red_flags", "reason", "model", "prompt_version", "attempts", "prompt_tokens",
           "cached_prompt_tokens", "completion_tokens", "seconds"]


def run_dataframe(store: RunStore) -> pd.DataFrame:
    """Every stored call of the run, one row each; unscored rows keep an empty level, never a number.

    A run with samples or judges has more columns after `COLUMNS`: the rule, the spread of the levels,
    the sample levels (`3;4;-`: `-` for a sample without a level that counts), and with a panel one
    column per judge (`judge_<name>`) with that judge's level, empty where it has none.
    """
    rows, judges, aggregated = [], {}, False
    for row, grade in store.grades():
        found = {**{k: row[k] for k in COLUMNS if k in row},
                 "needs_review": grade.needs_review, "evidence_units": ";".join(e.unit for e in grade.evidence),
                 "citations_rejected": len(grade.rejected),
                 "red_flags": ";".join(f.flag_id for f in grade.red_flags), "reason": grade.reason}
        if grade.aggregation is not None:
            aggregated = True
            found.update({"rule": grade.aggregation.rule, "spread": grade.aggregation.spread,
                          "sample_levels": ";".join(str(s.level) if s.counts else "-" for s in grade.samples)})
            levels = grade.judge_levels()
            for name, level in levels.items() if list(levels) != [DEFAULT_JUDGE] else ():
                judges[name] = f"judge_{name}"
                found[f"judge_{name}"] = level
        rows.append(found)
    extra = ["rule", "spread", "sample_levels", *judges.values()] if aggregated else []
    frame = pd.DataFrame(rows, columns=COLUMNS + extra)
    for column in ["level", *(["spread", *judges.values()] if aggregated else [])]:
        frame[column] = frame[column].astype("Int64")
    return frame


def export_run(store: RunStore, target: Path) -> int:
    """Write the run's rows to a .csv or .parquet file."""
    return write_table(run_dataframe(store), target)


def write_table(frame: pd.DataFrame, target: Path) -> int:
    """Write rows of a run (perhaps with more columns, such as the reviews) to a .csv or .parquet file."""
    suffix = target.suffix.lower()
    if suffix == ".csv":  # whole or not at all: a full disk leaves no 0-byte file and an earlier one intact
        write_csv(frame, target, option="--to")  # ids, reviewers and reasons that start like a formula get a '
    elif suffix == ".parquet":  # typed columns, not a spreadsheet: no formula runs, so the cells are kept as they are
        with replacing(target, option="--to") as out:
            frame.to_parquet(out, index=False)
    else:
        raise GraderError(f"unknown export format {suffix or '(none)'}", path=target,
                          fix="name a .csv or .parquet file")
    return len(frame)


def write_sheets(store: RunStore, rubric: Rubric, out_dir: Path) -> int:
    """Write every finished sheet of a run as JSON and Markdown (`ScoreSheet.write`: each file whole)."""
    make_folder(out_dir, option="--sheets")
    count = 0
    for text in store.sheets():
        ScoreSheet.model_validate_json(text).write(out_dir, rubric, option="--sheets")
        count += 1
    return count
