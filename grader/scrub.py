"""Secrets out of every error text before it is stored or printed.

A server that refuses a key often echoes it ("Incorrect API key provided: sk-proj-…abcd"), and a
proxy may echo a header. `scrub` replaces, in any text: the keys this process was given
(`register`), in full or by their last characters after a mask (`sk-...abcd`, `****abcd`); anything
shaped like a key (`sk-…`, `Bearer …`, `api_key=…`, long random tokens). The run store, the score
sheets, the exports and the terminal only ever see the scrubbed text.

A server may also echo a key in a normal reply (in the rationale, a note, an id). A model's reply
is scrubbed once, as it arrives (`scrub_json`, see `grader.grading.reply.scrub_completion`), of
the registered keys only: key-like shapes are ordinary words in a model's text ("sk-learn",
"Key: ..."), and a quote or an id must not change unless it is a secret.
"""

from __future__ import annotations

import json
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


def _secrets() -> list[str]:
    with _lock:
        return sorted(_registered, key=len, reverse=True)


def scrub(text: str) -> str:
    """`text` without any registered secret, any masked form of one, or anything key-like."""
    secrets = _secrets()
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


def scrub_known(text: str) -> str:
    """`text` without any registered secret, in full or masked (`****abcd`, `...abcd`); nothing else is touched."""
    secrets = _secrets()
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for secret in secrets:
        text = re.sub(rf"[*.…]+{re.escape(secret[-4:])}\b", REDACTED, text)
    return text


def scrub_json(text: str) -> str:
    """A model's reply (JSON as the server sent it) without any registered secret, and still valid JSON.

    The strings are scrubbed after decoding, so a key written with JSON escapes (`\\u0073k-...`) is
    found too; the reply is re-encoded only then, else it is kept byte for byte. Text that is not
    JSON (cut off, fenced) has the secrets replaced where they stand: the placeholder holds no quote
    or backslash, so the JSON around it stays as it was.
    """
    if not _secrets():
        return text
    try:
        data = json.loads(text, strict=False)  # as leniently as the reply is read (`parse_arguments`)
        cleaned = _scrub_values(data)
    except (ValueError, RecursionError):
        return scrub_known(text)
    return text if cleaned == data else json.dumps(cleaned, ensure_ascii=False)


def _scrub_values(value: object) -> object:
    if isinstance(value, str):
        return scrub_known(value)
    if isinstance(value, list):
        return [_scrub_values(v) for v in value]
    if isinstance(value, dict):
        return {scrub_known(k): _scrub_values(v) for k, v in value.items()}
    return value
