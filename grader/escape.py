"""Untrusted text made safe for Markdown: transcripts, model output and rubric text are data, never markup.

A Markdown renderer passes raw HTML through and turns `[x](javascript:...)` into a link, so every
piece of text from a transcript, a model or a file is escaped before it enters a Markdown file:
HTML's `&`, `<`, `>` become entities, and Markdown's punctuation gets a backslash, so no tag, link,
image, emphasis or table cell can be formed by the text. Line breaks become spaces (one item, one line).
CSV cells a spreadsheet opens are made safe by `grader.spreadsheet` (formula injection).
"""

from __future__ import annotations

import re

# mid-line, these are the characters that can open markup (emphasis, code, links, images, table cells)
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")


def md(text: object) -> str:
    """`text` as inert Markdown: it renders as the same characters, never as markup."""
    value = " ".join(str(text).split())
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", value)
