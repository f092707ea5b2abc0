"""Redaction of personal data before a request leaves the machine, with consistent placeholders.

    redactor = Redactor.from_speakers({"Sam Rivera": "candidate", "Dana Lee": "interviewer"})
    redactor.redact("Dana Lee: Sam, what's your email?")   # "[INTERVIEWER]: [CANDIDATE], what's your email?"

Speakers become their role: `[CANDIDATE]`, `[INTERVIEWER]`, `[INTERVIEWER_2]`, `[OTHER]` …, whether
named in full, by one part of the name ("Sam", "Rivera"), by a nickname ("Samantha": Sam, Sammy;
"Robert": Rob, Bob), in capitals or in lower case (a name part or nickname that is also a common
word, like "Will", "Grace" or "Rob", only when capitalised). Other people's names found in the text
(`grader.safety.people`: a title, a relation such as "my manager", a verb done with someone, an
English given name) become `[PERSON_1]` …, one number per person however often and however fully
named. Emails, URLs, phone numbers (numbers said as words too: "five five five, one two three
four"), id numbers, street addresses and dates of birth (`grader.safety.pii`) become `[EMAIL_1]`,
`[URL_1]`, `[PHONE_1]`, `[ID_1]`, `[ADDRESS_1]`, `[DOB_1]` …, numbered in the order first seen; the
same thing spelled twice gets the same placeholder. Names given as `extra_names` become
`[PERSON_n]` too. Organisations (employers, universities) become `[ORG_1]` … only with
`redact_orgs=True`: they are often what an answer is about, so they are kept by default.

It is deterministic (the same calls in the same order give the same text; `prepare` numbers a
whole transcript up front so the order of later calls does not matter) and idempotent (redacting
redacted text changes nothing: placeholders are left as they are). The mapping from placeholder
to original stays in this object: it is not in its repr and never written anywhere by this module.

What it misses (measured on `evals/pii_cases.py`, `python -m evals.pii_redaction`): a name with
no context that tells it is a person and that is not an English given name ("Zhang Wei said" is
found, "the design came from Zhang Wei" and "I sent it to Oluwaseun" are not), misspellings of
speakers' names ("Reivera"), nicknames not in the list, addresses outside the US and UK street
patterns, dates of birth without a word for birth near them, and organisations named without a
cue ("at", "joined") or a company word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from grader.safety.people import STOP, THINGS, find_orgs, find_people, nicknames
from grader.safety.pii import PiiKind, Span, find_all

PLACEHOLDER = re.compile(r"\[(?:CANDIDATE|INTERVIEWER|OTHER|PERSON|EMAIL|URL|PHONE|ID|ADDRESS|DOB|ORG)(?:_\d+)?\]")
ROLE_TAGS = {"candidate": "CANDIDATE", "interviewer": "INTERVIEWER", "other": "OTHER"}
# speaker labels that are not names, and title words that are not part of one
GENERIC = frozenset({"interviewer", "interviewee", "candidate", "applicant", "recruiter", "speaker", "host", "guest",
                     "unknown", "person", "participant", "moderator", "panelist", "hiring", "manager", "the", "and",
                     "of", "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "jr", "sr", "other", "user"})
# first names and surnames that are also ordinary words: replaced only when capitalised
COMMON_WORDS = frozenset({
    "will", "mark", "bill", "grace", "hope", "joy", "rose", "may", "june", "april", "summer", "dawn", "faith", "art",
    "rich", "frank", "drew", "chase", "hunter", "lane", "pat", "sue", "ray", "max", "jack", "guy", "gene", "sky",
    "storm", "river", "autumn", "amber", "ruby", "pearl", "iris", "violet", "holly", "ivy", "jade", "crystal", "sunny",
    "rusty", "woody", "bob", "don", "ken", "jean", "mo", "angel", "king", "young", "brown", "white", "black", "green",
    "gray", "grey", "long", "little", "bell", "hill", "wood", "stone", "rice", "hall", "price", "cook", "baker",
    "park", "page", "love", "moss", "marsh", "fox", "wolf", "lamb", "bush", "best", "hart", "chance", "cash",
    "penny", "early", "short", "sharp", "swift", "well", "wells", "ward", "reed", "field", "fields", "banks",
})


@dataclass
class Redactor:
    """Replaces personal data with placeholders; keeps placeholder → original in memory only."""

    names: list[tuple[re.Pattern[str], str]] = field(default_factory=list, repr=False)  # (pattern, placeholder)
    regions: Sequence[str] = ("US", "GB")
    people: bool = True  # find the names of people who are not speakers (`grader.safety.people`)
    redact_orgs: bool = False  # replace organisations (employers, universities) with [ORG_n]
    _mapping: dict[str, str] = field(default_factory=dict, repr=False)
    _by_key: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_speakers(cls, speakers: Mapping[str, str], *, extra_names: Iterable[str] = (),
                      regions: Sequence[str] = ("US", "GB"), people: bool = True,
                      redact_orgs: bool = False) -> Redactor:
        """`speakers` maps each speaker's name to its role: 'candidate', 'interviewer' or 'other'. With `people`
        (the default) names of other people found in the text become `[PERSON_n]`; with `redact_orgs`,
        organisations become `[ORG_n]`."""
        redactor = cls(regions=tuple(regions), people=people, redact_orgs=redact_orgs)
        counts: dict[str, int] = {}
        people = [(name, ROLE_TAGS.get(str(role), "OTHER")) for name, role in speakers.items()]
        ordered = sorted(people, key=lambda p: list(ROLE_TAGS.values()).index(p[1]))  # stable: candidates first
        for name, tag in [*ordered, *((n, "PERSON") for n in extra_names)]:
            if not name_forms(name):
                continue  # a label such as "SPEAKER_02" or "Interviewer" names nobody
            counts[tag] = counts.get(tag, 0) + 1
            number = counts[tag]
            placeholder = f"[{tag}_{number}]" if tag == "PERSON" else f"[{tag}{'' if number == 1 else f'_{number}'}]"
            redactor._add_name(name, placeholder)
        for placeholder, name in list(redactor._mapping.items()):  # nicknames last: a real name part comes first
            redactor._add_nicknames(name, placeholder)
        redactor.names.sort(key=lambda item: -len(item[0].pattern))
        return redactor

    def _add_nicknames(self, name: str, placeholder: str) -> None:
        forms = name_forms(name)
        if not forms or placeholder.startswith("[PERSON"):
            return
        taken = {p.pattern for p, _ in self.names}
        first = forms[0].split()[0]
        for nick in sorted(nicknames(first)):
            pattern = nickname_pattern(nick)
            if pattern.pattern not in taken:
                self.names.append((pattern, placeholder))

    def _add_name(self, name: str, placeholder: str) -> None:
        taken = {p.pattern for p, _ in self.names}
        self._mapping[placeholder] = name.strip()
        for form in name_forms(name):
            pattern = name_pattern(form)
            if pattern.pattern not in taken:  # a part shared by two speakers goes to the first
                self.names.append((pattern, placeholder))

    def prepare(self, texts: Iterable[str]) -> None:
        """Number the placeholders of a whole transcript in its order, before redacting any part of it."""
        for text in texts:
            self.redact(text)

    def redact(self, text: str) -> str:
        """`text` with every speaker name and every piece of personal data found replaced."""
        spans = self._spans(text)
        out, last = [], 0
        for start, end, placeholder in spans:
            out += [text[last:start], placeholder]
            last = end
        return "".join([*out, text[last:]])

    def restore(self, text: str) -> str:
        """Placeholders back to the original words (for showing a model's text to a person, on this machine)."""
        return PLACEHOLDER.sub(lambda m: self._mapping.get(m.group(0), m.group(0)), text)

    @property
    def mapping(self) -> dict[str, str]:
        """A copy of placeholder → original (speakers: their full name as labelled)."""
        return dict(self._mapping)

    def _spans(self, text: str) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, int, str | Span]] = [(m.start(), m.end(), 0, m.group(0))
                                                         for m in PLACEHOLDER.finditer(text)]
        found += [(s.start, s.end, 1, s) for s in find_all(text, self.regions)]
        if self.redact_orgs:
            found += [(s.start, s.end, 4, s) for s in find_orgs(text)]
        for pattern, placeholder in self.names:
            found += [(m.start(), m.end(), 2, placeholder) for m in pattern.finditer(text)
                      if _is_name_use(m.group(0), pattern)]
        if self.people:
            named = [(start, end) for start, end, rank, _ in found if rank in (0, 2)]
            for span in find_people(text):
                if not any(start <= span.start and span.end <= end for start, end in named):
                    found.append((span.start, span.end, 3, self._person(span)))
        chosen: list[tuple[int, int, str]] = []
        for start, end, _, what in sorted(found, key=lambda f: (f[0], -(f[1] - f[0]), f[2])):
            if chosen and start < chosen[-1][1]:
                continue  # overlaps a longer (or earlier) span already taken
            chosen.append((start, end, what if isinstance(what, str) else self._placeholder(what)))
        return chosen

    def _person(self, span: Span) -> str:
        """The placeholder of a person found in the text; their name and its parts are registered, so a later
        mention of one part ("Priya" after "Priya Natarajan") gets the same placeholder."""
        key = (PiiKind.person.value, span.key)
        if key not in self._by_key:
            for (kind, known), placeholder in self._by_key.items():  # "Priya" after "Priya Natarajan"
                if kind == PiiKind.person.value and span.key in known.split():
                    return placeholder
            number = 1 + sum(p.startswith("[PERSON_") for p in self._mapping)
            self._by_key[key] = f"[PERSON_{number}]"
            self._mapping[self._by_key[key]] = span.text
            taken = {p.pattern for p, _ in self.names}
            for form in name_forms(span.text):
                if form.lower() in STOP or form.lower() in THINGS or len(form) < 3:
                    continue
                pattern = re.compile(rf"(?<!\w){re.escape(form)}(?!\w)")  # as written: case kept
                if pattern.pattern not in taken:
                    self.names.append((pattern, self._by_key[key]))
        return self._by_key[key]

    def _placeholder(self, span: Span) -> str:
        key = (span.kind.value, span.key)
        if key not in self._by_key:
            number = 1 + sum(kind == span.kind.value for kind, _ in self._by_key)
            self._by_key[key] = f"[{span.kind.value}_{number}]"
            self._mapping[self._by_key[key]] = span.text
        return self._by_key[key]


