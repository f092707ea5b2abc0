"""A full disk while exporting (issue 21, defect 6): a clear error, no 0-byte or half file, an earlier file intact.

The disk fills at the system call: `os.write` is replaced by one that writes what still fits of the
files under the test's folder and then fails with ENOSPC, as a full disk does (other files, such as
the run's database, are written as usual). Every writer of `grader export --to/--sheets/--html` and
`grader gold export` goes through `grader.atomic.replacing`, so each is tried here.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from grader.atomic import replacing, write_text
from grader.cli import app
from grader.errors import GraderError
from grader.ingest.rubric import load_rubric
from grader.review.gold import export_gold
from grader.review.static_export import write_html_sheets
from grader.runs.export import write_sheets, write_table
from grader.runs.store import RunStore
from grader.spreadsheet import escape_frame, write_csv

from .review_fixtures import RUBRIC, copy_run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")

NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"
OLD = "the earlier export, kept\n"


class FullDisk:
    """`os.write` to files under `folder` writes `room` bytes in all, then fails with ENOSPC."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path, room: int) -> None:
        self.folder, self.room, self.refused = str(folder.resolve()), room, 0
        real = os.write

        def write(fd: int, data) -> int:
            try:
                name = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                name = ""
            if not name.startswith(self.folder):
                return real(fd, data)
            if self.room <= 0:
                self.refused += 1
                raise OSError(errno.ENOSPC, NO_SPACE)
            written = real(fd, bytes(memoryview(data)[: self.room]))  # part of it: what still fits
            self.room -= written
            return written

        monkeypatch.setattr(os, "write", write)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def assert_clear(exc: GraderError, target: Path, option: str | None) -> None:
    message = str(exc)
    assert str(target) in message and NO_SPACE in message, message
    assert "Fix: free space on that disk" in message, message
    if option:
        assert f"another path with {option}" in message, message


# the helper itself ---------------------------------------------------------------------------------------------


def test_a_full_disk_leaves_the_earlier_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text(OLD)
    target.chmod(0o640)
    disk = FullDisk(monkeypatch, tmp_path, room=10)
    with pytest.raises(GraderError) as caught, replacing(target, option="--to") as out:
        out.write(b"x" * 100_000)
    assert disk.refused and disk.room == 0  # 10 bytes went to the temporary file before the disk was full
    assert_clear(caught.value, target, "--to")
    assert "the earlier file is left as it was" in str(caught.value)
    assert files(tmp_path) == {"out.csv": OLD.encode()}  # no temporary file left beside it
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_full_disk_with_no_earlier_file_leaves_nothing(tmp_path, monkeypatch):
    FullDisk(monkeypatch, tmp_path, room=0)
    with pytest.raises(GraderError) as caught:
        write_text(tmp_path / "new.md", "# a sheet\n" * 1000)
    assert_clear(caught.value, tmp_path / "new.md", None)
    assert "no file was left" in str(caught.value) and files(tmp_path) == {}


def test_a_disk_that_says_full_only_at_fsync_is_caught_too(tmp_path, monkeypatch):
    target = tmp_path / "late.csv"
    target.write_text(OLD)

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, NO_SPACE)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(GraderError) as caught:
        write_text(target, "new content\n")
    assert_clear(caught.value, target, None)
    assert files(tmp_path) == {"late.csv": OLD.encode()}


