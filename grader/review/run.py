"""A run opened for review: its rubric (from the run manifest), its sheets (parsed once) and its reviews."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.grading.sheet import ScoreSheet
from grader.ingest.rubric import Rubric
from grader.review.run_page import RunRow, run_row
from grader.review.views import TranscriptPage, Viewer, transcript_page
from grader.runs.folder import RunFolder, as_folder
from grader.runs.reviews import Review, ReviewStore

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ReviewRun:
    path: Path
    rubric: Rubric
    store: ReviewStore
    _sheets: dict[str, tuple[str, ScoreSheet]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _levels: tuple[tuple[object, ...], pd.DataFrame] | None = None

    def sheet(self, transcript_id: str) -> ScoreSheet | None:
        """A finished sheet, parsed once (again only when the batch rewrote it)."""
        found = self.store.store.sheet_json(transcript_id)
        if found is None:
            return None
        text, stamp = found
        with self._lock:
            cached = self._sheets.get(transcript_id)
            if cached is None or cached[0] != stamp:
                cached = (stamp, ScoreSheet.model_validate_json(text))
                self._sheets[transcript_id] = cached
        return cached[1]

    def sheets(self) -> list[ScoreSheet]:
        return [s for tid in self.sheet_ids() if (s := self.sheet(tid)) is not None]

    def sheet_ids(self) -> list[str]:
        return self.store.store.sheet_ids()

    def page(self, transcript_id: str, viewer: Viewer | None = None, *, note_of: str | None = None
             ) -> TranscriptPage | None:
        """A transcript's page as `viewer` sees it (default: the run's owner, who sees everything)."""
        sheet = self.sheet(transcript_id)
        if sheet is None:
            return None
        return transcript_page(sheet, self.rubric, self.store.reviews(transcript_id),
                               self.store.latest_note(transcript_id, note_of), viewer)

    def rows(self, viewer: Viewer | None = None) -> list[RunRow]:
        by_transcript: dict[str, list[Review]] = defaultdict(list)
        for review in self.store.reviews():
            by_transcript[review.transcript_id].append(review)
        return [run_row(s, self.rubric, by_transcript[s.transcript_id], viewer) for s in self.sheets()]

    def model_levels(self) -> pd.DataFrame:
        """The model's levels as `grader eval` counts them (`evaluate.model_levels`), read again only when the
        run has changed (a batch still grading)."""
        from grader.agreement.evaluate import model_levels

        stamp = (tuple(self.sheet_ids()), self.store.store.totals()["calls"])
        with self._lock:
            if self._levels is None or self._levels[0] != stamp:
                self._levels = (stamp, model_levels(self.store.store))
            return self._levels[1]

    def close(self) -> None:
        self.store.close()


def open_run(run: str | Path | RunFolder, rubric: str | Path | None = None) -> ReviewRun:
    """Open a run folder for review; a clear error when it is not a run or its rubric cannot be found."""
    folder = as_folder(run)
    with folder.read() as record:
        chosen = record.rubric(rubric)
    return ReviewRun(path=folder.path, rubric=chosen, store=folder.reviews())
