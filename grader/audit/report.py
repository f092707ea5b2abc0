"""The audit report: `impact.csv`, `scores.csv`, `agreement.csv`, `report.md` and a self-contained `report.html`.

Both pages are built from the same sections (title, note, header, rows); every cell that comes
from data (group names, competency names, ids) is escaped: `grader.escape.md` in Markdown, Jinja2's
autoescape in HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from grader.audit.agreement import SHOWN
from grader.audit.impact import FOUR_FIFTHS, MIN_GROUP, MIN_SHARE
from grader.audit.outcomes import OVERALL, OVERALL_RULE
from grader.audit.run import AuditResult
from grader.escape import md
from grader.spreadsheet import write_csv

TEMPLATE = Path(__file__).parent / "templates" / "report.html.j2"
IMPACT_HEADER = ["Attribute", "Group", "n", "Selected", "Excluded", "Rate", "Impact ratio [95% interval]",
                 "Four-fifths flag", "Fisher p", "Note"]


@dataclass
class Section:
    title: str
    note: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    flagged: list[bool] = field(default_factory=list)  # rows to highlight (four-fifths flag)


def number(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def p_value(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "<0.0001" if float(value) < 1e-4 else f"{float(value):.4f}"  # type: ignore[arg-type]


def ratio_cell(row: pd.Series) -> str:
    ratio = number(row["impact_ratio"])
    if row["ratio_low"] is None or pd.isna(row["ratio_low"]):
        return ratio
    return f"{ratio} [{number(row['ratio_low'])}, {number(row['ratio_high'])}]"


def impact_section(table: pd.DataFrame, title: str, note: str) -> Section:
    section = Section(title, note, IMPACT_HEADER)
    for _, row in table.iterrows():
        notes = [n for n in (row["note"], "too small to conclude" if row["too_small"] else "") if n]
        section.rows.append([row["attribute"], row["group"], str(row["n"]), str(row["selected"]), str(row["excluded"]),
                             f"{row['selection_rate']:.1%}" if pd.notna(row["selection_rate"]) else "—",
                             ratio_cell(row), "FLAG" if row["four_fifths_flag"] else "", p_value(row["p_value"]),
                             "; ".join(notes)])
        section.flagged.append(bool(row["four_fifths_flag"]))
    return section


def impact_sections(impact: pd.DataFrame) -> list[Section]:
    sections = []
    for outcome in dict.fromkeys(impact["outcome"]):
        part = impact[impact["outcome"] == outcome]
        name = "Overall" if outcome == OVERALL else str(part["outcome_name"].iloc[0])
        sections.append(impact_section(part[part["rate_kind"] == "selection"], f"{name}: selection rates (pass/fail)",
                                       "selected = pass; undetermined decisions are excluded, not counted as fails"))
        sections.append(impact_section(part[part["rate_kind"] == "scoring"], f"{name}: scoring rates",
                                       "selected = score above the median of all candidates audited; candidates "
                                       "with no score are excluded"))
    return sections


def score_section(scores: pd.DataFrame) -> Section:
    section = Section("Standardised mean score difference", "Cohen's d of the group against all other candidates "
                      "audited (pooled standard deviation); negative = the group scores lower",
                      ["Outcome", "Attribute", "Group", "n", "Mean score", "Mean of the others", "d"])
    for _, row in scores.iterrows():
        section.rows.append([row["outcome"], row["attribute"], row["group"], str(row["n"]), number(row["mean_score"]),
                             number(row["mean_others"]), number(row["smd"])])
        section.flagged.append(False)
    return section


def agreement_section(agreement: pd.DataFrame) -> Section:
    section = Section("Agreement with humans per group", "model's counted level against the human level; "
                      "intervals resample transcripts; an unpaired item is a grade with no level",
                      ["Attribute", "Group", "Transcripts", "Pairs", "Unpaired", *SHOWN])
    for _, row in agreement.iterrows():
        cells = [_figure_cell(row, name) for name in SHOWN]
        section.rows.append([row["attribute"], row["group"], str(row["candidates"]), str(row["pairs"]),
                             str(row["unpaired"]), *cells])
        section.flagged.append(False)
    return section


def _figure_cell(row: pd.Series, name: str) -> str:
    if row[f"{name}_undefined"]:
        return f"undefined ({row[f'{name}_undefined']})"
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    interval = f" [{number(low)}, {number(high)}]" if low is not None and pd.notna(low) else ""
    return number(row[name]) + interval


def rules(result: AuditResult) -> list[str]:
    return [
        f"Decisions: {result.source} ({'score sheets as graded' if result.source == 'model' else 'after review'}).",
        OVERALL_RULE,
        "Selection rate = passes / candidates with a decision. Undetermined decisions and missing scores are "
        "counted (Excluded) and left out, never counted as fails.",
        "Scoring rate = share scoring above the median score of all candidates audited (Local Law 144).",
        "Impact ratio = the group's rate / the highest rate among groups large enough to conclude (the reference).",
        f"Four-fifths flag: impact ratio below {FOUR_FIFTHS:g}. Fisher p: Fisher's exact test (two-sided) of the group "
        "against the reference. Interval: 95% percentile bootstrap of the ratio, each group resampled on its own "
        "(none for a group too small to conclude, or at a rate of 0% or 100%).",
        f"Too small to conclude: under {MIN_SHARE:.0%} of the candidates or under {MIN_GROUP} people (reported, "
        "marked, never the reference). Intersectional categories are every pair of columns.",
    ]


def summary(result: AuditResult) -> str:
    c = result.counts
    return (f"{c.get('graded', 0)} transcripts graded, {c.get('audited', 0)} audited (with a demographics row), "
            f"{c.get('no_demographics', 0)} without one; {c.get('demographics_unmatched', 0)} demographics rows name "
            f"no graded transcript. Categories: {', '.join(result.attributes)}.")


def sections(result: AuditResult) -> list[Section]:
    found = impact_sections(result.impact)
    found.insert(2, score_section(result.scores[result.scores["outcome"] == OVERALL]))
    if result.agreement is not None and len(result.agreement):
        found.insert(3, agreement_section(result.agreement))
    return found


def render_markdown(result: AuditResult) -> str:
    lines = [f"# Adverse-impact audit: {md(result.run)}", "", md(summary(result)), ""]
    lines += [f"- {md(rule)}" for rule in rules(result)] + [""]
    for section in sections(result):
        lines += [f"## {md(section.title)}", "", f"*{md(section.note)}*", "", "| " + " | ".join(section.header) + " |",
                  "|" + "---|" * len(section.header)]
        lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in section.rows]
        lines.append("")
    if result.problems:
        lines += ["## Demographics rows left out", "", *[f"- {md(p)}" for p in result.problems], ""]
    return "\n".join(lines)


def render_html(result: AuditResult) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(result=result, summary=summary(result), rules=rules(result), sections=sections(result))


def write_report(result: AuditResult, out_dir: Path) -> list[Path]:
    """Write the CSVs, report.md and report.html into `out_dir`; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"impact.csv": result.impact, "scores.csv": result.scores}
    if result.agreement is not None:
        written["agreement.csv"] = result.agreement
    paths = []
    for name, frame in written.items():
        write_csv(frame, out_dir / name)  # group names come from the demographics file: escaped
        paths.append(out_dir / name)
    for name, text in (("report.md", render_markdown(result)), ("report.html", render_html(result))):
        (out_dir / name).write_text(text, encoding="utf-8")
        paths.append(out_dir / name)
    return paths

