"""The logic around the model, against a scripted fake server (the real model path is in test_replay)."""

import pytest

from grader.grading.grades import CriterionGrade, Evidence, GradeStatus, Settings
from grader.grading.prompts import load_prompt
from grader.grading.scoring import grade_criterion, make_client
from grader.grading.verify import combine_chunk_grades
from grader.ingest.chunking import Chunk
from grader.ingest.rubric import load_rubric
from grader.ingest.transcript import Role, Transcript, Turn
from grader.testing import tool_reply

from .conftest import RUBRIC

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

RUB = load_rubric(RUBRIC)
COMP, CRIT = RUB.criteria()[2]  # evaluation and model monitoring
PROMPT = load_prompt()
T = Transcript(id="t", source="t", format="plain", roles_by="given", turns=[
    Turn(index=1, speaker="Dana", role=Role.interviewer, text="How do you monitor a forecast?"),
    Turn(index=2, speaker="Sam", role=Role.candidate,
         text="We tracked MAE every day on a rolling holdout. We alerted when it drifted above baseline."),
])
CHUNKS = [Chunk(index=1, turns=T.turns, tokens=50)]
SETTINGS = Settings(model="fake", backoff_max_seconds=0.01, transient_attempts=3)
GOOD = {"evidence": [{"unit": "2.1", "note": "daily MAE"}], "red_flags": {},
        "rationale": "Tracks MAE over time with alerts.", "level": 4}
FABRICATED = {**GOOD, "evidence": [{"unit": "2.7"}], "level": 5}  # no such sentence
INTERVIEWER = {**GOOD, "evidence": [{"unit": "1.1"}], "level": 5}  # the interviewer's words


def grade(server, settings=SETTINGS) -> CriterionGrade:
    return grade_criterion(make_client(server.client()), PROMPT, RUB, COMP, CRIT, T, CHUNKS, settings)


def test_valid_reply_is_scored_with_the_cited_sentence_as_quote(fake_server):
    server = fake_server([tool_reply(GOOD, prompt_tokens=321, completion_tokens=45)])
    g = grade(server)
    assert (g.status, g.level, g.needs_review, g.attempts, g.reasks) == (GradeStatus.scored, 4, False, 1, 0)
    ev = g.evidence[0]
    assert (ev.unit, ev.turn, ev.speaker, ev.note) == ("2.1", 2, "Sam", "daily MAE") and g.rejected == []
    assert ev.text == "We tracked MAE every day on a rolling holdout." == T.turns[1].units[0].text
    assert (g.usage.prompt_tokens, g.usage.completion_tokens) == (321, 45)
    body = server.requests[0]
    assert body["temperature"] == 0 and body["seed"] == 7 and body["tool_choice"]["function"]["name"]
    # the shared part (instructions + transcript) comes first, the criterion last
    system = body["messages"][0]["content"]
    assert body["messages"][0]["role"] == "system" and "Candidate (Sam): [2.1] We tracked MAE" in system
    assert "Interviewer (Dana): How do you monitor" in system and "[1.1]" not in system  # no ids to cite
    # the candidate's unit ids are an enum in the tool schema: a constrained server cannot write another
    assert _enum_of_units(body) == ["2.1", "2.2"]
    assert CRIT.name in body["messages"][-1]["content"] and CRIT.name not in body["messages"][0]["content"]
    # the request is recorded for audit: the user message as sent and a hash of all messages sent
    import hashlib
    import json

    assert g.request_user == body["messages"][1]["content"]
    assert g.request_sha256 == hashlib.sha256(json.dumps(body["messages"], ensure_ascii=False).encode()).hexdigest()


def _enum_of_units(body):
    schema = body["tools"][0]["function"]["parameters"]
    return schema["$defs"]["CitedUnit"]["properties"]["unit"]["enum"]


@pytest.mark.parametrize(("bad", "why"), [(FABRICATED, "there is no sentence 2.7"),
                                          (INTERVIEWER, "sentence 1.1 is the interviewer's")])
def test_bad_id_is_reasked_then_corrected(fake_server, bad, why):
    server = fake_server([tool_reply(bad), tool_reply(GOOD)])
    g = grade(server)
    assert (g.status, g.level, g.attempts, g.reasks, g.needs_review) == (GradeStatus.scored, 4, 2, 1, False)
    reask = server.requests[1]["messages"]
    assert len(reask) > len(server.requests[0]["messages"])
    assert any(why in str(m.get("content")) for m in reask)


def test_bad_id_twice_is_kept_marked_and_rejected_never_dropped(fake_server):
    server = fake_server([tool_reply(FABRICATED), tool_reply(FABRICATED)])
    g = grade(server)
    assert g.status is GradeStatus.scored and g.level == 5 and g.needs_review
    assert g.evidence == [] and not g.counts  # a level citing no sentence of the candidate is not counted
    assert [r.unit for r in g.rejected] == ["2.7"]
    assert "no sentence 2.7" in g.rejected[0].reason and "cites no sentence" in g.reason
    assert len(g.replies) == 2 and all('"2.7"' in r for r in g.replies)  # raw replies kept for audit


