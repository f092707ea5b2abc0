"""The built-in library: rubrics, prompts and sample transcripts that ship inside the wheel.

In the repository they are the top-level folders `rubrics/`, `prompts/` and `transcripts/` (what a
user reads and edits); the wheel maps them to `grader/_data/<kind>/` (hatchling's force-include).
They are found with `importlib.resources` in an installed package, and in the checkout when grader
runs from its source tree (an editable install or the tests), where `_data/` does not exist.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from grader.errors import GraderError

Kind = Literal["rubrics", "prompts", "transcripts"]
_SUFFIX = {"rubrics": ".yaml", "prompts": ".yaml", "transcripts": ""}


def library(kind: Kind) -> Traversable:
    """The folder of built-in files of one kind, in the wheel or in the checkout."""
    packaged = files("grader") / "_data" / kind
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / kind  # the source checkout


def builtin_names(kind: Kind) -> list[str]:
    """Names of the built-in files of a kind (rubrics and prompts without their `.yaml`)."""
    suffix = _SUFFIX[kind]
    names = [f.name for f in library(kind).iterdir() if f.is_file() and f.name.endswith(suffix or "")
             and not f.name.startswith((".", "README")) and not f.name.endswith(".json")]
    return sorted(n[: -len(suffix)] if suffix else n for n in names)


def resolve(kind: Kind, name_or_path: str | Path) -> Path:
    """A built-in name (`senior-data-scientist`) or a path to a file; a path that exists wins.

    The wheel is installed unzipped, so a built-in file is a real path on disk.
    """
    path = Path(name_or_path)
    if path.exists():
        return path
    name = str(name_or_path)
    suffix = _SUFFIX[kind]
    candidate = library(kind) / (name if not suffix or name.endswith(suffix) else name + suffix)
    if "/" not in name and "\\" not in name and candidate.is_file():
        with as_file(candidate) as real:
            return Path(real)
    known = ", ".join(builtin_names(kind))
    raise GraderError(f"no such file, and not a built-in {kind[:-1]}", path=path,
                      fix=f"give a path to a file, or one of the built-in {kind}: {known}")
