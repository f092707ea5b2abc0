"""Supervision of the embedded model server, both ways, with a stand-in server process that dies.

The stand-in (`tests/fake_llama_server.py`) is started exactly as the real one is (a child process
given the config JSON), so what is tested is grader's supervision: the smoke request, a crash named
with its signal and log, a batch that stops at once and resumes, the exit codes, a server that never
outlives grader (SIGKILL, SIGTERM, Ctrl-C).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.api import Grader
from grader.cli import app
from grader.llm import embedded
from grader.llm.backend import Backend, BackendInfo, make_openai_client
from grader.llm.embedded import MODEL_ALIAS, EmbeddedServer, ServerCrashed, exit_description
from grader.llm.wire import compact_json_grammar
from grader.runs.store import RunStore

from .conftest import RUBRIC, TRANSCRIPTS

FAKE = [sys.executable, str(Path(__file__).parent / "fake_llama_server.py")]
SAMPLES = [TRANSCRIPTS / "short-screen.txt", TRANSCRIPTS / "strong-candidate.vtt"]
runner = CliRunner()


@pytest.fixture
def fake(monkeypatch):
    """Every embedded server started in this test is the stand-in, misbehaving as `fake(**how)` says."""
    monkeypatch.setattr(embedded, "SERVE_COMMAND", FAKE)

    def configure(**how: object) -> None:
        monkeypatch.setenv("FAKE_LLAMA", json.dumps(how))

    configure()
    return configure


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(") ")[-1].startswith("Z"))  # a zombie is gone


def wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def backend_of(server: EmbeddedServer) -> Backend:
    client = make_openai_client(server.base_url, None, 30, http_client=server.http_client(30))
    return Backend(client=client, info=BackendInfo(model=MODEL_ALIAS, server="http://127.0.0.1", embedded=True,
                                                   context_tokens=8192))


def test_exit_description_names_the_signal():
    assert exit_description(-11) == "SIGSEGV (signal 11)" and exit_description(3) == "exit code 3"


def test_a_server_that_cannot_generate_fails_its_smoke_request_before_any_work(fake):
    fake(crash_on=1)
    server = EmbeddedServer()
    started = time.monotonic()
    with pytest.raises(ServerCrashed) as caught:
        server.start()
    message = str(caught.value)
    assert time.monotonic() - started < 15
    assert "crashed on its first request" in message and "SIGSEGV (signal 11)" in message
    assert "general protection fault in libggml-cpu.so (simulated)" in message  # the log's last lines
    assert str(server.log_path) in message and "Fix:" in message
    assert server.pid is not None and wait_gone(server.pid)


def test_a_healthy_server_passes_the_smoke_request_and_stops_with_its_owner(fake):
    with EmbeddedServer() as server:
        assert server.smoke_result is not None and server.smoke_result.completion_tokens == 5
        pid = server.pid
        assert pid is not None and alive(pid)
    assert wait_gone(pid)


def test_a_crash_mid_batch_stops_it_at_once_keeps_what_was_graded_and_resumes(fake, tmp_path):
    fake(crash_on=4)  # the smoke request, then two criteria, then the crash
    run = tmp_path / "run"
    server = EmbeddedServer().start()
    started = time.monotonic()
    with Grader(RUBRIC, backend=backend_of(server)) as grader, pytest.raises(ServerCrashed) as caught:
        grader.batch([str(p) for p in SAMPLES], run)
    assert time.monotonic() - started < 15  # no retries against a dead server
    assert "SIGSEGV" in str(caught.value) and "the same command resumes" in str(caught.value)
    store = RunStore(run / "run.sqlite")
    try:
        kept = store.totals()
    finally:
        store.close()
    assert (kept["calls"], kept["unscored"], kept["transcripts_failed"]) == (2, 0, 0)  # nothing blamed

    fake()  # a healthy server: the same batch resumes and sends only what is missing
    with EmbeddedServer() as healthy, Grader(RUBRIC, backend=backend_of(healthy)) as grader:
        result = grader.batch([str(p) for p in SAMPLES], run)
    assert result.stats.calls_cached == 2 and result.stats.calls_failed == 0 and result.stats.transcripts == 2


def test_cli_batch_names_the_crash_and_exits_non_zero(fake, tmp_path):
    fake(crash_on=3)
    result = runner.invoke(app, ["batch", str(SAMPLES[0]), "--run", str(tmp_path / "run"), "--rubric", str(RUBRIC)])
    assert result.exit_code == 2, result.output
    assert "embedded model server crashed" in result.output and "SIGSEGV (signal 11)" in result.output
    assert "grader-llama-" in result.output  # the log's path
    assert "the same command resumes the rest" in result.output and "Traceback" not in result.output


def test_demo_with_nothing_scored_exits_non_zero_and_says_why(fake, tmp_path):
    fake(reply="garbage")
    result = runner.invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "15 of 15 criteria could not be scored" in result.output and "no schema-valid reply" in result.output


def test_demo_with_some_criteria_unscored_warns_and_succeeds(fake, tmp_path):
    fake(garbage_from=12)  # the smoke request and ten criteria answer; the last five (with re-asks) do not
    result = runner.invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "5 of 15 criteria could not be scored" in result.output


def test_compact_grammar_closes_every_object_and_keeps_maps_open():
    schema = {"type": "object", "properties": {
        "evidence": {"type": "array", "items": {"$ref": "#/$defs/Cited"}},
        "flags": {"type": "object", "additionalProperties": {"type": "array"}}},
        "$defs": {"Cited": {"type": "object", "properties": {"unit": {"enum": ["1.1"]}}}}}
    body = {"model": "m", "messages": [], "response_format": {"type": "json_schema",
                                                              "json_schema": {"name": "R", "schema": schema}}}
    sent = compact_json_grammar(body)
    assert "response_format" not in sent and sent["model"] == "m"
    grammar = sent["grammar"]
    assert grammar.startswith("%llguidance {}\nstart: %json ")
    sent_schema = json.loads(grammar.split("%json ", 1)[1])
    assert sent_schema["additionalProperties"] is False
    assert sent_schema["$defs"]["Cited"]["additionalProperties"] is False
    assert sent_schema["properties"]["flags"]["additionalProperties"] == {"type": "array"}
    assert sent_schema["x-guidance"]["whitespace_flexible"] is False
    assert compact_json_grammar({"messages": []}) == {"messages": []}  # no schema: sent as it is


def test_grade_with_every_call_unscored_exits_non_zero(fake, tmp_path):
    fake(reply="garbage")
    result = runner.invoke(app, ["grade", str(SAMPLES[0]), "--rubric", str(RUBRIC), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "could not be scored" in result.output
    assert (tmp_path / "short-screen.json").is_file()  # the sheet is still written: failures are data


DRIVER = """
import sys
from grader.llm import embedded
embedded.SERVE_COMMAND = {fake!r}
from grader.cli import app
app(sys.argv[1:])
"""


def start_cli(tmp_path: Path, *args: str, **how: object) -> subprocess.Popen[str]:
    env = {**os.environ, "FAKE_LLAMA": json.dumps(how)}
    return subprocess.Popen([sys.executable, "-c", DRIVER.format(fake=FAKE), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)


def server_child(parent: int, seconds: float = 20.0) -> int:
    """The pid of the stand-in server started by `parent`, once it has started."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-P", str(parent), "-f", "fake_llama_server"], capture_output=True,
                               text=True).stdout.split()
        if found:
            return int(found[0])
        time.sleep(0.1)
    raise AssertionError("the server was not started")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_a_batch_within_seconds_saying_how_to_resume(tmp_path, sig):
    run = tmp_path / "run"
    proc = start_cli(tmp_path, "batch", str(SAMPLES[0]), "--run", str(run), "--rubric", str(RUBRIC), delay=30)
    child = server_child(proc.pid)
    time.sleep(2.0)  # the smoke request is answered late too: let a criterion call be in flight
    sent = time.monotonic()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 10, "stopped within seconds, not after the call in flight"
    assert proc.returncode == 130, stderr
    assert "interrupted: every finished call is kept" in stderr and "run the same command to resume" in stderr
    assert "Traceback" not in stderr
    assert wait_gone(child, 5)


def test_a_killed_grader_leaves_no_server_behind(tmp_path):
    proc = start_cli(tmp_path, "grade", str(SAMPLES[0]), "--rubric", str(RUBRIC), "--out", str(tmp_path), delay=30)
    child = server_child(proc.pid)
    proc.kill()  # SIGKILL: no handler, no atexit
    proc.communicate(timeout=10)
    assert wait_gone(child, 5), "the server outlived grader"
