"""Level probabilities (G-Eval) from a probe call's token log-probabilities; never guessed."""

import math
from types import SimpleNamespace

import pytest

from grader.grading.grades import GradeStatus, Settings
from grader.grading.levelprobs import NOT_REQUESTED, NOT_RETURNED, level_probabilities
from grader.testing import tool_reply

from .test_scoring import GOOD, grade


def tok(text: str, p: float, top: list[tuple[str, float]] | None = None) -> SimpleNamespace:
    return SimpleNamespace(token=text, logprob=math.log(p),
                           top_logprobs=[SimpleNamespace(token=t, logprob=math.log(q)) for t, q in (top or [])])


def tokens_for(arguments: str, at_level: list[tuple[str, float]]) -> list[SimpleNamespace]:
    """Split `arguments` so the level value starts a token (with a leading space, as BPE does)."""
    cut = arguments.index('"level":') + len('"level":')
    return [tok(arguments[:cut], 0.9), tok(arguments[cut:], at_level[0][1], at_level)]


def test_distribution_expected_level_and_mass():
    arguments = '{"rationale": "ok", "level": 3}'
    top = [(" 3", 0.5), (" 4", 0.2), (" 2", 0.1), (' "', 0.1), (" The", 0.05)]
    probs = level_probabilities(tokens_for(arguments, top), arguments)
    assert probs is not None and probs.level == "3"
    assert probs.mass == pytest.approx(0.9)
    assert probs.probs["3"] == pytest.approx(0.5 / 0.9) and probs.probs["insufficient_evidence"] == pytest.approx(1 / 9)
    assert sum(probs.probs.values()) == pytest.approx(1.0)
    assert probs.expected == pytest.approx((3 * 0.5 + 4 * 0.2 + 2 * 0.1) / 0.8)  # over 1..5 only


def test_insufficient_evidence_and_tokens_that_cannot_start_a_level():
    arguments = '{"level": "insufficient_evidence"}'
    top = [(' "', 0.6), (" 1", 0.1), ("12", 0.1), (' "ins', 0.1)]  # "12" is not a level
    probs = level_probabilities(tokens_for(arguments, top), arguments)
    assert probs.level == "insufficient_evidence" and probs.mass == pytest.approx(0.8)
    assert probs.probs["insufficient_evidence"] == pytest.approx(0.7 / 0.8) and probs.expected == pytest.approx(1.0)


def test_no_level_found_is_none_not_a_number():
    assert level_probabilities([tok('{"rationale": "x"}', 0.9)], '{"rationale": "x"}') is None
    assert level_probabilities([tok('{"level": 3', 0.9)], '{"level": 3') is None  # cut-off JSON


def probed_reply(body: dict) -> dict:
    if body.get("logprobs"):
        arguments = '{"level": 4}'
        reply = tool_reply(arguments, prompt_tokens=10, completion_tokens=5)
        reply["choices"][0]["logprobs"] = {"content": [
            {"token": '{"level":', "logprob": -0.01, "bytes": None, "top_logprobs": []},
            {"token": " 4", "logprob": math.log(0.6), "bytes": None, "top_logprobs": [
                {"token": " 4", "logprob": math.log(0.6), "bytes": None},
                {"token": " 5", "logprob": math.log(0.3), "bytes": None}]},
            {"token": "}", "logprob": -0.01, "bytes": None, "top_logprobs": []}]}
        return reply
    return tool_reply(GOOD, prompt_tokens=100, completion_tokens=40)


def test_probe_call_records_probabilities_and_its_cost(fake_server):
    server = fake_server(probed_reply)
    g = grade(server, Settings(model="fake", level_probs=True, top_logprobs=5))
    assert (g.status, g.level) == (GradeStatus.scored, 4)  # the graded level, not the probe's
    assert g.level_probs.probs["4"] == pytest.approx(2 / 3) and g.level_probs.expected == pytest.approx(13 / 3)
    assert g.level_probs_note is None and g.usage.prompt_tokens == 110  # the probe's tokens are counted
    probe = server.requests[1]
    assert probe["logprobs"] is True and probe["top_logprobs"] == 5 and probe["max_tokens"] == 24
    assert probe["messages"] == server.requests[0]["messages"]  # same prompt: the server reuses the prefix
    assert "logprobs" not in server.requests[0]  # the graded reply is not slowed by log-probabilities


def test_without_logprobs_the_grade_says_why(fake_server):
    g = grade(fake_server([tool_reply(GOOD), tool_reply('{"level": 4}')]), Settings(model="fake", level_probs=True))
    assert g.level_probs is None and g.level_probs_note == NOT_RETURNED and g.level == 4
    g = grade(fake_server([tool_reply(GOOD), 500]), Settings(model="fake", level_probs=True))
    assert g.level_probs is None and "probe call failed" in g.level_probs_note and g.status is GradeStatus.scored
    g = grade(fake_server([tool_reply(GOOD)]))
    assert g.level_probs is None and g.level_probs_note == NOT_REQUESTED
