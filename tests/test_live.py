"""Live: the real CLI starts the embedded llama.cpp server and grades a sample end to end.

Marked `live` (a few minutes on 2 cores). Run alone with `pytest -m live`; `pytest` runs it too.
"""

import json
import subprocess
import sys
import time

import pytest

from grader.ingest.formats import load_transcript

from .conftest import RUBRIC, TRANSCRIPTS

pytestmark = pytest.mark.live


def test_grade_sample_on_embedded_model_with_a_bad_file_in_the_batch(tmp_path):
    broken = tmp_path / "broken.srt"
    broken.write_text("1\n00:00:01,000 --> 00:00:02,000\nhello with no speaker\n")
    sample = TRANSCRIPTS / "short-screen.txt"
    out = tmp_path / "out"
    with subprocess.Popen([sys.executable, "-m", "grader", "grade", str(broken), str(sample), "--rubric", str(RUBRIC),
                           "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as running:
        stdout, stderr = running.communicate(timeout=1500)
    proc = subprocess.CompletedProcess(running.args, running.returncode, stdout, stderr)
    assert proc.returncode == 1, proc.stderr  # one bad file: reported, the other graded
    assert "broken.srt (subtitle 1): no speaker is named" in proc.stderr and "Traceback" not in proc.stderr
    sheet = json.loads((out / "short-screen.json").read_text())
    assert (out / "short-screen.md").read_text().startswith("# Score sheet: short-screen")
    assert len(sheet["grades"]) == 15 and sheet["run"]["backend"]["embedded"] is True
    assert sheet["run"]["usage"]["prompt_tokens"] > 0
    units = load_transcript(sample).units()
    for grade in sheet["grades"]:
        assert grade["level"] is None or grade["status"] == "scored"
        for ev in grade["evidence"]:  # every quote is a sentence of the candidate, exact by construction
            turn, unit = units[ev["unit"]]
            assert turn.role.value == "candidate" and ev["text"] == unit.text
    # the server was stopped: no llama.cpp server left behind by this run (its command line names its parent; a
    # server of another grader on the machine is not this run's)
    left = subprocess.run(["pgrep", "-f", f'grader[.]llm[.]serve .*"parent": {running.pid}[,}}]'],
                          capture_output=True, text=True).stdout.split()
    assert not left


DRIVER = """
import time
from grader.llm.embedded import EmbeddedServer
server = EmbeddedServer().start()
print(server.pid, flush=True)
time.sleep(600)
"""


def test_the_real_server_dies_with_a_killed_grader():
    """SIGKILL leaves no handler and no atexit: the server's own watch on its parent must end it."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    proc.kill()
    proc.wait(timeout=10)
    for _ in range(100):
        if subprocess.run(["ps", "-o", "stat=", "-p", str(child)], capture_output=True, text=True).stdout.strip() \
                in ("", "Z"):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the embedded server outlived grader")
