"""The command line: friendly one-paragraph errors, no tracebacks, nothing lost in a batch."""

import json

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.errors import BackendError
from grader.llm.backend import check_model

from .conftest import ROOT, RUBRIC, SEED_RUBRIC, TRANSCRIPTS

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def test_rubric_schema_prints_json_schema():
    result = run("rubric", "schema")
    assert result.exit_code == 0 and json.loads(result.output)["title"] == "grader rubric"
    # the shipped file editors validate against is the same schema (regenerate: grader rubric schema > ...)
    assert json.loads((ROOT / "rubrics" / "rubric.schema.json").read_text()) == json.loads(result.output)


def test_export_with_nothing_to_write_says_what_to_add(tmp_path):
    result = run("export", str(tmp_path))
    assert result.exit_code == 2 and "nothing to export" in result.output and "--to" in result.output


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


def test_help_lists_the_commands_in_the_order_of_the_work():
    result = run("--help")
    names = [line.split()[1] for line in result.output.splitlines() if line.startswith("│ ") and line[2].isalpha()]
    assert names[:7] == ["grade", "demo", "batch", "export", "eval", "calibrate", "compare"]
    assert {"rubric", "sheet"} <= set(names) and "--install-completion" not in result.output


def test_rubric_list_shows_the_built_in_rubrics():
    result = run("rubric", "list")
    assert result.exit_code == 0
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert "senior-data-scientist Senior Data Scientist (5 competencies, 15 criteria)" in lines
    assert any(line.startswith("mit-interview ") for line in lines)


def test_grade_and_batch_build_the_same_settings(tmp_path):
    """One place builds Settings from the command-line options (GradingFlags -> GraderConfig -> GradingOptions)."""
    from grader.api import GradingOptions
    from grader.cli.options import GradingFlags, ReplyChoice
    from grader.cli.options import settings as config_of
    from grader.llm.backend import BackendInfo

    hosted = BackendInfo(model="m", server="https://h", embedded=False, context_tokens=1000)
    flags = GradingFlags(seed=3, temperature=0.5, reasks=0, level_probs=True, reply=ReplyChoice.compact)
    settings = config_of(flags).grading_options().settings(hosted)
    assert (settings.seed, settings.temperature, settings.reasks, settings.level_probs, settings.reply) == \
        (3, 0.5, 0, True, "compact")
    assert settings.prompt_cache_key and not GradingOptions().settings(hosted.model_copy(update={"embedded": True})
                                                                       ).prompt_cache_key


def test_command_modules_do_not_import_each_other():
    import ast


    modules = {p.stem for p in (ROOT / "grader" / "cli").glob("*.py")} - {"__init__", "app", "options"}
    for name in modules:
        tree = ast.parse((ROOT / "grader" / "cli" / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {f"grader.cli.{m}" for m in modules} & imported, name


def test_a_grader_error_is_one_paragraph_and_exit_code_2(tmp_path):
    result = run("export", str(tmp_path / "nothing"), "--to", str(tmp_path / "x.csv"))
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert "Fix: give the run folder of a batch" in result.output and "Traceback" not in result.output
