"""Adverse-impact audit of a run's decisions per demographic group (`grader audit`).

    from grader.audit import audit_run, write_report
    result = audit_run(Path("runs/june"), Path("demographics.csv"), id_column="candidate_id")
    write_report(result, Path("runs/june/audit"))
"""

from grader.audit.agreement import agreement_by_group, gold_pairs, human_pairs
from grader.audit.demographics import Demographics, attribute_groups, read_demographics
from grader.audit.impact import AuditOptions, impact_rows, impact_table, score_differences
from grader.audit.outcomes import model_outcomes, outcomes_from_levels, reviewed_outcomes
from grader.audit.report import render_html, render_markdown, write_report
from grader.audit.run import AuditResult, GoldInput, audit_run

__all__ = [
    "AuditOptions",
    "AuditResult",
    "Demographics",
    "GoldInput",
    "agreement_by_group",
    "attribute_groups",
    "audit_run",
    "gold_pairs",
    "human_pairs",
    "impact_rows",
    "impact_table",
    "model_outcomes",
    "outcomes_from_levels",
    "read_demographics",
    "render_html",
    "render_markdown",
    "reviewed_outcomes",
    "score_differences",
    "write_report",
]
