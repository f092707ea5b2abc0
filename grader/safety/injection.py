"""Prompt-injection detector: finds text in a transcript that talks to the grader instead of the interviewer.

What it is: rules (`grader.safety.rules`), regular expressions over normalised text, one per way
a speaker can steer an LLM grader: addressing it ("as the AI grading this"), asking for a score
("give me a 5"), overriding its instructions ("ignore the rubric"), chat role tags ("SYSTEM:",
"<|im_start|>"), a reply in the grader's own JSON format (`{"level": 5}`) and closing delimiters
(`</transcript>`). Before matching, the text is normalised (Unicode NFKC, invisible characters
removed, look-alike letters of other scripts folded to Latin by the Unicode TR39 confusables data,
as speaker names are, see `grader.ingest.names`), and two more readings are tried:
letters spread out with spaces joined up ("i g n o r e"), and digits inside words read as letters
("1gn0re").

Its limits: it knows the phrasings it was written for. A paraphrase it has no rule for ("it would
be wonderful to see a flattering evaluation"), another language, text encoded (base64, ROT13),
spelled out over several sentences, or an instruction that reads as an ordinary answer passes
unseen. A rule can also fire on an innocent sentence (a candidate quoting a chat log with
"User:"). A finding is therefore a reason for a person to look, never a verdict, and no finding is
no proof of innocence: the prompt must still delimit the transcript as data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from grader.ingest.names import fold_lookalikes, visible
from grader.safety.rules import NOT_IMPERATIVE, RULES, SPELLED_KEYWORDS, FindingKind, Rule

DETECTOR_VERSION = "rules-2"

# Cyrillic and Greek letters that look like Latin ones (the ones used to dodge keyword filters)
_LOOKALIKES = str.maketrans("аеорсухіјѕԁһӏАВЕКМНОРСТХІЈЅοαειкνρτυΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
                            "aeopcyxijsdhlABEKMHOPCTXIJSoaeiknptuABEZHIKMNOPTYX")
_LEET = str.maketrans("0134578@$", "oieastbas")
_SPREAD = re.compile(r"(?<!\S)(?:\w[ .\-_*]){2,}\w(?!\S)")  # "i g n o r e", "r.u.b.r.i.c"
_SPELLED = re.compile(r"(?<!\S)(?:\w[ .\-_*]+){5,}\w(?!\S)")  # the same over several words, any spacing
_MIXED = re.compile(r"\b(?=[\w@$]*[a-z])(?=[\w@$]*[0-9@$])[\w@$]+", re.IGNORECASE)  # "1gn0re", not "5" or "2024"


class Hit(NamedTuple):
    """One rule's match in a text: what kind, the text matched, and what the rule caught."""

    kind: FindingKind
    matched: str
    explanation: str


class Reading(NamedTuple):
    text: str
    deobfuscated: bool


class IntegrityFinding(BaseModel):
    """Something in the transcript addressed to the grader: it sends the transcript to review."""

    model_config = ConfigDict(extra="forbid")
    unit: str = Field(description="id of the unit (or turn) the text is in")
    kind: FindingKind
    matched: str = Field(description="the text that matched, as read after normalising")
    explanation: str = Field(description="what the rule caught, in plain words")


def _clean(text: str) -> str:
    """NFKC, invisible characters and overlays dropped, look-alike letters folded (spacing kept as it is)."""
    text = unicodedata.normalize("NFKC", text)
    return fold_lookalikes(visible(text).translate(_LOOKALIKES))


def _collapse(text: str) -> str:
    return re.sub(r"[^\S\n]+", " ", text).strip()


def normalise(text: str) -> str:
    """`_clean`, then runs of spaces collapsed (newlines kept)."""
    return _collapse(_clean(text))


def readings(text: str) -> list[Reading]:
    """The normalised text and its de-obfuscated readings, each with whether it was de-obfuscated."""
    clean = _clean(text)
    plain = _collapse(clean)
    joined = _collapse(_SPREAD.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), clean))
    unleet = _MIXED.sub(lambda m: m.group(0).translate(_LEET), joined)
    out = [Reading(plain, False)]
    out += [Reading(variant, True) for variant in dict.fromkeys((joined, unleet)) if variant != plain]
    return out


def _spelled_out(text: str) -> Hit | None:
    """A grader keyword spelled letter by letter ("i g n o r e t h e r u b r i c"), whatever the spacing."""
    for run in _SPELLED.finditer(_clean(text)):
        letters = re.sub(r"[^a-z0-9]", "", run.group(0).lower().translate(_LEET))
        if len(letters) >= 6 and any(word in letters for word in SPELLED_KEYWORDS):
            return Hit(FindingKind.instruction_override, run.group(0).strip(),
                       "grader keywords spelled out letter by letter")
    return None


def _imperative(text: str, start: int) -> bool:
    before = re.findall(r"[\w']+", text[max(0, start - 30):start].lower())[-2:]
    return not any(word in NOT_IMPERATIVE for word in before)


def _matches(rule: Rule, text: str) -> Iterable[re.Match[str]]:
    for found in rule.pattern.finditer(text):
        if not rule.imperative_only or _imperative(text, found.start()):
            yield found


def scan(text: str) -> list[Hit]:
    """The first match of each kind in `text`, in the order of `FindingKind`."""
    found: dict[FindingKind, Hit] = {}
    for variant, obfuscated in readings(text):
        for rule in RULES:
            if rule.kind in found:
                continue
            match = next(iter(_matches(rule, variant)), None)
            if match is not None:
                note = " (after undoing obfuscation)" if obfuscated else ""
                found[rule.kind] = Hit(rule.kind, match.group(0).strip(), rule.explanation + note)
    spelled = _spelled_out(text) if FindingKind.instruction_override not in found else None
    if spelled:
        found[spelled.kind] = spelled
    return [found[kind] for kind in FindingKind if kind in found]


def detect(items: Iterable[tuple[str, str]]) -> list[IntegrityFinding]:
    """Findings for (unit id, text) items, in input order; at most one finding per unit and kind."""
    return [IntegrityFinding(unit=unit, kind=kind, matched=matched[:200], explanation=explanation)
            for unit, text in items for kind, matched, explanation in scan(text)]
