"""A transcript id becomes a file name safely (issue 21, defect 7): ids `.` and `..` made hidden sheet files.

One function (`grader.atomic.file_stem`) names the score sheets (`ScoreSheet.write`, `grader export
--sheets`) and the HTML sheets (`grader export --html`): no hidden file, no path out of the folder, no
Windows device name, never index.html, and two ids never share a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.atomic import MAX_STEM, WINDOWS_DEVICES, file_stem
from grader.ingest.rubric import load_rubric
from grader.review.static_export import write_html_sheets
from grader.runs.export import write_sheets
from grader.runs.store import RunStore

from .review_fixtures import RUBRIC, hostile_transcript, make_run, make_sheet

IDS = [".", "..", ".hidden", "a/b", "a\\b", "CON", "con.txt", "Nul", "COM1", "index", "../escape", "a\x00b", "%2E"]


def assert_safe(name: str) -> None:
    assert not name.startswith("."), name
    assert not set(name) & {"/", "\\", "\x00", ":", "<", ">", "|", "?", "*", '"'}, name
    assert name.split(".")[0].upper() not in WINDOWS_DEVICES, name
    assert all(" " < c < "\x7f" for c in name), name


def test_file_stems_of_hostile_ids_are_safe_distinct_and_decode_back():
    stems = [file_stem(i) for i in IDS]
    assert len(set(stems)) == len(IDS)
    for transcript_id, stem in zip(IDS, stems, strict=True):
        assert_safe(stem + ".json")
        assert unquote(stem) == transcript_id  # the stem decodes to its id: no other id has it
    assert file_stem("strong-candidate") == "strong-candidate"  # ordinary ids keep their names
    assert file_stem("index", reserved={"index"}) != "index" and file_stem("INDEX", reserved={"index"}) != "INDEX"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=300), min_size=2, max_size=6, unique=True))
def test_distinct_ids_never_share_a_file_name(ids):
    try:
        stems = [file_stem(i, reserved={"index"}) for i in ids]
    except UnicodeEncodeError:  # a lone surrogate is not text a file could hold
        return
    assert len(set(stems)) == len(ids)
    for transcript_id, stem in zip(ids, stems, strict=True):
        assert_safe(stem + ".html")
        decodes = unquote(stem) == transcript_id or (transcript_id == "" and stem == "%empty")
        assert decodes or MAX_STEM < len(stem) <= 245  # a long id: cut, with the hash of the whole id

@pytest.fixture(scope="module")
def odd_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("names") / "run"
    folder.mkdir()
    base = hostile_transcript(Path("odd.txt"))
    return make_run(folder, extra=[base.model_copy(update={"id": i}) for i in IDS], samples=False)


def test_sheet_write_keeps_every_id_in_its_own_visible_file(tmp_path):
    rubric = load_rubric(RUBRIC)
    out = tmp_path / "deep" / "sheets"
    base = hostile_transcript(Path("odd.txt"))
    for transcript_id in IDS:
        json_path, md_path = make_sheet(base.model_copy(update={"id": transcript_id}), rubric).write(out, rubric)
        assert json_path.parent == out and md_path.parent == out
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        f"{file_stem(i)}{ext}" for i in IDS for ext in (".json", ".md"))  # nothing outside OUT, nothing hidden
    assert {json.loads((out / f"{file_stem(i)}.json").read_text())["transcript_id"] for i in IDS} == set(IDS)
    for path in out.iterdir():
        assert_safe(path.name)


def test_export_sheets_and_html_name_odd_ids_safely(odd_run, tmp_path):
    store = RunStore(odd_run / "run.sqlite")
    try:
        assert write_sheets(store, load_rubric(RUBRIC), tmp_path / "sheets") == len(IDS)
    finally:
        store.close()
    assert write_html_sheets(odd_run, tmp_path / "html") == len(IDS)
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    expected = {"sheets", "html", "html/index.html",
                *(f"sheets/{file_stem(i)}{e}" for i in IDS for e in (".json", ".md")),
                *(f"html/{file_stem(i, reserved={'index'})}.html" for i in IDS)}
    assert names == expected  # one file per id and kind, all visible, none elsewhere
    for name in names:
        assert_safe(Path(name).name)
    index = (tmp_path / "html" / "index.html").read_text()
    assert "<table" in index  # the id `index` did not overwrite the index page
    assert ">index<" in (tmp_path / "html" / "%69ndex.html").read_text().replace(" · grader review", "<")
