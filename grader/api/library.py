"""What grader reads and describes: transcripts, rubrics (built-in, checked, imported), schemas, the machine.

    transcript = read_transcript("call.txt", roles={"Sam": Role.candidate})
    for name in builtin_rubrics(): print(name, load_rubric(name).title)
    rubric = import_rubric("rubric-export.txt"); print(rubric_to_yaml(rubric))
    for check in diagnose(base_url="http://localhost:8000/v1"): print(check.name, check.status, check.detail)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader.doctor import Check, Status, version_of
from grader.ingest.formats import FORMATS, load_transcript
from grader.ingest.inputs import check_file_kind
from grader.ingest.rubric import Rubric, load_rubric, rubric_json_schema
from grader.ingest.rubric_import import import_rubric_text, rubric_to_yaml
from grader.ingest.transcript import Role, Transcript
from grader.resources import builtin_names, resolve

__all__ = ["FORMATS", "Check", "Status", "builtin_rubrics", "diagnose", "import_rubric", "load_rubric",
           "read_transcript", "rubric_json_schema", "rubric_to_yaml", "sample_transcript", "sheet_json_schema",
           "version"]


def read_transcript(path: str | Path, *, fmt: str | None = None, roles: dict[str, Role] | None = None) -> Transcript:
    """A transcript file read for grading: a FIFO or device is refused unopened; a link named here is followed."""
    check_file_kind(Path(path))
    return load_transcript(path, fmt=fmt, roles=roles)


def sample_transcript(name: str) -> Transcript:
    """A built-in sample transcript (`strong-candidate.vtt`, ...) or a transcript file."""
    return load_transcript(resolve("transcripts", name))


def builtin_rubrics() -> list[str]:
    """Names of the built-in rubrics (usable by name wherever a rubric is asked for)."""
    return builtin_names("rubrics")


def import_rubric(path: str | Path, *, rubric_id: str | None = None, title: str | None = None) -> Rubric:
    """A rubric from its plain-text export (stops at any row it cannot split with confidence)."""
    return import_rubric_text(Path(path), rubric_id=rubric_id, title=title)


def sheet_json_schema() -> dict[str, Any]:
    """The published JSON Schema of score sheet files, with their format_version."""
    from grader.grading.sheet import sheet_json_schema as schema

    return schema()


def version() -> str:
    """grader's installed version."""
    return version_of("grader") or "0+unknown"


def diagnose(*, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
             run: str | Path | None = None, embedded: bool = True) -> Iterator[Check]:
    """Every check of `grader doctor`, one at a time: Python, the CPU, the embedded model, a server, a run folder."""
    from grader.doctor import diagnose as checks

    return checks(base_url=base_url, model=model, api_key=api_key, run=Path(run) if run else None,
                  embedded=embedded)
