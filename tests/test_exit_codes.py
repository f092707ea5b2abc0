"""Every exit code of the table in `grader.cli.app` happens, for the reason the table gives."""

from __future__ import annotations

import importlib
import re

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import MODEL, fake_server

from .conftest import TRANSCRIPTS

cli_app = importlib.import_module("grader.cli.app")  # the module (grader.cli.app is also the Typer app's name)
runner = CliRunner()


def table_codes() -> set[int]:
    return {int(code) for code in re.findall(r"^\| (\d+) \|", cli_app.__doc__ or "", re.MULTILINE)}


def test_the_table_lists_the_codes_the_cli_uses():
    assert table_codes() == {0, cli_app.EXIT_INCOMPLETE, cli_app.EXIT_USAGE, cli_app.EXIT_INTERRUPTED} == \
        {0, 1, 2, 130}


def test_0_everything_done(tmp_path):
    with fake_server() as url:
        result = runner.invoke(app, ["grade", str(TRANSCRIPTS / "short-screen.txt"), "--rubric", "mit-interview",
                                     "--base-url", url, "--model", MODEL, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_1_done_in_part_names_what_was_not(tmp_path):
    with fake_server() as url:
        result = runner.invoke(app, ["grade", str(TRANSCRIPTS / "short-screen.txt"), str(tmp_path / "gone.txt"),
                                     "--rubric", "mit-interview", "--base-url", url, "--model", MODEL,
                                     "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "gone.txt" in result.output
    assert (tmp_path / "out" / "short-screen.json").is_file()  # the good one was graded


@pytest.mark.parametrize("args", [
    ["eval", "--run", "no-such-run", "--gold", "gold.csv"],
    ["export", "no-such-run", "--to", "x.csv"],
    ["grade", "x.txt", "--temperature", "nan"],
])
def test_2_not_done_with_the_place_and_the_fix(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_130_interrupted_says_what_was_kept(tmp_path, monkeypatch):
    class Interrupting:
        def __init__(self, *args, **kwargs):
            raise KeyboardInterrupt

    monkeypatch.setattr("grader.cli.grade.Grader", Interrupting)
    result = runner.invoke(app, ["grade", str(TRANSCRIPTS / "short-screen.txt"), "--out", str(tmp_path)])
    assert result.exit_code == 130
    assert "interrupted: the sheets already written" in result.output and "stopped" in result.output


def test_a_calibration_for_another_rubric_is_refused_once_with_exit_2(tmp_path):
    """Said once, before any transcript is graded (it used to fail each transcript and exit 1)."""
    calibration = tmp_path / "cal.json"
    calibration.write_text('{"rubric_id": "other", "rubric_hash": "0123456789abcdef", "model": "fake-grader", '
                           '"prompt_version": "p/1", "mappings": {"overall": {"x": [1, 5], "y": [1, 5]}}}',
                           encoding="utf-8")
    inputs = [str(TRANSCRIPTS / name) for name in ("short-screen.txt", "strong-candidate.vtt")]
    with fake_server() as url:
        result = runner.invoke(app, ["grade", *inputs, "--rubric", "mit-interview", "--base-url", url,
                                     "--model", MODEL, "--calibration", str(calibration), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.count("this calibration was fitted for rubric 0123456789abcdef") == 1
    assert not list(tmp_path.glob("*.json"))[1:]  # nothing graded: only cal.json is there
