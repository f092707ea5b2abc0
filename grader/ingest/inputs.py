"""Batch inputs: a folder, a glob, or a dataset CSV (an id column and a transcript column).

Sources are yielded lazily and loaded only when graded, so memory stays flat in their number.
"""

from __future__ import annotations

import csv
import glob
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


def file_source(path: Path, fmt: str | None, roles: dict[str, Role]) -> TranscriptSource:
    return TranscriptSource(id=path.stem, where=str(path), load=lambda: load_transcript(path, fmt=fmt, roles=roles))


def failed_source(item: str, error: TranscriptError) -> TranscriptSource:
    """An input that names no transcript it can give (an empty folder, a CSV without its columns): it is
    recorded as failed, with its reason, and the other inputs are still graded."""

    def load() -> Transcript:
        raise error

    return TranscriptSource(id=item, where=item, load=load)


def iter_sources(inputs: list[str], *, fmt: str | None = None, roles: dict[str, Role] | None = None,
                 id_column: str = "interview_id", text_column: str = "transcript") -> Iterator[TranscriptSource]:
    """Every transcript named by the inputs: files, folders (their transcript files), globs, dataset CSVs.

    Ids are kept whole and must be unique (see `unique_ids`).
    """
    if fmt is not None and fmt not in FORMATS:
        raise TranscriptError(f"unknown format {fmt!r}", where="--format", fix=f"use one of {', '.join(FORMATS)}")
    roles = roles or {}
    yield from unique_ids(source for item in inputs for source in _item_sources(item, fmt, roles, id_column,
                                                                                text_column))


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
                  text_column: str) -> Iterator[TranscriptSource]:
    path = Path(item)
    if path.suffix.lower() == ".csv" and path.is_file():
        yield from dataset_sources(path, id_column, text_column, fmt or "mit", roles)
    elif path.is_dir():
        children = [c for c in sorted(path.iterdir()) if c.suffix.lower() in TRANSCRIPT_SUFFIXES and c.is_file()]
        if not children:
            yield failed_source(item, TranscriptError(
                f"a folder with no transcript file ({', '.join(sorted(TRANSCRIPT_SUFFIXES))}) in it", path=path,
                fix="name transcript files, a folder of them, a glob or a dataset CSV"))
        for child in children:
            yield file_source(child, fmt, roles)
    elif any(ch in item for ch in "*?["):
        matches = sorted(glob.glob(item, recursive=True))
        if not matches:
            yield failed_source(item, TranscriptError("no file matches this pattern", path=item,
                                                      fix="check the pattern (quote it so the shell leaves it)"))
        for match in matches:
            yield file_source(Path(match), fmt, roles)
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
