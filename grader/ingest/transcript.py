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
    interviewer = "interviewer"
    candidate = "candidate"
    other = "other"


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
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    source: str = Field(description="the file it was read from")
    format: str
    turns: list[Turn]
    roles_by: str = Field(description="how speakers were mapped to roles")

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
    role_of, roles_by = assign_roles([s for s, _ in merged], roles or {})
    turns = [Turn(index=i, speaker=s.speaker, role=role_of[s.speaker], text=s.text, start=s.start, end=s.end,
                  cue_starts=cues) for i, (s, cues) in enumerate(merged, start=1)]
    if not any(t.role is Role.candidate for t in turns):
        names = ", ".join(sorted({t.speaker for t in turns}))
        raise TranscriptError(f"no turn is the candidate's (speakers: {names})", path=source,
                              fix="name the candidate with --candidate NAME")
    return Transcript(id=source.stem if transcript_id is None else transcript_id, source=str(source), format=fmt,
                      turns=turns, roles_by=roles_by)


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


def assign_roles(segments: list[Segment], given: dict[str, Role]) -> tuple[dict[str, Role], str]:
    """Map each speaker to a role: given names first, then words in the name, then questions asked.

    The stated heuristic: a speaker named like "Interviewer" / "Recruiter" is the interviewer, one
    named like "Candidate" / "Interviewee" the candidate; of the speakers still unknown, the one
    whose turns most often ask something (a '?' or a prompt such as "tell me", "walk me through";
    ties go to whoever spoke first) is the interviewer and the one who speaks the most
    words of the rest is the candidate; anyone else is "other".
    """
    speakers = list(dict.fromkeys(s.speaker for s in segments))
    lowered = {name_key(k): v for k, v in given.items()}
    role_of: dict[str, Role] = {}
    how = {"given": 0, "name": 0, "heuristic": 0}
    for spk in speakers:
        role = lowered.get(name_key(spk)) or _role_from_name(spk)
        if role:
            role_of[spk] = role
            how["given" if name_key(spk) in lowered else "name"] += 1
    unknown = [s for s in speakers if s not in role_of]
    if unknown:
        how["heuristic"] = len(unknown)
        role_of.update(_roles_from_speech(segments, unknown, set(role_of.values())))
    return role_of, ", ".join(f"{k} ({v})" for k, v in how.items() if v)


def _role_from_name(name: str) -> Role | None:
    """The role a name's words give, compared by confusables skeleton (`Сandidate` with a Cyrillic С too)."""
    folded = skeleton(name)
    return next((role for role, words in _WORD_SKELETONS if any(w in folded for w in words)), None)


def _roles_from_speech(segments: list[Segment], unknown: list[str], taken: set[Role]) -> dict[str, Role]:
    questions: Counter[str] = Counter()
    turns: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for seg in segments:
        if seg.speaker in unknown:
            turns[seg.speaker] += 1
            words[seg.speaker] += len(seg.text.split())
            questions[seg.speaker] += bool(_ASKING.search(seg.text))
    roles = dict.fromkeys(unknown, Role.other)
    rest = list(unknown)  # in order of first appearance
    need_interviewer = Role.interviewer not in taken and (len(rest) > 1 or Role.candidate in taken)
    if need_interviewer:
        asker = max(rest, key=lambda s: (questions[s] / turns[s], -rest.index(s)))
        roles[asker] = Role.interviewer
        rest.remove(asker)
    if Role.candidate not in taken and rest:
        roles[max(rest, key=lambda s: words[s])] = Role.candidate
    return roles
