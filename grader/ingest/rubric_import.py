"""Import a rubric from its plain-text export (the seed format) into a validated `Rubric`.

In the export each criterion is one row, `Name Weight Level1 Level2 Level3 Level4 Level5`, and
the five level descriptors are not delimited. A row is split where a new descriptor starts: a
capitalised verb or adverb ("Explains", "Precisely") that follows the end of a sentence, a quote
or a content word. When a row offers exactly four such places it is split there; when it offers
more or fewer, the import stops and names the line: the fix is to put ` | ` between the five
descriptors on that line (rows delimited by ` | ` or tabs are taken as they are).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from grader.errors import RubricError
from grader.ingest.rubric import Rubric

_BAND = re.compile(r"^Band\s+(?P<band>.+?)\s*•\s*Minimum passing score\s+(?P<min>\d+(?:\.\d+)?)\s*$")
_HEADER = re.compile(r"^Criterion\s+Weight\s+Level 1\s+Level 2\s+Level 3\s+Level 4\s+Level 5\s*$")
_ROW = re.compile(r"^(?P<name>\S.*?)\s+(?P<weight>\d+(?:\.\d+)?)\s+(?P<rest>\S.*)$")
_NOTE = re.compile(r"^(?P<key>Verbal-only signals|Scope|Autonomy):\s*(?P<text>.*)$")
# A word that can open a level descriptor: a capitalised third-person verb or an adverb.
_OPENER = re.compile(r"(?:[A-Z][a-z]+(?:s|ly)|Doesn['’]t|Don['’]t)\b")
# Words after which a capitalised word continues the sentence ("Dask or Polars").
_JOINERS = frozenset([
    "a", "an", "and", "as", "at", "between", "by", "e.g.,", "for", "from", "in", "into", "like", "of", "on", "or",
    "the", "to", "using", "vs", "vs.", "with",
])
_QUOTES = "'‘’\""


@dataclass
class _Section:
    name: str
    band: str
    min_passing_score: float
    notes: dict[str, str] = field(default_factory=dict)
    criteria: list[dict[str, Any]] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    red_flags: list[str] = field(default_factory=list)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("&", " and ")).strip("-")


def split_levels(rest: str) -> list[str] | None:
    """The five level descriptors of a row, or None when the row cannot be split with confidence."""
    for sep in ("\t", " | "):
        if sep in rest:
            parts = [p.strip() for p in rest.split(sep)]
            return parts if len(parts) == 5 and all(parts) else None
    starts = level_starts(rest)
    if len(starts) != 4:
        return None
    bounds = [0, *starts, len(rest)]
    return [rest[a:b].strip() for a, b in itertools.pairwise(bounds)]


def level_starts(rest: str) -> list[int]:
    """Offsets in `rest` where a new level descriptor may start (see the module docstring)."""
    starts = []
    for match in _OPENER.finditer(rest):
        pos = match.start()
        if pos == 0 or _inside_quote(rest, pos):
            continue
        before = rest[:pos].rstrip()
        if not before or before.endswith(("(", ":", ",", ";", "-", "—")):
            continue
        previous_word = before.split()[-1].strip(_QUOTES).lower()
        if previous_word in _JOINERS:
            continue
        starts.append(pos)
    return starts


def _inside_quote(text: str, pos: int) -> bool:
    """Whether `pos` lies inside a quoted phrase; apostrophes inside words do not count."""
    open_quote = False
    for i, ch in enumerate(text[:pos]):
        if ch not in _QUOTES:
            continue
        prev = text[i - 1] if i else " "
        nxt = text[i + 1] if i + 1 < len(text) else " "
        if prev.isalnum() and nxt.isalnum():
            continue  # an apostrophe: didn't, it's
        if not open_quote and (prev.isspace() or prev in "(:"):
            open_quote = True
        elif open_quote and not nxt.isalnum():
            open_quote = False
    return open_quote


def import_rubric_text(path: Path | str, *, rubric_id: str | None = None,
                       title: str | None = None) -> Rubric:
    """Parse the seed's text export into a Rubric; stops with every line it cannot read."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"cannot read the rubric text export: {exc}", path=path,
                          fix="give a UTF-8 text file") from None
    sections, problems = _parse_sections(lines)
    if problems:
        raise RubricError("; ".join(problems), path=path,
                          fix="put ' | ' between the five level descriptors on each line named, "
                              "then import again")
    if not sections:
        raise RubricError("no competency found (no line 'Band … • Minimum passing score N')",
                          path=path, fix="give the text export of a rubric")
    data = _to_rubric_data(sections, rubric_id or slugify(path.stem), title or path.stem, path)
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(f"imported rubric is not valid: {exc}", path=path,
                          fix="check the export is complete") from None


