"""One settings object with one precedence: flag > environment > config file > default; renamed flags still work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from grader.api import GraderConfig, GraderError
from grader.cli import app
from grader.cli.options import GradingFlags, settings

runner = CliRunner()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    for name in ("GRADER_SEED", "GRADER_MODEL", "GRADER_CONFIG", "GRADER_BASE_URL", "OPENAI_BASE_URL",
                 "GRADER_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_flag_beats_environment_beats_config_file_beats_default(folder, monkeypatch):
    assert GraderConfig.load().seed == 7  # the default
    (folder / "grader.toml").write_text('seed = 3\nmodel = "from-file"\nconcurrency = 4\n', encoding="utf-8")
    assert (GraderConfig.load().seed, GraderConfig.load().model) == (3, "from-file")
    monkeypatch.setenv("GRADER_SEED", "5")
    assert GraderConfig.load().seed == 5 and GraderConfig.load().model == "from-file"
    assert GraderConfig.load(seed=9).seed == 9
    assert settings(GradingFlags(seed=11)).seed == 11 and settings(GradingFlags()).seed == 5
    assert GraderConfig.load().run_options(retry_failed=True).concurrency == 4


def test_the_server_comes_from_openai_base_url_as_the_openai_client_reads_it(folder, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert GraderConfig.load().base_url == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("GRADER_BASE_URL", "http://127.0.0.1:8/v1")
    assert GraderConfig.load(base_url="http://127.0.0.1:7/v1").base_url == "http://127.0.0.1:7/v1"


@pytest.mark.parametrize(("text", "named"), [
    ("modle = 1\n", "modle: Extra inputs are not permitted"),
    ("temperature = 9\n", "temperature: Input should be less than or equal to 2"),
    ("api_key = 'sk-secret'\n", "the API key is never read from a config file"),
    ("seed = \n", "not a readable config file"),
])
def test_a_wrong_config_file_is_named_with_the_setting_and_a_fix(folder, text, named):
    path = folder / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GraderError) as caught:
        GraderConfig.load(path)
    assert named in str(caught.value) and "Fix:" in str(caught.value) and "sk-secret" not in str(caught.value)


def test_a_config_file_named_but_missing_is_an_error(folder):
    with pytest.raises(GraderError, match="no such config file"):
        GraderConfig.load(folder / "nope.toml")


def test_the_cli_reads_the_config_file(folder):
    (folder / "grader.toml").write_text("temperature = 7\n", encoding="utf-8")
    result = runner.invoke(app, ["grade", str(folder / "missing.txt")])
    assert result.exit_code == 2 and "temperature" in result.output and "grader.toml" in result.output


@pytest.mark.parametrize(("command", "old", "new"), [
    (["eval", "--run", "R", "--gold", "G"], "--id-column", "--gold-id-column"),
    (["audit", "R", "--demographics", "D"], "--id-column", "--demographics-id-column"),
    (["audit", "R", "--demographics", "D"], "--boot", "--n-boot"),
    (["batch", "X", "--run", "R"], "--id-column", "--dataset-id-column"),
])
def test_an_old_flag_name_works_with_a_deprecation_warning(folder, command, old, new):
    value = "200" if old == "--boot" else "my_id"
    result = runner.invoke(app, [*command, old, value])
    assert f"{old} is now {new}" in result.output
    assert "No such option" not in result.output
    fresh = runner.invoke(app, [*command, new, value])
    assert "is now" not in fresh.output and "No such option" not in fresh.output
