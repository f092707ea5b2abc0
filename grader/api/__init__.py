"""The public Python API (re-exported by `grader/__init__.py`): every command of the CLI is built on it.

    with Grader("senior-data-scientist", base_url="http://localhost:8000/v1", model="m") as g:
        sheet = g.grade("interview.vtt")
        result = g.batch(["interviews/"], "runs/june")
    figures = evaluate("runs/june", gold="ratings.csv")
    select_exemplars("runs/june", "exemplars.yaml")   # reviewed grades, shown with GradingOptions(exemplars=...)
    fitted = calibrate("runs/june", GoldSpec(Path("ratings.csv")), out="calibration.json")
    export_table("runs/june", "june.csv"); audit_run("runs/june", "demographics.csv").write("runs/june/audit")

The command line imports only this package (a test checks it). Names not listed here are internal
and may change between releases.
"""

from grader.agreement.spec import GoldSpec
from grader.api.agreement import (
    Calibrated,
    Comparison,
    Evaluation,
    OnProgress,
    calibrate,
    compare,
    evaluate,
    evaluation,
    interval_kind,
)
from grader.api.config import GraderConfig
from grader.api.exemplars import select_exemplars
from grader.api.grading import (
    DEFAULT_RUBRIC,
    Grader,
    GradingOptions,
    batch,
    grade,
    token_counter,
)
from grader.api.library import (
    FORMATS,
    Check,
    Status,
    builtin_rubrics,
    diagnose,
    import_rubric,
    load_rubric,
    read_transcript,
    rubric_json_schema,
    rubric_to_yaml,
    sample_transcript,
    sheet_json_schema,
    version,
)
from grader.api.runs import (
    Audit,
    ReviewServer,
    audit_run,
    export_gold,
    export_html,
    export_sheets,
    export_table,
    review_server,
)
from grader.errors import FatalBackendError, GraderError
from grader.grading.exemplars import DEFAULT_PER_LEVEL, ExemplarSet, load_exemplars
from grader.grading.grade import Progress
from grader.grading.grades import CriterionGrade, GradeStatus, JudgeGrade, SampleGrade, Settings
from grader.grading.panel_file import JudgeSpec
from grader.grading.prompts import DEFAULT_PROMPT
from grader.grading.sheet import ScoreSheet
from grader.ingest.rubric import Competency, Criterion, Rubric
from grader.ingest.transcript import Role, Transcript
from grader.llm.embedded import stop_all as stop_embedded_servers
from grader.runs.batch import BatchStats, RunOptions
from grader.runs.folder import RunFolder
from grader.runs.runner import BatchResult

__all__ = [
    "DEFAULT_PER_LEVEL",
    "DEFAULT_PROMPT",
    "DEFAULT_RUBRIC",
    "FORMATS",
    "Audit",
    "BatchResult",
    "BatchStats",
    "Calibrated",
    "Check",
    "Comparison",
    "Competency",
    "Criterion",
    "CriterionGrade",
    "Evaluation",
    "ExemplarSet",
    "FatalBackendError",
    "GoldSpec",
    "GradeStatus",
    "Grader",
    "GraderConfig",
    "GraderError",
    "GradingOptions",
    "JudgeGrade",
    "JudgeSpec",
    "OnProgress",
    "Progress",
    "ReviewServer",
    "Role",
    "Rubric",
    "RunFolder",
    "RunOptions",
    "SampleGrade",
    "ScoreSheet",
    "Settings",
    "Status",
    "Transcript",
    "audit_run",
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
    "interval_kind",
    "load_exemplars",
    "load_rubric",
    "read_transcript",
    "review_server",
    "rubric_json_schema",
    "rubric_to_yaml",
    "sample_transcript",
    "select_exemplars",
    "sheet_json_schema",
    "stop_embedded_servers",
    "token_counter",
    "version",
]
