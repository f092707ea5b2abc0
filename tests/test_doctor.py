"""`grader doctor` and `grader --version`: every check reports, a failure exits 1 and says why."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from typer.testing import CliRunner

from grader.cli import app
from grader.doctor import cpu_features
from grader.llm import embedded
from grader.runs.folder import RunFolder

from .conftest import RUBRIC, TRANSCRIPTS

runner = CliRunner()
FAKE = [sys.executable, str(Path(__file__).parent / "fake_llama_server.py")]


def test_version_prints_the_installed_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("grader ") and result.output.split()[1][0].isdigit()


def test_cpu_features_are_read_from_cpuinfo_amx_included(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8488C\n"
                    "flags\t\t: fpu sse avx avx2 fma f16c avx512f amx_tile amx_int8 amx_bf16\n")
    model, features = cpu_features(info)
    assert model == "Intel(R) Xeon(R) Platinum 8488C"
    assert {"avx2", "avx512f", "amx_int8", "amx_tile"} <= set(features) and "sve" not in features


def test_doctor_reports_the_embedded_model_a_smoke_run_and_a_run_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(embedded, "SERVE_COMMAND", FAKE)
    monkeypatch.setenv("FAKE_LLAMA", "{}")
    run = tmp_path / "run"
    graded = runner.invoke(app, ["batch", str(TRANSCRIPTS / "short-screen.txt"), "--run", str(run),
                                 "--rubric", str(RUBRIC)])
    assert graded.exit_code == 0, graded.output
    result = runner.invoke(app, ["doctor", "--run", str(run)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "sha256" in lines["model"] and "SmolLM2" in lines["model"]
    assert "smoke" in lines and "5 tokens in" in lines["smoke"]
    assert "free" in result.output and "rubric senior-data-scientist" in result.output
    assert "1 transcripts done" in result.output
    with RunFolder(run).hold():
        held = runner.invoke(app, ["doctor", "--no-embedded", "--run", str(run)])
    assert held.exit_code == 0 and "warning" in held.output and f"held by process {os.getpid()}" in held.output


def test_doctor_names_a_server_that_crashes_on_its_first_token(monkeypatch):
    monkeypatch.setattr(embedded, "SERVE_COMMAND", FAKE)
    monkeypatch.setenv("FAKE_LLAMA", json.dumps({"crash_on": 1}))
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1 and "failed" in result.output and "SIGSEGV (signal 11)" in result.output


def test_doctor_names_an_unreachable_server():
    result = runner.invoke(app, ["doctor", "--no-embedded", "--base-url", "http://127.0.0.1:9/v1"])
    assert result.exit_code == 1 and "is not reachable" in result.output
