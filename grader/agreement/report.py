"""The evaluation report: Markdown a person reads, and the figures as CSV for further analysis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from grader.agreement.coverage import CoverageCurve
from grader.agreement.evaluate import SOURCES, consensus, split_raters_note
from grader.agreement.figures import DEFAULT_INTERVAL, FIGURE_NAMES, INTERVALS, SPLIT_RATERS, IntervalKind, figure_name
from grader.agreement.gold import GoldLabels
from grader.escape import md
from grader.runs.store import RunStore
from grader.spreadsheet import write_csv

DECISIONS_NOTE = ("The gold decision applies the rubric's weights and minimum to the consensus gold levels; "
                  "undetermined model decisions are counted, not paired.")
# the columns of the evaluation report's tables, headed by their short names (`figures.FIGURE_NAMES`)
SHOWN = [(m, FIGURE_NAMES[m].short) for m in ("quadratic_kappa_score", "linear_kappa_score", "cohen_kappa_score",
                                              "exact_agreement_score", "adjacent_agreement_score", "spearman_score",
                                              "mean_absolute_error", "bias")]
CEILING = [(m, FIGURE_NAMES[m].short) for m in ("human_quadratic_kappa_mean", "krippendorff_alpha")]


def cell(row: pd.Series, metric: str) -> str:
    value = row.get(metric)
    if value is None or pd.isna(value):
        return f"undefined ({row.get(f'{metric}_undefined')})"
    low, high = row.get(f"{metric}_low"), row.get(f"{metric}_high")
    interval = f" [{low:.2f}, {high:.2f}]" if low is not None and not pd.isna(low) else ""
    fallback = row.get(f"{metric}_fallback")
    return f"{value:.2f}{interval}" + (" (percentile)" if isinstance(fallback, str) else "")


def intervals_note(interval: IntervalKind) -> str:
    """Which interval the report gives, and how grades without a level are counted."""
    note = f"Intervals are 95% {INTERVALS[interval]} bootstrap intervals resampling candidates."
    if interval == "bca":
        note += " One marked (percentile) is a percentile interval: BCa is undefined there."
    return note + (" Model grades without a level (unscored, insufficient evidence, no verified evidence, not "
                   "graded) are counted, not paired.")


def report_notes(gold: GoldLabels, notes: list[str]) -> list[str]:
    """The caller's notes, and what a reader must know about the raters (split work: no ceiling)."""
    split = split_raters_note(gold)
    return [*notes, split] if split else notes


