"""Batch inputs: a folder, a glob, or a dataset CSV (an id column and a transcript column).

Sources are yielded lazily and loaded only when graded, so memory stays flat in their number.
"""

from __future__ import annotations

import csv
import glob
import itertools
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.errors import TranscriptError
from grader.ingest.formats import FORMATS, load_transcript, transcript_from_text
from grader.ingest.transcript import Role, Transcript

TRANSCRIPT_SUFFIXES = {".txt", ".vtt", ".srt", ".json"}


@dataclass(frozen=True)
class TranscriptSource:
    """One transcript to grade: where it is, and how to load it."""

    id: str
    where: str
    load: Callable[[], Transcript]


MAX_ID_CHARS = 200


FOLLOW_LINKS_FIX = "pass --follow-links to grade files that links point to outside {base}"


def file_source(path: Path, fmt: str | None, roles: dict[str, Role]) -> TranscriptSource:
    """A file to read. A symlink named explicitly (on the command line) is the user's choice and is read
    wherever it points; a FIFO, socket or device is refused before it is opened (opening a FIFO blocks)."""

    def load() -> Transcript:
        check_file_kind(path)
        return load_transcript(path, fmt=fmt, roles=roles)

    return TranscriptSource(id=path.stem, where=str(path), load=load)


def failed_source(item: str, error: TranscriptError, *, source_id: str | None = None) -> TranscriptSource:
    """An input that names no transcript it can give (an empty folder, a CSV without its columns, a link
    out of its folder): it is recorded as failed, with its reason, and the other inputs are still graded."""

    def load() -> Transcript:
        raise error

    return TranscriptSource(id=item if source_id is None else source_id, where=item, load=load)


def check_file_kind(path: Path) -> None:
    """Refuse, without opening it, a FIFO, socket or device (opening a FIFO would block the batch).

    A folder, or a path that cannot be examined, is left to the reader, which reports it as unreadable.
    """
    problem = _kind_problem(path)
    if problem:
        raise problem


