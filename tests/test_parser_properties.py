"""Property-based tests (hypothesis) of everything that parses what users give: on any text, a parser
returns its result or raises the error it documents (a `GraderError`, a `yaml.YAMLError`), never
anything else; and what it returns keeps its promises (turns merge by speaker, units tile their turn,
secrets are scrubbed, Markdown is inert)."""

from __future__ import annotations

import contextlib
import json
import re
import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import yamlio
from grader.errors import GraderError, RubricError, TranscriptError
from grader.escape import md
from grader.ingest.formats import FORMATS, load_transcript, transcript_from_text
from grader.ingest.names import name_key
from grader.ingest.rubric import parse_rubric
from grader.ingest.units import split_units
from grader.scrub import REDACTED, register, scrub

QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# text that looks like transcripts: speaker prefixes, separators, stamps, cue timings, JSON and markup pieces
PIECES = st.sampled_from(["Interviewer: ", "Candidate: ", "SYSTEM: ", "|", "\n", "[00:12] ", "WEBVTT\n\n",
                          "00:00:01.000 --> 00:00:02.000\n", "1\n00:00:01,000 --> 00:00:02,000\n", "<v Sam>", "{",
                          "[", "]", "}", '"speaker": ', '"text": ', "NaN", ": ", "#", "\x00", "\ufeff", "?"])
TEXTISH = st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=25).map("".join)
NAMES = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8).filter(
    lambda n: n.lower() not in {"system", "assistant", "developer", "tool", "function"})
WORDS = st.text(alphabet=string.ascii_letters + " .,?!'", min_size=1, max_size=60).filter(lambda t: t.strip())


@QUICK
@given(text=TEXTISH, fmt=st.sampled_from(FORMATS))
def test_any_text_in_any_format_parses_or_is_a_transcript_error(text, fmt):
    try:
        transcript = transcript_from_text(text, transcript_id="t.1", fmt=fmt)
    except TranscriptError:
        return
    assert transcript.id == "t.1" and transcript.candidate_turns()


@QUICK
@given(data=st.binary(max_size=300) | TEXTISH.map(str.encode), suffix=st.sampled_from([".txt", ".vtt", ".srt",
                                                                                      ".json", ".dat"]))
def test_any_file_reads_or_is_a_transcript_error(tmp_path, data, suffix):
    path = tmp_path / f"t{suffix}"
    path.write_bytes(data)
    try:
        load_transcript(path)
    except TranscriptError as exc:
        assert str(path) in str(exc) and "Fix:" in str(exc)


@QUICK
@given(turns=st.lists(st.tuples(NAMES, WORDS), min_size=1, max_size=8))
def test_plain_text_turns_merge_by_speaker_and_keep_every_word(turns):
    text = "\n".join(f"{speaker}: {words}" for speaker, words in turns)
    spelling: dict[str, str] = {}  # one speaker per name identity (case folded, NFKC), spelled as first written
    merged: list[tuple[str, str]] = []
    for written, words in turns:
        speaker = spelling.setdefault(name_key(written), written)
        if merged and merged[-1][0] == speaker:
            merged[-1] = (speaker, f"{merged[-1][1]} {words}")
        else:
            merged.append((speaker, words))
    expected = [(s, " ".join(w.split())) for s, w in merged if w.split()]
    try:
        transcript = transcript_from_text(text, transcript_id="t", fmt="plain")
    except TranscriptError as exc:  # e.g. nobody could be taken for the candidate
        assert "candidate" in str(exc) or "no speech" in str(exc)
        return
    assert [(t.speaker, t.text) for t in transcript.turns] == expected


@QUICK
@given(segments=st.lists(st.fixed_dictionaries({"speaker": NAMES, "text": WORDS,
                                                 "start": st.floats(0, 1e5, allow_nan=False)}), max_size=6))
def test_json_segments_in_time_order_become_turns(segments):
    segments = sorted(segments, key=lambda s: s["start"])
    try:
        transcript = transcript_from_text(json.dumps(segments), transcript_id="t", fmt="json")
    except TranscriptError:
        return
    assert all(t.start is not None and 0 <= t.start <= 1e5 for t in transcript.turns)
    assert {t.speaker for t in transcript.turns} <= {s["speaker"] for s in segments}


@QUICK
@given(text=st.text(max_size=400), index=st.integers(1, 500))
def test_units_tile_their_turn(text, index):
    text = " ".join(text.split())
    units = split_units(index, text, (), None)
    assert [u.id for u in units] == [f"{index}.{n}" for n in range(1, len(units) + 1)]
    for unit in units:
        assert unit.text and text[unit.start_char:unit.end_char] == unit.text
    assert [u.start_char for u in units] == sorted(u.start_char for u in units)


@QUICK
@given(text=TEXTISH)
def test_any_yaml_loads_or_is_a_yaml_error(text):
    with contextlib.suppress(yaml.YAMLError):
        yamlio.load(text)


@QUICK
@given(keys=st.lists(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=5), min_size=1, max_size=6,
                     unique=True), twice=st.data())
def test_a_key_given_twice_is_always_refused(keys, twice):
    repeated = twice.draw(st.sampled_from(keys))
    text = "".join(f"{k}: 1\n" for k in [*keys, repeated])
    try:
        yamlio.load(text)
    except yamlio.DuplicateKeyError as exc:
        assert repr(repeated) in str(exc)
    else:
        raise AssertionError("a duplicate key was accepted")


@QUICK
@given(text=TEXTISH)
def test_any_rubric_text_is_a_rubric_or_a_rubric_error(text):
    try:
        parse_rubric(text, source=Path("r.yaml"))
    except RubricError as exc:
        assert "r.yaml" in str(exc) and "Fix:" in str(exc)


@QUICK
@given(before=st.text(max_size=40), after=st.text(max_size=40),
       key=st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=40))
def test_a_registered_key_never_survives_scrubbing(before, after, key):
    secret = f"key-{key}"
    register(secret)
    cleaned = scrub(f"{before}{secret}{after}")
    assert secret not in cleaned and REDACTED in cleaned
    assert scrub(cleaned) == cleaned


@QUICK
@given(text=st.text(max_size=200))
def test_markdown_escaping_leaves_no_markup(text):
    out = md(text)
    assert "\n" not in out
    assert not re.search(r"(?<!\\)([`*_\[\]|~<>$]|&#?[0-9A-Za-z]+;)", out.replace("\\\\", ""))


@QUICK
@given(text=TEXTISH)
def test_any_error_message_is_one_paragraph_naming_the_file(text):
    error = GraderError(text or "x", path="data/file.txt", fix="do this")
    assert str(error).startswith("data/file.txt: ") and str(error).endswith("Fix: do this.")
