"""Batch inputs: a folder, a glob, or a dataset CSV (an id column and a transcript column).

Sources are yielded lazily and loaded only when graded, so memory stays flat in their number.
"""

from __future__ import annotations

import csv
import glob
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.errors import TranscriptError
from grader.ingest.formats import load_transcript, transcript_from_text
from grader.ingest.transcript import Role, Transcript

TRANSCRIPT_SUFFIXES = {".txt", ".vtt", ".srt", ".json"}


@dataclass(frozen=True)
class TranscriptSource:
    """One transcript to grade: where it is, and how to load it."""

    id: str
    where: str
    load: Callable[[], Transcript]


def file_source(path: Path, fmt: str | None, roles: dict[str, Role]) -> TranscriptSource:
    return TranscriptSource(id=path.stem, where=str(path), load=lambda: load_transcript(path, fmt=fmt, roles=roles))


def iter_sources(inputs: list[str], *, fmt: str | None = None, roles: dict[str, Role] | None = None,
                 id_column: str = "interview_id", text_column: str = "transcript") -> Iterator[TranscriptSource]:
    """Every transcript named by the inputs: files, folders (their transcript files), globs, dataset CSVs."""
    roles = roles or {}
    for item in inputs:
        path = Path(item)
        if path.suffix.lower() == ".csv" and path.is_file():
            yield from dataset_sources(path, id_column, text_column, fmt or "mit", roles)
        elif path.is_dir():
            for child in sorted(path.iterdir()):
                if child.suffix.lower() in TRANSCRIPT_SUFFIXES and child.is_file():
                    yield file_source(child, fmt, roles)
        elif any(ch in item for ch in "*?["):
            for match in sorted(glob.glob(item, recursive=True)):
                yield file_source(Path(match), fmt, roles)
        else:
            yield file_source(path, fmt, roles)


def dataset_sources(path: Path, id_column: str, text_column: str, fmt: str,
                    roles: dict[str, Role]) -> Iterator[TranscriptSource]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (id_column, text_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise TranscriptError(f"no column {', '.join(map(repr, missing))} (columns: "
                                  f"{', '.join(reader.fieldnames or [])})", path=path,
                                  fix="name the columns with --id-column and --text-column")
        for number, row in enumerate(reader, start=2):
            yield _row_source(path, number, row[id_column], row[text_column], fmt, roles)


def _row_source(path: Path, number: int, transcript_id: str, text: str, fmt: str,
                roles: dict[str, Role]) -> TranscriptSource:
    where = f"{path} (line {number}, id {transcript_id})"

    def load() -> Transcript:
        try:
            return transcript_from_text(text, transcript_id=transcript_id, fmt=fmt, roles=roles)
        except TranscriptError as exc:
            raise TranscriptError(exc.detail, path=path, where=f"line {number}, id {transcript_id}"
                                  + (f", {exc.where}" if exc.where else ""), fix=exc.fix) from None

    return TranscriptSource(id=transcript_id, where=where, load=load)
