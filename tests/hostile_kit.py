"""What the hardening tests share: a one-criterion rubric, a good transcript, a graded run, and how a
command is run and judged (no traceback, a refusal that names the file or option and the fix).

The rubric has one criterion, so grading the good transcript beside a hostile input is one call to
the loopback fake server (`grader.testing`): the whole table stays fast.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import typer.main
from click.testing import Result
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import MODEL, FakeOpenAI

TINY_RUBRIC = """\
id: tiny
title: Tiny
competencies:
  - id: comm
    name: Communication
    min_passing_score: 3
    red_flags: [Blames others]
    criteria:
      - id: clarity
        name: Clarity
        weight: 1
        levels: {1: Unclear., 2: Often unclear., 3: Mostly clear., 4: Clear., 5: Very clear.}
"""
GOOD_TRANSCRIPT = """\
Interviewer: Tell me about a project you led?
Candidate: I led the churn model rebuild. We cut false alarms by a third.
Interviewer: How did you explain it?
Candidate: I wrote a one-page summary for the sales team.
"""
runner = CliRunner()
_command = functools.cache(typer.main.get_command)  # typer rebuilds the whole command tree at every invoke (0.2 s)


# a YAML alias bomb: nine references per level, billions of items if expanded
BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))


@dataclass(frozen=True)
class Kit:
    """Files and a server for hostile-input tests, made once per module."""

    folder: Path
    rubric: Path
    good: Path  # a transcript that grades
    server: FakeOpenAI

    @property
    def grading(self) -> list[str]:
        """The options that grade against the tiny rubric on the fake server."""
        return ["--rubric", str(self.rubric), "--base-url", self.server.base_url, "--model", MODEL]

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


def make_kit(folder: Path, **server: Any) -> Kit:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(TINY_RUBRIC, encoding="utf-8")
    (folder / "good.txt").write_text(GOOD_TRANSCRIPT, encoding="utf-8")
    return Kit(folder=folder, rubric=folder / "tiny.yaml", good=folder / "good.txt",
               server=FakeOpenAI(**server).start())


def invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in this process; whatever happens, no traceback and no exception escapes."""
    with mock.patch("typer.testing._get_command", _command):
        result = runner.invoke(app, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def assert_refused(result: Result, *names: str, fix: str) -> None:
    """A non-zero exit whose message names every one of `names` (the file, the option, the place) and the fix."""
    assert result.exit_code != 0, result.output
    text = " ".join(result.output.split())
    for name in names:
        assert " ".join(name.split()) in text, f"{name!r} not named in: {result.output}"
    assert fix in text, f"fix {fix!r} not in: {result.output}"


def case(table: list[tuple]) -> list:
    """`parametrize` cases of a table whose rows start with the case's id."""
    return [pytest.param(*row[1:], id=row[0]) for row in table]
