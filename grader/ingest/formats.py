"""Transcript file formats: detection and parsing into raw segments.

Formats: `plain` (`Speaker: text` lines, an optional `[hh:mm:ss]` stamp in front), `mit` (the
one-line `Interviewer: ...|Interviewee: ...` form of the MIT interview data), `vtt` (WebVTT, with
`<v Name>` voice tags or `Name:` prefixes), `srt` (SubRip, `Name:` prefixes) and `json`
(diarized segments: a list, or `{"segments": [...]}`, of `{speaker, start, end, text}`).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import srt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from grader.errors import TranscriptError
from grader.ingest.names import name_key, skeleton
from grader.ingest.transcript import Role, Segment, Transcript, build_transcript

FORMATS = ("plain", "mit", "vtt", "srt", "json")
_SPEAKER = re.compile(r"^\s*(?:\[(?P<stamp>[\d:.]+)\]\s*)?(?P<speaker>[^:\[\]]{1,60}?)\s*:\s*(?P<text>.*)$")
_EXTENSIONS = {".vtt": "vtt", ".srt": "srt", ".json": "json"}
_MIT_SPEAKERS = {"interviewer", "interviewee"}
UNLABELLED = "(unlabelled)"


def detect_format(path: Path, text: str) -> str:
    """The format by extension, then by content."""
    if path.suffix.lower() in _EXTENSIONS:
        return _EXTENSIONS[path.suffix.lower()]
    head = text.lstrip("\ufeff").lstrip()
    if head.startswith("WEBVTT"):
        return "vtt"
    if re.match(r"\{|\[\s*[{\]]", head):
        return "json"
    if re.match(r"^\d+\s*\n\d\d:\d\d:\d\d,\d{3}\s*-->", head):
        return "srt"
    lines = [ln for ln in head.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) == 1 and head.count("|") >= 2 and _SPEAKER.match(lines[0]):
        return "mit"
    if lines and _SPEAKER.match(lines[0]):
        return "plain"
    raise TranscriptError("unknown transcript format", path=path, where="line 1",
                          fix=f"give a file in one of the formats {', '.join(FORMATS)} or name it "
                              "with --format")


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TranscriptError(f"cannot read the file ({exc.strerror})", path=path,
                              fix="check the path") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TranscriptError(f"not UTF-8 text (byte {exc.start})", path=path, where=f"line {line}",
                              fix="convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8") from None


def load_transcript(path: Path | str, *, fmt: str | None = None,
                    roles: dict[str, Role] | None = None) -> Transcript:
    """Read a transcript file in any supported format into turns with roles."""
    path = Path(path)
    text = read_text(path)
    if not text.strip():
        raise TranscriptError("the file is empty", path=path, fix="give a transcript with speech in it")
    fmt = fmt or detect_format(path, text)
    return _parse(text, path, fmt, roles, None)


def transcript_from_text(text: str, *, transcript_id: str, fmt: str = "mit",
                         roles: dict[str, Role] | None = None) -> Transcript:
    """A transcript held in memory (a dataset cell) rather than in a file; its id is kept whole."""
    if not text.strip():
        raise TranscriptError("the transcript is empty", path=transcript_id, fix="give a transcript with speech in it")
    return _parse(text, Path(transcript_id), fmt, roles, transcript_id)


def _parse(text: str, path: Path, fmt: str, roles: dict[str, Role] | None, transcript_id: str | None) -> Transcript:
    """Segments by the format's parser, then turns; whatever a parser did not foresee is a clear error too."""
    if fmt not in _PARSERS:
        raise TranscriptError(f"unknown format {fmt!r}", path=path, where="--format",
                              fix=f"use one of {', '.join(FORMATS)}")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise TranscriptError("the text contains NUL bytes (a binary file?)", path=path, where=f"line {line}",
                              fix="give a plain-text transcript (UTF-8)")
    try:
        segments = _PARSERS[fmt](text, path)
        return build_transcript(segments, source=path, fmt=fmt, roles=roles, transcript_id=transcript_id)
    except TranscriptError:
        raise
    except RecursionError:
        raise TranscriptError("nested too deeply to read", path=path,
                              fix=f"give a flat {fmt} transcript (JSON: a list of segments)") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        raise TranscriptError(f"cannot be read as {fmt} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
                              path=path, fix=f"check the file is a {fmt} transcript, or name its format with "
                                             "--format") from None