def _parse_sections(lines: list[str]) -> tuple[list[_Section], list[str]]:
    sections: list[_Section] = []
    problems: list[str] = []
    mode = "preamble"
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        band = _BAND.match(line)
        if band:
            name = _previous_nonblank(lines, number - 1)
            if sections and mode == "red_flags" and sections[-1].red_flags[-1:] == [name]:
                sections[-1].red_flags.pop()  # the name line was read as a red flag
            sections.append(_Section(name, band["band"], float(band["min"])))
            mode = "notes"
            continue
        if not sections:
            continue
        mode = _read_line(sections[-1], mode, line, raw, number, problems)
    return sections, problems


def _read_line(sec: _Section, mode: str, line: str, raw: str, number: int,
               problems: list[str]) -> str:
    if _HEADER.match(line):
        return "criteria"
    if line == "Suggested verbal probes":
        return "probes"
    if line == "Red flags to watch for":
        return "red_flags"
    note = _NOTE.match(line)
    if mode == "notes" and note:
        sec.notes[note["key"]] = note["text"]
    elif mode == "criteria":
        _read_criterion(sec, line, number, problems)
    elif mode == "probes":
        sec.probes.append(line)
    elif mode == "red_flags" and raw[:1].isspace():
        sec.red_flags.append(line)
    return mode


def _read_criterion(sec: _Section, line: str, number: int, problems: list[str]) -> None:
    row = _ROW.match(line)
    if not row:
        problems.append(f"line {number}: a criterion row must read 'Name Weight Level1 … Level5'")
        return
    levels = split_levels(row["rest"])
    if levels is None:
        starts = [row["rest"][s:].split()[0] for s in level_starts(row["rest"])]
        problems.append(f"line {number} ({row['name']}): cannot split the five level descriptors "
                        f"with confidence; possible starts: {', '.join(starts) or 'none'}")
        return
    sec.criteria.append({"id": slugify(row["name"]), "name": row["name"],
                         "weight": float(row["weight"]),
                         "levels": dict(enumerate(levels, start=1))})


def _previous_nonblank(lines: list[str], index: int) -> str:
    for line in reversed(lines[:index]):
        if line.strip():
            return line.strip()
    return ""


def _to_rubric_data(sections: list[_Section], rubric_id: str, title: str, path: Path) -> dict[str, Any]:
    return {
        "id": rubric_id,
        "title": title,
        "source": f"imported from {path.name}",
        "competencies": [
            {
                "id": slugify(sec.name),
                "name": sec.name,
                "band": sec.band,
                "min_passing_score": sec.min_passing_score,
                "signals": sec.notes.get("Verbal-only signals"),
                "scope": sec.notes.get("Scope"),
                "autonomy": sec.notes.get("Autonomy"),
                "criteria": sec.criteria,
                "probes": sec.probes,
                "red_flags": sec.red_flags,
            }
            for sec in sections
        ],
    }


def rubric_to_yaml(rubric: Rubric, *, schema_ref: str | None = "rubric.schema.json") -> str:
    """The rubric as a YAML file, with the editor's schema line on top."""
    body = yaml.safe_dump(rubric.model_dump(exclude_none=True), sort_keys=False,
                          allow_unicode=True, width=100)
    header = f"# yaml-language-server: $schema={schema_ref}\n" if schema_ref else ""
    return header + body
