"""Review workbench: a reviewer checks each score against the transcript, confirms or overrides it,
and the decisions become gold labels (`grader review`, `grader gold export`, `grader export --html`).
A team signs in (`team`), grades blind with overlap, sees its agreement (`agreement`) and
adjudicates its disagreements.

The public surface; the implementation is one step away in the modules named here.
"""

from grader.review.agreement import agreement
from grader.review.app import create_app
from grader.review.decisions import ReviewRefusedError, ReviewRequest, reviewed_scores
from grader.review.gold import export_gold, gold_frame, reviews_as_gold
from grader.review.run import ReviewRun, open_run
from grader.review.security import Guard
from grader.review.static_export import write_html_sheets
from grader.review.team import Team, load_reviewers
from grader.review.views import Viewer
from grader.runs.reviews import Action, Note, Retraction, Review, ReviewStore, StaleReviewError

__all__ = ["Action", "Guard", "Note", "Retraction", "Review", "ReviewRefusedError", "ReviewRequest", "ReviewRun",
           "ReviewStore", "StaleReviewError", "Team", "Viewer", "agreement", "create_app", "export_gold", "gold_frame",
           "load_reviewers", "open_run", "reviewed_scores", "reviews_as_gold", "write_html_sheets"]
