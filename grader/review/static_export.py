"""`grader export RUN --html DIR`: one self-contained, read-only HTML sheet per transcript, and an index.

Same layout as the review page, without forms: the CSS and the small script (click an evidence id to
see its sentence) are inlined and allowed by hash in the page's Content-Security-Policy; every piece
of transcript, model and rubric text is escaped. Printable (the print style drops the controls).

A transcript's page is `DIR/<file_stem(id)>.html` (`grader.atomic.file_stem`: percent-encoded, safe and
distinct, never `index.html`), and index.html links to it by that file name percent-encoded once more,
so an id with a space, `%`, `/`, `\\`, `<` or non-ASCII letters opens its own page. Each file is written
whole or not at all (`grader.atomic`): a full disk is a clear error and leaves no half-written page.
"""

from __future__ import annotations

from pathlib import Path

from grader.atomic import file_stem, href, make_folder, write_text
from grader.review.render import asset, inline_csp, render
from grader.review.run import ReviewRun, open_run
from grader.review.run_page import progress

STATIC_SCRIPT = "review.js"


INDEX = "index"


def sheet_file(transcript_id: str) -> str:
    """The file name of a transcript's page: an id whose stem would be `index` gets another (`%69ndex`)."""
    return file_stem(transcript_id, reserved={INDEX}) + ".html"


def sheet_link(transcript_id: str) -> str:
    """The href from index.html to a transcript's page (Jinja escapes it for the attribute)."""
    return href(sheet_file(transcript_id))


def write_html_sheets(run_dir: Path, out_dir: Path, rubric: str | None = None) -> int:
    """Write DIR/<transcript>.html for every finished sheet and DIR/index.html; returns how many sheets."""
    run = open_run(run_dir, rubric)
    try:
        return _write(run, out_dir)
    finally:
        run.close()


def _write(run: ReviewRun, out_dir: Path) -> int:
    make_folder(out_dir, option="--html")
    css, js = asset("review.css"), asset(STATIC_SCRIPT)
    csp = inline_csp(("style", css), ("script", js))
    count = 0
    for transcript_id in run.sheet_ids():
        page = run.page(transcript_id)
        if page is None:
            continue
        html = render("transcript.html", page=page, static=True, css=css, js=js, csp=csp, reviewer="",
                      flash=None, csrf="", selected=None)
        write_text(out_dir / sheet_file(transcript_id), html, option="--html")
        count += 1
    rows = run.rows()
    index = render("static_index.html", run=run, rows=rows, progress=progress(rows), static=True, css=css, js="",
                   csp=inline_csp(("style", css), ("script", "")), sheet_file=sheet_link)
    write_text(out_dir / f"{INDEX}.html", index, option="--html")
    return count
