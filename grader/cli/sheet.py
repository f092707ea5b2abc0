"""`grader sheet schema`: the published JSON Schema of score sheets."""

from __future__ import annotations

import json

from grader.api import sheet_json_schema
from grader.cli.app import sheet_app


@sheet_app.command("schema")
def sheet_schema() -> None:
    """Print the JSON Schema of score sheet files (<id>.json), with their format_version."""
    print(json.dumps(sheet_json_schema(), indent=2))
