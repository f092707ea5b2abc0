"""Transcript > Turn: who said what, in which role, and when (where known)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.errors import TranscriptError
from grader.ingest.names import name_key, skeleton
from grader.ingest.units import Unit, split_units


class Role(StrEnum):
    """Who a speaker is in the interview."""

    interviewer = "interviewer"
    candidate = "candidate"
    other = "other"


class RoleSource(StrEnum):
    """How a speaker's role was found (the sheet's `roles_by` counts them)."""

    given = "given"  # named by the user (--candidate / --interviewer, or `roles=` in Python)
    name = "name"  # the speaker's name says it ("Interviewer", "Candidate")
    heuristic = "heuristic"  # guessed from the speech: who asks, who speaks the most


class SpeakerRole(BaseModel):
    """Who got which role, and why: `Sam = interviewer (guessed: asks the questions)` on the sheet."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    speaker: str
    role: Role
    by: RoleSource
    why: str = Field(description="the reason in words: 'named with --candidate', 'guessed: asks the questions'")

    def describe(self) -> str:
        return f"{self.speaker} = {self.role.value} ({self.why})"


class Segment(BaseModel):
    """One raw piece of speech as a format gives it, before consecutive pieces become turns."""

    model_config = ConfigDict(frozen=True)
    speaker: str
    text: str
    start: float | None = None
    end: float | None = None
    where: str = Field("", description="its place in the file, for error messages")


class Turn(BaseModel):
    """One speaker's consecutive speech, split into citable units (see `grader.ingest.units`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    index: int = Field(description="1-based position in the transcript; unit ids start with it")
    speaker: str
    role: Role
    text: str
    start: float | None = Field(None, description="seconds from the start of the recording")
    end: float | None = None
    cue_starts: list[tuple[int, float]] = Field(
        default_factory=list, description="(character offset, seconds) where each timed cue of the turn begins")
    units: list[Unit] = Field(default_factory=list, description="the turn's citable units (split when not given)")

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if isinstance(data, dict) and "units" not in data and isinstance(data.get("text"), str):
            data = {**data, "units": split_units(data.get("index", 0), data["text"], data.get("cue_starts") or (),
                                                 data.get("start"))}
        return data


class Transcript(BaseModel):
    """One interview: its turns (speaker, role, time, text) split into citable units (sentences) with stable ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    source: str = Field(description="the file it was read from")
    format: str
    turns: list[Turn]
    roles_by: str = Field(description="how many speakers got their role each way: 'given (1), heuristic (1)'")
    speaker_roles: list[SpeakerRole] = Field(
        default_factory=list, description="each speaker's role and why, in order of first speech (empty in sheets "
                                          "written before it was recorded)")

    def content_hash(self) -> str:
        text = "\n".join(f"{t.speaker}\t{t.role}\t{t.text}" for t in self.turns)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def turn(self, index: int) -> Turn | None:
        return self.turns[index - 1] if 1 <= index <= len(self.turns) else None

    def candidate_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.role is Role.candidate]

    def speakers(self) -> dict[str, Role]:
        return {t.speaker: t.role for t in self.turns}

    def units(self) -> dict[str, tuple[Turn, Unit]]:
        """Every unit by id, with its turn (built once per transcript)."""
        return self.unit_index

    @functools.cached_property
    def unit_index(self) -> dict[str, tuple[Turn, Unit]]:
        return {u.id: (t, u) for t in self.turns for u in t.units}

    def candidate_unit_ids(self) -> list[str]:
        """Ids of the units the model may cite: the candidate's, in order."""
        return [u.id for t in self.candidate_turns() for u in t.units]


_INTERVIEWER_WORDS = ("interviewer", "recruiter", "hiring manager", "panel", "host")
_CANDIDATE_WORDS = ("candidate", "interviewee", "applicant")
_WORD_SKELETONS = ((Role.candidate, tuple(map(skeleton, _CANDIDATE_WORDS))),
                   (Role.interviewer, tuple(map(skeleton, _INTERVIEWER_WORDS))))
_ASKING = re.compile(r"\?|\b(tell me|walk me|talk me|describe|explain|can you|could you|how would you|"
                     r"what would you|give me an example)\b", re.IGNORECASE)


