"""Links and special files in batch inputs (issue 21, defect 5).

A folder's link to a file outside it is not read unless `--follow-links`; dangling and looping links,
FIFOs and other non-files are recorded as failed with their reason, never skipped silently and never
opened (opening a FIFO blocks). Nothing of a file outside the folder reaches the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import Result

from grader import testing as fake_openai
from grader.runs.store import RunStore

from ..hostile_kit import GOOD_TRANSCRIPT, Kit, assert_refused, invoke

SECRET = "ZEBRA-OUTSIDE-7731"  # only in the file outside the folder
OUTSIDE = GOOD_TRANSCRIPT.replace("churn model", f"churn model {SECRET}")
HANG_SECONDS = 60

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs symlinks and FIFOs (POSIX)")


@dataclass(frozen=True)
class Batch:
    result: Result
    dead: dict[str, str]  # where -> reason, of every transcript recorded as failed
    graded: set[str]  # ids graded
    sent: str  # every request body the server received


def _make_folder(root: Path) -> Path:
    """good.txt, a link out of the folder, a dangling link, a link loop and a FIFO."""
    folder, elsewhere = root / "inputs", root / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "good.txt").write_text(GOOD_TRANSCRIPT, encoding="utf-8")
    (elsewhere / "secret.txt").write_text(OUTSIDE, encoding="utf-8")
    (folder / "outside.txt").symlink_to(elsewhere / "secret.txt")
    (folder / "dangling.txt").symlink_to(root / "gone.txt")
    (folder / "loop-a.txt").symlink_to(folder / "loop-b.txt")
    (folder / "loop-b.txt").symlink_to(folder / "loop-a.txt")
    os.mkfifo(folder / "pipe.txt")
    return folder


@contextlib.contextmanager
def _requests() -> Iterator[list[str]]:
    """Every request body the fake server gets while inside (it hashes each one with `request_id`)."""
    bodies: list[str] = []
    real = fake_openai.request_id

    def seen(body: dict[str, Any]) -> str:
        bodies.append(json.dumps(body))
        return real(body)

    with mock.patch.object(fake_openai, "request_id", seen):
        yield bodies


def _invoke_within(fifos: list[Path], *args: object) -> Result:
    """The command's result, or a failed test if it has not finished in HANG_SECONDS (a FIFO was opened)."""
    box: dict[str, Result] = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", invoke(*args)), daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    if thread.is_alive():
        for fifo in fifos:  # let a reader blocked on a FIFO go, so the test run itself does not hang
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail(f"the command did not finish in {HANG_SECONDS} s (it opened a FIFO?)")
    return box["result"]


def _batch(kit: Kit, run: Path, fifos: list[Path], *args: object) -> Batch:
    with _requests() as bodies:
        result = _invoke_within(fifos, "batch", *args, "--run", run, *kit.grading)
    store = RunStore(run / "run.sqlite")
    try:
        dead = {where: reason for kind, where, reason in store.dead_letters() if kind == "transcript"}
        graded = {tid for tid in ("good", "outside", "secret") if store.transcript_status(tid) == "done"}
    finally:
        store.close()
    return Batch(result, dead, graded, "\n".join(bodies))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return _make_folder(tmp_path_factory.mktemp("links"))


@pytest.fixture(scope="module")
def batch(kit, folder) -> Batch:
    """`grader batch FOLDER` once, shared by the tests of each entry."""
    return _batch(kit, folder.parent / "run", [folder / "pipe.txt"], folder)


def _reason(batch: Batch, entry: Path) -> str:
    assert str(entry) in batch.dead, f"{entry} not recorded as failed: {batch.dead} ({batch.result.output})"
    return " ".join(batch.dead[str(entry)].split())


def test_the_good_file_is_graded_and_the_batch_reports_the_failures(batch):
    assert "good" in batch.graded, batch.result.output
    assert batch.result.exit_code == 1, batch.result.output


def test_a_link_out_of_the_folder_is_not_read_and_says_how_to_follow_it(batch, folder):
    reason = _reason(batch, folder / "outside.txt")
    assert str(folder.parent / "elsewhere" / "secret.txt") in reason and "outside" in reason
    assert f"pass --follow-links to grade files that links point to outside {folder}" in reason
    assert "outside" not in batch.graded and SECRET not in batch.sent and batch.sent


def test_a_dangling_link_is_recorded_as_failed(batch, folder):
    reason = _reason(batch, folder / "dangling.txt")
    assert "dangling" in reason and str(folder.parent / "gone.txt") in reason


@pytest.mark.parametrize("name", ["loop-a.txt", "loop-b.txt"])
def test_a_link_loop_is_recorded_as_failed(batch, folder, name):
    assert "loop" in _reason(batch, folder / name)


def test_a_fifo_is_recorded_as_failed_and_not_opened(batch, folder):
    assert "FIFO" in _reason(batch, folder / "pipe.txt") and "not opened" in _reason(batch, folder / "pipe.txt")


def test_with_follow_links_the_outside_file_is_graded(kit, folder, tmp_path):
    followed = _batch(kit, tmp_path / "run", [folder / "pipe.txt"], folder, "--follow-links")
    assert {"good", "outside"} <= followed.graded, followed.result.output
    assert SECRET in followed.sent
    assert str(folder / "outside.txt") not in followed.dead
    assert {str(folder / n) for n in ("dangling.txt", "loop-a.txt", "loop-b.txt", "pipe.txt")} <= set(followed.dead)


def test_a_glob_link_out_of_its_base_folder_is_not_read(kit, folder, tmp_path):
    globbed = _batch(kit, tmp_path / "run", [folder / "pipe.txt"], str(folder / "*.txt"))
    assert "good" in globbed.graded and SECRET not in globbed.sent
    assert f"outside {folder}" in _reason(globbed, folder / "outside.txt")
    assert "FIFO" in _reason(globbed, folder / "pipe.txt")


def test_a_link_named_on_the_command_line_is_read(kit, folder, tmp_path):
    named = _batch(kit, tmp_path / "run", [], folder / "outside.txt")
    assert named.graded == {"outside"} and SECRET in named.sent, named.result.output


def test_a_fifo_named_on_the_command_line_is_recorded_as_failed(kit, tmp_path):
    os.mkfifo(tmp_path / "named.txt")
    named = _batch(kit, tmp_path / "run", [tmp_path / "named.txt"], kit.good, tmp_path / "named.txt")
    assert "good" in named.graded and "FIFO" in _reason(named, tmp_path / "named.txt")


def test_grade_refuses_a_fifo_without_opening_it(kit, tmp_path):
    os.mkfifo(tmp_path / "named.txt")
    result = _invoke_within([tmp_path / "named.txt"], "grade", tmp_path / "named.txt", "--out", tmp_path / "out",
                            *kit.grading)
    assert_refused(result, str(tmp_path / "named.txt"), "FIFO", fix="Fix:")
