"""grader: grade interview transcripts against a competency rubric with an LLM, citing the candidate's sentences.

    import grader

    sheet = grader.grade("interview.vtt", rubric="senior-data-scientist", base_url=..., model=...)
    with grader.Grader("mit-interview", base_url=..., model=...) as g:
        g.batch(["interviews/"], "runs/june")
    figures = grader.evaluate("runs/june", gold="ratings.csv")

Every name of `grader.api` (see its docstring) is here, plus the score sheet's parts (Evidence, Turn,
Unit, CompetencyResult, Decision), the run manifest and `load_transcript`. Names are loaded on first
use, so `import grader` stays light (no openai, pandas or scikit-learn).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

_PARTS = {  # names besides grader.api's, and the module each comes from
    "CompetencyResult": "grader.grading.aggregate",
    "Decision": "grader.grading.aggregate",
    "Evidence": "grader.grading.grades",
    "RunManifest": "grader.runs.manifest",
    "Turn": "grader.ingest.transcript",
    "Unit": "grader.ingest.units",
    "load_transcript": "grader.ingest.formats",
}

if TYPE_CHECKING:
    from grader.api import *  # noqa: F403
    from grader.grading.aggregate import CompetencyResult as CompetencyResult
    from grader.grading.aggregate import Decision as Decision
    from grader.grading.grades import Evidence as Evidence
    from grader.ingest.formats import load_transcript as load_transcript
    from grader.ingest.transcript import Turn as Turn
    from grader.ingest.units import Unit as Unit
    from grader.runs.manifest import RunManifest as RunManifest


def __getattr__(name: str) -> Any:
    if name == "__all__":
        return sorted([*_api().__all__, *_PARTS])
    if not name.startswith("_") and importlib.util.find_spec(f"grader.{name}") is not None:
        # a submodule (`from grader import yamlio`): the import system loads it; grader.api is not touched
        raise AttributeError(f"module 'grader' has no attribute {name!r} until grader.{name} is imported")
    if name in _PARTS:
        value = getattr(importlib.import_module(_PARTS[name]), name)
    elif name in _api().__all__:
        value = getattr(_api(), name)
    else:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    globals()[name] = value
    return value


def _api() -> Any:
    return importlib.import_module("grader.api")


def __dir__() -> list[str]:
    return sorted([*globals(), *__getattr__("__all__")])
