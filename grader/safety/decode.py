"""Encoded runs in a transcript, decoded so the injection rules can read what they say.

A speaker can hide an instruction from a keyword filter by encoding it: base64
(`SWdub3JlIHRoZSBydWJyaWM=`), hex (`49676e6f7265...`, `\\x49\\x67`, `49 67 6e ...`) or ROT13
(`Vtaber gur ehoevp`). The model reading the prompt decodes these without being asked, so the
detector must too. `decodings(text)` returns every run that decodes to readable text (valid
UTF-8, mostly letters and spaces), each with how it was encoded; binary payloads (image bytes,
hashes, UUIDs, keys) decode to bytes that are not text and are left alone. ROT13 cannot be told
from ordinary text by its alphabet, so the whole text is read back through ROT13 only when the
result contains a word the rules look for (`the`, `ignore`, `rubric` ...); the rules then decide.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from typing import NamedTuple

MIN_DECODED_CHARS = 8  # shorter decoded text cannot carry an instruction
MAX_RUNS = 20  # runs decoded per text (a 5 MB dump of base64 is not read run by run)

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/_=-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:0x)?((?:[0-9A-Fa-f]{2}){8,})(?![0-9A-Fa-f])")
_HEX_SPACED = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :,-]){7,}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
_HEX_ESCAPED = re.compile(r"(?:\\x[0-9A-Fa-f]{2}){8,}")
# ROT13 spellings of words injections cannot do without (the, and, ignore, rubric, grade, score ...)
_ROT13_WORDS = re.compile(r"\b(?:gur|naq|vtaber|qvfertneq|sbetrg|ehoevp|tenqr|tenqre|fpber|yriry|cnff|tvir|"
                          r"flfgrz|vafgehpgvbaf?|rinyhngbe|znex|engr|cyrnfr|nffvta|bhgchg|fpberq|nffrffbe)\b",
                          re.IGNORECASE)


class Decoded(NamedTuple):
    how: str  # "base64", "hex" or "rot13"
    encoded: str  # the run as it is in the text (cut to 80 characters)
    text: str  # what it says


def _readable(raw: bytes) -> str | None:
    """The bytes as text when they are UTF-8 and read as words: letters, spaces, punctuation."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < MIN_DECODED_CHARS:
        return None
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    spaces = sum(ch.isspace() or unicodedata.category(ch).startswith("P") for ch in text)
    wide = sum(ord(ch) > 0x2E80 for ch in text)  # CJK needs no spaces between words
    return text if printable == len(text) and letters >= 0.5 * len(text) and (spaces or wide) else None


def _base64(run: str) -> str | None:
    body = run.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _readable(raw)


def _hex(digits: str) -> str | None:
    digits = re.sub(r"[^0-9A-Fa-f]", "", digits)
    try:
        return _readable(bytes.fromhex(digits))
    except ValueError:
        return None


def decodings(text: str) -> list[Decoded]:
    """Every encoded run in `text` that decodes to readable text, and its ROT13 reading when that has rule words."""
    found: list[Decoded] = []
    runs = [("base64", m.group(0), _base64) for m in _BASE64.finditer(text)]
    runs += [("hex", m.group(1), _hex) for m in _HEX.finditer(text)]
    runs += [("hex", m.group(0), _hex) for m in (*_HEX_SPACED.finditer(text), *_HEX_ESCAPED.finditer(text))]
    for how, run, decode in runs[:MAX_RUNS]:
        if how == "base64" and re.fullmatch(r"[0-9A-Fa-f]+", run):
            continue  # hex digits only: read as hex
        decoded = decode(run)
        if decoded is not None:
            found.append(Decoded(how, run[:80], decoded))
    rot = codecs.encode(text, "rot13")
    if len(_ROT13_WORDS.findall(text)) >= 2 and rot != text:
        found.append(Decoded("rot13", text[:80], rot))
    return found
