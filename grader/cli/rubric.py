"""`grader rubric ...`: list the built-in rubrics, check and import rubric files, print their schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from grader.api import GraderError, builtin_rubrics, import_rubric, load_rubric, rubric_json_schema, rubric_to_yaml
from grader.cli.app import EXIT_USAGE, err, fail, out, reports_errors, rubric_app


@rubric_app.command("list")
@reports_errors
def rubric_list() -> None:
    """List the built-in rubrics (usable by name with --rubric)."""
    for name in builtin_rubrics():
        rubric = load_rubric(name)
        out.print(f"{name}\t{rubric.title} ({len(rubric.competencies)} competencies, "
                  f"{len(rubric.criteria())} criteria)", highlight=False)


@rubric_app.command("check")
def rubric_check(files: Annotated[list[Path], typer.Argument(help="rubric YAML files")]) -> None:
    """Validate rubric files and say what is wrong and where."""
    bad = 0
    for path in files:
        try:
            rubric = load_rubric(path)
        except GraderError as exc:
            fail(exc)
            bad += 1
            continue
        out.print(f"{path}: ok ({len(rubric.competencies)} competencies, {len(rubric.criteria())} criteria)",
                  highlight=False)
    if bad:
        raise typer.Exit(EXIT_USAGE)


@rubric_app.command("import")
@reports_errors
def rubric_import(
    file: Annotated[Path, typer.Argument(help="the rubric's plain-text export")],
    output: Annotated[Path | None, typer.Option("--out", help="YAML file to write (default: print)")] = None,
    rubric_id: Annotated[str | None, typer.Option("--id", help="rubric id (default: from the file name)")] = None,
    title: Annotated[str | None, typer.Option(help="rubric title")] = None,
) -> None:
    """Convert a rubric's text export into rubric YAML; stops at any row it cannot split with confidence."""
    rubric = import_rubric(file, rubric_id=rubric_id, title=title)
    text = rubric_to_yaml(rubric)
    if output:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output} ({len(rubric.competencies)} competencies, {len(rubric.criteria())} criteria)")
    else:
        print(text, end="")


@rubric_app.command("schema")
def rubric_schema() -> None:
    """Print the JSON Schema of rubric files."""
    print(json.dumps(rubric_json_schema(), indent=2))
