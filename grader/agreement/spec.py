"""How to read a gold file: the options `grader eval`, `calibrate` and `compare` share (no pandas here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GoldSpec:
    """How to read a gold CSV (see `grader.agreement.gold.read_gold`); `path` may be a run folder (its reviews)."""

    path: Path
    id_column: str = "transcript_id"
    binning: str = "auto"
    cut_points: str | list[float] | None = None
    group_pattern: str | None = None
    scale: str | tuple[float, float] | None = None
