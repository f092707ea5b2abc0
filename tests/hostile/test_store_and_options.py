"""Damaged run stores (for writers and readers) and bad command-line options, and the size of all
the hostile-input tables together.

Every case asserts: a non-zero exit or a recorded failure, no traceback, a message that names the
file or option and the fix, and the valid input beside it still processed. Grading uses a
one-criterion rubric against the loopback fake server (`grader.testing`), one server per module
(`conftest.py`); the tables are counted in `test_store_and_options.py`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from ..hostile_kit import Kit, assert_refused, case, invoke
from .test_evaluation_inputs import CALIBRATIONS, DEMOGRAPHICS, GOLD, PRICES
from .test_grading_inputs import DATASETS, RUBRICS, TRANSCRIPTS


# -- run stores: damaged run.sqlite for writers and readers -----------------------------------------------
def _damage(store: Path, how: str, graded: bytes) -> None:
    store.parent.mkdir(parents=True, exist_ok=True)
    if how == "folder":
        store.mkdir()
        return
    if how == "foreign":
        with sqlite3.connect(store) as db:
            db.execute("CREATE TABLE notes (text TEXT)")
        return
    content = {"zero-bytes": b"", "garbage": os.urandom(8192), "truncated": graded[: len(graded) // 2],
               "header-only": graded[:100]}.get(how)
    if content is not None:
        store.write_bytes(content)
        return
    store.write_bytes(graded)
    with sqlite3.connect(store) as db:  # a readable database whose rows are not
        column, table = ("grade", "calls") if how == "bad-grade" else ("body", "manifest")
        db.execute(f"UPDATE {table} SET {column} = '{{not json'")


DAMAGES = ["zero-bytes", "garbage", "truncated", "header-only", "folder", "foreign", "bad-grade", "bad-manifest"]
COMMANDS = {
    "export": lambda kit, run, out: ("export", run, "--to", out / "x.csv"),
    "eval": lambda kit, run, out: ("eval", "--run", run, "--gold", kit.write("gold.csv", "transcript_id,criterion_id,"
                                   "score\nt1,clarity,3\n"), "--n-boot", "5", "--no-html", "--out", out),
    "batch": lambda kit, run, out: ("batch", kit.good, "--run", run, *kit.grading),
}
UNREADABLE = "cannot be read or written"
EXPECTED = {"zero-bytes": "empty file", "garbage": UNREADABLE, "truncated": UNREADABLE, "header-only": UNREADABLE,
            "folder": "run.sqlite", "foreign": "no batch has graded", "bad-grade": "stored grade is not readable",
            "bad-manifest": "manifest is not readable"}
# a batch may start its run in an empty database (it is its first writer), and it never reads other transcripts' rows
WRITER_PASSES = {"foreign", "zero-bytes", "bad-grade"}


@pytest.fixture(scope="module")
def graded_bytes(run) -> bytes:
    with sqlite3.connect(run / "run.sqlite") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return (run / "run.sqlite").read_bytes()


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("damage", DAMAGES)
def test_damaged_run_store_is_a_clear_error(kit, graded_bytes, tmp_path, damage, command):
    run = tmp_path / "run"
    _damage(run / "run.sqlite", damage, graded_bytes)
    result = invoke(*COMMANDS[command](kit, run, tmp_path))
    if command == "batch" and damage in WRITER_PASSES:
        assert result.exit_code == 0, result.output
        return
    assert_refused(result, "run.sqlite" if damage != "folder" else str(run), EXPECTED[damage], fix="Fix:")


# -- command-line options ------------------------------------------------------------------------------
Build = Callable[[Kit, Path, Path], tuple]  # (kit, tmp folder, graded run) -> the command line


def grade_with(*extra: str) -> Build:
    return lambda kit, tmp, run: ("grade", kit.good, "--out", tmp / "out", *kit.grading, *extra)


def batch_with(*extra: str) -> Build:
    return lambda kit, tmp, run: ("batch", kit.good, "--run", tmp / "run", *kit.grading, *extra)


def config_with(text: str) -> Build:
    """`grade` with a config file (grader.toml's form) holding `text`."""
    return lambda kit, tmp, run: ("grade", kit.good, "--out", tmp / "out", *kit.grading, "--config",
                                  kit.write("grader.toml", text))


def eval_with(*extra: str, command: str = "eval") -> Build:
    def build(kit: Kit, tmp: Path, run: Path) -> tuple:
        gold = kit.write("eval-gold.csv", "transcript_id,criterion_id,score\nt1,clarity,3\nt2,clarity,4\n")
        out = ("--out", tmp / "c.json") if command == "calibrate" else ("--out", tmp / "eval", "--no-html")
        return (command, "--run", run, "--gold", gold, "--n-boot", "5", *out, *extra)

    return build


AT_LEAST, AT_MOST = "should be greater than or equal to", "should be less than or equal to"  # typer's range check
OPTIONS: list[tuple[str, Build, str, str]] = [
    ("temperature-nan", grade_with("--temperature", "nan"), "--temperature", AT_MOST),
    ("temperature-inf", grade_with("--temperature", "inf"), "--temperature", AT_MOST),
    ("temperature-3", grade_with("--temperature", "3"), "--temperature", AT_MOST),
    ("reasks-9", grade_with("--reasks", "9"), "--reasks", AT_MOST),
    ("seed-negative", grade_with("--seed", "-1"), "--seed", AT_LEAST),
    ("seed-huge", grade_with("--seed", "99999999999999"), "--seed", AT_MOST),
    ("reply-bogus", grade_with("--reply", "bogus"), "--reply", "'full'"),
    ("format-bogus", grade_with("--format", "docx"), "--format", "use one of"),
    ("rubric-missing", grade_with("--rubric", "no-such-rubric"), "no-such-rubric", "built-in rubrics"),
    ("prompt-missing", grade_with("--prompt", "no-such-prompt"), "no-such-prompt", "built-in prompts"),
    ("model-not-served", grade_with("--model", "gpt-x"), "gpt-x", "--model"),
    ("base-url-unreachable", grade_with("--base-url", "http://127.0.0.1:9/v1"), "127.0.0.1", "--base-url"),
    ("base-url-not-a-url", grade_with("--base-url", "http://[::1/v1"), "--base-url", "http://localhost:8000/v1"),
    ("base-url-no-scheme", grade_with("--base-url", "localhost:8000"), "--base-url", "http://localhost:8000/v1"),
    ("out-is-a-file", lambda k, t, r: ("grade", k.good, "--out", k.good, *k.grading), "--out", "is a file"),
    ("format-bogus-batch", batch_with("--format", "docx"), "--format", "use one of"),
    ("rpm-zero", batch_with("--rpm", "0"), "--rpm", "above 0"),
    ("rpm-nan", batch_with("--rpm", "nan"), "--rpm", "above 0"),
    ("tpm-negative", batch_with("--tpm", "-5"), "--tpm", "above 0"),
    ("poll-inf", batch_with("--poll-seconds", "inf"), "--poll-seconds", "above 0"),
    ("concurrency-0", batch_with("--concurrency", "0"), "--concurrency", AT_LEAST),
    ("concurrency-huge", batch_with("--concurrency", "100000"), "--concurrency", AT_MOST),
    ("limit-0", batch_with("--limit", "0"), "--limit", AT_LEAST),
    ("run-is-a-file", lambda k, t, r: ("batch", k.good, "--run", k.good, *k.grading), "--run", "is a file"),
    ("export-format", lambda k, t, r: ("export", r, "--to", t / "x.txt"), "x.txt", ".csv or .parquet"),
    ("scale-reversed", eval_with("--scale", "5,1"), "--scale", "lowest and then the highest"),
    ("scale-inf", eval_with("--scale", "1,inf"), "--scale", "lowest and then the highest"),
    ("scale-one-number", eval_with("--scale", "5"), "--scale", "lowest and then the highest"),
    ("group-pattern", eval_with("--group-pattern", "("), "--group-pattern", "e.g."),
    ("cut-points-letters", eval_with("--cut-points", "a,b,c,d"), "--cut-points", "4 ascending"),
    ("cut-points-descending", eval_with("--cut-points", "4,3,2,1"), "--cut-points", "4 ascending"),
    ("cut-points-nan", eval_with("--cut-points", "1,2,3,nan"), "--cut-points", "4 ascending"),
    ("cut-points-three", eval_with("--cut-points", "1,2,3"), "--cut-points", "4 ascending"),
    ("binning-bogus", eval_with("--binning", "bogus"), "--binning", "use one of"),
    ("interval-bogus", eval_with("--interval", "bogus"), "--interval", "bca or percentile"),
    ("n-boot-zero", eval_with("--n-boot", "0"), "--n-boot", AT_LEAST),
    ("calibrate-input", eval_with("--input", "bogus", command="calibrate"), "--input", "stated or expected"),
    ("review-port", lambda k, t, r: ("review", r, "--port", "0"), "--port", AT_LEAST),
    ("audit-boot", lambda k, t, r: ("audit", r, "--demographics", k.good, "--boot", "5"), "--boot", AT_LEAST),
    ("audit-n-boot", lambda k, t, r: ("audit", r, "--demographics", k.good, "--n-boot", "5"), "--n-boot", AT_LEAST),
    ("config-missing", grade_with("--config", "no-such.toml"), "no-such.toml", "leave it out"),
    ("config-bad-value", config_with("temperature = 9\n"), "grader.toml", "temperature: Input should be"),
    ("config-unknown-key", config_with("modle = 'x'\n"), "grader.toml", "modle: Extra inputs"),
    ("config-holds-a-key", config_with("api_key = 'sk-live-123'\n"), "grader.toml", "OPENAI_API_KEY"),
    ("config-not-toml", config_with("seed = \n"), "grader.toml", "not a readable config file"),
]


@pytest.mark.parametrize(("build", "option", "fix"), case(OPTIONS))
def test_bad_option_is_refused_naming_it_and_the_fix(kit, run, tmp_path, build, option, fix):
    posts = kit.server.posts
    result = invoke(*build(kit, tmp_path, run))
    assert_refused(result, option, fix=fix)
    assert result.exit_code == 2 and kit.server.posts == posts  # refused before any call


def test_the_table_is_large_enough():
    cases = (len(RUBRICS) + 1 + len(TRANSCRIPTS) + 2 + len(DATASETS) + 5 + len(GOLD) + 1 + len(PRICES)
             + len(CALIBRATIONS) + len(DEMOGRAPHICS) + len(DAMAGES) * len(COMMANDS) + len(OPTIONS))
    assert cases >= 120, cases
