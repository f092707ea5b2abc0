import pytest

from grader.ingest.chunking import EstimatedTokens, chunk_transcript, exchanges, render_turn
from grader.ingest.transcript import Role, Transcript, Turn


class WordTokens:
    name = "words"

    def count(self, text: str) -> int:
        return len(text.split())


def make(turns: list[tuple[Role, str]]) -> Transcript:
    return Transcript(id="t", source="t", format="plain", roles_by="given", turns=[
        Turn(index=i, speaker=role.value, role=role, text=text) for i, (role, text) in enumerate(turns, start=1)])


IV, CA = Role.interviewer, Role.candidate


def test_whole_transcript_is_one_chunk_when_it_fits():
    t = make([(IV, "q one"), (CA, "answer one"), (IV, "q two"), (CA, "answer two")])
    chunks = chunk_transcript(t, 1000, WordTokens())
    assert len(chunks) == 1 and [x.index for x in chunks[0].turns] == [1, 2, 3, 4]


def test_questions_stay_with_answers():
    t = make([(IV, "q " * 5), (CA, "a " * 20), (CA, "b " * 5), (IV, "q " * 5), (CA, "a " * 20)])
    per_exchange = sum(WordTokens().count(render_turn(x)) + 1 for x in t.turns[:3])
    chunks = chunk_transcript(t, per_exchange + 2, WordTokens())
    assert [[x.index for x in c.turns] for c in chunks] == [[1, 2, 3], [4, 5]]
    assert all(c.tokens <= per_exchange + 2 for c in chunks)


def test_long_turn_is_cut_into_windows_of_whole_units_that_keep_their_ids():
    sentences = [f"Sentence {i} has five words." for i in range(20)]
    t = make([(IV, "tell me"), (CA, " ".join(sentences))])
    chunks = chunk_transcript(t, 30, WordTokens())
    pieces = [x for c in chunks for x in c.turns if x.index == 2]
    assert len(pieces) > 3
    units = [u for p in pieces for u in p.units]
    assert [u.id for u in units] == [f"2.{n}" for n in range(1, 21)]  # nothing lost, order and ids kept
    assert [u.text for u in units] == sentences
    assert all(c.tokens <= 30 for c in chunks)
    assert chunks[-1].citable_ids() == [u.id for u in chunks[-1].turns[-1].units]


def test_every_turn_appears_once_in_order():
    t = make([(IV if i % 3 == 0 else CA, "word " * (i % 7 + 1)) for i in range(40)])
    chunks = chunk_transcript(t, 25, WordTokens())
    assert [x.index for c in chunks for x in c.turns] == list(range(1, 41))


def test_exchanges_group_interviewer_with_following_answers():
    t = make([(CA, "hi"), (IV, "q"), (IV, "q2"), (CA, "a"), (IV, "q3"), (CA, "a3")])
    assert [[x.index for x in g] for g in exchanges(t.turns)] == [[1], [2, 3, 4], [5, 6]]


@pytest.mark.parametrize(("text", "at_least"), [("", 0), ("one two three four", 6), ("x" * 400, 100)])
def test_estimate_is_conservative(text, at_least):
    assert EstimatedTokens().count(text) >= at_least


def test_budget_must_be_positive():
    with pytest.raises(ValueError):
        chunk_transcript(make([(CA, "a")]), 0, WordTokens())


def test_server_counter_chunks_a_sample_within_budget():
    """Exact counts with the embedded model's vocabulary, from the real server's /tokenize."""
    from grader.ingest.chunking import ServerTokens
    from grader.ingest.formats import load_transcript
    from grader.llm.backend import make_openai_client
    from grader.llm.embedded import EmbeddedServer

    from .conftest import TRANSCRIPTS

    with EmbeddedServer(smoke=False) as server:
        counter = ServerTokens(make_openai_client(server.base_url, None, 30))
        transcript = load_transcript(TRANSCRIPTS / "strong-candidate.vtt")
        chunks = chunk_transcript(transcript, 300, counter)
        assert len(chunks) > 2
        assert all(c.tokens <= 300 for c in chunks)
        assert sum(counter.count(render_turn(t)) + 1 for t in chunks[0].turns) == chunks[0].tokens
        sentence = "We tracked MAE and RMSE every day."
        assert 5 < counter.count(sentence) < EstimatedTokens().count(sentence) + 5