def build_transcript(segments: list[Segment], *, source: Path, fmt: str,
                     roles: dict[str, Role] | None = None, transcript_id: str | None = None) -> Transcript:
    """Merge consecutive segments of one speaker into turns and give every speaker a role.

    The id is `transcript_id` as given, whole (a dataset's `cand.1` stays `cand.1`), else the file's stem.
    """
    _check_times(segments, source)
    merged = _merge(one_spelling_per_speaker(segments))
    if not merged:
        raise TranscriptError("the transcript has no speech in it", path=source,
                              fix="give a transcript with at least one interviewer and one candidate turn")
    _check_length(merged, source)
    assigned = assign_roles([s for s, _ in merged], given_speakers([s.speaker for s, _ in merged], roles or {}, source))
    role_of = {a.speaker: a.role for a in assigned}
    turns = [Turn(index=i, speaker=s.speaker, role=role_of[s.speaker], text=s.text, start=s.start, end=s.end,
                  cue_starts=cues) for i, (s, cues) in enumerate(merged, start=1)]
    if not any(t.role is Role.candidate for t in turns):
        names = ", ".join(sorted({t.speaker for t in turns}))
        raise TranscriptError(f"no turn is the candidate's (speakers: {names})", path=source,
                              fix="name the candidate with --candidate NAME")
    return Transcript(id=source.stem if transcript_id is None else transcript_id, source=str(source), format=fmt,
                      turns=turns, roles_by=roles_summary(assigned), speaker_roles=assigned)


def _check_length(merged: list[tuple[Segment, list[float]]], source: Path) -> None:
    """A transcript longer than any interview is refused before it is split, scanned or sent (issue 21: a 5 MB turn)."""
    words = sum(len(segment.text.split()) for segment, _ in merged)
    if words > MAX_TRANSCRIPT_WORDS:
        raise TranscriptError(f"has {words:,} words, more than any interview ({MAX_TRANSCRIPT_WORDS:,} words is "
                              "about 28 hours of speech)", path=source,
                              fix="give the transcript of one interview; split a longer recording into interviews")


def one_spelling_per_speaker(segments: list[Segment]) -> list[Segment]:
    """Each speaker under the first spelling seen of their name: NFC and NFD `José`, or `Jo\u200bsé`, are one."""
    first: dict[str, str] = {}
    out = []
    for seg in segments:
        spelling = first.setdefault(name_key(seg.speaker), seg.speaker)
        out.append(seg if spelling == seg.speaker else seg.model_copy(update={"speaker": spelling}))
    return out


def _merge(segments: list[Segment]) -> list[tuple[Segment, list[tuple[int, float]]]]:
    """Consecutive segments of one speaker joined into one, with where each timed segment begins."""
    merged: list[tuple[Segment, list[tuple[int, float]]]] = []
    for seg in segments:
        text = " ".join(seg.text.split())
        if not text:
            continue
        if merged and merged[-1][0].speaker == seg.speaker:
            last, cues = merged[-1]
            offset = len(last.text) + 1
            merged[-1] = (last.model_copy(update={"text": f"{last.text} {text}",
                                                  "end": seg.end if seg.end is not None else last.end}),
                          [*cues, (offset, seg.start)] if seg.start is not None else cues)
        else:
            merged.append((seg.model_copy(update={"text": text}), [(0, seg.start)] if seg.start is not None else []))
    return merged


MAX_SECONDS = 7 * 24 * 3600  # a week: far beyond any interview recording
MAX_TRANSCRIPT_WORDS = 250_000  # about 28 hours at 150 words a minute: far beyond any interview


def _check_times(segments: list[Segment], source: Path) -> None:
    previous_start = None
    for seg in segments:
        for value in (seg.start, seg.end):
            if value is not None and not 0 <= value <= MAX_SECONDS:  # NaN fails both comparisons
                raise TranscriptError(f"time {value!r} is not a number of seconds from 0 to {MAX_SECONDS:,}",
                                      path=source, where=seg.where, fix="correct the timestamps there")
        if seg.start is not None and seg.end is not None and seg.end < seg.start:
            raise TranscriptError(f"ends ({seg.end:g} s) before it starts ({seg.start:g} s)",
                                  path=source, where=seg.where, fix="correct the timestamps there")
        if seg.start is not None and previous_start is not None and seg.start < previous_start:
            raise TranscriptError(f"starts at {seg.start:g} s, before the previous one "
                                  f"({previous_start:g} s)", path=source, where=seg.where,
                                  fix="put the pieces in time order or correct the timestamps")
        previous_start = seg.start if seg.start is not None else previous_start


FLAGS = {Role.candidate: "--candidate", Role.interviewer: "--interviewer"}
SHOWN_SPEAKERS = 20  # an error lists at most this many speakers