def ceiling_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The human–human ceiling per scope, from the first source (it is the same for every source)."""
    if "krippendorff_alpha_undefined" not in table:
        return table.iloc[0:0]
    first = table[table["source"] == table["source"].iloc[0]] if "source" in table else table
    return first[first["krippendorff_alpha"].notna() | first["krippendorff_alpha_undefined"].notna()]


def no_ceiling(gold: GoldLabels) -> str | None:
    """What the ceiling section says instead of a table when the raters split the work."""
    return f"Undefined for every scope ({SPLIT_RATERS}); see the note above." if split_raters_note(gold) else None


def ceiling_lines(table: pd.DataFrame, gold: GoldLabels) -> list[str]:
    rows, instead = ceiling_rows(table), no_ceiling(gold)
    if not len(rows):
        return []
    if instead:
        return ["", "## Human–human ceiling", "", instead]
    lines = ["", "## Human–human ceiling", "", "| scope | " + " | ".join(h for _, h in CEILING) + " |",
             "|---|" + "---|" * len(CEILING)]
    return lines + [f"| {r['scope']} ({r['kind']}) | " + " | ".join(cell(r, m) for m, _ in CEILING) + " |"
                    for _, r in rows.iterrows()]


def disagreements(store: RunStore, gold: GoldLabels, limit: int = 10, *, counted: bool = True) -> list[dict]:
    """The largest |model − gold| differences with the first sentence the model cited (its unit id and text).

    `counted=False` ranks the levels as stated, verified evidence or not, so a person can see why the
    model's levels disagree even when none of its citations resolved to a candidate's sentence.
    """
    truth = consensus(gold).set_index(["transcript_id", "criterion_id"])["gold"]
    rows = []
    for row, grade in store.grades():
        key = (row["transcript_id"], row["criterion_id"])
        level = grade.level if grade.counts else (None if counted else grade.level)
        if key not in truth.index or level is None:
            continue
        quote = f"[{grade.evidence[0].unit}] {grade.evidence[0].text}" if grade.evidence else ""
        verified = bool(grade.evidence)
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


def comparison_lines(table: pd.DataFrame, interval: str = DEFAULT_INTERVAL) -> list[str]:
    """`grader compare`'s table: per scope and figure (by its name, "Cohen's kappa (quadratic)"), run A, run B,
    B − A with its paired interval (or why it is undefined) and the verdict; `table` is `comparison_table`'s."""
    method = "BCa" if interval == "bca" else interval
    lines = [f"| scope | pairs | figure | A | B | B − A [95% paired {method} CI] | verdict |",
             "|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        fallback = " (percentile)" if isinstance(r.get("fallback"), str) else ""
        diff = (f"{r['difference']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}]{fallback}" if pd.notna(r["low"])
                else (f"{r['difference']:+.2f}" if pd.notna(r["difference"]) else f"undefined ({r['undefined']})"))
        a, b = (f"{v:.2f}" if pd.notna(v) else "–" for v in (r["a"], r["b"]))
        lines.append(f"| {r['scope']} ({r['kind']}) | {r['pairs']} | {figure_name(str(r['figure']))} | {a} | {b} | "
                     f"{diff} | {r['verdict']} |")
    return lines


def header(gold: GoldLabels, title: str, notes: list[str], interval: IntervalKind = DEFAULT_INTERVAL) -> list[str]:
    lines = [f"# Agreement report: {md(title)}", "", f"Gold: {md(gold.rule.describe())}.", "",
             f"Gold items: {len(consensus(gold))} (transcript × criterion), "
             f"raters: {gold.frame['rater_id'].nunique()}, rows left out: {len(gold.problems)}.", ""]
    lines += [f"- {md(p.where)}: {md(p.problem)}" for p in gold.problems[:20]]
    if len(gold.problems) > 20:
        lines.append(f"- … and {len(gold.problems) - 20} more")
    return [*lines, "", *map(md, report_notes(gold, notes)), "", intervals_note(interval)]


def decision_lines(decisions: pd.DataFrame) -> list[str]:
    lines = ["| source | competency | decided / transcripts | undetermined | gold pass | model pass | "
             "agreement | κ |", "|---|---|---|---|---|---|---|---|"]
    for _, r in decisions.iterrows():
        lines.append(f"| {r['source']} | {md(r['competency'])} | {r['decided']} / {r['transcripts']} | "
                     f"{r['undetermined']} | {r['gold_pass']} | {r['model_pass']} | {cell(r, 'agreement')} | "
                     f"{cell(r, 'kappa')} |")
    return lines


RELIABILITY_SHOWN = ("changed_share", "quadratic_kappa_score", "icc", "krippendorff_alpha")


def reliability_lines(table: pd.DataFrame, interval: IntervalKind = DEFAULT_INTERVAL) -> list[str]:
    """The "Test-retest reliability" section: what each figure is, then one row per scope.

    `table` is `reliability.reliability_table`'s (run A is the evaluated run, run B its retest).
    """
    from grader.agreement.reliability import RELIABILITY_FIGURES

    method = INTERVALS[interval]
    lines = ["", "## Test-retest reliability", "",
             "Run B grades the same transcripts again; run A is the run this report evaluates. The share of levels "
             "changed and Cohen's kappa (quadratic) pair A with B on the items both gave a level, with 95% "
             f"{method} bootstrap intervals resampling candidates. ICC(2,1) (two-way random effects, absolute "
             "agreement, single rater; McGraw & Wong's ICC(A,1)) takes the items with a level from every run, with "
             "McGraw & Wong's F-based 95% interval. Krippendorff's α (ordinal) takes every level given, with a 95% "
             f"{method} bootstrap interval resampling candidates. Grades without a level are counted, not paired.",
             "", "| scope | paired / items | only A | only B | changed | "
             + " | ".join(RELIABILITY_FIGURES[m][1] for m in RELIABILITY_SHOWN) + " |",
             "|---|---|---|---|---|" + "---|" * len(RELIABILITY_SHOWN)]
    no_interval: dict[str, list[str]] = {}
    for _, r in table.iterrows():
        cells = [cell(r, m) for m in RELIABILITY_SHOWN]
        reason = r.get("icc_interval_undefined")
        if isinstance(reason, str) and pd.notna(r.get("icc")):
            cells[RELIABILITY_SHOWN.index("icc")] += " (no interval)"
            no_interval.setdefault(reason, []).append(str(r["scope"]))
        lines.append(f"| {md(r['scope'])} ({r['kind']}) | {r['paired']} / {r['items']} | {r['only_a']} | "
                     f"{r['only_b']} | {r['changed']} | " + " | ".join(cells) + " |")
    if no_interval:
        lines.append("")
        lines += [f"ICC(2,1) without an interval ({', '.join(map(md, scopes))}): {md(reason)}."
                  for reason, scopes in no_interval.items()]
    return lines


def panel_lines(table: pd.DataFrame, interval: IntervalKind = DEFAULT_INTERVAL) -> list[str]:
    """The "Samples and judges" section: how far the run's samples agree with each other, and its judges.

    `table` has a `rater_set` column ("samples", "samples of judge a", "judges") over rows of
    `reliability.reliability_table`, with `mean_pairwise_kappa` and `pairs_defined` / `rater_pairs`.
    """
    lines = ["", "## Samples and judges", "",
             "The run asked each criterion several times: k samples of one judge (the same prompt, seeds seed to "
             "seed + k − 1) or several judges. Each sample, or each judge's level (the median of its samples), is a "
             "rater here; a level is the one that counts (scored, citing a sentence of the candidate). Mean "
             "pairwise κ is Cohen's kappa (quadratic) on the items both raters of a pair gave a level, averaged over "
             "the pairs where it is defined (no interval). ICC(2,1) (two-way random effects, absolute agreement, "
             "single rater) takes the items with a level from every rater, with McGraw & Wong's F-based 95% "
             f"interval; Krippendorff's α (ordinal) takes every level given, with a 95% {INTERVALS[interval]} "
             "bootstrap interval resampling candidates.", "",
             "| raters | scope | items | complete | mean pairwise κ quadratic | ICC(2,1) | "
             "Krippendorff's α (ordinal) |", "|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        kappa, first = r["mean_pairwise_kappa"], r.get("quadratic_kappa_score_undefined")
        mean = (f"{kappa:.2f} ({r['pairs_defined']} of {r['rater_pairs']} pairs)" if pd.notna(kappa) else
                f"undefined ({'in every pair; the first: ' if r['rater_pairs'] > 1 else ''}{md(str(first))})")
        lines.append(f"| {md(r['rater_set'])} | {md(r['scope'])} ({r['kind']}) | {r['items']} | {r['complete']} | "
                     f"{mean} | {cell(r, 'icc')} | {cell(r, 'krippendorff_alpha')} |")
    return lines


def coverage_lines(curve: CoverageCurve) -> list[str]:
    """The "Review the uncertain first" section: the coverage curve against the random baseline, and how to read it.

    `curve` is `coverage.coverage_curve`'s (its table is coverage.csv).
    """
    if not curve.paired:
        return ["", "## Review the uncertain first: coverage curve", "",
                "No grade has both a level and a gold level: there is nothing to rank."]
    signals = ", ".join(f"{name} {n}" for name, n in curve.signals.items()) or "none"
    lines = ["", "## Review the uncertain first: coverage curve", "",
             f"The {curve.paired} grades with a level and a gold level ({curve.errors} of them not the gold level) are "
             "ranked by uncertainty (`grader.grading.uncertainty`: the largest of the samples' spread, the judges' "
             "disagreement, the entropy of the level probabilities, a failed grade; ties broken at random). The most "
             "uncertain x% are sent to people, their level replaced by the gold level, and agreement with the gold is "
             f"measured again; the baseline sends a random x% (mean ± standard deviation over {curve.seeds} draws; "
             "ties in uncertainty are broken over the same draws). Errors caught: the share of the model's errors "
             "that are among the grades sent (x% of them, on average, at random). Grades with an uncertainty signal: "
             f"{curve.with_signal} of {curve.paired} ({signals}). Gold items the model gave no level: "
             f"{curve.not_paired}, left out (they go to a person anyway)."]
    if not curve.with_signal:
        lines += ["", "No grade of this run has an uncertainty signal (one sample of one judge, no level "
                      "probabilities): the ranking is random, so the two curves differ by chance only. Grade with "
                      "--samples K and a temperature above 0, a panel (--judge), or --level-probs to rank by "
                      "uncertainty."]
    lines += ["", "| sent | grades | κ quadratic: uncertain first | κ quadratic: random | exact: uncertain first | "
                  "exact: random | errors caught: uncertain first | errors caught: random |",
              "|---|---|---|---|---|---|---|---|"]
    for _, r in curve.table.iterrows():
        lines.append(f"| {r['fraction']:.0%} | {int(r['sent'])} | {_num(r['uncertain_quadratic_kappa_score'])} | "
                     f"{_num(r['random_quadratic_kappa_score'], r['random_sd_quadratic_kappa_score'])} | "
                     f"{_num(r['uncertain_exact_agreement_score'])} | "
                     f"{_num(r['random_exact_agreement_score'], r['random_sd_exact_agreement_score'])} | "
                     f"{_share(r['uncertain_errors_caught'], r['sent'])} | "
                     f"{_share(r['random_errors_caught'], r['sent'])} |")
    gains = curve.gains()
    if any(pd.notna(v) for v in gains.values()):
        lines += ["", "Mean gain of sending the uncertain first over sending at random, across 10–50%: κ quadratic "
                      f"{_signed(gains['quadratic_kappa_score'])}, exact agreement "
                      f"{_signed(gains['exact_agreement_score'])}. The baseline's standard deviation is the spread "
                      "of random draws, not an interval for the uncertain-first curve."]
    return lines


def _num(value: float, sd: float | None = None) -> str:
    if value is None or pd.isna(value):
        return "undefined"
    return f"{value:.2f}" + (f" ± {sd:.2f}" if sd is not None and pd.notna(sd) else "")


def _share(value: float, sent: float) -> str:
    return "–" if not sent or pd.isna(value) else f"{value:.0%}"


def _signed(value: float) -> str:
    return "undefined" if pd.isna(value) else f"{value:+.2f}"


def write_report(table: pd.DataFrame, gold: GoldLabels, store: RunStore, out_dir: Path, title: str,
                 notes: list[str] | None = None, decisions: pd.DataFrame | None = None,
                 interval: IntervalKind = DEFAULT_INTERVAL, reliability: pd.DataFrame | None = None,
                 panel: pd.DataFrame | None = None, coverage: CoverageCurve | None = None) -> Path:
    """report.md, figures.csv (and decisions.csv, reliability.csv, samples-judges.csv, coverage.csv); `table` has a
    `source` column (see evaluate.SOURCES); `reliability`, when given, is `reliability.reliability_table`'s
    (test-retest); `panel` the agreement of the run's samples and judges (see `panel_lines`); `coverage` the
    coverage curve (see `coverage_lines`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(table, out_dir / "figures.csv")
    lines = header(gold, title, notes or [], interval)
    for source, part in table.groupby("source", sort=False):
        lines += ["", f"## {source}: {SOURCES.get(str(source), source)}", "", *figures_table(part)]
    lines += ceiling_lines(table, gold)
    if decisions is not None and len(decisions):
        write_csv(decisions, out_dir / "decisions.csv")
        lines += ["", "## Pass/fail decisions per competency", "", DECISIONS_NOTE, "", *decision_lines(decisions)]
    if reliability is not None:
        write_csv(reliability, out_dir / "reliability.csv")
        lines += reliability_lines(reliability, interval)
    if panel is not None:
        write_csv(panel, out_dir / "samples-judges.csv")
        lines += panel_lines(panel, interval)
    if coverage is not None:
        write_csv(coverage.table, out_dir / "coverage.csv")
        lines += coverage_lines(coverage)
    for counted, heading in ((True, "Largest disagreements (counted levels)"),
                             (False, "Largest disagreements (stated levels, with or without a cited sentence)")):
        lines += ["", f"## {heading}", ""]
        found = disagreements(store, gold, counted=counted)
        lines += [f"- {md(d['transcript'])} / {md(d['criterion'])}: model {d['model']}, gold {d['gold']}: "
                  f"{_cited(d)} ({md(d['rationale'][:160])})" for d in found]
        if not found:
            lines.append("- none: no grade of this kind")
    path = out_dir / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def _cited(disagreement: dict) -> str:
    return f"\"{md(disagreement['quote'])}\"" if disagreement["verified"] else "(no sentence of the candidate cited)"
