"""Untrusted text made safe for Markdown: transcripts, model output and rubric text are data, never markup.

A Markdown renderer passes raw HTML through and turns `[x](javascript:...)` into a link, so every
piece of text from a transcript, a model or a file is escaped before it enters a Markdown file.
Every character that can open markup gets a backslash, CommonMark's escape for ASCII punctuation
(`\\<` is a literal `<`, `\\&` a literal `&`): HTML's `<` and `>` (no tag, comment or autolink can be
formed), an `&` that would begin a character reference (`&lt;`, `&#60;`: shown as typed, not decoded;
a bare `&` is literal in CommonMark and stays as it is), the inline punctuation (no link, image,
emphasis, code span, strikethrough, math or table cell), and a block marker the text begins with
(`# `, `- `, `+ `, `=`, `1. `: no heading, list or rule where the text starts a line). Line breaks become
spaces (one item, one line). Backslash escapes rather than HTML entities, because an entity is
shown as typed where Markdown is read as plain text (the sheet opened in an editor, `cat`, a diff)
and inside a code span: "Data & Analytics", not "Data &amp; Analytics".
CSV cells a spreadsheet opens are made safe by `grader.spreadsheet` (formula injection).
"""

from __future__ import annotations

import re

# what can open markup anywhere in a line: HTML tags, an `&` that begins a character reference (the shapes
# CommonMark decodes: `&name;`, `&#60;`, `&#x3C;`), emphasis, code, links and images, strikethrough, math
# (GitHub's `$`) and table cells
_MARKUP = re.compile(r"([\\`*_\[\]|~<>$]|&(?=#?[0-9A-Za-z]+;))")
# what opens a block where a line begins (each followed by a space or the end): an ATX heading, a bullet
# item, a setext underline or rule, an ordered item; `-0.5` or `#tag` open nothing and are left as they are
_BLOCK_START = re.compile(r"^(?:#{1,6}|[-+=]+|(\d{1,9})([.)]))(?= |$)")


def md(text: object) -> str:
    """`text` as inert Markdown: it renders as the same characters, never as markup."""
    value = _MARKUP.sub(r"\\\1", " ".join(str(text).split()))
    return _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[0]}", value, count=1)


def md_code(text: object) -> str:
    """`text` as an inline code span, shown verbatim (a code span decodes no escape and no entity).

    The fence is one backtick longer than the longest run of backticks in the text, so the text
    cannot close it; one space pads a text that begins or ends with a backtick (CommonMark strips
    it). Not for table cells: GitHub splits a cell at `|` even inside a code span.
    """
    value = " ".join(str(text).split())
    if not value:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value[0] == "`" or value[-1] == "`" else ""
    return f"{fence}{pad}{value}{pad}{fence}"