# chat roles are not people: `SYSTEM: ...` inside an answer is the answer's text (the injection
# detector sees it there), never a speaker of its own that would open a turn in the prompt; they are
# recognised by their confusables skeleton, so `ＳＹＳＴＥＭ`, `Sүstem` (Cyrillic ү) and `Sys\u200btem` are too
CHAT_ROLES = frozenset({"system", "assistant", "developer", "tool", "function", "user"})
_CHAT_SKELETONS = frozenset(skeleton(role) for role in CHAT_ROLES)
_CUE_TIMING = re.compile(r"^\s*(\d+:)?\d\d:\d\d[.,]\d{3}\s+-->")


def is_chat_role(name: str) -> bool:
    """`name` is a chat role however it is spelled (full-width, look-alike letters, invisible characters)."""
    return skeleton(name) in _CHAT_SKELETONS


def is_speaker_name(name: str) -> bool:
    """A `Name:` prefix names a speaker when it has a letter and is not a chat role."""
    return any(ch.isalpha() for ch in name) and not is_chat_role(name)


def parse_plain(text: str, path: Path) -> list[Segment]:
    segments: list[Segment] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if _CUE_TIMING.match(line):
            raise TranscriptError("a subtitle cue timing in a plain-text transcript", path=path, where=f"line {number}",
                                  fix="give the file its format's extension (.vtt, .srt) or name it with --format")
        match = _SPEAKER.match(line)
        if match and not is_speaker_name(match["speaker"]):
            match = None
        if match:
            start = _stamp_seconds(match["stamp"], path, number) if match["stamp"] else None
            segments.append(Segment(speaker=match["speaker"].strip(), text=match["text"], start=start,
                                    where=f"line {number}"))
        elif segments:  # a continuation line belongs to the turn above
            last = segments[-1]
            segments[-1] = last.model_copy(update={"text": f"{last.text} {line.strip()}"})
        else:
            raise TranscriptError("the first line names no speaker", path=path, where=f"line {number}",
                                  fix="start each turn with 'Speaker: ' (a name with a letter; a chat role such as "
                                      "'SYSTEM' is not a speaker)")
    return segments


def parse_mit(text: str, path: Path) -> list[Segment]:
    """Turns separated by '|'; a piece with no 'Speaker:' prefix continues the turn before it
    (the MIT data has answers with a '|' inside them, and one transcript opening with no speaker)."""
    segments: list[Segment] = []
    known = set(_MIT_SPEAKERS)  # name keys of the speakers so far
    for number, piece in enumerate(text.strip().split("|"), start=1):
        if not piece.strip():
            continue
        match = _SPEAKER.match(piece)
        if match and name_key(match["speaker"]) in known:
            segments.append(Segment(speaker=match["speaker"].strip(), text=match["text"], where=f"turn {number}"))
        elif segments:
            last = segments[-1]
            segments[-1] = last.model_copy(update={"text": f"{last.text} | {piece.strip()}"})
        else:  # an opening piece with no known speaker is kept, as an unlabelled speaker (role "other")
            named = match and is_speaker_name(match["speaker"])
            speaker, words = (match["speaker"].strip(), match["text"]) if named else (UNLABELLED, piece)
            segments.append(Segment(speaker=speaker, text=words, where=f"turn {number}"))
            known.add(name_key(speaker))
    return segments


_VTT_TIMING = re.compile(r"^\s*(\d+:)?\d\d:\d\d\.\d{3}\s+-->\s+(\d+:)?\d\d:\d\d\.\d{3}(\s.*)?$")


def parse_vtt(text: str, path: Path) -> list[Segment]:
    for number, line in enumerate(text.splitlines(), start=1):
        if "-->" in line and not _VTT_TIMING.match(line):
            raise TranscriptError(f"not valid WebVTT: broken cue timing {line.strip()!r}", path=path,
                                  where=f"line {number}", fix="write it as '00:00:01.000 --> 00:00:04.000'")
    try:
        captions = webvtt.from_buffer(io.StringIO(text))
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise TranscriptError(f"not valid WebVTT: {exc}", path=path,
                              fix="check the cue timings ('00:00:01.000 --> 00:00:04.000')") from None
    segments = []
    for number, cue in enumerate(captions, start=1):
        speaker, words = _speaker_and_text(cue.voice, cue.text)
        segments.append(Segment(speaker=_cue_speaker(speaker, words, segments, path, f"cue {number}"), text=words,
                                start=cue.start_time.in_milliseconds() / 1000,
                                end=cue.end_time.in_milliseconds() / 1000, where=f"cue {number} ({cue.start})"))
    return segments


