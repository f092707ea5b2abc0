"""The demographics file: a transcript (or candidate) id and one or more category columns.

Every column other than the id is a category (e.g. `sex`, `race_ethnicity`); `--attributes`
chooses some. Intersectional categories are formed from every pair of columns (`sex × race_ethnicity`,
groups like `female × Black`). A blank value is its own group, `(not given)`: it is reported with
its count, as Local Law 144 asks, but never taken as the reference group nor flagged.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from grader.errors import GraderError

NOT_GIVEN = "(not given)"
JOIN = " × "


@dataclass
class Demographics:
    """Category values per transcript id (strings, blanks as NOT_GIVEN), and what was left out, and why."""

    frame: pd.DataFrame  # index: transcript id; one column per attribute
    attributes: list[str]
    problems: list[str] = field(default_factory=list)


def read_demographics(path: Path, *, id_column: str = "transcript_id",
                      attributes: list[str] | None = None) -> Demographics:
    """Read and check a demographics CSV; duplicate ids are reported and the first row is kept."""
    text = _read_text(path)
    _refuse_duplicate_columns(text, path)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (OSError, ValueError, csv.Error) as exc:
        raise GraderError(f"cannot read the demographics CSV: {exc}", path=path, fix="give a CSV file") from None
    if id_column not in raw.columns:
        raise GraderError(f"no id column {id_column!r}; columns: {', '.join(map(str, raw.columns))}", path=path,
                          fix="name the id column with --demographics-id-column")
    chosen = attributes or [c for c in raw.columns if c != id_column]
    unknown = [a for a in chosen if a not in raw.columns]
    if unknown or not chosen:
        raise GraderError(f"no category column{'s' if len(unknown) != 1 else ''} {', '.join(unknown)}".strip(),
                          path=path, fix="add category columns (e.g. sex, race_ethnicity) beside the id column")
    raw[id_column] = raw[id_column].str.strip()
    duplicated = raw[id_column].duplicated(keep="first")
    problems = [f"row {i + 2}: id {v!r} repeats an earlier row (left out)"
                for i, v in raw.loc[duplicated, id_column].items()]
    frame = raw.loc[~duplicated & (raw[id_column] != ""), [id_column, *chosen]].set_index(id_column)
    frame = frame.apply(lambda col: col.str.strip().replace("", NOT_GIVEN))
    problems += [f"row {i + 2}: no id (left out)" for i in raw.index[raw[id_column] == ""]]
    return Demographics(frame=frame, attributes=list(chosen), problems=problems)


def _read_text(path: Path) -> str:
    """The file as UTF-8 text (a byte-order mark is dropped); a file in another encoding is refused with the fix."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GraderError(f"cannot read the demographics CSV: {exc}", path=path, fix="give a CSV file") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GraderError(f"cannot read the demographics CSV: it is not UTF-8 text (byte {exc.start} is "
                          f"0x{data[exc.start]:02x}; Latin-1 or Windows-1252, as Excel saves it, perhaps)", path=path,
                          fix=f"save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {path} > {path}.utf8.csv") from None


def _refuse_duplicate_columns(text: str, path: Path) -> None:
    """pandas renames a repeated column (`sex`, `sex.1`) silently: read the header row here and refuse it."""
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        return  # pandas reports what is wrong with the file
    counts = Counter(name for name in header if name.strip())  # blank names (trailing commas): pandas' "Unnamed"
    repeated = [name for name, count in counts.items() if count > 1]
    if repeated:
        names = ", ".join(repr(n) for n in repeated)
        raise GraderError(f"the header row names column{'s' if len(repeated) > 1 else ''} {names} more than "
                          "once", path=path, fix="give each column a distinct name (rename or delete the repeated "
                          "one)")


def attribute_groups(demographics: Demographics) -> dict[str, pd.Series]:
    """Each category column, and each pair of columns joined as an intersectional category."""
    frame = demographics.frame
    groups = {a: frame[a] for a in demographics.attributes}
    for a, b in itertools.combinations(demographics.attributes, 2):
        joined = frame[a] + JOIN + frame[b]
        groups[f"{a}{JOIN}{b}"] = joined.where((frame[a] != NOT_GIVEN) & (frame[b] != NOT_GIVEN), NOT_GIVEN)
    return groups
