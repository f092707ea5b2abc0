"""`grader export RUN --html DIR`: one self-contained, read-only HTML sheet per transcript, and an index.

Same layout as the review page, without forms: the CSS and the small script (click an evidence id to
see its sentence) are inlined and allowed by hash in the page's Content-Security-Policy; every piece
of transcript, model and rubric text is escaped. Printable (the print style drops the controls).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from grader.review.render import asset, inline_csp, render
from grader.review.run import ReviewRun, open_run
from grader.review.views import progress

STATIC_SCRIPT = "review.js"


def sheet_file(transcript_id: str) -> str:
    return quote(transcript_id, safe="") + ".html"


def write_html_sheets(run_dir: Path, out_dir: Path, rubric: str | None = None) -> int:
    """Write DIR/<transcript>.html for every finished sheet and DIR/index.html; returns how many sheets."""
    run = open_run(run_dir, rubric)
    try:
        return _write(run, out_dir)
    finally:
        run.close()


def _write(run: ReviewRun, out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    css, js = asset("review.css"), asset(STATIC_SCRIPT)
    csp = inline_csp(("style", css), ("script", js))
    count = 0
    for transcript_id in run.store.sheet_ids():
        page = run.page(transcript_id)
        if page is None:
            continue
        html = render("transcript.html", page=page, static=True, css=css, js=js, csp=csp, reviewer="",
                      flash=None, csrf="", selected=None)
        (out_dir / sheet_file(transcript_id)).write_text(html, encoding="utf-8")
        count += 1
    rows = run.rows()
    index = render("static_index.html", run=run, rows=rows, progress=progress(rows), static=True, css=css, js="",
                   csp=inline_csp(("style", css), ("script", "")), sheet_file=sheet_file)
    (out_dir / "index.html").write_text(index, encoding="utf-8")
    return count