def _kind_problem(path: Path) -> TranscriptError | None:
    try:
        mode = os.stat(path).st_mode  # follows links: the kind of what would be read
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kinds = [(stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device")]
    kind = next((name for test, name in kinds if test(mode)), "not a file")
    return TranscriptError(f"is {kind}, not a regular file; it was not opened", path=path,
                           fix="give a transcript file (save a stream or device to a file first)")


def _entry_source(entry: Path, base: Path, fmt: str | None, roles: dict[str, Role],
                  follow_links: bool) -> TranscriptSource:
    """An entry of a folder or glob: read only if it is a regular file inside `base` (unless links are followed)."""
    problem = _entry_problem(entry, base, follow_links)
    if problem:
        return failed_source(str(entry), problem, source_id=entry.stem)
    return file_source(entry, fmt, roles)


def _entry_problem(entry: Path, base: Path, follow_links: bool) -> TranscriptError | None:
    try:
        target = entry.resolve(strict=True)
    except FileNotFoundError:
        return TranscriptError(f"is a link to {_link_text(entry)}, which does not exist (a dangling link)",
                               path=entry, fix="remove the link, or point it at a transcript file")
    except (RuntimeError, OSError) as exc:  # a loop: RuntimeError up to Python 3.12, OSError (ELOOP) after
        return TranscriptError(f"is a link that cannot be followed ({' '.join(str(exc).split())[:200]}; a loop?)",
                               path=entry, fix="remove the link, or point it at a transcript file")
    if not follow_links and not target.is_relative_to(base):
        return TranscriptError(f"is a link to {target}, outside {base}; it was not read", path=entry,
                               fix=FOLLOW_LINKS_FIX.format(base=base) + " (add --retry-failed when resuming a run)")
    return _kind_problem(target)


def _link_text(entry: Path) -> str:
    try:
        return os.readlink(entry)
    except OSError:
        return "a missing file"


def _glob_base(pattern: str) -> Path:
    """The folder a glob searches: its parts before the first one with a wildcard."""
    parts = Path(pattern).parts
    return Path(*itertools.takewhile(lambda part: not any(ch in part for ch in "*?["), parts))


def iter_sources(inputs: list[str], *, fmt: str | None = None, roles: dict[str, Role] | None = None,
                 id_column: str = "interview_id", text_column: str = "transcript",
                 follow_links: bool = False) -> Iterator[TranscriptSource]:
    """Every transcript named by the inputs: files, folders (their transcript files), globs, dataset CSVs.

    Ids are kept whole and must be unique (see `unique_ids`). In a folder or glob, a link whose target
    is outside it is not read unless `follow_links`; such links, dangling or looping links and entries
    that are not regular files (FIFOs, sockets, devices) are failed sources with their reason.
    """
    if fmt is not None and fmt not in FORMATS:
        raise TranscriptError(f"unknown format {fmt!r}", where="--format", fix=f"use one of {', '.join(FORMATS)}")
    roles = roles or {}
    yield from unique_ids(source for item in inputs for source in _item_sources(item, fmt, roles, id_column,
                                                                                text_column, follow_links))


def unique_ids(sources: Iterable[TranscriptSource]) -> Iterator[TranscriptSource]:
    """The sources, each id once: the same file named twice is read once, and two different inputs with
    one id are an error naming both (the run keeps one set of rows per id, so one would be lost)."""
    seen: dict[str, str] = {}
    for source in sources:
        first = seen.get(source.id)
        if first is None:
            seen[source.id] = source.where
            yield source
        elif not _same_file(first, source.where):
            raise TranscriptError(f"two inputs have the id {source.id!r}: {first} and {source.where}",
                              fix="give every transcript its own id (rename a file, or correct the dataset), or "
                                  "grade them into separate --run folders")


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve() and Path(a).is_file()
    except OSError:
        return False


def _item_sources(item: str, fmt: str | None, roles: dict[str, Role], id_column: str,
                  text_column: str, follow_links: bool = False) -> Iterator[TranscriptSource]:
    path = Path(item)
    if path.suffix.lower() == ".csv" and path.is_file():
        yield from dataset_sources(path, id_column, text_column, fmt or "mit", roles)
    elif path.is_dir():  # sub-folders are not searched; every other transcript-named entry is listed, or failed
        children = [c for c in sorted(path.iterdir()) if c.suffix.lower() in TRANSCRIPT_SUFFIXES and not c.is_dir()]
        if not children:
            yield failed_source(item, TranscriptError(
                f"a folder with no transcript file ({', '.join(sorted(TRANSCRIPT_SUFFIXES))}) in it", path=path,
                fix="name transcript files, a folder of them, a glob or a dataset CSV"))
        base = path.resolve()
        for child in children:
            yield _entry_source(child, base, fmt, roles, follow_links)
    elif any(ch in item for ch in "*?["):
        matches = sorted(glob.glob(item, recursive=True))
        if not matches:
            yield failed_source(item, TranscriptError("no file matches this pattern", path=item,
                                                      fix="check the pattern (quote it so the shell leaves it)"))
        base = _glob_base(item).resolve()
        for match in matches:
            yield _entry_source(Path(match), base, fmt, roles, follow_links)
    else:
        yield file_source(path, fmt, roles)


def dataset_sources(path: Path, id_column: str, text_column: str, fmt: str,
                    roles: dict[str, Role]) -> Iterator[TranscriptSource]:
    """One source per row; a CSV that cannot be read, or lacks a column, is one failed source."""
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in (id_column, text_column) if c not in (reader.fieldnames or [])]
            if missing:
                yield failed_source(str(path), TranscriptError(
                    f"no column {', '.join(map(repr, missing))} (columns: {', '.join(reader.fieldnames or [])})",
                    path=path, fix="name the columns with --id-column and --text-column"))
                return
            rows = 0
            for rows, row in enumerate(reader, start=1):
                yield _row_source(path, rows + 1, row.get(id_column), row.get(text_column), fmt, roles)
            if not rows:
                yield failed_source(str(path), TranscriptError("the dataset has a header but no rows", path=path,
                                                               fix="give one row per transcript"))
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        yield failed_source(f"{path} (after the rows read)", TranscriptError(
            f"cannot be read as a CSV ({' '.join(str(exc).split())[:200]})", path=path,
            fix="give a UTF-8 CSV file with an id column and a transcript column"))


def _row_source(path: Path, number: int, transcript_id: str | None, text: str | None, fmt: str,
                roles: dict[str, Role]) -> TranscriptSource:
    problem = _id_problem(transcript_id)
    if problem or text is None:
        return failed_source(f"{path} (line {number})", TranscriptError(
            problem or "the row has fewer cells than the header", path=path, where=f"line {number}",
            fix="give every row an id (one line, at most 200 characters) and a transcript"))
    assert transcript_id is not None
    where = f"{path} (line {number}, id {transcript_id})"

    def load() -> Transcript:
        try:
            return transcript_from_text(text, transcript_id=transcript_id, fmt=fmt, roles=roles)
        except TranscriptError as exc:
            raise TranscriptError(exc.detail, path=path, where=f"line {number}, id {transcript_id}"
                                  + (f", {exc.where}" if exc.where else ""), fix=exc.fix) from None

    return TranscriptSource(id=transcript_id, where=where, load=load)


def _id_problem(transcript_id: str | None) -> str | None:
    if transcript_id is None or not transcript_id.strip():
        return "the row has no id"
    if len(transcript_id) > MAX_ID_CHARS or any(not ch.isprintable() for ch in transcript_id):
        shown = transcript_id if len(transcript_id) <= 40 else transcript_id[:39] + "…"
        return f"the id {shown!r} is not one printable line of at most {MAX_ID_CHARS} characters"
    return None
