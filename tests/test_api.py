"""The public Python API: the README's example as written, Grader, batch into a run, evaluate."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import grader
from grader import Grader, GradingOptions, RunOptions
from grader.errors import GraderError
from grader.llm.backend import Backend, BackendInfo, make_openai_client
from grader.testing import MODEL, FakeOpenAI

from .conftest import ROOT, TRANSCRIPTS

GOLD = Path(__file__).parent / "data" / "samples-gold.csv"


def readme_example() -> str:
    """The first Python block of the README's "Python" section, as a user copies it."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Python\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_example_runs_as_written(tmp_path):
    example = readme_example()
    assert len(example.strip().splitlines()) <= 5
    (tmp_path / "short-screen.txt").write_bytes((TRANSCRIPTS / "short-screen.txt").read_bytes())
    server = FakeOpenAI().start()
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "PYTHONPATH": str(ROOT)}
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5 and all(re.match(r".+: (pass|fail|undetermined), score ", line) for line in lines)


def test_import_is_light_and_lists_its_api():
    code = "import sys, grader; print(json.dumps([m in sys.modules for m in ('openai', 'pandas', 'sklearn')]))"
    done = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert json.loads(done.stdout) == [False, False, False]
    for name in grader.__all__:
        assert getattr(grader, name) is not None
    with pytest.raises(AttributeError):
        grader.nothing_of_that_name  # noqa: B018


def test_the_command_line_loads_pandas_and_scikit_learn_only_for_the_commands_that_use_them():
    code = "import sys, grader.cli.app; print(json.dumps([m in sys.modules for m in ('pandas', 'sklearn')]))"
    done = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert json.loads(done.stdout) == [False, False]


def backend_for(server: FakeOpenAI) -> Backend:
    return Backend(client=make_openai_client(server.base_url, None, 5),
                   info=BackendInfo(model=MODEL, server="http://127.0.0.1", embedded=False, context_tokens=8192))


def test_grader_grades_a_file_and_builds_its_settings_once():
    server = FakeOpenAI().start()
    with Grader("senior-data-scientist", base_url=server.base_url, options=GradingOptions(seed=3)) as g:
        sheet = g.grade(TRANSCRIPTS / "short-screen.txt")
        assert g.settings.model == MODEL and g.settings.seed == 3 and g.settings.prompt_cache_key  # hosted server
        assert g.counter.name != "gguf"
    assert sheet.transcript_id == "short-screen" and len(sheet.grades) == 15
    assert sheet.run.settings == g.settings and sheet.format_version >= 2


def test_a_backend_passed_in_is_used_and_left_open():
    server = FakeOpenAI().start()
    backend = backend_for(server)
    with Grader("mit-interview", backend=backend) as g:
        g.grade(grader.load_transcript(TRANSCRIPTS / "strong-candidate.vtt"))
    assert g.backend is backend and backend.client.models.list().data[0].id == MODEL


def test_batch_then_evaluate_with_the_runs_own_rubric(tmp_path):
    server = FakeOpenAI().start()
    with Grader("mit-interview", backend=backend_for(server)) as g:
        result = g.batch([TRANSCRIPTS], tmp_path / "run", options=RunOptions(concurrency=2))
    assert (result.stats.transcripts, result.stats.calls, result.dead_letters) == (4, 20, [])
    assert result.manifest.rubric_id == "mit-interview" and result.manifest.backend.model == MODEL
    figures = grader.evaluate(tmp_path / "run", gold=GOLD, n_boot=20)  # no rubric given: the manifest's
    overall = figures[(figures["kind"] == "overall") & (figures["source"] == "model")]
    assert len(overall) == 1 and overall["gold_items"].iloc[0] == 20
    with pytest.raises(GraderError, match="the run was graded with rubric mit-interview"):
        grader.evaluate(tmp_path / "run", gold=GOLD, rubric="senior-data-scientist", n_boot=20)
