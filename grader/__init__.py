"""grader: grade interview transcripts against a competency rubric with an LLM, citing the candidate's sentences.

    import grader

    sheet = grader.grade("interview.vtt", rubric="senior-data-scientist", base_url=..., model=...)
    with grader.Grader("mit-interview", base_url=..., model=...) as g:
        g.batch(["interviews/"], "runs/june")
    figures = grader.evaluate("runs/june", gold="ratings.csv")

Every name here is `grader.api`'s (see its docstring), plus the score sheet's parts (Evidence, Turn,
Unit, CompetencyResult, Decision) and the run manifest. Names are loaded on first use, so `import
grader` stays light (no openai, pandas or scikit-learn).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Audit",
    "BatchResult",
    "Calibrated",
    "Comparison",
    "CompetencyResult",
    "CriterionGrade",
    "Decision",
    "Evaluation",
    "Evidence",
    "GoldSpec",
    "Grader",
    "GraderError",
    "GradingOptions",
    "ReviewServer",
    "Rubric",
    "RunFolder",
    "RunManifest",
    "RunOptions",
    "ScoreSheet",
    "Settings",
    "Transcript",
    "Turn",
    "Unit",
    "audit",
    "batch",
    "builtin_rubrics",
    "calibrate",
    "compare",
    "diagnose",
    "evaluate",
    "evaluation",
    "export_gold",
    "export_html",
    "export_sheets",
    "export_table",
    "grade",
    "import_rubric",
    "load_rubric",
    "load_transcript",
    "read_transcript",
    "review_server",
    "sheet_json_schema",
    "version",
]

_WHERE = {
    "Audit": "grader.api",
    "BatchResult": "grader.api",
    "Calibrated": "grader.api",
    "Comparison": "grader.api",
    "CompetencyResult": "grader.grading.aggregate",
    "CriterionGrade": "grader.api",
    "Decision": "grader.grading.aggregate",
    "Evaluation": "grader.api",
    "Evidence": "grader.grading.grades",
    "GoldSpec": "grader.api",
    "Grader": "grader.api",
    "GraderError": "grader.api",
    "GradingOptions": "grader.api",
    "ReviewServer": "grader.api",
    "Rubric": "grader.api",
    "RunFolder": "grader.api",
    "RunManifest": "grader.runs.manifest",
    "RunOptions": "grader.api",
    "ScoreSheet": "grader.api",
    "Settings": "grader.api",
    "Transcript": "grader.api",
    "Turn": "grader.ingest.transcript",
    "Unit": "grader.ingest.units",
    "audit": "grader.api",
    "batch": "grader.api",
    "builtin_rubrics": "grader.api",
    "calibrate": "grader.api",
    "compare": "grader.api",
    "diagnose": "grader.api",
    "evaluate": "grader.api",
    "evaluation": "grader.api",
    "export_gold": "grader.api",
    "export_html": "grader.api",
    "export_sheets": "grader.api",
    "export_table": "grader.api",
    "grade": "grader.api",
    "import_rubric": "grader.api",
    "load_rubric": "grader.api",
    "load_transcript": "grader.ingest.formats",
    "read_transcript": "grader.api",
    "review_server": "grader.api",
    "sheet_json_schema": "grader.api",
    "version": "grader.api",
}

if TYPE_CHECKING:
    from grader.api import (
        Audit,
        BatchResult,
        Calibrated,
        Comparison,
        CriterionGrade,
        Evaluation,
        GoldSpec,
        Grader,
        GraderError,
        GradingOptions,
        ReviewServer,
        Rubric,
        RunFolder,
        RunOptions,
        ScoreSheet,
        Settings,
        Transcript,
        audit,
        batch,
        builtin_rubrics,
        calibrate,
        compare,
        diagnose,
        evaluate,
        evaluation,
        export_gold,
        export_html,
        export_sheets,
        export_table,
        grade,
        import_rubric,
        load_rubric,
        read_transcript,
        review_server,
        sheet_json_schema,
        version,
    )
    from grader.grading.aggregate import CompetencyResult, Decision
    from grader.grading.grades import Evidence
    from grader.ingest.formats import load_transcript
    from grader.ingest.transcript import Turn
    from grader.ingest.units import Unit
    from grader.runs.manifest import RunManifest


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
