"""A run folder nobody may write to: readers (export, eval, review) open it read-only; a batch is refused clearly.

As root (CI) file modes do not stop a write, so the commands run as `nobody` (setpriv); otherwise as
the user running the tests, on a folder made read-only for them.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import grader
from grader.runs.folder import RunFolder
from grader.runs.store import ReadOnlyRunError, RunStore
from grader.testing import MODEL, FakeOpenAI

from .conftest import ROOT, TRANSCRIPTS

SETPRIV = shutil.which("setpriv")
pytestmark = pytest.mark.skipif(os.geteuid() == 0 and SETPRIV is None,
                                reason="as root, a read-only folder needs setpriv (util-linux) to drop privileges")


def unprivileged() -> list[str]:
    return [SETPRIV, "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"] if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.close()


@pytest.fixture
def frozen(server: FakeOpenAI) -> Iterator[Path]:
    """A graded run in a folder everyone may read and nobody may write (a scratch folder beside it is writable)."""
    base = Path(tempfile.mkdtemp(prefix="grader-ro-"))
    os.chmod(base, 0o755)
    run = base / "run"
    grader.batch([str(TRANSCRIPTS / "short-screen.txt")], run, rubric="mit-interview", base_url=server.base_url,
                 model=MODEL)
    for path in [run, *run.rglob("*")]:
        mode = 0o555 if path.is_dir() else 0o444
        os.chmod(path, mode)
    scratch = base / "out"
    scratch.mkdir()
    os.chmod(scratch, 0o777)
    yield run
    for path in [run, *run.rglob("*")]:
        os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(base)


def grader_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(cwd)}
    return subprocess.run([*unprivileged(), sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_export_reads_a_read_only_run(frozen: Path):
    out = frozen.parent / "out"
    done = grader_cli("export", str(frozen), "--to", str(out / "rows.csv"), "--sheets", str(out / "sheets"),
                      "--html", str(out / "html"), cwd=out)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "damaged" not in done.stderr
    assert len((out / "rows.csv").read_text(encoding="utf-8").splitlines()) == 6  # header + 5 criteria
    assert (out / "html" / "index.html").is_file() and list((out / "sheets").glob("*.json"))
    assert not (frozen / "run.sqlite-shm").exists()  # nothing was written into the folder


def test_a_batch_into_a_read_only_run_is_refused_with_a_fix(frozen: Path, server: FakeOpenAI):
    out = frozen.parent / "out"
    done = grader_cli("batch", str(TRANSCRIPTS / "short-screen.txt"), "--run", str(frozen), "--rubric",
                      "mit-interview", "--base-url", server.base_url, "--model", MODEL, cwd=out)
    message = " ".join(done.stderr.split())
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot write to the run folder" in message and "Fix:" in message and "writable" in message


def test_doctor_and_eval_read_a_read_only_run(frozen: Path):
    out = frozen.parent / "out"
    gold = out / "gold.csv"
    criteria = ("overall", "recommend-hiring", "structured-answers", "engaged", "friendly")
    gold.write_text("transcript_id,criterion_id,rater_id,score\n"
                    + "".join(f"short-screen,{c},r{r},{3 + r}\n" for c in criteria for r in (1, 2)), encoding="utf-8")
    done = grader_cli("doctor", "--no-embedded", "--run", str(frozen), cwd=out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "free (no batch is writing)" in done.stdout
    evaluated = grader_cli("eval", "--run", str(frozen), "--gold", str(gold), "--out", str(out / "eval"),
                           "--n-boot", "20", "--no-html", cwd=out)
    assert evaluated.returncode == 0, evaluated.stderr
    assert (out / "eval" / "figures.csv").is_file() and "Traceback" not in evaluated.stderr


def test_a_decision_on_a_read_only_store_is_refused_not_lost(tmp_path: Path, server: FakeOpenAI):
    """The store opened read-only refuses every write with the folder and the fix (the review page says so)."""
    run = tmp_path / "run"
    grader.batch([str(TRANSCRIPTS / "short-screen.txt")], run, rubric="mit-interview", base_url=server.base_url,
                 model=MODEL)
    store = RunStore(RunFolder(run).db, read_only=True)
    try:
        with pytest.raises(ReadOnlyRunError, match="read-only") as caught:
            store.set_meta({"x": 1})
        assert "chmod" in str(caught.value)
        assert store.sheet_ids() == ["short-screen"]
    finally:
        store.close()
