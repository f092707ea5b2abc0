"""Speaker names compared the way a reader sees them, not byte by byte.

`name_key` is a name's identity: Unicode NFKC (full-width `ＳＹＳＴＥＭ` is `SYSTEM`, NFD `José` is NFC
`José`), invisible format characters (zero-width spaces and joiners, soft hyphens: category Cf),
variation selectors and combining overlays (`S̶am`) removed, spaces collapsed, case folded.
`skeleton` goes on to fold look-alike letters from other scripts (Cyrillic `ү`, Greek `ο`) to one
prototype with the Unicode TR39 confusables data of the `confusable_homoglyphs` package, so that
`Sүstem` and `System` compare equal. Names are only compared through these: the text shown and
quoted stays the transcript's own.
"""

from __future__ import annotations

import functools
import unicodedata

from confusable_homoglyphs import confusables

_OVERLAY = 1  # canonical combining class of marks drawn through a letter (U+0334..U+0338, U+20D2 ...)


def _invisible(ch: str) -> bool:
    return (unicodedata.category(ch) == "Cf" or unicodedata.combining(ch) == _OVERLAY
            or "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef")


def visible(text: str) -> str:
    """`text` without format characters (category Cf), variation selectors and combining overlays."""
    if text.isascii():  # none of them is ASCII: the common case costs one pass in C
        return text
    return "".join(ch for ch in text if not _invisible(ch))


def name_key(name: str) -> str:
    """The name's identity: NFKC, invisible characters and overlays removed, spaces collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFKC", visible(unicodedata.normalize("NFD", name))).casefold().split())


@functools.lru_cache(maxsize=4096)
def _homoglyphs(ch: str) -> tuple[str, ...]:
    found = confusables.is_confusable(ch, greedy=True)
    return tuple(h["c"] for h in found[0]["homoglyphs"]) if found else ()


@functools.lru_cache(maxsize=4096)
def prototype(ch: str) -> str:
    """The TR39 prototype of one character (the library's table lists each pair both ways).

    A character confusable with several is a prototype itself; one confusable with a single other
    maps to it when that other is a prototype, and a lone pair maps to its smaller member.
    """
    others = _homoglyphs(ch)
    if len(others) != 1:
        return ch
    other = others[0]
    return other if len(_homoglyphs(other)) > 1 else min(ch, other)


def skeleton(name: str) -> str:
    """`name_key` with every character folded to its confusables prototype (then case folded again)."""
    return "".join(prototype(ch) for ch in name_key(name)).casefold()


def fold_lookalikes(text: str) -> str:
    """Non-ASCII letters whose prototype is an ASCII letter or digit replaced by it; everything else kept."""
    if text.isascii():
        return text
    return "".join(_ascii_prototype(ch) for ch in text)


def _ascii_prototype(ch: str) -> str:
    if ch.isascii() or not ch.isalpha():
        return ch
    folded = prototype(ch.casefold()) if len(ch.casefold()) == 1 else ch
    return folded if len(folded) == 1 and folded.isascii() and folded.isalnum() else ch
