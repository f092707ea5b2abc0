"""The evaluation report: Markdown a person reads, and the figures as CSV for further analysis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grader.evaluate import SOURCES, consensus
from grader.gold import GoldLabels
from grader.store import RunStore

DECISIONS_NOTE = ("The gold decision applies the rubric's weights and minimum to the consensus gold levels; "
                  "undetermined model decisions are counted, not paired.")
SHOWN = [("quadratic_kappa_score", "κ quadratic"), ("linear_kappa_score", "κ linear"), ("cohen_kappa_score", "κ"),
         ("exact_agreement_score", "exact"), ("adjacent_agreement_score", "±1"), ("spearman_score", "Spearman"),
         ("mean_absolute_error", "MAE"), ("bias", "bias")]


def cell(row: pd.Series, metric: str) -> str:
    value = row.get(metric)
    if value is None or pd.isna(value):
        return f"undefined ({row.get(f'{metric}_undefined')})"
    low, high = row.get(f"{metric}_low"), row.get(f"{metric}_high")
    interval = f" [{low:.2f}, {high:.2f}]" if low is not None and not pd.isna(low) else ""
    return f"{value:.2f}{interval}"


def disagreements(store: RunStore, gold: GoldLabels, limit: int = 10, *, counted: bool = True) -> list[dict]:
    """The largest |model − gold| differences with the model's first quote and whether it was verified.

    `counted=False` ranks the levels as stated, verified evidence or not, so a person can see why the
    model's levels disagree even when none of its quotes could be verified.
    """
    truth = consensus(gold).set_index(["transcript_id", "criterion_id"])["gold"]
    rows = []
    for row, grade in store.grades():
        key = (row["transcript_id"], row["criterion_id"])
        level = grade.level if grade.counts else (None if counted else grade.level)
        if key not in truth.index or level is None:
            continue
        quotes = [(e.quote, True) for e in grade.evidence] + [(e.quote, False) for e in grade.rejected]
        quote, verified = quotes[0] if quotes else ("", False)
        rows.append({"transcript": key[0], "criterion": key[1], "model": level, "gold": int(truth[key]),
                     "quote": quote, "verified": verified, "rationale": grade.rationale})
    return sorted(rows, key=lambda r: -abs(r["model"] - r["gold"]))[:limit]


def figures_table(table: pd.DataFrame) -> list[str]:
    lines = ["| scope | pairs / items | unscored | insufficient | no evidence | "
             + " | ".join(h for _, h in SHOWN) + " |", "|---|---|---|---|---|" + "---|" * len(SHOWN)]
    for _, row in table.iterrows():
        lines.append(f"| {row['scope']} ({row['kind']}) | {row['pairs']} / {row['gold_items']} | {row['n_unscored']} | "
                     f"{row['n_insufficient_evidence']} | {row['n_no_verified_evidence']} | "
                     + " | ".join(cell(row, m) for m, _ in SHOWN) + " |")
    return lines


def header(gold: GoldLabels, title: str, notes: list[str]) -> list[str]:
    lines = [f"# Agreement report: {title}", "", f"Gold: {gold.rule.describe()}.", "",
             f"Gold items: {len(consensus(gold))} (transcript × criterion), "
             f"raters: {gold.frame['rater_id'].nunique()}, rows left out: {len(gold.problems)}.", ""]
    lines += [f"- {p.where}: {p.problem}" for p in gold.problems[:20]]
    if len(gold.problems) > 20:
        lines.append(f"- … and {len(gold.problems) - 20} more")
    return lines + [""] + [f"{n}" for n in notes] + [
        "", "Intervals are 95% bootstrap intervals resampling candidates. Model grades without a level "
        "(unscored, insufficient evidence, no verified evidence, not graded) are counted, not paired."]


def decision_lines(decisions: pd.DataFrame) -> list[str]:
    lines = ["| source | competency | decided / transcripts | undetermined | gold pass | model pass | "
             "agreement | κ |", "|---|---|---|---|---|---|---|---|"]
    for _, r in decisions.iterrows():
        lines.append(f"| {r['source']} | {r['competency']} | {r['decided']} / {r['transcripts']} | "
                     f"{r['undetermined']} | {r['gold_pass']} | {r['model_pass']} | {cell(r, 'agreement')} | "
                     f"{cell(r, 'kappa')} |")
    return lines


def write_report(table: pd.DataFrame, gold: GoldLabels, store: RunStore, out_dir: Path, title: str,
                 notes: list[str] | None = None, decisions: pd.DataFrame | None = None) -> Path:
    """report.md, figures.csv (and decisions.csv); `table` has a `source` column (see evaluate.SOURCES)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "figures.csv", index=False)
    lines = header(gold, title, notes or [])
    for source, part in table.groupby("source", sort=False):
        lines += ["", f"## {source}: {SOURCES.get(str(source), source)}", "", *figures_table(part)]
    if decisions is not None and len(decisions):
        decisions.to_csv(out_dir / "decisions.csv", index=False)
        lines += ["", "## Pass/fail decisions per competency", "", DECISIONS_NOTE, "", *decision_lines(decisions)]
    for counted, heading in ((True, "Largest disagreements (counted levels)"),
                             (False, "Largest disagreements (stated levels, quotes verified or not)")):
        lines += ["", f"## {heading}", ""]
        found = disagreements(store, gold, counted=counted)
        lines += [f"- {d['transcript']} / {d['criterion']}: model {d['model']}, gold {d['gold']}: \"{d['quote']}\" "
                  f"({'verified' if d['verified'] else 'NOT verified'}; {d['rationale'][:160]})" for d in found]
        if not found:
            lines.append("- none: no grade of this kind")
    path = out_dir / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