def parse_srt(text: str, path: Path) -> list[Segment]:
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        raise TranscriptError(f"not valid SRT: {exc}", path=path,
                              fix="check the numbering and timings ('00:00:01,000 --> 00:00:04,000')") from None
    segments = []
    for sub in subtitles:
        speaker, words = _speaker_and_text(None, sub.content)
        where = f"subtitle {sub.index}"
        segments.append(Segment(speaker=_cue_speaker(speaker, words, segments, path, where), text=words,
                                start=sub.start.total_seconds(), end=sub.end.total_seconds(), where=where))
    return segments


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str, path: Path) -> list[Segment]:
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise TranscriptError("nested too deeply to be a list of segments", path=path,
                              fix="give diarized segments as [{speaker, start, end, text}, ...]") from None
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise TranscriptError(f"not valid JSON: {exc}", path=path, fix="give times as numbers of seconds") from None
        raise TranscriptError(f"not valid JSON: {exc.msg}", path=path,
                              where=f"line {exc.lineno}, column {exc.colno}", fix="correct the JSON") from None
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise TranscriptError("expected a list of segments or {\"segments\": [...]}", path=path,
                              fix="give diarized segments as [{speaker, start, end, text}, ...]")
    return [_json_segment(item, i, path) for i, item in enumerate(items)]


def _json_segment(item: Any, i: int, path: Path) -> Segment:
    where = f"segments[{i}]"
    if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item.get("speaker"):
        raise TranscriptError("a segment needs 'speaker' and 'text'", path=path, where=where,
                              fix="give each segment {speaker, start, end, text}")
    if not isinstance(item["speaker"], str | int) or isinstance(item["speaker"], bool) \
            or not " ".join(str(item["speaker"]).split()):
        raise TranscriptError(f"the speaker {_short_repr(item['speaker'])} is not a name", path=path, where=where,
                              fix="give the speaker as a string, e.g. \"speaker\": \"Sam\"")
    times = [item.get(k) for k in ("start", "end")]
    for value in times:
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool) or value < 0):
            raise TranscriptError(f"timestamp {value!r} is not a number of seconds", path=path, where=where,
                                  fix="give start and end as seconds, e.g. 12.5")
    return Segment(speaker=" ".join(str(item["speaker"]).split()), text=item["text"], start=times[0], end=times[1],
                   where=where)


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _speaker_and_text(voice: str | None, text: str) -> tuple[str | None, str]:
    words = " ".join(text.split())
    if voice and " ".join(voice.split()):
        return " ".join(voice.split()), words
    match = _SPEAKER.match(words)
    if match and not match["stamp"] and is_speaker_name(match["speaker"]):
        return match["speaker"].strip(), match["text"]
    return None, words


def _cue_speaker(speaker: str | None, words: str, before: list[Segment], path: Path, where: str) -> str:
    """The cue's speaker; a cue that opens with a chat role (`SYSTEM: ...`) continues the speaker before it."""
    if speaker:
        return speaker
    match = _SPEAKER.match(words)
    if before and match and is_chat_role(match["speaker"]):
        return before[-1].speaker
    return _missing_speaker(path, where)


def _missing_speaker(path: Path, where: str) -> str:
    raise TranscriptError("no speaker is named", path=path, where=where,
                          fix="start the text with 'Name: ' or use a <v Name> voice tag")


def _stamp_seconds(stamp: str, path: Path, number: int) -> float:
    try:
        parts = [float(p) for p in stamp.split(":")]
    except ValueError:
        parts = []
    if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts) or any(p >= 60 for p in parts[1:]):
        raise TranscriptError(f"broken timestamp [{stamp}]", path=path, where=f"line {number}",
                              fix="write it as [hh:mm:ss] or [mm:ss]")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


_PARSERS: dict[str, Callable[[str, Path], list[Segment]]] = {
    "plain": parse_plain, "mit": parse_mit, "vtt": parse_vtt, "srt": parse_srt, "json": parse_json,
}