def given_speakers(speakers: list[str], given: dict[str, Role], source: Path) -> dict[str, Role]:
    """The speakers the user named, with their roles; a name that is no speaker of the transcript is an error.

    A name is a speaker's when their `name_key`s are equal (the identity speakers are merged by:
    `dana`, `Dana`, NFD `José`), or, failing that, when exactly one speaker has its confusables
    skeleton (`Dana` typed for a speaker spelled with a Cyrillic `а`). A speaker named twice takes
    the later role (`grader.cli.options.roles` puts the candidate last: a name given as both is the candidate).
    """
    speakers = list(dict.fromkeys(speakers))
    by_key = {name_key(s): s for s in speakers}
    found: dict[str, Role] = {}
    missing: dict[Role, list[str]] = {}
    for name, role in given.items():
        speaker = by_key.get(name_key(name))
        if speaker is None:
            alike = [s for s in speakers if skeleton(s) == skeleton(name)]
            speaker = alike[0] if len(alike) == 1 else None
        if speaker is None:
            missing.setdefault(role, []).append(name)
        else:
            found[speaker] = role
    for role in sorted(missing, key=[Role.candidate, Role.interviewer, Role.other].index):
        names = missing[role]
        listed = ", ".join(speakers[:SHOWN_SPEAKERS]) + (
            f" and {len(speakers) - SHOWN_SPEAKERS} more" if len(speakers) > SHOWN_SPEAKERS else "")
        raise TranscriptError(f"{', '.join(map(repr, names))} {'is' if len(names) == 1 else 'are'} not a speaker of "
                              "this transcript", path=source, where=FLAGS.get(role, "roles"),
                              fix=f"speakers in this transcript: {listed}; give one of them")
    return found


def roles_summary(assigned: list[SpeakerRole]) -> str:
    """How many speakers got their role each way: `given (1), heuristic (1)` (the sheet's `roles_by`)."""
    counts = Counter(a.by for a in assigned)
    return ", ".join(f"{by.value} ({counts[by]})" for by in RoleSource if counts[by])


def assign_roles(segments: list[Segment], given: dict[str, Role]) -> list[SpeakerRole]:
    """Each speaker's role and why: given names first, then words in the name, then questions asked.

    `given` maps speakers (as spelled in `segments`) to roles (see `given_speakers`). The stated
    heuristic: a speaker named like "Interviewer" / "Recruiter" is the interviewer, one named like
    "Candidate" / "Interviewee" the candidate; of the speakers still unknown, the one whose turns
    most often ask something (a '?' or a prompt such as "tell me", "walk me through"; ties go to
    whoever spoke first) is the interviewer and the one who speaks the most words of the rest is
    the candidate; anyone else is "other".
    """
    speakers = list(dict.fromkeys(s.speaker for s in segments))
    assigned: dict[str, SpeakerRole] = {}
    for spk in speakers:
        if spk in given:
            role = given[spk]
            assigned[spk] = SpeakerRole(speaker=spk, role=role, by=RoleSource.given,
                                        why=f"named with {FLAGS[role]}" if role in FLAGS else "given")
        elif role := _role_from_name(spk):
            assigned[spk] = SpeakerRole(speaker=spk, role=role, by=RoleSource.name, why="from the name")
    unknown = [s for s in speakers if s not in assigned]
    if unknown:
        taken = {a.role for a in assigned.values()}
        for spk, (role, why) in _roles_from_speech(segments, unknown, taken).items():
            assigned[spk] = SpeakerRole(speaker=spk, role=role, by=RoleSource.heuristic, why=f"guessed: {why}")
    return [assigned[s] for s in speakers]


def _role_from_name(name: str) -> Role | None:
    """The role a name's words give, compared by confusables skeleton (`Сandidate` with a Cyrillic С too)."""
    folded = skeleton(name)
    return next((role for role, words in _WORD_SKELETONS if any(w in folded for w in words)), None)


def _roles_from_speech(segments: list[Segment], unknown: list[str], taken: set[Role]) -> dict[str, tuple[Role, str]]:
    questions: Counter[str] = Counter()
    turns: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for seg in segments:
        if seg.speaker in unknown:
            turns[seg.speaker] += 1
            words[seg.speaker] += len(seg.text.split())
            questions[seg.speaker] += bool(_ASKING.search(seg.text))
    last = "the only other speaker" if len(unknown) == 1 else None
    roles = dict.fromkeys(unknown, (Role.other, "neither interviewer nor candidate"))
    rest = list(unknown)  # in order of first appearance
    need_interviewer = Role.interviewer not in taken and (len(rest) > 1 or Role.candidate in taken)
    if need_interviewer:
        asker = max(rest, key=lambda s: (questions[s] / turns[s], -rest.index(s)))
        roles[asker] = (Role.interviewer, last or "asks the questions")
        rest.remove(asker)
    if Role.candidate not in taken and rest:
        roles[max(rest, key=lambda s: words[s])] = (Role.candidate, last or "speaks the most")
    return roles
