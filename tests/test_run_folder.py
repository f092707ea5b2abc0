"""Run folders: one manifest per run (a run never mixes rubrics, prompts or settings), one writer at a time."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import Grader, GradingOptions, RunOptions
from grader.cli import app
from grader.errors import GraderError
from grader.llm.backend import Backend, BackendInfo, make_openai_client
from grader.runs.folder import RunBusyError, RunFolder
from grader.runs.store import MIGRATIONS, RunStore
from grader.testing import MODEL, FakeOpenAI

from .conftest import ROOT, TRANSCRIPTS

GOLD = Path(__file__).parent / "data" / "samples-gold.csv"


def backend_for(server: FakeOpenAI) -> Backend:
    return Backend(client=make_openai_client(server.base_url, None, 5),
                   info=BackendInfo(model=MODEL, server="http://127.0.0.1", embedded=False, context_tokens=8192))


@pytest.fixture(scope="module")
def server() -> FakeOpenAI:
    return FakeOpenAI().start()


def batch(server: FakeOpenAI, run: Path, rubric: str = "mit-interview", options: GradingOptions | None = None,
          **run_options: object):
    with Grader(rubric, backend=backend_for(server), options=options) as g:
        return g.batch([TRANSCRIPTS / "short-screen.txt"], run, options=RunOptions(**run_options))


def test_migrations_are_named_and_append_only():
    names = [name for name, _ in MIGRATIONS]
    assert names[:2] == ["001_initial", "002_manifest"] and len(set(names)) == len(names)


def test_manifest_is_written_once_and_read_back(server, tmp_path):
    first = batch(server, tmp_path / "run")
    again = batch(server, tmp_path / "run")
    assert again.manifest == first.manifest and again.stats.calls == 0  # resumed, nothing asked twice
    record = RunFolder(tmp_path / "run").read()
    assert record.manifest == first.manifest and record.rubric().id == "mit-interview"
    manifest = record.manifest
    assert manifest.backend.server == "http://127.0.0.1" and "api_key" not in manifest.model_dump_json()
    assert manifest.rubric().content_hash() == manifest.rubric_hash  # re-read without the rubric file


@pytest.mark.parametrize(("change", "named"), [
    ({"rubric": "senior-data-scientist"}, "rubric mit-interview"),
    ({"options": GradingOptions(seed=8)}, "setting seed: 7 vs 8"),
    ({"options": GradingOptions(reply="compact")}, "reply schema (full vs compact)"),
    ({"options": GradingOptions(temperature=0.5, reasks=0)}, "setting reasks: 1 vs 0; setting temperature: 0.0 vs 0.5"),
])
def test_a_run_graded_differently_is_refused_naming_what_differs(server, tmp_path, change, named):
    batch(server, tmp_path / "run")
    with pytest.raises(GraderError) as info:
        batch(server, tmp_path / "run", **change)
    message = str(info.value)
    assert named in message and "--new-run" in message and str(tmp_path / "run") in message
    assert len(list(RunStore(tmp_path / "run" / "run.sqlite").call_rows())) == 5  # nothing added


def test_new_run_starts_a_folder_beside_a_different_run(server, tmp_path):
    batch(server, tmp_path / "run")
    result = batch(server, tmp_path / "run", rubric="senior-data-scientist", new_run=True)
    assert result.run_dir == tmp_path / "run-2" and result.stats.calls == 15
    assert batch(server, tmp_path / "run", new_run=True).run_dir == tmp_path / "run"  # same run: resumed there


def test_a_held_folder_refuses_a_second_writer(tmp_path):
    folder = RunFolder(tmp_path / "run")
    with folder.hold(), folder.hold():  # holding it again through the same object is a no-op
        with pytest.raises(RunBusyError, match=f"process {os.getpid()}"), RunFolder(tmp_path / "run").hold():
            pass  # another RunFolder on the same path, in this process: refused too (no module-global counter)
        code = ("from pathlib import Path; from grader.runs.folder import RunFolder\n"
                f"with RunFolder(Path({str(tmp_path / 'run')!r})).hold(): pass")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 1 and "RunBusyError" in done.stderr and f"process {os.getpid()}" in done.stderr
        assert folder.held
    assert not folder.held
    with folder.hold():  # released: free again
        pass
    assert RunBusyError.__mro__[1] is GraderError


def _calls(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_two_batch_processes_on_one_run_folder(tmp_path):
    """The second is refused at once with a clear message; no call is sent twice."""
    log = tmp_path / "requests.log"
    server = FakeOpenAI(delay=1.0, log=log).start()  # 20 calls: the first batch writes for 20 s
    command = [sys.executable, "-m", "grader", "batch", str(TRANSCRIPTS), "--run", str(tmp_path / "run"),
               "--base-url", server.base_url, "--model", MODEL, "--rubric", "mit-interview"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _calls(tmp_path / "run" / "run.sqlite") < 1:
        time.sleep(0.05)
    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.poll() is None, "the second batch must start while the first is still writing"
    assert second.returncode == 2 and "Traceback" not in second.stderr
    message = " ".join(second.stderr.split())
    assert "another grader batch is writing to this run folder (process" in message and str(first.pid) in message
    assert "Fix: wait for it to finish, or grade into another --run folder" in message
    first.communicate(timeout=120)
    assert first.returncode == 0
    sent = Counter(line.split("\t")[0] for line in log.read_text().splitlines())
    assert sum(sent.values()) == 20 and max(sent.values()) == 1  # every call once
    third = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert third.returncode == 0 and sum(1 for _ in log.read_text().splitlines()) == 20  # resumed: nothing sent


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def test_readers_take_the_rubric_from_the_manifest(server, tmp_path):
    with Grader("mit-interview", backend=backend_for(server)) as g:
        g.batch([TRANSCRIPTS], tmp_path / "run")
    run = str(tmp_path / "run")
    result = invoke("eval", "--run", run, "--gold", str(GOLD), "--n-boot", "20", "--no-html")
    assert result.exit_code == 0, result.output
    assert "rubric mit-interview (" in (tmp_path / "run" / "eval" / "report.md").read_text()
    assert invoke("eval", "--run", run, "--gold", str(GOLD), "--n-boot", "20", "--no-html",
                  "--rubric", "mit-interview").exit_code == 0  # the same rubric: accepted
    refused = invoke("eval", "--run", run, "--gold", str(GOLD), "--rubric", "senior-data-scientist")
    assert refused.exit_code == 2 and "the run was graded with rubric mit-interview" in refused.output
    assert "leave --rubric out" in " ".join(refused.output.split())
    exported = invoke("export", run, "--sheets", str(tmp_path / "sheets"), "--to", str(tmp_path / "grades.csv"))
    assert exported.exit_code == 0 and len(list((tmp_path / "sheets").glob("*.md"))) == 4
    assert invoke("export", run, "--sheets", str(tmp_path / "s2"), "--rubric", "senior-data-scientist").exit_code == 2


def test_a_run_without_manifest_needs_its_rubric_named(tmp_path):
    RunStore(tmp_path / "old" / "run.sqlite").set_meta({"rubric_hash": "0123456789abcdef"})
    result = invoke("export", str(tmp_path / "old"), "--sheets", str(tmp_path / "s"))
    assert result.exit_code == 2 and "has no manifest" in result.output and "--rubric" in result.output
    wrong = invoke("export", str(tmp_path / "old"), "--sheets", str(tmp_path / "s"), "--rubric", "mit-interview")
    assert wrong.exit_code == 2 and "graded with rubric hash 0123456789abcdef" in wrong.output


def test_sheet_schema_is_published():
    result = invoke("sheet", "schema")
    schema = json.loads(result.output)
    assert result.exit_code == 0 and "format_version" in schema["properties"] and "score sheet" in schema["title"]


def test_a_changed_reply_format_is_named_as_such(server, tmp_path):
    first = batch(server, tmp_path / "run").manifest
    changed = first.model_copy(update={"reply_schema_sha256": "0" * 64, "grader_version": "9.9"})
    [difference] = first.differences(changed)
    assert difference.startswith("reply schema full (") and "grader 9.9: the reply format has changed" in difference
