"""What every request of the review server shares: the run, who reviews, and the guard's secrets."""

from __future__ import annotations

from dataclasses import dataclass

from grader.review.decisions import ReviewRefusedError, ReviewRequest, review_row
from grader.review.run import ReviewRun
from grader.review.security import Guard
from grader.review.views import TranscriptPage
from grader.runs.reviews import Review, current


@dataclass
class ReviewContext:
    run: ReviewRun
    reviewer: str
    guard: Guard

    def page_or_404(self, transcript_id: str) -> TranscriptPage:
        page = self.run.page(transcript_id)
        if page is None:
            raise ReviewRefusedError(f"no finished score sheet for transcript {transcript_id!r} in this run",
                                     status=404, fix="pick a transcript from GET /api/transcripts")
        return page

    def decide(self, request: ReviewRequest) -> Review:
        """Check a decision against the sheet and append it (StaleReviewError if the client saw an older state)."""
        sheet = self.run.sheet(request.transcript_id)
        if sheet is None:
            raise ReviewRefusedError(f"no finished score sheet for transcript {request.transcript_id!r}", status=404)
        latest = current(self.run.store.reviews(request.transcript_id)).get(request.criterion_id)
        row = review_row(request, sheet, self.run.rubric, latest, self.reviewer)
        return self.run.store.add_review(row, request.seen_review_id)
