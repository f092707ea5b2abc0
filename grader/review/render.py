"""Jinja2 for the review pages and the static sheets: every value is autoescaped (transcripts are untrusted).

No template marks transcript, model or rubric text safe; the only `|safe` values are this package's
own CSS and script, inlined into the self-contained static sheets.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from grader.review.views import label, unit_dom_id

HERE = Path(__file__).parent
STATIC = HERE / "static"

# htmx: no eval, no injected styles (the CSP forbids both); 400 and 409 pages are swapped in, they carry the message
HTMX_CONFIG = json.dumps({
    "allowEval": False, "allowScriptTags": False, "includeIndicatorStyles": False, "selfRequestsOnly": True,
    "responseHandling": [{"code": "204", "swap": False}, {"code": "[23]..", "swap": True},
                         {"code": "(400|409)", "swap": True, "error": False},
                         {"code": "[45]..", "swap": False, "error": True}],
})

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(label=label, unit_dom_id=unit_dom_id, htmx_config=HTMX_CONFIG)
    env.filters["level_name"] = lambda v: "insufficient evidence" if v == "insufficient_evidence" else str(v)
    return env


def render(template: str, **context: Any) -> str:
    context.setdefault("static", False)
    return environment().get_template(template).render(**context)


@cache
def asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def inline_csp(*inline: tuple[str, str]) -> str:
    """A CSP for a self-contained page that allows exactly the inline (kind, text) blocks given, by hash."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, text in inline:
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    scripts, styles = " ".join(hashes["script"]) or "'none'", " ".join(hashes["style"]) or "'none'"
    return (f"default-src 'none'; script-src {scripts}; style-src {styles}; img-src data:; base-uri 'none'; "
            "form-action 'none'")