def test_a_whole_write_replaces_the_file_and_keeps_its_mode(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text(OLD)
    target.chmod(0o600)
    write_text(target, "new\n")
    assert files(tmp_path) == {"out.txt": b"new\n"} and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_another_error_in_the_writer_removes_the_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text(OLD)
    with pytest.raises(ValueError, match="not a frame"), replacing(target) as out:
        out.write(b"half")
        raise ValueError("not a frame")
    assert files(tmp_path) == {"out.csv": OLD.encode()}


def test_csv_bytes_are_the_same_as_pandas_writes_them(tmp_path):
    frame = pd.DataFrame({"id": ["a", "=1+1", "é, \"q\"\nline"], "level": pd.array([1, None, 3], dtype="Int64")})
    write_csv(frame, tmp_path / "ours.csv")
    escape_frame(frame).to_csv(tmp_path / "pandas.csv", index=False)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


# every writer of grader export and grader gold export ----------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    return copy_run(tmp_path_factory.mktemp("atomic") / "run")


def _table(run: Path, target: Path) -> None:
    store = RunStore(run / "run.sqlite")
    try:
        from grader.runs.export import run_dataframe

        write_table(run_dataframe(store), target)
    finally:
        store.close()


def _sheets(run: Path, folder: Path) -> None:
    store = RunStore(run / "run.sqlite")
    try:
        write_sheets(store, load_rubric(RUBRIC), folder)
    finally:
        store.close()


WRITERS = {  # name -> (write into `out`, the file it writes (or the first), option named in the fix)
    "csv": (lambda run, out: _table(run, out / "rows.csv"), "rows.csv", "--to"),
    "parquet": (lambda run, out: _table(run, out / "rows.parquet"), "rows.parquet", "--to"),
    "sheets": (lambda run, out: _sheets(run, out), "mixed-candidate.json", "--sheets"),
    "html": (lambda run, out: write_html_sheets(run, out), "mixed-candidate.html", "--html"),
    "gold": (lambda run, out: export_gold(run, out / "gold.csv"), "gold.csv", "--out"),
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_export_writer_on_a_full_disk(graded, tmp_path, monkeypatch, name):
    write, first, option = WRITERS[name]
    out = tmp_path / "out"
    out.mkdir()
    (out / first).write_text(OLD)
    FullDisk(monkeypatch, out, room=20)  # the disk fills 20 bytes into the first file
    with pytest.raises(GraderError) as caught:
        write(graded, out)
    assert_clear(caught.value, out / first, option)
    assert files(out) == {first: OLD.encode()}  # the earlier file as it was, no 0-byte, half or temporary file
    monkeypatch.undo()
    write(graded, out)  # with room again, the same call writes it whole
    assert (out / first).read_bytes() != OLD.encode() and (out / first).stat().st_size > 20
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_grader_export_to_on_a_full_disk_is_one_paragraph_with_the_fix(graded, tmp_path, monkeypatch):
    target = tmp_path / "rows.csv"
    target.write_text(OLD)
    FullDisk(monkeypatch, tmp_path, room=4096)  # a few rows fit, then the disk is full
    result = CliRunner().invoke(app, ["export", str(graded), "--to", str(target)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)  # no other exception
    message = " ".join(result.output.split())
    assert message.startswith(f"error: {target}: cannot write this file: {NO_SPACE}"), message
    assert "the earlier file is left as it was" in message and "free space on that disk" in message
    assert "another path with --to" in message
    assert files(tmp_path) == {"rows.csv": OLD.encode()}


def _mount_small_disk(folder: Path) -> bool:
    import subprocess

    if os.geteuid() != 0:
        return False
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def test_a_real_full_disk_when_a_small_one_can_be_mounted(graded, tmp_path):
    """The same through the kernel: a 128 KiB tmpfs filled up (root only; skipped where mount is not allowed)."""
    import subprocess

    disk = tmp_path / "disk"
    if not _mount_small_disk(disk):
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights)")
    try:
        target = disk / "rows.csv"
        target.write_text(OLD)
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError) as full:
                while True:
                    os.write(filler, b"\0" * 4096)
            assert full.value.errno == errno.ENOSPC
        finally:
            os.close(filler)
        result = CliRunner().invoke(app, ["export", str(graded), "--to", str(target)])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert NO_SPACE in result.output and "--to" in result.output
        assert target.read_text() == OLD and sorted(p.name for p in disk.iterdir()) == ["filler", "rows.csv"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)
