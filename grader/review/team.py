"""Reviewers are people: a reviewers file, their secrets kept only as hashes, sign-in sessions, bearer secrets.

The reviewers file is YAML, one reviewer a line:

    dana: a-long-secret-only-dana-knows
    lee: another-long-secret
    sam: {secret: sams-long-secret, adjudicator: true}

A secret is at least `MIN_SECRET` characters. The server reads the file once, keeps for each reviewer
only an scrypt hash of the secret (`hash_secret`: the standard library's memory-hard KDF, a random
salt per reviewer; N=2^15, r=8, p=1, about 0.1 s and 32 MiB per check) and forgets the secret. A value
may also be such a hash already (`scrypt$...`, printed by `python -m grader.review.team`), so the file
on disk need not hold any secret at all.

A reviewer proves who they are either by signing in on the page (`/signin`: the server sets a session
cookie, HttpOnly and SameSite=Strict, whose value is signed with HMAC-SHA256 under a random key the
server makes at start and never writes down, so restarting the server signs everyone out), or, for
tools, with `Authorization: Bearer <secret>` on every request. A bearer secret that checked once is
remembered by an HMAC of it under the same key, so the scrypt cost is paid once per server, not per
request. With a reviewers file every request except the sign-in page and the static files needs one
of the two: the JSON API answers 401, a page sends the browser to `/signin`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import yamlio
from grader.errors import GraderError

MIN_SECRET = 12  # a reviewer's secret: anyone who can reach the server may try to guess it
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
SESSION_COOKIE = "grader_review_session"
SESSION_SECONDS = 12 * 3600
MAX_NAME = 80
_BEARER_CACHE = 256


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` (base64): what the server keeps of a reviewer's secret."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM,
                            dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def check_secret(secret: str, hashed: str) -> bool:
    """Whether `secret` is the one `hashed` was made from (constant time in the comparison)."""
    try:
        kind, n, r, p, salt, digest = hashed.split("$")
        if kind != "scrypt":
            return False
        given = hashlib.scrypt(secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                               maxmem=SCRYPT_MAXMEM, dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given, _unb64(digest))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Reviewer:
    name: str
    hashed: str = field(repr=False)
    adjudicator: bool = False


def load_reviewers(path: str | Path, adjudicators: Iterable[str] = ()) -> list[Reviewer]:
    """The reviewers of a reviewers file (secrets hashed at once), with `adjudicators` marked as such."""
    path = Path(path)
    data = yamlio.load_file(path, what="reviewers file", option="--reviewers",
                            fix="write one `name: secret` line per reviewer")
    if not isinstance(data, dict) or not data:
        raise GraderError("the reviewers file must map each reviewer's name to a secret", path=path,
                          where="--reviewers", fix="write one `name: secret` line per reviewer, e.g. `dana: "
                                                   "a-long-secret-only-dana-knows`")
    reviewers, plain = [], {}
    wanted = set(adjudicators)
    for name, value in data.items():
        name, secret, adjudicator = _entry(path, name, value)
        if secret.startswith("scrypt$"):
            hashed = secret
        else:
            if secret in plain:
                raise GraderError(f"reviewers {plain[secret]!r} and {name!r} have the same secret", path=path,
                                  where=name, fix="give every reviewer a secret of their own")
            plain[secret] = name
            hashed = hash_secret(secret)
        reviewers.append(Reviewer(name=name, hashed=hashed, adjudicator=adjudicator or name in wanted))
    unknown = wanted - {r.name for r in reviewers}
    if unknown:
        raise GraderError(f"no reviewer {', '.join(sorted(unknown))} in the reviewers file", path=path,
                          where="--adjudicator", fix="name an adjudicator who is in the reviewers file")
    return reviewers


def _entry(path: Path, name: Any, value: Any) -> tuple[str, str, bool]:
    if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > MAX_NAME \
            or not name.isprintable():
        raise GraderError(f"{name!r} is not a reviewer's name", path=path, where="--reviewers",
                          fix=f"names are text of 1 to {MAX_NAME} printable characters, without spaces around")
    adjudicator = False
    if isinstance(value, dict):
        extra = set(value) - {"secret", "adjudicator"}
        if extra or not isinstance(value.get("adjudicator", False), bool):
            raise GraderError(f"unknown or bad keys for {name}: {', '.join(sorted(map(str, extra))) or 'adjudicator'}",
                              path=path, where=name, fix="write `name: {secret: ..., adjudicator: true}`")
        adjudicator, value = value.get("adjudicator", False), value.get("secret")
    if not isinstance(value, str):
        raise GraderError(f"the secret of {name} is not text", path=path, where=name,
                          fix="quote it, e.g. `dana: \"0123456789012\"`")
    if not value.startswith("scrypt$") and len(value) < MIN_SECRET:
        raise GraderError(f"the secret of {name} is too short ({len(value)} characters; at least {MIN_SECRET})",
                          path=path, where=name, fix='make one with: python -c "import secrets; '
                                                     'print(secrets.token_urlsafe(16))"')
    return name, value, adjudicator


class Team:
    """The signed-in side of a review server: who the reviewers are and the server's session key."""

    def __init__(self, reviewers: list[Reviewer]) -> None:
        self.reviewers = {r.name: r for r in reviewers}
        self._key = secrets.token_bytes(32)
        self._bearers: dict[bytes, str] = {}  # HMAC(key, secret) of a bearer secret that checked, -> reviewer
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return sorted(self.reviewers)

    def sign_in(self, name: str, secret: str) -> Reviewer | None:
        reviewer = self.reviewers.get(name)
        if reviewer is None:
            check_secret(secret, next(iter(self.reviewers.values())).hashed)  # as slow for an unknown name
            return None
        return reviewer if check_secret(secret, reviewer.hashed) else None

    def bearer(self, secret: str) -> Reviewer | None:
        """The reviewer whose secret this is (remembered by an HMAC of it once it checked)."""
        tag = hmac.new(self._key, secret.encode(), hashlib.sha256).digest()
        with self._lock:
            known = self._bearers.get(tag)
        if known is not None and known in self.reviewers:
            return self.reviewers[known]
        found = next((r for r in self.reviewers.values() if check_secret(secret, r.hashed)), None)
        if found is not None:
            with self._lock:
                if len(self._bearers) >= _BEARER_CACHE:
                    self._bearers.clear()
                self._bearers[tag] = found.name
        return found

    def session(self, name: str, now: float | None = None) -> str:
        """A signed session cookie value for `name`."""
        body = _b64(json.dumps({"n": name, "e": int((now or time.time()) + SESSION_SECONDS),
                                "i": secrets.token_urlsafe(12)}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def from_session(self, value: str, now: float | None = None) -> Reviewer | None:
        body, _, mac = value.partition(".")
        if not body or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("e", 0) < (now or time.time()) or data.get("i") in self._revoked:
            return None
        return self.reviewers.get(data.get("n"))

    def sign_out(self, value: str) -> None:
        body = value.partition(".")[0]
        try:
            nonce = json.loads(_unb64(body)).get("i")
        except (ValueError, AttributeError):
            return
        with self._lock:
            self._revoked.add(str(nonce))

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


if __name__ == "__main__":  # python -m grader.review.team: a hash to put in the reviewers file instead of a secret
    import getpass

    print(hash_secret(getpass.getpass("secret: ")))
