"""Secrets out of every error text before it is stored or printed.

A server that refuses a key often echoes it ("Incorrect API key provided: sk-proj-…abcd"), and a
proxy may echo a header. `scrub` replaces, in any text: the keys this process was given
(`register`), in full or by their last characters after a mask (`sk-...abcd`, `****abcd`); anything
shaped like a key (`sk-…`, `Bearer …`, `api_key=…`, long random tokens). The run store, the score
sheets, the exports and the terminal only ever see the scrubbed text.
"""

from __future__ import annotations

import re
import threading

REDACTED = "[redacted]"
_registered: set[str] = set()
_lock = threading.Lock()
_KEY_LIKE = [
    # OpenAI-style keys, also masked (sk-...abcd, sk-proj-****abcd); GitHub, Slack, AWS and Google key shapes
    re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*.…]{3,}|\b(?:gh[pousr]_|github_pat_|xox[abprs]-)[A-Za-z0-9_\-]{8,}"
               r"|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_\-]{30,}"),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9_\-.~+/=*…]{6,}"),  # an Authorization header's value
    re.compile(r"(?i)\b((?:api[_-]?|access[_-]?|secret[_-]?|auth[_-]?)?(?:key|token|secret|password))"
               r"([\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]{4,}"),  # key=..., "api_key": "...", token: ...
    re.compile(r"\*{4,}[A-Za-z0-9_\-]{2,}"),  # a masked remainder on its own: ****abcd
    # a long random token: letters of both cases and digits, no word in it (ids, paths and hex hashes are not)
    re.compile(r"\b(?=[A-Za-z0-9]*[0-9][A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{24,}\b"),
]


def register(secret: str | None) -> None:
    """Remember a secret this process uses (an API key), so that it is scrubbed wherever it shows up."""
    if secret and len(secret) >= 8:
        with _lock:
            _registered.add(secret)


def scrub(text: str) -> str:
    """`text` without any registered secret, any masked form of one, or anything key-like."""
    with _lock:
        secrets = sorted(_registered, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _KEY_LIKE[0].sub(REDACTED, text)
    for secret in secrets:  # masked, only its last 4 characters shown
        text = re.sub(rf"[*.…]+{re.escape(secret[-4:])}\b", REDACTED, text)
    text = _KEY_LIKE[1].sub(lambda m: f"{m[1]} {REDACTED}", text)
    text = _KEY_LIKE[2].sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    for pattern in _KEY_LIKE[3:]:
        text = pattern.sub(REDACTED, text)
    return text
