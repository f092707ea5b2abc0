"""Finders of personal data in text: email addresses, URLs, phone numbers, id numbers and street addresses
(and, through `grader.safety.people`, numbers said as words and dates of birth).

Each finder returns `Span`s (where, what kind, the text, and a key that is the same for two
spellings of the same thing, so one placeholder covers both). Offline, no model download:
- phone numbers: Google's libphonenumber (`phonenumbers`), valid numbers in the regions given and
  in international format anywhere, plus a pattern for phone-shaped digit groups it rejects
  (fictional 555-01xx numbers, UK drama numbers);
- street addresses: `usaddress` (a trained CRF, for US addresses in running text), a pattern for
  "12 Baker Street"-style streets, and UK postcodes;
- ids: US SSN/ITIN, UK National Insurance numbers, Canadian SIN and card numbers (Luhn check),
  IBANs (mod-97 check), and any number right after a label such as "passport number";
- emails and URLs: patterns, including spoken emails ("sam dot lee at gmail dot com").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
import usaddress


class PiiKind(StrEnum):
    email = "EMAIL"
    url = "URL"
    phone = "PHONE"
    id = "ID"
    address = "ADDRESS"
    dob = "DOB"
    person = "PERSON"
    org = "ORG"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: PiiKind
    text: str
    key: str  # the same for every spelling of the same thing


_TRAILING = ".,;:!?)]}'\""
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_SPOKEN_EMAIL = re.compile(r"\b[a-z0-9]+(?: (?:dot|underscore) [a-z0-9]+)* at [a-z0-9-]+(?: dot [a-z0-9-]+)*"
                           r" dot (?:com|org|net|edu|gov|io|co|uk|ac|me|dev)\b", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|ai|co|"
                  r"uk|de|fr|edu|gov|me|info|app|xyz|us|ca|ly|gl|gg)/[^\s<>\"']*", re.IGNORECASE)
_PHONE_SHAPE = re.compile(r"(?<![\w.+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,5}\)[ .-]?|\d{2,5}[ .-])\d{3,4}[ .-]?\d{3,4}"
                          r"(?![\w]|[.-]\d)|(?<![\w.-])\d{3}-\d{4}(?![\w]|[.-]\d)")
_SSN = re.compile(r"\b\d{3}([- ])\d{2}\1\d{4}\b")
_NINO = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE)
_NINE = re.compile(r"\b\d{3}[- ]\d{3}[- ]\d{3}\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_LABELLED = re.compile(
    r"\b(?:passport|driver'?s? licen[cs]e|licen[cs]e|social security|ssn|national insurance|nino?|tax (?:id|file)|"
    r"tin|sin|nhs|medicare|employee id|student id|badge|id|identification)(?: number| no\.?| num| #)?"
    r"(?: is|:|=)? ?#?([A-Z0-9][A-Z0-9-]{4,19})\b", re.IGNORECASE)
_STREET = re.compile(r"\b\d{1,5}[A-Za-z]? (?:[A-Z][a-z]+ ){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|"
                     r"Close|Way|Court|Ct|Place|Pl|Terrace|Crescent|Boulevard|Blvd|Gardens|Square|Sq|Hill|Grove|"
                     r"Row|Mews|Parade|Walk|Highway|Hwy|Parkway|Pkwy)\b\.?")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b")
_MAYBE_US_ADDRESS = re.compile(r"\b\d{1,6}[A-Za-z]? [A-Z]")
_ADDRESS_LABELS = {"AddressNumber", "AddressNumberPrefix", "AddressNumberSuffix", "StreetNamePreDirectional",
                   "StreetNamePreModifier", "StreetNamePreType", "StreetName", "StreetNamePostType",
                   "StreetNamePostDirectional", "StreetNamePostModifier", "OccupancyType", "OccupancyIdentifier",
                   "SubaddressType", "SubaddressIdentifier", "PlaceName", "StateName", "ZipCode", "USPSBoxType",
                   "USPSBoxID", "BuildingName", "CornerOf", "IntersectionSeparator", "LandmarkName"}


def _span(match: re.Match[str], kind: PiiKind, key: Callable[[str], str], group: int = 0) -> Span:
    text = match.group(group).rstrip(_TRAILING)
    start = match.start(group)
    return Span(start, start + len(text), kind, text, key(text))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _alnum(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    code = _alnum(text)
    moved = code[4:] + code[:4]
    return 15 <= len(code) <= 34 and int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def find_emails(text: str) -> list[Span]:
    found = [_span(m, PiiKind.email, str.lower) for m in _EMAIL.finditer(text)]
    return found + [_span(m, PiiKind.email, _spoken_email) for m in _SPOKEN_EMAIL.finditer(text)]


def _spoken_email(text: str) -> str:
    """The written form of a spoken email, so both spellings share a placeholder."""
    words = {"dot": ".", "at": "@", "underscore": "_"}
    return "".join(words.get(w, w) for w in text.lower().split())


def find_urls(text: str) -> list[Span]:
    return [_span(m, PiiKind.url, lambda t: t.lower().rstrip("/")) for m in _URL.finditer(text)]


def find_phones(text: str, regions: Sequence[str] = ("US", "GB")) -> list[Span]:
    found = []
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            found.append(Span(match.start, match.end, PiiKind.phone, match.raw_string, e164))
    shaped = [_span(m, PiiKind.phone, _digits) for m in _PHONE_SHAPE.finditer(text)]
    return found + [s for s in shaped if len(s.key) >= 9 or re.fullmatch(r"\d{3}-\d{4}", s.text)]


def find_ids(text: str) -> list[Span]:
    found = [_span(m, PiiKind.id, _alnum) for m in (*_SSN.finditer(text), *_NINO.finditer(text))]
    found += [_span(m, PiiKind.id, _alnum) for m in _NINE.finditer(text) if luhn(_digits(m.group(0)))]
    found += [_span(m, PiiKind.id, _alnum) for m in _CARD.finditer(text)
              if 13 <= len(_digits(m.group(0))) <= 19 and luhn(_digits(m.group(0)))]
    found += [_span(m, PiiKind.id, _alnum) for m in _IBAN.finditer(text) if iban_valid(m.group(0))]
    return found + [_span(m, PiiKind.id, _alnum, group=1) for m in _LABELLED.finditer(text)
                    if sum(ch.isdigit() for ch in m.group(1)) >= 2]


def find_addresses(text: str) -> list[Span]:
    def key(t: str) -> str:
        return " ".join(t.lower().split())

    found = [_span(m, PiiKind.address, key) for m in (*_STREET.finditer(text), *_POSTCODE.finditer(text))]
    return found + (_us_addresses(text, key) if _MAYBE_US_ADDRESS.search(text) else [])


def _us_addresses(text: str, key: Callable[[str], str]) -> list[Span]:
    """Runs of address-labelled tokens from usaddress that start at a house number and name a street."""
    spans, run, position = [], [], 0
    for token, label in [*usaddress.parse(text), ("", "End")]:
        start = text.find(token, position) if token else len(text)
        if start < 0:
            return spans  # the tokens no longer line up with the text: stop rather than guess
        position = start + len(token)
        if label in _ADDRESS_LABELS and (run or label == "AddressNumber"):
            run.append((start, start + len(token), label))
            continue
        if run and {"StreetName"} <= {lbl for *_, lbl in run} and len({lbl for *_, lbl in run}) >= 3:
            piece = text[run[0][0]:run[-1][1]].rstrip(_TRAILING)
            spans.append(Span(run[0][0], run[0][0] + len(piece), PiiKind.address, piece, key(piece)))
        run = []
    return spans


def find_all(text: str, regions: Sequence[str] = ("US", "GB")) -> list[Span]:
    """Every span any finder of patterns reports, numbers said as words and dates of birth included (they may
    overlap: the redactor chooses). People and organisations: `grader.safety.people`."""
    from grader.safety.people import find_dobs, find_spoken_numbers  # here: people imports this module

    finders: Iterable[Callable[[str], list[Span]]] = (find_emails, find_urls, find_ids, find_addresses,
                                                      find_spoken_numbers, find_dobs)
    return [s for finder in finders for s in finder(text)] + find_phones(text, regions)
