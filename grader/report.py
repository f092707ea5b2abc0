"""The evaluation report: Markdown a person reads, and the figures as CSV for further analysis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grader.evaluate import consensus
from grader.gold import GoldLabels
from grader.store import RunStore

SHOWN = [("quadratic_kappa_score", "κ quadratic"), ("linear_kappa_score", "κ linear"), ("cohen_kappa_score", "κ"),
         ("exact_agreement_score", "exact"), ("adjacent_agreement_score", "±1"), ("spearman_score", "Spearman"),
         ("mean_absolute_error", "MAE"), ("bias", "bias")]


def _cell(row: pd.Series, metric: str) -> str:
    value = row.get(metric)
    if value is None or pd.isna(value):
        return f"undefined ({row.get(f'{metric}_undefined')})"
    low, high = row.get(f"{metric}_low"), row.get(f"{metric}_high")
    interval = f" [{low:.2f}, {high:.2f}]" if low is not None and not pd.isna(low) else ""
    return f"{value:.2f}{interval}"


def disagreements(store: RunStore, gold: GoldLabels, limit: int = 10) -> list[dict]:
    """The largest |model − gold| differences, each with the model's first verified quote."""
    truth = consensus(gold).set_index(["transcript_id", "criterion_id"])["gold"]
    rows = []
    for row, grade in store.grades():
        key = (row["transcript_id"], row["criterion_id"])
        if key not in truth.index or not grade.counts:
            continue
        rows.append({"transcript": key[0], "criterion": key[1], "model": grade.level, "gold": int(truth[key]),
                     "quote": grade.evidence[0].quote, "rationale": grade.rationale})
    return sorted(rows, key=lambda r: -abs(r["model"] - r["gold"]))[:limit]


def write_report(table: pd.DataFrame, gold: GoldLabels, store: RunStore, out_dir: Path, title: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "figures.csv", index=False)
    lines = [f"# Agreement report: {title}", "", f"Gold: {gold.rule.describe()}.", "",
             f"Gold items: {len(consensus(gold))} (transcript × criterion), "
             f"raters: {gold.frame['rater_id'].nunique()}, rows left out: {len(gold.problems)}.", ""]
    lines += [f"- {p.where}: {p.problem}" for p in gold.problems[:20]]
    if len(gold.problems) > 20:
        lines.append(f"- … and {len(gold.problems) - 20} more")
    lines += ["", "Intervals are 95% bootstrap intervals resampling candidates. Model grades without a level "
              "(unscored, insufficient evidence, no verified evidence, not graded) are counted, not paired.", "",
              "| scope | pairs / items | unscored | insufficient | no evidence | "
              + " | ".join(h for _, h in SHOWN) + " |",
              "|---|---|---|---|---|" + "---|" * len(SHOWN)]
    for _, row in table.iterrows():
        lines.append(f"| {row['scope']} ({row['kind']}) | {row['pairs']} / {row['gold_items']} | {row['n_unscored']} | "
                     f"{row['n_insufficient_evidence']} | {row['n_no_verified_evidence']} | "
                     + " | ".join(_cell(row, m) for m, _ in SHOWN) + " |")
    lines += ["", "## Largest disagreements", ""]
    for d in disagreements(store, gold):
        lines.append(f"- {d['transcript']} / {d['criterion']}: model {d['model']}, gold {d['gold']}: \"{d['quote']}\" "
                     f"({d['rationale'][:160]})")
    path = out_dir / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
