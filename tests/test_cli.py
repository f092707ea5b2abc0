"""The command line: friendly one-paragraph errors, no tracebacks, nothing lost in a batch."""

import json

import pytest
from typer.testing import CliRunner

from grader.cli.app import app
from grader.errors import BackendError
from grader.llm.backend import check_model

from .conftest import RUBRIC, SEED_RUBRIC, TRANSCRIPTS

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def test_rubric_schema_prints_json_schema():
    result = run("rubric", "schema")
    assert result.exit_code == 0 and json.loads(result.output)["title"] == "grader rubric"


def test_rubric_check_reports_place_and_fix(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(RUBRIC.read_text().replace("weight: 0.33", "weight: heavy", 1))
    result = run("rubric", "check", str(RUBRIC), str(bad))
    assert result.exit_code == 2
    assert "senior-data-scientist.yaml: ok (5 competencies, 15 criteria)" in result.output
    assert "bad.yaml" in result.output and "weight" in result.output and "Fix:" in result.output


def test_rubric_import_names_the_lines_it_cannot_split(tmp_path):
    result = run("rubric", "import", str(SEED_RUBRIC), "--out", str(tmp_path / "r.yaml"))
    assert result.exit_code == 2 and "line 128" in result.output and "line 130" in result.output
    assert not (tmp_path / "r.yaml").exists()


def test_grade_unreachable_server_is_a_clear_error(tmp_path):
    result = run("grade", str(TRANSCRIPTS / "short-screen.txt"), "--base-url", "http://127.0.0.1:9/v1",
                 "--model", "x", "--out", str(tmp_path))
    assert result.exit_code == 2 and "is not reachable" in result.output and "--base-url" in result.output


def test_grade_with_only_bad_transcripts_reports_each(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Interviewer: caf\xe9?".encode("latin-1"))
    result = run("grade", str(empty), str(latin), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "empty.txt: the file is empty" in result.output and "latin.txt (line 1): not UTF-8" in result.output


def test_model_not_served_is_a_clear_error(fake_server):
    client = fake_server([]).client()
    assert check_model(client, "fake", "http://fake.test/v1") == "fake"
    assert check_model(client, None, "http://fake.test/v1") == "fake"
    with pytest.raises(BackendError, match="does not serve the model 'gpt-x' \\(it serves: fake\\)"):
        check_model(client, "gpt-x", "http://fake.test/v1")