def test_schema_invalid_twice_is_unscored_never_a_number(fake_server):
    bad = {**GOOD, "level": 7}
    server = fake_server([tool_reply(bad), tool_reply("{not json")])
    g = grade(server)
    assert g.status is GradeStatus.unscored and g.level is None and not g.counts
    assert "no schema-valid reply after 2 attempts" in g.reason
    assert g.attempts == 2 and g.usage.prompt_tokens == 200  # what the failure cost is kept


def test_insufficient_evidence(fake_server):
    reply = {"evidence": [], "red_flags": {}, "rationale": "Not discussed.", "level": "insufficient_evidence"}
    g = grade(fake_server([tool_reply(reply)]))
    assert g.status is GradeStatus.insufficient_evidence and g.level is None and not g.needs_review


def test_transient_faults_are_retried_with_backoff(fake_server):
    server = fake_server([500, 429, httpx.ConnectError("refused"), tool_reply(GOOD)])
    g = grade(server, SETTINGS.model_copy(update={"transient_attempts": 4}))
    assert g.status is GradeStatus.scored and len(server.requests) == 4


@pytest.mark.parametrize(("script", "reason"), [
    ([503, 503, 503], "server answered HTTP 503"),
    ([httpx.ConnectError("refused")] * 3, "could not connect"),
    ([httpx.ReadTimeout("slow")] * 3, "did not answer in time"),
    ([400], "server answered HTTP 400"),  # not transient: one request only
])
def test_persistent_faults_are_unscored_with_reason(fake_server, script, reason):
    server = fake_server(script)
    g = grade(server)
    assert g.status is GradeStatus.unscored and g.level is None and reason in g.reason
    assert len(server.requests) == (1 if script == [400] else 3)


def test_cut_off_reply_is_unscored(fake_server):
    g = grade(fake_server([tool_reply(GOOD, finish_reason="length")]))
    assert g.status is GradeStatus.unscored and "cut off" in g.reason


def test_red_flags_are_resolved_and_unknown_ids_rejected(fake_server):
    flags = {"rf1": ["2.2"], "rf9": ["2.1"]}
    g = grade(fake_server([tool_reply({**GOOD, "red_flags": flags})] * 2))
    assert [f.flag_id for f in g.red_flags] == ["rf1"] and g.red_flags[0].flag == COMP.red_flags[0]
    assert g.red_flags[0].evidence[0].text == "We alerted when it drifted above baseline."
    assert len(g.rejected) == 1 and "'rf9' is not a red flag" in g.rejected[0].reason and g.needs_review


def test_chunk_grades_combine_to_best_verified_level():
    ev = Evidence(unit="1.1", turn=1, speaker="Sam", text="q")
    base = {"competency_id": "c", "criterion_id": "x"}
    grades = [CriterionGrade(**base, status=GradeStatus.scored, level=5, chunks=[1]),  # no evidence
              CriterionGrade(**base, status=GradeStatus.scored, level=3, evidence=[ev], chunks=[2]),
              CriterionGrade(**base, status=GradeStatus.insufficient_evidence, chunks=[3])]
    combined = combine_chunk_grades(grades)
    assert combined.level == 3 and combined.chunks == [1, 2, 3] and combined.evidence == [ev]
    none = combine_chunk_grades([grades[2], grades[2].model_copy(update={"chunks": [4]})])
    assert none.status is GradeStatus.insufficient_evidence


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "3"}, 3.0), ({"retry-after-ms": "250"}, 0.25), ({"retry-after": "soon"}, None), ({}, None)])
def test_retry_after_is_read_from_the_error(headers, expected):
    import openai

    from grader.llm.retry import retry_after_seconds

    request = httpx.Request("POST", "http://fake.test/v1/chat/completions")
    response = httpx.Response(429, headers=headers, request=request)
    err = openai.RateLimitError("slow down", response=response, body=None)
    assert retry_after_seconds(err) == expected


def test_retry_after_is_honoured(fake_server):
    import time

    server = fake_server([(429, {"retry-after": "0.3"}), tool_reply(GOOD)])
    started = time.perf_counter()
    g = grade(server)
    assert g.status is GradeStatus.scored and time.perf_counter() - started >= 0.3


def test_raw_control_characters_are_read_leniently_and_marked(fake_server):
    broken = '{"evidence": [{"unit": "2.1"}], ' \
             '"red_flags": {}, "rationale": "Tracks MAE\nover time.", "level": 4}'
    g = grade(fake_server([tool_reply(broken), tool_reply(broken)]))
    assert (g.status, g.level, g.attempts) == (GradeStatus.scored, 4, 2)
    assert g.evidence[0].unit == "2.1" and g.needs_review and "raw control characters" in g.reason


def test_compact_reply_schema_is_sent_and_bounded(fake_server):
    from grader.grading.reply import CompactGradeReply

    long_rationale = {**GOOD, "rationale": "x" * 121}
    server = fake_server([tool_reply(GOOD), tool_reply(long_rationale)])
    g = grade(server, Settings(model="fake", reply="compact", reasks=0))
    schema = server.requests[0]["tools"][0]["function"]["parameters"]
    assert schema["properties"]["evidence"]["maxItems"] == 1 and schema["properties"]["rationale"]["maxLength"] == 120
    assert g.counts and CompactGradeReply.model_fields["evidence"].metadata
    g = grade(server, Settings(model="fake", reply="compact", reasks=0))
    assert g.status is GradeStatus.unscored and "rationale" in g.reason  # over the bound: never a score
