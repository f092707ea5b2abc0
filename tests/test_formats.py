import json

import pytest

from grader.errors import TranscriptError
from grader.ingest.formats import load_transcript
from grader.ingest.transcript import Role

from .conftest import TRANSCRIPTS

VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
<v Dana>Tell me about a forecast?</v>

00:00:04.500 --> 00:00:09.000
<v Sam>We used ARIMA.

00:00:09.000 --> 00:00:12.500
Sam: And then Prophet.
"""
SRT = """1
00:00:01,000 --> 00:00:04,000
Interviewer: How do you monitor it?

2
00:00:04,500 --> 00:00:09,250
Alex: With MAE
every week.
"""
PLAIN = """# a comment
[00:05] Interviewer: What is drift?
[01:10] Candidate: When the data changes.
  It breaks models.
"""
MIT = ("Interviewer: So how are you doing?|Interviewee: Im pretty good.|Interviewer: Tell me about yourself."
       "|Interviewee: ok  uhm  I study biology.")
JSON_SEGMENTS = json.dumps([
    {"speaker": "Recruiter", "start": 0.0, "end": 2.0, "text": "Why this role?"},
    {"speaker": "Kim", "start": 2.5, "end": 6.0, "text": "I like forecasting."},
    {"speaker": "Kim", "start": 6.0, "end": 8.0, "text": "And pipelines."},
])


@pytest.mark.parametrize(("name", "content", "fmt", "turns"), [
    ("a.vtt", VTT, "vtt", [("Dana", Role.interviewer, "Tell me about a forecast?", 1.0, 4.0),
                           ("Sam", Role.candidate, "We used ARIMA. And then Prophet.", 4.5, 12.5)]),
    ("a.srt", SRT, "srt", [("Interviewer", Role.interviewer, "How do you monitor it?", 1.0, 4.0),
                           ("Alex", Role.candidate, "With MAE every week.", 4.5, 9.25)]),
    ("a.txt", PLAIN, "plain", [("Interviewer", Role.interviewer, "What is drift?", 5.0, None),
                               ("Candidate", Role.candidate, "When the data changes. It breaks models.", 70.0, None)]),
    ("p1.txt", MIT, "mit", [("Interviewer", Role.interviewer, "So how are you doing?", None, None),
                            ("Interviewee", Role.candidate, "Im pretty good.", None, None),
                            ("Interviewer", Role.interviewer, "Tell me about yourself.", None, None),
                            ("Interviewee", Role.candidate, "ok uhm I study biology.", None, None)]),
    ("a.json", JSON_SEGMENTS, "json", [("Recruiter", Role.interviewer, "Why this role?", 0.0, 2.0),
                                       ("Kim", Role.candidate, "I like forecasting. And pipelines.", 2.5, 8.0)]),
    ("p7.txt", "Interviewer: Why?|Interviewee: I want to | be at a level: above most|Interviewer: Ok.", "mit",
     [("Interviewer", Role.interviewer, "Why?", None, None),
      ("Interviewee", Role.candidate, "I want to | be at a level: above most", None, None),
      ("Interviewer", Role.interviewer, "Ok.", None, None)]),
    ("p32.txt", "Ready.|Interviewer: Go?|Interviewee: Yes.", "mit",
     [("(unlabelled)", Role.other, "Ready.", None, None), ("Interviewer", Role.interviewer, "Go?", None, None),
      ("Interviewee", Role.candidate, "Yes.", None, None)]),
    ("noext", VTT, "vtt", None),  # detected by content
    ("noext2", JSON_SEGMENTS, "json", None),
])
def test_parsers(tmp_path, name, content, fmt, turns):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    transcript = load_transcript(path)
    assert transcript.format == fmt
    if turns is not None:
        got = [(t.speaker, t.role, t.text, t.start, t.end) for t in transcript.turns]
        assert got == turns
        assert [t.index for t in transcript.turns] == list(range(1, len(turns) + 1))


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("empty.txt", "  \n", "the file is empty"),
    ("only-q.txt", "Interviewer: Any questions?\nInterviewer: No?\n", "no turn is the candidate's"),
    ("what.txt", "just some prose without speakers\n", "unknown transcript format"),
    ("latin.txt", "Interviewer: caf\xe9?\n".encode("latin-1"), "not UTF-8"),
    ("bad.vtt", "WEBVTT\n\n00:00:0x.000 --> 00:00:04.000\n<v A>hi\n", "not valid WebVTT"),
    ("back.vtt", "WEBVTT\n\n00:00:05.000 --> 00:00:02.000\n<v A>hi?\n\n00:00:06.000 --> 00:00:07.000\n<v B>yes\n",
     "ends (2 s) before it starts (5 s)"),
    ("order.srt", "1\n00:00:05,000 --> 00:00:06,000\nA: hi?\n\n2\n00:00:01,000 --> 00:00:02,000\nB: yes\n",
     "before the previous one"),
    ("nospk.srt", "1\n00:00:01,000 --> 00:00:02,000\nhello there\n", "no speaker is named"),
    ("stamp.txt", "[01:99] Interviewer: hi?\n[02:00] Candidate: yes\n", "broken timestamp [01:99]"),
    ("neg.json", '[{"speaker": "A", "start": -1, "end": 2, "text": "hi"}]', "not a number of seconds"),
    ("str.json", '[{"speaker": "A", "start": "0:01", "end": 2, "text": "hi"}]', "not a number of seconds"),
    ("shape.json", '{"turns": []}', "expected a list of segments"),
    ("syntax.json", '[{"speaker": "A",', "not valid JSON"),
    ("nospeaker.json", '[{"text": "hi"}]', "needs 'speaker' and 'text'"),
])
def test_bad_transcripts_name_file_place_and_fix(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(TranscriptError) as info:
        load_transcript(path)
    message = str(info.value)
    assert str(path) in message and "Fix:" in message
    if expected:
        assert expected in message


def test_roles_from_cli_names_override_heuristic(tmp_path):
    path = tmp_path / "a.vtt"
    path.write_text(VTT, encoding="utf-8")
    transcript = load_transcript(path, roles={"dana": Role.candidate, "Sam": Role.interviewer})
    assert transcript.speakers() == {"Dana": Role.candidate, "Sam": Role.interviewer}
    assert transcript.roles_by == "given (2)"


def test_heuristic_finds_interviewer_by_questions(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Bo: I built a forecast.\nAl: Why that model?\nBo: It fit the trend.\nAl: And then?\n")
    transcript = load_transcript(path)
    assert transcript.speakers() == {"Bo": Role.candidate, "Al": Role.interviewer}
    assert transcript.roles_by == "heuristic (2)"


@pytest.mark.parametrize("name", ["strong-candidate.vtt", "mixed-candidate.srt", "weak-candidate.json",
                                  "short-screen.txt"])
def test_samples_load_with_one_candidate(name):
    transcript = load_transcript(TRANSCRIPTS / name)
    assert len({t.speaker for t in transcript.candidate_turns()}) == 1
    assert transcript.turns[0].role is Role.interviewer
