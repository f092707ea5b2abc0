"""What every request of the review server shares: the run, who reviews (one person, or a signed-in team), how
they see each other's work, and the guard's secrets."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import Request

from grader.review.decisions import ReviewRefusedError, ReviewRequest, review_row
from grader.review.run import ReviewRun
from grader.review.run_page import RunRow
from grader.review.security import Guard
from grader.review.team import SESSION_COOKIE, Team
from grader.review.views import TranscriptPage, Viewer, sight
from grader.runs.reviews import Action, Note, Retraction, Review, current, current_by_reviewer


@dataclass
class ReviewContext:
    run: ReviewRun
    reviewer: str  # alone on a machine: the one reviewer (`--reviewer`); with a team, unused
    guard: Guard
    team: Team | None = None
    overlap: int | None = None  # each transcript to this many reviewers of the team (None: everyone sees all)
    blind: bool = False  # a reviewer sees the others' decisions on a criterion only after deciding it
    hide_model: bool = False  # ... and the model's level too
    _assigned: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- who is asking -------------------------------------------------------------------------------
    def identify(self, request: Request) -> Viewer | None:
        """The viewer a request comes from: alone, the one reviewer; with a team, the reviewer its bearer
        secret or session cookie names (None: nobody signed in)."""
        if self.team is None:
            return Viewer(name=self.reviewer, hide_model=self.hide_model)
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            found = self.team.bearer(auth.removeprefix("Bearer ").strip())
        else:
            cookie = request.cookies.get(SESSION_COOKIE, "")
            found = self.team.from_session(cookie) if cookie else None
        return None if found is None else self.viewer_named(found.name)

    def viewer_named(self, name: str) -> Viewer:
        assert self.team is not None
        member = self.team.reviewers[name]
        assigned = None
        if self.overlap:
            assigned = frozenset(t for t, who in self.assignment().items() if name in who)
        return Viewer(name=name, team=True, blind=self.blind, hide_model=self.hide_model,
                      adjudicator=member.adjudicator, assigned=assigned)

    def assignment(self) -> dict[str, list[str]]:
        """Each finished transcript's reviewers (`overlap` of them), assigning new transcripts as they appear."""
        if self.team is None or not self.overlap:
            return {}
        ids = self.run.sheet_ids()
        with self._lock:
            if set(ids) != set(self._assigned):
                self._assigned = self.run.store.assign(ids, self.team.names, self.overlap)
            return dict(self._assigned)

    # -- reads ---------------------------------------------------------------------------------------
    def page_or_404(self, transcript_id: str, viewer: Viewer | None = None) -> TranscriptPage:
        page = self.run.page(transcript_id, viewer, note_of=self._note_of(viewer))
        if page is None:
            raise ReviewRefusedError(f"no finished score sheet for transcript {transcript_id!r} in this run",
                                     status=404, fix="pick a transcript from GET /api/transcripts")
        return page

    def rows(self, viewer: Viewer) -> list[RunRow]:
        return self.run.rows(viewer)

    def note(self, transcript_id: str, viewer: Viewer) -> Note | None:
        return self.run.store.latest_note(transcript_id, self._note_of(viewer))

    def _note_of(self, viewer: Viewer | None) -> str | None:
        """Blind, a reviewer reads and writes only their own note on a transcript (a note can say "hire")."""
        return viewer.name if viewer is not None and viewer.team and viewer.blind else None

    def visible_reviews(self, viewer: Viewer, transcript_id: str | None = None) -> list[Review]:
        rows = self.run.store.reviews(transcript_id)
        by_transcript: dict[str, list[Review]] = {}
        for r in rows:
            by_transcript.setdefault(r.transcript_id, []).append(r)
        sights = {tid: sight(viewer, tid, part) for tid, part in by_transcript.items()}
        return [r for r in rows if sights[r.transcript_id].visible(r)]

    # -- decisions -----------------------------------------------------------------------------------
    def decide(self, request: ReviewRequest, viewer: Viewer) -> Review:
        """Check a decision against the sheet and who makes it, and append it (StaleReviewError if the client saw
        an older state than the store's)."""
        sheet = self.run.sheet(request.transcript_id)
        if sheet is None:
            raise ReviewRefusedError(f"no finished score sheet for transcript {request.transcript_id!r}", status=404)
        name = self._decider(request.reviewer, viewer)
        reviews = self.run.store.reviews(request.transcript_id)
        seen_by = sight(viewer, request.transcript_id, reviews)
        hidden = not seen_by.sees_model(request.criterion_id)
        if request.action is Action.adjudicate:
            self._may_adjudicate(request, viewer, reviews)
            before, mine = current(reviews).get(request.criterion_id), None
        else:
            if viewer.team and not viewer.is_assigned(request.transcript_id):
                raise ReviewRefusedError(f"transcript {request.transcript_id!r} is not assigned to {name}", status=403,
                                         fix="decide on the transcripts of your queue (GET /api/queue)")
            if hidden and request.action is Action.confirm:
                raise ReviewRefusedError("the model's level is hidden from you until you decide, so there is "
                                         "nothing you can confirm", fix="give your own level (action override)")
            blind = viewer.team and viewer.blind
            before = seen_by.own.get(request.criterion_id) if blind else current(reviews).get(request.criterion_id)
            mine = name if blind else None
        row = review_row(request, sheet, self.run.rubric, before, name, reason_required=not hidden)
        if hidden and row.action is Action.override:
            grade = next((g for g in sheet.grades if g.criterion_id == request.criterion_id), None)
            if grade is not None and grade.status.value != "unscored" and \
                    (grade.status.value, grade.level) == (row.status_after, row.level_after):
                row = row.model_copy(update={"action": Action.confirm})  # graded blind, the model's own level
        return self.run.store.add_review(row, request.seen_review_id, mine=mine)

    def _decider(self, named: str | None, viewer: Viewer) -> str:
        """Who a decision is by: with a team always the signed-in reviewer, never a field of the request."""
        if not viewer.team:
            return named or viewer.name
        if named is not None and named != viewer.name:
            raise ReviewRefusedError(f"you are signed in as {viewer.name}, so a decision cannot be made as "
                                     f"{named!r}", status=403, fix="leave `reviewer` out: it is always you")
        return viewer.name

    def _may_adjudicate(self, request: ReviewRequest, viewer: Viewer, reviews: list[Review]) -> None:
        if not viewer.adjudicator:
            raise ReviewRefusedError("only an adjudicator resolves a disagreement", status=403,
                                     fix="mark an adjudicator in the reviewers file (`name: {secret: ..., "
                                         "adjudicator: true}`) or with --adjudicator NAME")
        if not sight(viewer, request.transcript_id, reviews).sees_others(request.criterion_id):
            raise ReviewRefusedError("this transcript is assigned to you: give your own level first, then resolve",
                                     status=403)
        labels = {(r.status_after, r.level_after) for (t, c, _), r in current_by_reviewer(reviews).items()
                  if c == request.criterion_id}
        adjudicated = any(r.action is Action.adjudicate and r.effective and r.criterion_id == request.criterion_id
                          for r in reviews)
        if len(labels) < 2 and not adjudicated:
            raise ReviewRefusedError(f"the reviewers do not disagree on {request.criterion_id} of "
                                     f"{request.transcript_id}: there is nothing to resolve",
                                     fix="see the disagreements in GET /api/agreement")

    def add_note(self, transcript_id: str, named: str | None, text: str, seen: int | None, viewer: Viewer) -> Note:
        name = self._decider(named, viewer)
        return self.run.store.add_note(transcript_id, name, text, seen, mine=self._note_of(viewer) is not None)

    def retract(self, review_id: int, viewer: Viewer) -> tuple[Retraction, Review]:
        """Undo: take back one of the viewer's own decisions (their latest in force on its criterion)."""
        reviewer = viewer.name
        if not viewer.team:  # alone, every decision is the one user's, whatever name a tool gave it
            row = next((r for r in self.run.store.reviews() if r.id == review_id), None)
            reviewer = row.reviewer if row else viewer.name
        return self.run.store.retract(review_id, reviewer)
