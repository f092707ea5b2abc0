"""Citable units: the splitter, ids, spans and times; resolving cited ids; the reply schema's id enum."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.grades import Evidence, RejectedCitation
from grader.grading.reply import MAX_ENUM_IDS, UNIT_PATTERN, reply_model
from grader.grading.verify import resolve_all, resolve_unit
from grader.ingest.transcript import Role, Segment, Transcript, Turn, build_transcript
from grader.ingest.units import MAX_WORDS, split_units


def texts(units):
    return [u.text for u in units]


@pytest.mark.parametrize(("text", "expected"), [
    ("I built a churn model at Acme. It cut churn by 4.5%. Then we shipped it!",
     ["I built a churn model at Acme.", "It cut churn by 4.5%.", "Then we shipped it!"]),
    # abbreviations and decimals do not end a sentence
    ("We used XGBoost, e.g. with 300 trees, and Dr. Smith reviewed it. The p-value was 0.03.",
     ["We used XGBoost, e.g. with 300 trees, and Dr. Smith reviewed it.", "The p-value was 0.03."]),
    ("Why? Because the old pipeline was slow.", ["Why?", "Because the old pipeline was slow."]),
    ("one sentence without a full stop", ["one sentence without a full stop"]),
])
def test_punctuated_text_splits_into_sentences(text, expected):
    assert texts(split_units(3, text)) == expected


def test_ids_spans_and_exact_text():
    text = "First one.  Second one? Third."
    units = split_units(12, text)
    assert [u.id for u in units] == ["12.1", "12.2", "12.3"]
    assert all(text[u.start_char:u.end_char] == u.text for u in units)
    assert units[0].turn == 12


def test_unpunctuated_asr_text_is_cut_at_clause_boundaries():
    words = ("yeah so basically we had this problem with the data pipeline and uh I decided to rewrite it in "
             "spark because the old one was too slow and then we tested it for two weeks with the whole team "
             "but the numbers did not move so we went back to the drawing board and looked at the joins again "
             "which turned out to be the real culprit all along")
    units = split_units(4, words)
    assert len(units) > 1 and all(len(u.text.split()) <= MAX_WORDS for u in units)
    assert " ".join(texts(units)) == words  # nothing lost, nothing added
    assert units[1].text.split()[0] in {"and", "but", "so", "because", "which", "then"}  # cut before a conjunction


def test_very_long_turn_without_any_boundary_is_cut_at_max_words():
    text = " ".join(f"w{i}" for i in range(130))
    units = split_units(1, text)
    assert [len(u.text.split()) for u in units] == [40, 40, 40, 10]
    assert all(text[u.start_char:u.end_char] == u.text for u in units)


def test_comma_is_preferred_as_the_cut():
    text = ("We measured the lift in a two week test across all regions and devices we had, " * 2).strip()
    units = split_units(1, text)
    assert units[0].text.endswith(",")


def test_unit_time_is_the_start_of_the_cue_it_begins_in():
    segments = [Segment(speaker="Dana", text="Tell me about a model.", start=0.0, end=2.0),
                Segment(speaker="Sam", text="I built a forecast.", start=2.5, end=4.0),
                Segment(speaker="Sam", text="It ran daily. It was accurate.", start=61.0, end=66.0)]
    t = build_transcript(segments, source=__import__("pathlib").Path("x.json"), fmt="json")
    sam = t.turns[1]
    assert [(u.id, u.start) for u in sam.units] == [("2.1", 2.5), ("2.2", 61.0), ("2.3", 61.0)]
    assert t.candidate_unit_ids() == ["2.1", "2.2", "2.3"]


def test_turn_without_times_has_units_without_times():
    turn = Turn(index=2, speaker="Sam", role=Role.candidate, text="One. Two.")
    assert [u.start for u in turn.units] == [None, None]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_units_always_cover_the_text_exactly(text):
    text = " ".join(text.split())
    units = split_units(1, text)
    assert all(text[u.start_char:u.end_char] == u.text and u.text == u.text.strip() and u.text for u in units)
    assert "".join(texts(units)).replace(" ", "") == text.replace(" ", "")
    assert [u.id for u in units] == [f"1.{n}" for n in range(1, len(units) + 1)]


T = Transcript(id="t", source="t", format="plain", roles_by="given", turns=[
    Turn(index=1, speaker="Dana", role=Role.interviewer, text="How do you monitor a forecast? Be specific."),
    Turn(index=2, speaker="Sam", role=Role.candidate, text="We tracked MAE daily. We alerted on drift."),
    Turn(index=3, speaker="Sam", role=Role.candidate, text="Schema changes went through a registry."),
])


@pytest.mark.parametrize(("unit", "citable", "outcome"), [
    ("2.2", ["2.1", "2.2", "3.1"], "We alerted on drift."),
    ("9.1", ["2.1", "2.2", "3.1"], "there is no sentence 9.1 in the transcript"),
    ("1.1", ["2.1", "2.2", "3.1"], "sentence 1.1 is the interviewer's, not the candidate's"),
    ("3.1", ["2.1", "2.2"], "sentence 3.1 is not in the part of the transcript shown"),
    ("2.1 ", ["2.1"], "there is no sentence 2.1  in the transcript"),
])
def test_resolve_unit(unit, citable, outcome):
    item = resolve_unit(unit, T, citable)
    if isinstance(item, Evidence):
        assert (item.text, item.turn, item.speaker) == (outcome, 2, "Sam")
    else:
        assert isinstance(item, RejectedCitation) and item.reason == outcome


def test_repeated_ids_are_kept_once_and_order_is_kept():
    found, rejected = resolve_all([("2.2", "x"), ("2.1", None), ("2.2", "again"), ("7.7", None)], T, ["2.1", "2.2"])
    assert [e.unit for e in found] == ["2.2", "2.1"] and found[0].note == "x" and [r.unit for r in rejected] == ["7.7"]


def test_reply_schema_has_the_chunk_ids_as_enum_and_flags_of_the_rubric():
    model = reply_model("full", ("2.1", "2.2"), ("rf1", "rf2"))
    schema = model.model_json_schema()
    defs = schema["$defs"]
    assert defs["CitedUnit"]["properties"]["unit"]["enum"] == ["2.1", "2.2"]
    flags = schema["properties"]["red_flags"]
    assert list(flags["properties"]) == ["rf1", "rf2"] and flags["additionalProperties"] is False
    assert flags["properties"]["rf2"]["items"]["enum"] == ["2.1", "2.2"] and "maxProperties" not in flags
    assert list(schema["properties"]) == ["evidence", "red_flags", "rationale", "level"]  # level last
    assert schema["properties"]["rationale"]["maxLength"] <= 160


def test_past_the_enum_limit_ids_are_a_pattern():
    ids = tuple(f"{t}.{n}" for t in range(1, 200) for n in range(1, 4))
    assert len(ids) > MAX_ENUM_IDS
    schema = reply_model("full", ids, ("rf1",)).model_json_schema()
    unit = schema["$defs"]["CitedUnit"]["properties"]["unit"]
    assert "enum" not in unit and unit["pattern"] == UNIT_PATTERN
    assert schema["properties"]["red_flags"]["properties"]["rf1"]["items"]["pattern"] == UNIT_PATTERN


def test_a_long_unpunctuated_turn_is_cut_looking_at_each_word_a_bounded_number_of_times(monkeypatch):
    """Issue 21: the cuts once recounted the rest of the turn at each cut (quadratic: 35 s at 80k words)."""
    import grader.ingest.units as units

    scanned = 0
    word = units._WORD

    class Counting:
        def finditer(self, text, start, end):
            nonlocal scanned
            for match in word.finditer(text, start, end):
                scanned += 1
                yield match

        def findall(self, text, start, end):
            found = word.findall(text, start, end)
            nonlocal scanned
            scanned += len(found)
            return found

    monkeypatch.setattr(units, "_WORD", Counting())
    words = 20_000
    text = " ".join(f"w{i}" for i in range(words))
    pieces = units.split_units(1, text)
    assert all(len(p.text.split()) <= units.MAX_WORDS for p in pieces)
    assert " ".join(p.text for p in pieces) == text  # every word kept, in order
    assert scanned <= 3 * words, f"{scanned:,} words scanned for a turn of {words:,}"
