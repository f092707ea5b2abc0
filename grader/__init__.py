"""grader: grade interview transcripts against a competency rubric with an LLM, citing the candidate's sentences.

    import grader

    sheet = grader.grade("interview.vtt", rubric="senior-data-scientist", base_url=..., model=...)
    with grader.Grader("mit-interview", base_url=..., model=...) as g:
        g.batch(["interviews/"], "runs/june")
    figures = grader.evaluate("runs/june", gold="ratings.csv")

Names are loaded on first use, so `import grader` stays light (no openai, pandas or scikit-learn).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "CompetencyResult",
    "CriterionGrade",
    "Decision",
    "Evaluation",
    "Evidence",
    "Grader",
    "GraderError",
    "GradingOptions",
    "Rubric",
    "RunManifest",
    "RunOptions",
    "ScoreSheet",
    "Settings",
    "Transcript",
    "Turn",
    "Unit",
    "evaluate",
    "grade",
    "load_rubric",
    "load_transcript",
    "sheet_json_schema",
]

_WHERE = {
    "CompetencyResult": "grader.grading.aggregate",
    "Decision": "grader.grading.aggregate",
    "CriterionGrade": "grader.grading.grades",
    "Evidence": "grader.grading.grades",
    "Settings": "grader.grading.grades",
    "ScoreSheet": "grader.grading.sheet",
    "sheet_json_schema": "grader.grading.sheet",
    "Evaluation": "grader.api",
    "Grader": "grader.api",
    "GradingOptions": "grader.api",
    "evaluate": "grader.api",
    "grade": "grader.api",
    "RunOptions": "grader.runs.runner",
    "RunManifest": "grader.runs.manifest",
    "GraderError": "grader.errors",
    "Rubric": "grader.ingest.rubric",
    "load_rubric": "grader.ingest.rubric",
    "load_transcript": "grader.ingest.formats",
    "Transcript": "grader.ingest.transcript",
    "Turn": "grader.ingest.transcript",
    "Unit": "grader.ingest.units",
}

if TYPE_CHECKING:
    from grader.api import Evaluation, Grader, GradingOptions, evaluate, grade
    from grader.errors import GraderError
    from grader.grading.aggregate import CompetencyResult, Decision
    from grader.grading.grades import CriterionGrade, Evidence, Settings
    from grader.grading.sheet import ScoreSheet, sheet_json_schema
    from grader.ingest.formats import load_transcript
    from grader.ingest.rubric import Rubric, load_rubric
    from grader.ingest.transcript import Transcript, Turn
    from grader.ingest.units import Unit
    from grader.runs.manifest import RunManifest
    from grader.runs.runner import RunOptions


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
