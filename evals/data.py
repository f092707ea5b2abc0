"""The real, human-rated data the evals read: beside the repository in ../shared/data/, never copied into it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIT_DATA = ROOT.parent / "shared" / "data" / "mit-interview"


def require(path: Path, what: str = "the MIT interview data") -> Path:
    """`path` if it exists; otherwise stop with a message that says what is missing and where it was looked for."""
    if not path.exists():
        raise SystemExit(f"{what} is absent: {path} does not exist. The evals read the real, human-rated data "
                         "beside the repository (../shared/data/, see its README), which is never copied into it; "
                         "run them in a checkout that has ../shared/ beside it, or give the folder with --data.")
    return path
