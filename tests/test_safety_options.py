"""--redact-orgs and --datamark reach what is sent: organisations replaced, the transcript's words marked as data."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from grader.api import Grader, GradingOptions
from grader.cli import app
from grader.llm.backend import Backend, BackendInfo
from grader.testing import MODEL, FakeServer, fake_server

TEXT = ("Interviewer: Where did you work before?\n"
        "Candidate: I spent four years at Microsoft on the Azure billing team. Before that I studied at Stanford "
        "University. I built the churn model there.\n")


def sent(tmp_path, **options) -> str:
    path = tmp_path / "call.txt"
    path.write_text(TEXT, encoding="utf-8")
    server = FakeServer()
    backend = Backend(client=server.client(), info=BackendInfo(model="fake", server="https://remote.example",
                                                               embedded=False, context_tokens=8192))
    with Grader("mit-interview", backend=backend, options=GradingOptions(**options)) as grader:
        sheet = grader.grade(path)
    assert "Microsoft" in " ".join(u.text for t in sheet.transcript.turns for u in t.units)  # the sheet keeps words
    return json.dumps(server.requests)


def test_organisations_are_replaced_only_when_asked(tmp_path):
    plain = sent(tmp_path, redact=True)
    assert "Microsoft" in plain and "Stanford" in plain
    orgs = sent(tmp_path, redact=True, redact_orgs=True)
    assert "Microsoft" not in orgs and "Stanford University" not in orgs and "[ORG_1]" in orgs


def test_datamarking_marks_the_words_sent_and_names_the_prompt(tmp_path):
    marked = sent(tmp_path, redact=False, datamark=True)
    assert "I\\u02c6spent\\u02c6four" in marked  # json.dumps escapes the marker
    assert "I spent four" in sent(tmp_path, redact=False) and "I spent four" not in marked


@pytest.mark.parametrize(("flag", "seen"), [("--redact-orgs", "redact_orgs"), ("--datamark", "datamark")])
def test_the_flags_are_recorded_in_the_run(tmp_path, flag, seen):
    path = tmp_path / "call.txt"
    path.write_text(TEXT, encoding="utf-8")
    with fake_server() as url:
        result = CliRunner().invoke(app, ["grade", str(path), "--rubric", "mit-interview", "--base-url", url,
                                          "--model", MODEL, "--redact", flag, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "out" / "call.json").read_text(encoding="utf-8"))["run"]
    assert run["settings"].get("redact_orgs") is True if seen == "redact_orgs" else "datamark" in run["prompt_version"]
