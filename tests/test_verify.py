import pytest

from grader.grades import MatchKind
from grader.transcript import Role, Transcript, Turn
from grader.verify import match_quote, normalise, verify_quote

TRANSCRIPT = Transcript(id="t", source="t", format="plain", roles_by="given", turns=[
    Turn(index=1, speaker="Dana", role=Role.interviewer, text="How do you monitor a forecast in production?"),
    Turn(index=2, speaker="Sam", role=Role.candidate,
         text="So, uhm, we tracked MAE and RMSE every day, and we alerted when the error drifted above "
              "the thirty-day baseline."),
    Turn(index=3, speaker="Dana", role=Role.interviewer, text="And what about schema changes?"),
    Turn(index=4, speaker="Sam", role=Role.candidate,
         text="We used a schema registry with backward-compatible Avro versions, and I dont remember more."),
])


@pytest.mark.parametrize(("quote", "cited", "verified", "turn", "match", "note"), [
    # exact, modulo case, punctuation, whitespace and fillers
    ("we tracked MAE and RMSE every day", 2, True, 2, MatchKind.exact, None),
    ("So we tracked MAE and RMSE", 2, True, 2, MatchKind.exact, None),
    ("We used a schema registry with backward compatible Avro versions", 4, True, 4, MatchKind.exact, None),
    ("I don't remember more", 4, True, 4, MatchKind.exact, None),
    # near: a transcription slip
    ("we alerted when the error drifted above the thirty day baseline line", 2, True, 2, MatchKind.near, None),
    ("we tracked MAE and RMS every day", 2, True, 2, MatchKind.near, None),
    # right words, wrong turn cited: found and corrected, visibly
    ("schema registry with backward-compatible Avro versions", 2, True, 4, MatchKind.exact,
     "cited turn 2, found in turn 4"),
    ("schema registry with backward-compatible Avro versions", 99, True, 4, MatchKind.exact,
     "cited turn 99, found in turn 4"),
    # fabricated
    ("we deployed a Kalman filter with automated retraining", 2, False, None, MatchKind.none,
     "not found in any candidate turn"),
    ("a hybrid model", 77, False, None, MatchKind.none, "turn 77 does not exist"),
    # the interviewer's words are never the candidate's evidence
    ("How do you monitor a forecast in production", 1, False, None, MatchKind.none, "interviewer's words (turn 1)"),
    ("", 2, False, None, MatchKind.none, "empty quote"),
    # too short to accept on similarity alone
    ("MAE and RMSF", 2, False, None, MatchKind.none, "not found"),
])
def test_verify_quote(quote, cited, verified, turn, match, note):
    ev = verify_quote(quote, cited, TRANSCRIPT)
    assert (ev.verified, ev.turn, ev.match) == (verified, turn, match)
    assert ev.quote == quote and ev.cited_turn == cited
    if note:
        assert note in ev.note
    else:
        assert ev.note is None


def test_normalise_drops_fillers_and_punctuation_not_words():
    assert normalise("So, uhm,  WE “tracked” — MAE... ah") == "so we tracked mae"
    assert normalise("Umbrella") == "umbrella"


def test_match_scores():
    assert match_quote("tracked MAE", "we tracked MAE daily") == (MatchKind.exact, 100.0)
    kind, score = match_quote("completely different words here", "we tracked MAE daily")
    assert kind is MatchKind.none and score < 90