def name_forms(name: str) -> list[str]:
    """The full name and each part of it that can stand alone ("Sam Rivera" → Sam Rivera, Sam, Rivera)."""
    cleaned = re.sub(r"\(.*?\)|[_]|\d+", " ", name)
    parts = [p.strip(".,'") for p in re.split(r"\s+", cleaned) if p.strip(".,'")]
    parts = [p for p in parts if p.lower() not in GENERIC and len(p) > 1]
    pieces = [q for p in parts if "-" in p for q in p.split("-") if len(q) > 1 and q.lower() not in GENERIC]
    full = " ".join(parts)
    inner = [m.group(1).strip() for m in re.finditer(r"\((.*?)\)", name)]  # "Interviewer (Dana)"
    return list(dict.fromkeys(f for f in [full, *parts, *pieces, *(f for i in inner for f in name_forms(i))] if f))


def name_pattern(form: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(w) for w in form.split())
    flags = 0 if form.lower() in COMMON_WORDS else re.IGNORECASE
    return re.compile(rf"(?<!\w){words}(?!\w)", flags)


# nicknames that are also ordinary words: replaced only when capitalised ("Rob said", not "rob a bank")
AMBIGUOUS_NICKNAMES = frozenset({"kit", "rob", "bob", "kay", "bess", "lib", "sandy", "al", "ed", "art", "nick", "sal",
                                 "val", "cal", "mo", "lou", "dot", "pat", "sue", "will", "bill", "don", "ray", "max",
                                 "mac", "jack", "rich", "frank", "drew", "gene", "guy", "hob", "dob", "lena", "trina",
                                 "lisa", "betty", "cassie", "mantha"})


def nickname_pattern(nick: str) -> re.Pattern[str]:
    """A speaker's nickname: in any case, unless it is also a word (or not only theirs): then capitalised only."""
    if nick in COMMON_WORDS or nick in AMBIGUOUS_NICKNAMES or nick in THINGS or nick in STOP:
        return re.compile(rf"(?<!\w)(?:{re.escape(nick.capitalize())}|{re.escape(nick.upper())})(?!\w)")
    return re.compile(rf"(?<!\w){re.escape(nick)}(?!\w)", re.IGNORECASE)


def _is_name_use(found: str, pattern: re.Pattern[str]) -> bool:
    """A common-word name counts only capitalised ("Will said", not "I will")."""
    return bool(pattern.flags & re.IGNORECASE) or found[:1].isupper()
