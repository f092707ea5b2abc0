"""Batch runs against a deterministic fake server on loopback: resume, dead letters, faults, SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.grading.grades import GradeStatus, Settings
from grader.grading.prompts import load_prompt
from grader.ingest.chunking import EstimatedTokens
from grader.ingest.inputs import iter_sources
from grader.ingest.rubric import load_rubric
from grader.llm.backend import Backend, BackendInfo, make_openai_client
from grader.runs.batch import BatchJob, RunOptions
from grader.runs.cost import DEFAULT_PRICES
from grader.runs.export import export_run, run_dataframe
from grader.runs.store import RunStore
from grader.testing import MODEL, FakeOpenAI

from .conftest import ROOT, RUBRIC, TRANSCRIPTS

SETTINGS = Settings(model=MODEL, backoff_max_seconds=0.01, transient_attempts=4, transient_max_seconds=10)


@pytest.fixture
def inputs(tmp_path) -> Path:
    """Six transcripts (the samples and variants of them) and one broken file."""
    folder = tmp_path / "in"
    folder.mkdir()
    for sample in ["strong-candidate.vtt", "mixed-candidate.srt", "weak-candidate.json", "short-screen.txt"]:
        (folder / sample).write_bytes((TRANSCRIPTS / sample).read_bytes())
    text = (TRANSCRIPTS / "short-screen.txt").read_text()
    for i in (1, 2):
        (folder / f"screen-{i}.txt").write_text(text.replace("dead letter queue", f"dead letter queue {i}"))
    (folder / "broken.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nno speaker here\n")
    return folder


def run_batch(server: FakeOpenAI, folder: Path, store_path: Path, sheets_dir: Path | None = None, **options) -> tuple:
    backend = Backend(client=make_openai_client(server.base_url, None, 0.5),
                      info=BackendInfo(model=MODEL, server="http://127.0.0.1", embedded=False, context_tokens=8192))
    store = RunStore(store_path)
    job = BatchJob(rubric=load_rubric(RUBRIC), backend=backend, prompt=load_prompt(), settings=SETTINGS,
                   counter=EstimatedTokens(), store=store, prices=DEFAULT_PRICES,
                   options=RunOptions(**{"concurrency": 3, **options}), sheets_dir=sheets_dir)
    stats = asyncio.run(job.run(iter_sources([str(folder)])))
    return stats, store


def grades_by_call(store: RunStore) -> dict[tuple[str, str], dict]:
    frame = run_dataframe(store)
    return {(r.transcript_id, r.criterion_id): r._asdict() for r in frame.itertuples(index=False)}


def requests(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_batch_grades_everything_and_keeps_dead_letters(tmp_path, inputs):
    server = FakeOpenAI(log=tmp_path / "requests.log").start()
    stats, store = run_batch(server, inputs, tmp_path / "run" / "run.sqlite", sheets_dir=tmp_path / "run" / "sheets")
    assert (stats.transcripts, stats.transcripts_failed, stats.calls, stats.calls_failed) == (6, 1, 90, 0)
    assert [(k, Path(w).name) for k, w, _ in store.dead_letters()] == [("transcript", "broken.srt")]
    assert "no speaker is named" in store.dead_letters()[0][2]
    assert len(list((tmp_path / "run" / "sheets").glob("*.md"))) == 6
    assert stats.usage.cached_prompt_tokens > 0 and 0 < stats.cache_hit_rate < 1
    stats.cache_reported = False  # the embedded llama.cpp server: unknown, never a made-up 0%
    assert stats.cache_hit_rate is None
    assert export_run(store, tmp_path / "grades.parquet") == 90 and export_run(store, tmp_path / "grades.csv") == 90
    assert len(requests(tmp_path / "requests.log")) == 90


def test_rerun_resumes_and_never_repeats_a_finished_call(tmp_path, inputs):
    log = tmp_path / "requests.log"
    server = FakeOpenAI(log=log).start()
    run_batch(server, inputs, tmp_path / "run.sqlite")
    first = grades_by_call(RunStore(tmp_path / "run.sqlite"))
    stats, store = run_batch(server, inputs, tmp_path / "run.sqlite")
    assert (stats.calls, stats.transcripts_skipped, stats.transcripts_failed) == (0, 6, 1) and len(requests(log)) == 90
    assert grades_by_call(store) == first


def test_a_transcript_changed_since_grading_is_graded_again_and_keeps_only_its_new_rows(tmp_path, inputs):
    log = tmp_path / "requests.log"
    server = FakeOpenAI(log=log).start()
    run_batch(server, inputs, tmp_path / "run.sqlite")
    screen = inputs / "screen-1.txt"
    screen.write_text(screen.read_text().replace("dead letter queue 1", "quarantine table"))
    stats, store = run_batch(server, inputs, tmp_path / "run.sqlite")
    assert (stats.calls, stats.transcripts, stats.transcripts_skipped) == (15, 1, 5) and len(requests(log)) == 105
    frame = run_dataframe(store)
    assert len(frame) == 90 and not frame.duplicated(["transcript_id", "criterion_id"]).any()
    sheet = next(s for s in store.sheets() if '"transcript_id":"screen-1"' in s)
    assert "quarantine table" in sheet and "dead letter queue 1" not in sheet
    (inputs / "screen-2.txt").write_text("not a transcript any more")  # unreadable now: its finished sheet stands
    stats, store = run_batch(server, inputs, tmp_path / "run.sqlite")
    assert (stats.calls, stats.transcripts_skipped) == (0, 6) and len(run_dataframe(store)) == 90


def test_thirty_percent_faults_finish_with_nothing_failed_scored(tmp_path, inputs):
    run_batch(FakeOpenAI().start(), inputs, tmp_path / "clean.sqlite")
    expected = grades_by_call(RunStore(tmp_path / "clean.sqlite"))
    faulty = FakeOpenAI(faults=0.3, timeout_seconds=1.0, log=tmp_path / "faulty.log").start()
    stats, store = run_batch(faulty, inputs, tmp_path / "faulty.sqlite")
    got = grades_by_call(store)
    faults = [line for line in requests(tmp_path / "faulty.log") if not line.endswith("\tok")]
    assert len(faults) > 20  # the faults really happened
    assert set(got) == set(expected)  # every grade present, scored or recorded as failed
    for key, row in got.items():
        if row["status"] == GradeStatus.unscored:
            assert row["level"] is pd_na() and row["reason"]
        else:
            want = expected[key]
            assert (row["level"], row["evidence_units"]) == (want["level"], want["evidence_units"])
    # retrying the failed ones on a healthy server asks only for those and ends equal to the clean run
    unscored = sum(1 for row in got.values() if row["status"] == GradeStatus.unscored)
    log = tmp_path / "retry.log"
    retry, store = run_batch(FakeOpenAI(log=log).start(), inputs, tmp_path / "faulty.sqlite", retry_failed=True)
    assert len(requests(log)) == unscored and retry.calls == unscored
    assert {k: r["level"] for k, r in grades_by_call(store).items()} == {k: r["level"] for k, r in expected.items()}
    assert stats.calls == 90


def pd_na():
    import pandas as pd

    return pd.NA


def _stored_calls(db: Path) -> set[tuple[str, str]]:
    try:
        with sqlite3.connect(db) as conn:
            return set(conn.execute("SELECT transcript_id, criterion_id FROM calls"))
    except sqlite3.OperationalError:  # the batch has created the file but not yet its tables
        return set()


def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path, inputs):
    log = tmp_path / "requests.log"
    server = FakeOpenAI(delay=0.03, log=log).start()
    command = [sys.executable, "-m", "grader", "batch", str(inputs), "--base-url", server.base_url, "--model", MODEL,
               "--concurrency", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*command, "--run", str(tmp_path / "killed")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = tmp_path / "killed" / "run.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not db.exists() or len(_stored_calls(db)) < 30):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = _stored_calls(db)
    assert 30 <= len(finished) < 90, "the kill must land mid-run"
    before = len(requests(log))
    subprocess.run([*command, "--run", str(tmp_path / "killed")], env=env, cwd=ROOT, capture_output=True, timeout=120)
    whole_run = subprocess.run([*command, "--run", str(tmp_path / "whole")], env=env, cwd=ROOT, capture_output=True,
                               text=True, timeout=120)
    assert whole_run.returncode == 1  # the broken file is a dead letter: reported, the rest graded
    assert "failed transcript" in whole_run.stderr and "broken.srt" in whole_run.stderr
    assert "hit rate" in whole_run.stdout and "cost this run" in whole_run.stdout
    again = subprocess.run([*command, "--run", str(tmp_path / "whole")], env={**env, "COLUMNS": "200"}, cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "broken.srt" in again.stderr  # still failed, so still reported and exit 1
    assert "0 / 6 / 1" in again.stdout and "none graded this time" in again.stdout
    killed = grades_by_call(RunStore(db))
    whole = grades_by_call(RunStore(tmp_path / "whole" / "run.sqlite"))
    assert {k: r["level"] for k, r in killed.items()} == {k: r["level"] for k, r in whole.items()}
    assert len(killed) == 90
    resumed_requests = len(requests(log)) - before - 90  # minus the uninterrupted run's 90
    assert resumed_requests == 90 - len(finished)  # no finished call was asked again
